"""Draft rows for tests: a ``procedure_drafts`` row as a push leaves it (the definition loaded and located)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import msgspec

from procedure_definitions.loader import load_text

__all__ = ["put_draft"]


def put_draft(conn: sqlite3.Connection, text: str, *, draft_id: str, revision: int = 1, state: str = "draft",
              filename: str = "preview-sample.yaml", procedure_id: str | None = None) -> None:
    """Insert (or replace) draft ``draft_id`` holding ``text``; run it in a write job. One open draft per
    procedure id (a unique index): the default id is the draft's own, so test drafts never collide."""
    res = load_text(text, filename)
    problems = [msgspec.to_builtins(p) for p in res.problems]
    definition = msgspec.json.encode(res.definition).decode() if res.ok and res.definition is not None else None
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    conn.execute(
        "INSERT OR REPLACE INTO procedure_drafts (id, procedure_id, version, kind, filename, format, source, definition,"
        " problems, estimate_seconds, revision, state, created_by, created_at, updated_by, updated_at)"
        " VALUES (?, ?, ?, 'procedure', ?, 'yaml', ?, ?, ?, NULL, ?, ?, 'acc', ?, 'acc', ?)",
        (draft_id, procedure_id or f"pid-{draft_id}", getattr(res.definition, "version", None), filename, text, definition,
         json.dumps(problems, ensure_ascii=False), revision, state, now, now))
