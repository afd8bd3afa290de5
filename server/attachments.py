"""Attachments: raw-body upload, type sniffed from magic bytes, stored content-addressed by sha256.

The declared ``Content-Type`` must agree with what the bytes are: a renamed executable or HTML page is
refused (415) rather than stored and later served to a reviewer's browser. Identical files are stored
once (same sha256 → same path), so a resident's retry costs nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import msgspec
from litestar import Request, Response, Router, get, post
from litestar.params import FromPath

from procedure_definitions.forms import is_sha256
from server import audit
from server.authz import AccountLike, read_is_audited, require_user, submission_readable
from server.input_limits import safe_int
from server.problems import Problem
from server.registry import bound_resident_id
from server.services import Services, services
from server.storage.sync.blobs import drop_upload_in, file_stored_in
from server.uploads import IN_FLIGHT, check_new_upload, partial_path

__all__ = ["ALLOWED_TYPES", "AttachmentOut", "attachment_path", "attachments_router", "readable_attachment",
           "sniff_type"]

ALLOWED_TYPES = ("image/jpeg", "image/png", "application/pdf", "image/heic")
_ALIASES = {"image/jpg": "image/jpeg", "image/heif": "image/heic", "image/pjpeg": "image/jpeg"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


class AttachmentOut(msgspec.Struct):
    sha256: str
    size: int
    type: str


def sniff_type(head: bytes) -> str | None:
    """The MIME type the bytes really are, from their first bytes; None when not an allowed type."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "image/heic"
    return None


def attachment_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / sha256


def _store(root: Path, sha: str, tmp_path: str) -> None:
    final = attachment_path(root, sha)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        os.unlink(tmp_path)  # deduplicated: same content already stored
    else:
        os.replace(tmp_path, final)  # atomic: a reader never sees half a file


@post("/api/attachments", summary="Upload one attachment (raw body; Content-Type must match the content)",
      request_max_body_size=None, status_code=201, opt={"reads_body": True})
async def upload(request: Request[Any, Any, Any]) -> Response[AttachmentOut]:
    user = require_user(request)
    svc = services(request)
    limit = svc.settings.max_attachment_bytes
    declared = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    declared = _ALIASES.get(declared, declared)
    if declared not in ALLOWED_TYPES:
        raise Problem(415, "unsupported-type", f"Allowed types: {', '.join(ALLOWED_TYPES)}")
    raw = request.headers.get("content-length")
    # The ASGI server checked it; still, int() never meets anything but a short run of ASCII digits.
    length = (safe_int(raw) if raw.isascii() and raw.isdigit() else None) if raw is not None else None
    if raw is not None and (length is None or length > limit):
        raise Problem(413, "too-large", f"Attachments are limited to {limit} bytes", max_bytes=limit)
    root = svc.settings.attachment_root
    with IN_FLIGHT.hold(user.id) as others:
        # A body being received is an unfinished upload too: the account's limits (server/uploads.py).
        size = length if length is not None else limit
        await svc.db.read(lambda c: check_new_upload(c, user.id, size, svc.settings.upload_limits, root=root,
                                                      in_flight=others, now=time.time()))
        return await _receive(request, user.id, svc, root, declared, limit)


