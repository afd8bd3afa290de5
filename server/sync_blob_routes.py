"""Resumable, content-addressed uploads of a submission's files (``docs/sync.md``, "Attachments"):
``POST /sync/blobs`` announces, ``HEAD`` tells the offset, ``PATCH`` appends a chunk, verified on the last byte.
Split from ``server.sync_routes``, which mounts these handlers in its router."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from pathlib import Path
from typing import Any

import anyio
import msgspec
from litestar import Request, Response, head, patch, post
from litestar.params import FromPath, JSONBody

from server.attachments import ALLOWED_TYPES, attachment_path, readable_attachment, sniff_type
from server.auth import requires_role
from server.auth.roles import FILER_ROLES
from server.authz import AccountLike, require_user
from server.input_limits import safe_int
from server.problems import Problem
from server.storage.sync.blobs import file_stored_in
from server.sync_context import Ctx, principal, sync_context
from server.uploads import IN_FLIGHT, UploadLimits, check_new_upload, partial_path
from sync.messages import BlobInfo
from sync.records import Principal

__all__ = ["MAX_BLOB", "MAX_CHUNK", "blob_chunk", "blob_offset", "create_blob"]

MAX_CHUNK = 4 * 1024 * 1024  # bytes per PATCH
MAX_BLOB = 64 * 1024 * 1024
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
# Files travel with submissions, so only the roles that file submissions upload blobs (the guard runs
# before the body is read).
_FILERS = requires_role(*FILER_ROLES)


class BlobIn(msgspec.Struct, forbid_unknown_fields=True):
    sha256: str
    size: int


def _check_sha(sha: str) -> str:
    sha = sha.lower()
    if not _SHA_RE.match(sha):
        raise Problem(400, "bad-request", "sha256 must be 64 lowercase hex digits")
    return sha


def _blob_request(request: Request[Any, Any, Any], sha: str) -> tuple[AccountLike, Principal, Ctx, str]:
    """The signed-in account (as itself and as a sync principal), the context and the checked sha256."""
    return require_user(request), principal(request), sync_context(request), _check_sha(sha)


def _blob_info(sha: str, size: int, offset: int, complete: bool, status: int) -> Response[BlobInfo]:
    return Response(BlobInfo(sha256=sha, size=size, offset=offset, complete=complete), status_code=status,
                    headers={"Upload-Offset": str(offset), "Upload-Length": str(size), "Location": f"/sync/blobs/{sha}"})


def _final(root: Path, sha: str) -> Path:
    return attachment_path(root, sha)


def _upload_limits(request: Request[Any, Any, Any]) -> UploadLimits:
    svc = request.app.state.get("services")
    return svc.settings.upload_limits if svc is not None else UploadLimits()


def _offset(root: Path, sha: str, size: int, complete: bool) -> int:
    if complete:
        return size
    try:
        return os.path.getsize(partial_path(root, sha))
    except OSError:
        return 0


@post("/sync/blobs", summary="Announce a blob {sha256, size}: 201 new upload, 200 already known", status_code=201,
      guards=[_FILERS])
async def create_blob(request: Request[Any, Any, Any], data: JSONBody[BlobIn]) -> Response[BlobInfo]:
    user, p, ctx, sha = _blob_request(request, data.sha256)
    if not 0 < data.size <= MAX_BLOB:
        raise Problem(413 if data.size > MAX_BLOB else 422, "too-large" if data.size > MAX_BLOB else "invalid",
                      f"size must be between 1 and {MAX_BLOB}")
    limits = _upload_limits(request)

    def announce(c: Any) -> bool:
        # A new upload reserves its size: checked against the account's limits in the same write job.
        if ctx.store.blob(c, sha) is None:
            check_new_upload(c, p.id, data.size, limits, root=ctx.root, in_flight=IN_FLIGHT(p.id), now=time.time())
        return ctx.store.create_blob_in(c, p, sha, data.size)

    created = await ctx.db.write(announce)
    known, _, visible = await ctx.db.read(lambda c: _blob_for(c, ctx, user, sha))
    assert known is not None
    size, complete = known
    if complete and not visible:
        # Someone else's stored file: answered as a new upload, whose bytes must then match (possession).
        return _blob_info(sha, data.size, ctx.possession.start(sha, p.id, data.size, size), False, 201)
    if size != data.size:
        raise Problem(409, "conflict", "This sha256 is known with another size", size=size)
    return _blob_info(sha, size, _offset(ctx.root, sha, size, complete), complete, 201 if created else 200)


@head("/sync/blobs/{sha256:str}", summary="Upload-Offset of a blob (how many bytes the server has)", status_code=200,
      guards=[_FILERS])
async def blob_offset(request: Request[Any, Any, Any], sha256: FromPath[str]) -> Response[None]:
    user, _, ctx, sha = _blob_request(request, sha256)
    known, _, visible = await ctx.db.read(lambda c: _blob_for(c, ctx, user, sha))
    proof = ctx.possession.progress(sha, user.id)
    if known is not None and not visible and known[1] and proof is not None:  # a possession proof under way
        return Response(None, headers={"Upload-Offset": str(proof[0]), "Upload-Length": str(proof[1]),
                                       "Upload-Complete": "?0", "Cache-Control": "no-store"})
    # Only to the account that announced it, or one that may read the file: the same 404 for a blob that
    # does not exist and for someone else's.
    if known is None or not visible:
        raise Problem(404, "not-found", "Unknown blob: POST /sync/blobs first")
    size, complete = known
    return Response(None, headers={"Upload-Offset": str(_offset(ctx.root, sha, size, complete)),
                                   "Upload-Length": str(size), "Upload-Complete": "?1" if complete else "?0",
                                   "Cache-Control": "no-store"})


@patch("/sync/blobs/{sha256:str}", summary="Append a chunk at Upload-Offset; verified on the last byte",
       request_max_body_size=MAX_CHUNK, status_code=204, guards=[_FILERS], opt={"reads_body": True})
async def blob_chunk(request: Request[Any, Any, Any], sha256: FromPath[str]) -> Response[None]:
    user, p, ctx, sha = _blob_request(request, sha256)
    raw = request.headers.get("upload-offset")
    # ASCII digits only (str.isdigit() also takes Latin-1 superscripts, which int() refuses), within the range
    # every byte count here has; never a digit run long enough to make int() fail.
    offset = safe_int(raw) if raw is not None and raw.isascii() and raw.isdigit() else None
    if offset is None:
        raise Problem(400, "bad-request", "Upload-Offset header required: the byte offset, in ASCII digits")
    body = await request.body()
    async with ctx.locks.hold(sha):
        known, mine, visible = await ctx.db.read(lambda c: _blob_for(c, ctx, user, sha))
        if known is not None and known[1] and not visible:
            return await _prove(ctx, sha, p.id, offset, body)
        # An unfinished upload takes bytes only from the account that announced it (no one else can append
        # to, or corrupt, it); for anyone else it is as unknown as a blob that does not exist.
        if known is None or (not known[1] and not mine):
            raise Problem(404, "not-found", "Unknown blob: POST /sync/blobs first")
        size, complete = known
        have = _offset(ctx.root, sha, size, complete)
        if complete:
            return Response(None, status_code=204, headers={"Upload-Offset": str(size), "Upload-Complete": "?1"})
        if offset != have:
            raise Problem(409, "offset-mismatch", f"Upload-Offset is {have}, not {offset}", offset=have)
        if have + len(body) > size:
            raise Problem(413, "too-large", "The chunk goes past the declared size")
        part = partial_path(ctx.root, sha)
        await anyio.to_thread.run_sync(_append, part, body)
        have += len(body)
        if have < size:
            return Response(None, status_code=204, headers={"Upload-Offset": str(have), "Upload-Complete": "?0"})
        ok, mime = await anyio.to_thread.run_sync(_verify_and_store, ctx.root, sha)
        if not ok:
            # Corrupt (e.g. a torn write before a crash): start over rather than keep bad bytes.
            await anyio.to_thread.run_sync(_unlink, part)
            raise Problem(422, "digest-mismatch" if mime is None else "unsupported-type",
                          "The uploaded bytes do not match the sha256; upload again from offset 0"
                          if mime is None else f"Content type not allowed: {mime}", offset=0)
        await ctx.db.write(lambda c: ctx.store.complete_blob_in(c, p, sha, size, mime or "application/octet-stream"))
        return Response(None, status_code=204, headers={"Upload-Offset": str(size), "Upload-Complete": "?1"})


def _blob_for(c: Any, ctx: Ctx, user: AccountLike, sha: str) -> tuple[tuple[int, bool] | None, bool, bool]:
    """(size and completeness, whether ``user`` announced it, whether ``user`` may know it exists: announced
    it or may read the file)."""
    known = ctx.store.blob(c, sha)
    if known is None:
        return None, False, False
    mine = c.execute("SELECT 1 FROM sync_blobs WHERE sha256 = ? AND created_by = ?", (sha, user.id)).fetchone()
    return known, mine is not None, mine is not None or readable_attachment(c, user, sha) is not None


async def _prove(ctx: Ctx, sha: str, account: str, offset: int, body: bytes) -> Response[None]:
    """A chunk of an upload of a file someone else stored: the answers of a new upload (server.blob_possession)."""
    progress = ctx.possession.progress(sha, account)
    if progress is None:
        raise Problem(404, "not-found", "Unknown blob: POST /sync/blobs first")
    have, size = progress
    if offset != have:
        raise Problem(409, "offset-mismatch", f"Upload-Offset is {have}, not {offset}", offset=have)
    if have + len(body) > size:
        raise Problem(413, "too-large", "The chunk goes past the declared size")
    same = await ctx.possession.feed(_final(ctx.root, sha), sha, account, body)
    if same is None:
        return Response(None, status_code=204, headers={"Upload-Offset": str(have + len(body)),
                                                        "Upload-Complete": "?0"})
    if not same:
        raise Problem(422, "digest-mismatch", "The uploaded bytes do not match the sha256; upload again from offset 0",
                      offset=0)
    # Every byte was the stored file's: the account holds it now (its submissions naming it may be complete).
    await ctx.db.write(lambda c: file_stored_in(c, account, sha))
    return Response(None, status_code=204, headers={"Upload-Offset": str(size), "Upload-Complete": "?1"})


def _append(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _verify_and_store(root: Path, sha: str) -> tuple[bool, str | None]:
    part = partial_path(root, sha)
    digest = hashlib.sha256()
    head_bytes = b""
    with open(part, "rb") as fh:
        while chunk := fh.read(1 << 20):
            if len(head_bytes) < 16:
                head_bytes += chunk[: 16 - len(head_bytes)]
            digest.update(chunk)
    if digest.hexdigest() != sha:
        return False, None
    mime = sniff_type(head_bytes)
    if mime not in ALLOWED_TYPES:
        return False, mime or "unknown"
    final = _final(root, sha)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, final)  # atomic: readers never see half a file
    dir_fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True, mime
