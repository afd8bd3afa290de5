"""Resumable, content-addressed uploads of a submission's files (``docs/sync.md``, "Attachments"):
``POST /sync/blobs`` announces, ``HEAD`` tells the offset, ``PATCH`` appends a chunk, verified on the last byte.
Split from ``server.sync_routes``, which mounts these handlers in its router."""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from pathlib import Path
from typing import Any

import anyio
import msgspec
from litestar import Request, Response, head, patch, post
from litestar.params import FromPath, JSONBody

from procedure_definitions.forms import is_sha256
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

__all__ = ["CHUNK_TYPE", "MAX_BLOB", "MAX_CHUNK", "blob_chunk", "blob_offset", "create_blob"]

MAX_CHUNK = 4 * 1024 * 1024  # bytes per PATCH
MAX_BLOB = 64 * 1024 * 1024
CHUNK_TYPE = "application/offset+octet-stream"  # the only Content-Type of a PATCH chunk
# Files travel with submissions, so only the roles that file submissions upload blobs (the guard runs
# before the body is read).
_FILERS = requires_role(*FILER_ROLES)


class BlobIn(msgspec.Struct, forbid_unknown_fields=True):
    sha256: str
    size: int


def _check_sha(sha: str) -> str:
    if not is_sha256(sha):  # upper case too: one spelling of a file's name on every path
        raise Problem(400, "bad-request", "sha256 must be 64 lower-case hex digits",
                      errors=[{"path": "sha256", "code": "sha256", "message": "not 64 lower-case hex digits"}])
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


def _offset(root: Path, sha: str, account: str) -> int:
    """How many bytes of ``account``'s own unfinished upload of ``sha`` the server has."""
    try:
        return os.path.getsize(partial_path(root, sha, account))
    except OSError:
        return 0


class _Seen(msgspec.Struct, frozen=True):
    """What one account may know of a sha256: the stored file (only when it may read it: uploaded it, proved
    it or may read a submission it belongs to), its own unfinished upload, and whether a file is stored at all
    (never told to it when it may not read that file)."""

    stored: int | None  # size of the stored file it may read
    own: int | None  # announced size of its own unfinished upload
    hidden: int | None  # size of a stored file it may not read (answered as if absent)


def _seen(c: Any, ctx: Ctx, user: AccountLike, sha: str) -> _Seen:
    size = ctx.store.stored_size(c, sha)
    readable = size is not None and readable_attachment(c, user, sha) is not None
    return _Seen(size if readable else None, ctx.store.upload_size(c, sha, user.id), None if readable else size)


@post("/sync/blobs", summary="Announce a blob {sha256, size}: 201 new upload, 200 already known", status_code=201,
      guards=[_FILERS])
async def create_blob(request: Request[Any, Any, Any], data: JSONBody[BlobIn]) -> Response[BlobInfo]:
    user, p, ctx, sha = _blob_request(request, data.sha256)
    if not 0 < data.size <= MAX_BLOB:
        raise Problem(413 if data.size > MAX_BLOB else 422, "too-large" if data.size > MAX_BLOB else "invalid",
                      f"size must be between 1 and {MAX_BLOB}")
    limits = _upload_limits(request)
    # Its proofs in progress (uploads of files someone else stored) count as the unfinished uploads they look
    # like: a stored file it may not read and an absent one meet the same limits (the same 413/429).
    proofs = ctx.possession.sizes(p.id, besides=sha)
    proof = ctx.possession.progress(sha, p.id)

    def announce(c: Any) -> tuple[_Seen, bool]:
        seen = _seen(c, ctx, user, sha)
        if seen.stored is not None:  # it holds (or may read) the stored file: nothing to send
            if seen.own is not None:
                ctx.store.drop_upload_in(c, sha, p.id)
                _unlink(partial_path(ctx.root, sha, p.id))
            return seen, False
        if seen.own is not None:
            return seen, False  # resumes its own upload
        if seen.hidden is not None:  # proves it holds a stored file (below): resumed, or new within the limits
            if proof is None or proof[1] != data.size:
                check_new_upload(c, p.id, data.size, limits, root=ctx.root, in_flight=IN_FLIGHT(p.id),
                                 proofs=proofs, now=time.time())
            return seen, False
        # A new upload of its own reserves its size: checked against the account's limits in the same write job.
        check_new_upload(c, p.id, data.size, limits, root=ctx.root, in_flight=IN_FLIGHT(p.id), proofs=proofs,
                         now=time.time())
        ctx.store.create_upload_in(c, p, sha, data.size)
        _unlink(partial_path(ctx.root, sha, p.id))  # bytes of an earlier, dropped upload: a new one starts at 0
        return _Seen(None, data.size, None), True

    seen, created = await ctx.db.write(announce)
    if seen.stored is not None:
        if seen.stored != data.size:
            raise Problem(409, "conflict", "This sha256 is known with another size", size=seen.stored)
        return _blob_info(sha, seen.stored, seen.stored, True, 200)
    if seen.own is not None:
        if seen.own != data.size:  # its own announcement: telling it its own size reveals nothing
            raise Problem(409, "conflict", "This sha256 is known with another size", size=seen.own)
        return _blob_info(sha, seen.own, _offset(ctx.root, sha, p.id), False, 201 if created else 200)
    assert seen.hidden is not None
    # Someone else's stored file: answered as a new upload, whose bytes must then match (possession).
    offset = ctx.possession.start(sha, p.id, data.size, seen.hidden, per_account=limits.max_open)
    return _blob_info(sha, data.size, offset, False, 201)


