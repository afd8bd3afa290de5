"""Procedure definitions kept in the server: drafts apart from published versions, publishing without a
restart, retiring and restoring (docs/configuring.md)."""
