"""For tests and benchmarks that run the real server: a free loopback port, waiting until it answers, and
the Chromium that drives the PWA against it (Debian's, never a downloaded one)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["CHROMIUM", "CHROMIUM_FLAGS", "free_port", "wait_serving"]

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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_serving(url: str, proc: subprocess.Popen[bytes] | None = None, *, timeout: float = 60,
                 log: Path | None = None, any_status: bool = False) -> None:
    """Return once ``url`` answers 200 (``any_status``: answers at all, e.g. a 405 from a POST-only route).

    Raises RuntimeError when ``proc`` exits first (with the tail of its ``log``) or ``timeout`` passes.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except urllib.error.HTTPError:
            if any_status:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