@head("/sync/blobs/{sha256:str}", summary="Upload-Offset of a blob (how many bytes the server has)", status_code=200,
      guards=[_FILERS])
async def blob_offset(request: Request[Any, Any, Any], sha256: FromPath[str]) -> Response[None]:
    user, _, ctx, sha = _blob_request(request, sha256)
    seen = await ctx.db.read(lambda c: _seen(c, ctx, user, sha))
    proof = ctx.possession.progress(sha, user.id)
    if seen.stored is not None:
        offset, size, done = seen.stored, seen.stored, True
    elif seen.own is not None:
        offset, size, done = _offset(ctx.root, sha, user.id), seen.own, False
    elif seen.hidden is not None and proof is not None:  # a possession proof under way
        offset, size, done = proof[0], proof[1], False
    else:
        # Only its own upload or a file it may read: the same 404 whether no file with that sha256 exists, or
        # someone else's (stored or being uploaded).
        raise Problem(404, "not-found", "Unknown blob: POST /sync/blobs first")
    return Response(None, headers={"Upload-Offset": str(offset), "Upload-Length": str(size),
                                   "Upload-Complete": "?1" if done else "?0", "Cache-Control": "no-store"})


@patch("/sync/blobs/{sha256:str}", summary="Append a chunk at Upload-Offset; verified on the last byte",
       request_max_body_size=MAX_CHUNK, status_code=204, guards=[_FILERS], opt={"reads_body": True})
async def blob_chunk(request: Request[Any, Any, Any], sha256: FromPath[str]) -> Response[None]:
    user, p, ctx, sha = _blob_request(request, sha256)
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != CHUNK_TYPE:  # the resumable-upload chunk type (docs/sync.md), checked before the body is read
        raise Problem(415, "unsupported-type", f"Content-Type must be {CHUNK_TYPE}")
    raw = request.headers.get("upload-offset")
    # ASCII digits only (str.isdigit() also takes Latin-1 superscripts, which int() refuses), within the range
    # every byte count here has; never a digit run long enough to make int() fail.
    offset = safe_int(raw) if raw is not None and raw.isascii() and raw.isdigit() else None
    if offset is None:
        raise Problem(400, "bad-request", "Upload-Offset header required: the byte offset, in ASCII digits")
    body = await request.body()
    async with ctx.locks.hold(sha):
        seen = await ctx.db.read(lambda c: _seen(c, ctx, user, sha))
        if seen.stored is not None:  # deduplicated: it holds the stored file already
            return Response(None, status_code=204, headers={"Upload-Offset": str(seen.stored),
                                                            "Upload-Complete": "?1"})
        if seen.own is None:
            if seen.hidden is not None:
                return await _prove(ctx, sha, p.id, offset, body)
            # Only the account that announced an upload appends to it: someone else's is as unknown as a blob
            # that does not exist.
            raise Problem(404, "not-found", "Unknown blob: POST /sync/blobs first")
        size = seen.own
        have = _offset(ctx.root, sha, p.id)
        if offset != have:
            raise Problem(409, "offset-mismatch", f"Upload-Offset is {have}, not {offset}", offset=have)
        if have + len(body) > size:
            raise Problem(413, "too-large", "The chunk goes past the declared size")
        part = partial_path(ctx.root, sha, p.id)
        await anyio.to_thread.run_sync(_append, part, body)
        have += len(body)
        if have < size:
            return Response(None, status_code=204, headers={"Upload-Offset": str(have), "Upload-Complete": "?0"})
        ok, mime = await anyio.to_thread.run_sync(_verify_and_store, ctx.root, sha, part)
        if not ok:
            # Corrupt (e.g. a torn write before a crash): start over rather than keep bad bytes.
            await anyio.to_thread.run_sync(_unlink, part)
            raise Problem(422, "digest-mismatch" if mime is None else "unsupported-type",
                          "The uploaded bytes do not match the sha256; upload again from offset 0"
                          if mime is None else f"Content type not allowed: {mime}", offset=0)
        await ctx.db.write(lambda c: ctx.store.complete_blob_in(c, p, sha, size, mime or "application/octet-stream"))
        return Response(None, status_code=204, headers={"Upload-Offset": str(size), "Upload-Complete": "?1"})


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


def _verify_and_store(root: Path, sha: str, part: Path) -> tuple[bool, str | None]:
    """Check an upload's bytes (``part``) and store them as file ``sha``; stored once: when another upload of
    the same bytes finished first, these (verified the same) are dropped."""
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
    if final.exists():
        _unlink(part)
        return True, mime
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, final)  # atomic: readers never see half a file
    dir_fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True, mime
