"""Limits on unfinished uploads (``docs/sync.md``, "Attachments"; ``docs/api.md``).

An announced resumable upload (``POST /sync/blobs``) reserves its declared size until its last byte arrives.
Unfinished uploads are per account (``sync_uploads``): two accounts uploading the same bytes each have their
own, counted against their own limits.
Without limits one account could reserve the disk (announce many large blobs and never send them). So:

- the sizes of an account's unfinished uploads may add up to :attr:`UploadLimits.quota_bytes` (default
  200 MB): beyond it a new announcement gets 413 ``upload-quota``;
- an account may have :attr:`UploadLimits.max_open` unfinished uploads at a time (resumable ones plus
  ``POST /api/attachments`` bodies being received): beyond it 429 ``too-many-uploads``;
- an unfinished upload with no new byte for :attr:`UploadLimits.expiry_s` (default 24 h) is deleted, row and
  partial file, by :func:`expire_uploads` (run by the maintenance task, ``server/maintenance.py``); so are
  the temporary files of ``POST /api/attachments`` bodies a crash left behind.

Both refusals say when to come back (``Retry-After``: when the account's oldest unfinished upload expires, or
5 s when bodies being received take the open slots).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from server.problems import Problem

__all__ = ["IN_FLIGHT", "InFlight", "UploadLimits", "check_new_upload", "expire_uploads", "partial_path"]


@dataclass(frozen=True)
class UploadLimits:
    quota_bytes: int = 200 * 1024 * 1024
    max_open: int = 20
    expiry_s: int = 24 * 3600


def partial_path(root: Path, sha: str, account: str) -> Path:
    """Where the bytes of ``account``'s unfinished resumable upload of ``sha`` are kept (each account its own:
    the account id is hashed into the name, so any id makes a safe file name)."""
    return root / ".partial" / f"{sha}.{hashlib.sha256(account.encode()).hexdigest()[:32]}"


def _ts(value: str) -> float:
    try:
        return dt.datetime.fromisoformat(value).timestamp()
    except ValueError:
        return 0.0


def _last_activity(root: Path, sha: str, account: str, created_at: str) -> float:
    try:
        return max(_ts(created_at), partial_path(root, sha, account).stat().st_mtime)
    except OSError:
        return _ts(created_at)


def check_new_upload(conn: sqlite3.Connection, account: str, size: int, limits: UploadLimits, *, root: Path,
                     in_flight: int = 0, proofs: Sequence[int] = (), now: float) -> None:
    """Refuse a new upload of ``size`` bytes by ``account`` beyond its limits (in the announcing write job).
    ``proofs``: sizes of its uploads of files someone else stored (``server.blob_possession``), counted as
    the unfinished uploads they look like to it, so a stored file and an absent one meet the same limits."""
    rows = conn.execute("SELECT sha256, size, created_at FROM sync_uploads WHERE account_id = ?", (account,)).fetchall()
    reserved = sum(int(r[1]) for r in rows) + sum(proofs)

    def retry() -> dict[str, str]:
        # Only a refusal needs it: the partial files are stat()ed then, not on every announcement.
        oldest = min((_last_activity(root, r[0], account, r[2]) for r in rows), default=now)
        return {"Retry-After": str(max(1, int(oldest + limits.expiry_s - now)))}

    if len(rows) + len(proofs) + in_flight >= limits.max_open:
        # Bodies being received finish in seconds; otherwise a slot frees when an upload completes or expires.
        soon = {"Retry-After": "5"} if in_flight else retry()
        raise Problem(429, "too-many-uploads", f"At most {limits.max_open} unfinished uploads per account:"
                      " finish one first", headers=soon, max_open=limits.max_open)
    if reserved + size > limits.quota_bytes:
        raise Problem(413, "upload-quota", f"Unfinished uploads may reserve at most {limits.quota_bytes} bytes per"
                      " account: finish one first", headers=retry(), quota_bytes=limits.quota_bytes,
                      reserved_bytes=reserved)


def expire_uploads(conn: sqlite3.Connection, root: Path, *, now: float, expiry_s: int) -> list[str]:
    """Delete unfinished uploads idle for ``expiry_s`` (rows and partial files) and stale temporary files of
    ``POST /api/attachments``. Returns the sha256 of the uploads removed. Runs in a write job."""
    gone: list[str] = []
    for sha, account, created_at in conn.execute(
            "SELECT sha256, account_id, created_at FROM sync_uploads").fetchall():
        if _last_activity(root, sha, account, created_at) + expiry_s <= now:
            conn.execute("DELETE FROM sync_uploads WHERE sha256 = ? AND account_id = ?", (sha, account))
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial_path(root, sha, account))
            gone.append(sha)
    # Partial files nobody wrote to for as long (an upload's own is touched by every chunk): left by a
    # dropped upload, or kept under the sha256 alone before uploads were per account.
    with contextlib.suppress(FileNotFoundError):
        for part in (root / ".partial").iterdir():
            with contextlib.suppress(FileNotFoundError):
                if part.stat().st_mtime + expiry_s <= now:
                    os.unlink(part)
    with contextlib.suppress(FileNotFoundError):
        for tmp in root.glob(".upload-*"):
            with contextlib.suppress(FileNotFoundError):
                if tmp.stat().st_mtime + expiry_s <= now:
                    os.unlink(tmp)
    return gone


@dataclass
class InFlight:
    """Request bodies being received right now per account (``POST /api/attachments``), in this process.

    Counted before the limits are checked (no await in between), so concurrent requests see each other."""

    counts: dict[str, int] = field(default_factory=dict)

    def __call__(self, account: str) -> int:
        return self.counts.get(account, 0)

    @contextlib.contextmanager
    def hold(self, account: str) -> Iterator[int]:
        """Count one more body for ``account``; yields how many OTHER bodies it is receiving."""
        self.counts[account] = self(account) + 1
        try:
            yield self.counts[account] - 1
        finally:
            self.counts[account] -= 1
            if not self.counts[account]:
                del self.counts[account]


IN_FLIGHT = InFlight()