async def _receive(request: Request[Any, Any, Any], account: str, svc: Services, root: Path, declared: str,
                   limit: int) -> Response[AttachmentOut]:
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".upload-")
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with os.fdopen(fd, "wb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise Problem(413, "too-large", f"Attachments are limited to {limit} bytes", max_bytes=limit)
                if len(head) < 16:
                    head += chunk[: 16 - len(head)]
                digest.update(chunk)
                fh.write(chunk)
            await anyio.to_thread.run_sync(os.fsync, fh.fileno())
        if size == 0:
            raise Problem(422, "empty", "The attachment is empty")
        actual = sniff_type(head)
        if actual is None:
            raise Problem(415, "unsupported-type", "The content is not JPEG, PNG, PDF or HEIC")
        if actual != declared:
            raise Problem(415, "type-mismatch", f"Declared {declared} but the content is {actual}",
                          declared=declared, actual=actual)
        sha = digest.hexdigest()
        await anyio.to_thread.run_sync(_store, root, sha, tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

    def job(c: sqlite3.Connection) -> bool:
        c.execute("INSERT INTO attachments (sha256, size, type, created_at, uploaded_by) VALUES (?, ?, ?, ?, ?)"
                  " ON CONFLICT DO NOTHING", (sha, size, actual, now, account))
        # "Already stored" only to an account that already held the file: someone else's copy is not revealed.
        had = c.execute("SELECT 1 FROM sync_file_holders WHERE sha256 = ? AND account_id = ?",
                        (sha, account)).fetchone() is not None
        if not had:  # now they hold it: a submission of theirs filed before its file arrived may be complete
            file_stored_in(c, account, sha)
        if drop_upload_in(c, sha, account):  # its own unfinished sync upload of these bytes is done with
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial_path(root, sha, account))
        return not had

    created = await svc.db.write(job)
    return Response(AttachmentOut(sha, size, actual), status_code=201 if created else 200)


def readable_attachment(conn: sqlite3.Connection, user: AccountLike, sha: str) -> tuple[str, str | None] | None:
    """(stored type, uploader) of attachment ``sha`` when ``user`` may read it, else None (absent or not theirs:
    callers answer both alike). Readable by whoever holds it (delivered its bytes: ``sync_file_holders``), and
    by whoever may read a submission it belongs to (``submission_readable``: the filer, the resident filed
    for, staff of the submission's department), through a link whose filer holds the file: naming a sha256
    in the answers is not holding the file."""
    row = conn.execute("SELECT type, uploaded_by FROM attachments WHERE sha256 = ?", (sha,)).fetchone()
    if row is None:
        return None
    if conn.execute("SELECT 1 FROM sync_file_holders WHERE sha256 = ? AND account_id = ?",
                    (sha, user.id)).fetchone() is not None:
        return str(row[0]), row[1]
    bound = None
    if user.role == "resident":
        bound = getattr(user, "resident_id", None) or bound_resident_id(conn, user.id)
    for account_id, on_behalf_of, department, status in conn.execute(
            "SELECT s.account_id, s.on_behalf_of, s.department, s.status FROM sync_submission_files f"
            " JOIN submissions s ON s.id = f.submission_id"
            " JOIN sync_file_holders h ON h.sha256 = f.sha256 AND h.account_id = s.account_id"
            " WHERE f.sha256 = ?", (sha,)):
        if submission_readable(user, account_id=account_id, on_behalf_of=on_behalf_of, department=department,
                               bound_resident=bound, status=status):
            return str(row[0]), row[1]
    return None


@get("/api/attachments/{sha256:str}", summary="Download an attachment (its uploader, or who may read its submission)",
     media_type="application/octet-stream")
async def download(request: Request[Any, Any, Any], sha256: FromPath[str]) -> Response[bytes]:
    user = require_user(request)
    svc = services(request)
    if not is_sha256(sha256):  # names no file on any path (upper case included): a malformed request
        raise Problem(400, "bad-request", "sha256 must be 64 lower-case hex digits",
                      errors=[{"path": "sha256", "code": "sha256", "message": "not 64 lower-case hex digits"}])
    # One answer for "no such file" and "not yours": whether a file exists is not revealed.
    found = await svc.db.read(lambda c: readable_attachment(c, user, sha256))
    if found is None:
        raise Problem(404, "not-found", "No such attachment")
    mime, _uploader = found
    if read_is_audited(user):
        await audit.record(svc.db, actor=user.id, action="attachment.read", subject=f"attachment:{sha256}")
    data = await anyio.Path(attachment_path(svc.settings.attachment_root, sha256)).read_bytes()
    return Response(data, media_type=mime, headers={
        "Content-Disposition": f'attachment; filename="{sha256[:12]}"',
        # Never let a stored file run as a page on our origin.
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=3600",
    })


attachments_router = Router(path="/", route_handlers=[upload, download], tags=["attachments"])
