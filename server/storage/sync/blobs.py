"""Content-addressed uploads: each account's unfinished uploads (``sync_uploads``, one per sha256 and account),
and the stored file, recorded once when the first of them is verified (which may complete a submission's
attachments)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from server.audit import append_audit
from server.storage.sync.records import decoder, to_json, utc_now
from sync.records import Principal

__all__ = ["complete_blob_in", "create_upload_in", "drop_upload_in", "file_stored_in", "files_pending", "held_by",
           "stored_size", "upload_size"]


def stored_size(conn: sqlite3.Connection, sha: str) -> int | None:
    """The size of the stored file ``sha``, or None when no file with that sha256 is stored."""
    r = conn.execute("SELECT size FROM attachments WHERE sha256 = ?", (sha,)).fetchone()
    if r is None:
        r = conn.execute("SELECT size FROM sync_blobs WHERE sha256 = ? AND complete = 1", (sha,)).fetchone()
    return None if r is None else int(r[0])


def upload_size(conn: sqlite3.Connection, sha: str, account: str) -> int | None:
    """The announced size of ``account``'s own unfinished upload of ``sha``, if it has one. Unfinished
    uploads are per account: nobody sees, resumes, blocks or appends to someone else's."""
    r = conn.execute("SELECT size FROM sync_uploads WHERE sha256 = ? AND account_id = ?", (sha, account)).fetchone()
    return None if r is None else int(r[0])


def create_upload_in(conn: sqlite3.Connection, p: Principal, sha: str, size: int) -> None:
    """Register ``p``'s unfinished upload of ``sha`` (the caller checked it has none and the account's limits)."""
    conn.execute("INSERT INTO sync_uploads (sha256, account_id, size, created_at) VALUES (?, ?, ?, ?)",
                 (sha, p.id, size, utc_now()))


def drop_upload_in(conn: sqlite3.Connection, sha: str, account: str) -> bool:
    """Forget ``account``'s unfinished upload of ``sha`` (it holds the stored file by now); whether it had one."""
    return conn.execute("DELETE FROM sync_uploads WHERE sha256 = ? AND account_id = ?", (sha, account)).rowcount > 0


def complete_blob_in(conn: sqlite3.Connection, p: Principal, sha: str, size: int, mime: str) -> list[str]:
    """``p``'s upload of ``sha`` was verified (its bytes are the file's, stored once whoever finished first):
    its unfinished upload goes, the file is recorded if new; returns the submissions that just got their last
    file."""
    now = utc_now()
    drop_upload_in(conn, sha, p.id)
    conn.execute("INSERT INTO sync_blobs (sha256, size, complete, type, created_by, created_at, completed_at)"
                 " VALUES (?, ?, 1, ?, ?, ?, ?) ON CONFLICT DO NOTHING", (sha, size, mime, p.id, now, now))
    conn.execute("INSERT INTO attachments (sha256, size, type, created_at, uploaded_by) VALUES (?, ?, ?, ?, ?)"
                 " ON CONFLICT DO NOTHING", (sha, size, mime, now, p.id))
    return file_stored_in(conn, p.id, sha)


def held_by(conn: sqlite3.Connection, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (sha256, account) of ``pairs`` whose account holds that stored file (one query; none for none)."""
    wanted = set(pairs)
    shas = sorted({sha for sha, _ in wanted})
    if not shas:
        return set()
    rows = conn.execute(f"SELECT sha256, account_id FROM sync_file_holders WHERE sha256 IN ({', '.join('?' * len(shas))})",
                        shas)
    return {(r[0], r[1]) for r in rows} & wanted


def files_pending(conn: sqlite3.Connection, sid: str) -> bool:
    """Whether submission ``sid`` names a file its filer does not hold yet."""
    return conn.execute(
        "SELECT 1 FROM sync_submission_files f JOIN submissions s ON s.id = f.submission_id"
        " WHERE f.submission_id = ? AND NOT EXISTS (SELECT 1 FROM sync_file_holders h"
        " WHERE h.sha256 = f.sha256 AND h.account_id = s.account_id) LIMIT 1", (sid,)).fetchone() is not None


def file_stored_in(conn: sqlite3.Connection, actor: str, sha: str) -> list[str]:
    """``actor`` just delivered every byte of file ``sha`` (an upload by either path, or a possession proof):
    they hold it. Their submissions linked to it that now have every file lose ``incomplete_attachments``
    (audited); returns their ids. Someone else's submission naming the same sha256 stays incomplete: knowing
    a file's hash is not holding it."""
    now = utc_now()
    conn.execute("INSERT OR IGNORE INTO sync_file_holders (sha256, account_id) VALUES (?, ?)", (sha, actor))
    done: list[str] = []
    for (sid,) in conn.execute(
            "SELECT f.submission_id FROM sync_submission_files f JOIN submissions s ON s.id = f.submission_id"
            " WHERE f.sha256 = ? AND s.account_id = ?", (sha, actor)).fetchall():
        if files_pending(conn, sid):
            continue
        row = conn.execute("SELECT flags FROM submissions WHERE id = ?", (sid,)).fetchone()
        if row is None:
            continue
        flags = [f for f in decoder.decode(row[0]) if f != "incomplete_attachments"]
        if len(flags) != len(decoder.decode(row[0])):
            conn.execute("UPDATE submissions SET flags = ?, updated_at = ? WHERE id = ?", (to_json(flags), now, sid))
            append_audit(conn, actor=actor, action="submission.attachments_complete",
                         subject=f"submission:{sid}", details={"last_sha256": sha})
            done.append(sid)
    return done
