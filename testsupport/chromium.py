"""The Chromium that drives the PWA in browser tests and the PWA benchmark: Debian's, never a downloaded one."""

from __future__ import annotations

__all__ = ["CHROMIUM", "CHROMIUM_FLAGS"]

CHROMIUM = "/usr/bin/chromium"
# What works on this kind of machine (root in a container, no GPU, no network beyond loopback); Playwright adds
# the headless switch itself.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
