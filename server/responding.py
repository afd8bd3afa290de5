"""The one respond policy: a resident answers a request for more information (追加情報が必要).

Both paths that bring a reply come here before anything is written: ``POST /api/submissions/{id}/respond``
and ``submission.respond`` in ``POST /sync/push`` (docs/sync.md). :func:`check_response` answers a
:class:`~server.storage.follow.ResponseWrite` (what to write) or a :class:`~server.filing.Refusal` (HTTP: its
problem; sync: a terminal ``rejected`` receipt with the same reason); the writer
(:func:`server.storage.follow.write_response_in`) stores it once under the reply's client-generated id and
decides what only the write transaction can know (the current status, a reused id).

==============================  ======  ======================  =============================================
problem slug (HTTP)             status  sync reason             when
==============================  ======  ======================  =============================================
``bad-request``                 400     ``bad_request``         the reply is not the documented shape (sync),
                                                                its id is not a UUID, a file is not a sha256
``not-found``                   404     ``not_found``           no such submission, or not the account's own
                                                                (the same answer: ids are not probeable)
``empty-response``              422     ``empty_response``      no text, no answers and no file
``unknown-procedure``           422     ``unknown_procedure``   the submission's version was never published
``staff-only-field``            422     ``staff_only_field``    a resident's reply answers a ``staff_only`` field
``invalid-answers``             422     ``invalid_answers``     the merged answers break the procedure's rules
``invalid-transition``          409     ``invalid_transition``  not waiting for information (writer)
``idempotency-key-reused``      422     ``id_conflict``         the reply id was used with another body (writer)
==============================  ======  ======================  =============================================
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from procedure_definitions.forms import is_sha256
from server.filing import UNKNOWN_PROCEDURE, Refusal, _is_uuid, _refusal, answers_refusal, named_files
from server.storage.follow import ResponseWrite
from server.storage.submissions import canonical_json

if TYPE_CHECKING:
    from server.authz import AccountLike
    from server.services import Services

__all__ = ["MAX_COMMENT", "MAX_FILES", "NOT_FOUND", "NOT_WAITING", "RespondIn", "ResponseFile", "check_response"]

MAX_COMMENT = 4000
MAX_FILES = 20


class ResponseFile(msgspec.Struct, forbid_unknown_fields=True):
    """A file attached to the reply, uploaded like any attachment (``POST /api/attachments`` or ``/sync/blobs``)."""

    sha256: str
    size: Annotated[int, msgspec.Meta(ge=1)]
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    type: Annotated[str, msgspec.Meta(max_length=100)] | None = None


class RespondIn(msgspec.Struct, forbid_unknown_fields=True):
    """The reply, the same body over HTTP and (as ``response``) over sync."""

    # Client-generated UUID: the reply is stored once, by whichever path and retry arrives first. HTTP may
    # leave it out (the server makes one: then a retry after a lost answer gets 409, not the first result).
    id: str | None = None
    comment: Annotated[str, msgspec.Meta(max_length=MAX_COMMENT)] | None = None
    answers: dict[str, Any] = {}
    files: Annotated[list[ResponseFile], msgspec.Meta(max_length=MAX_FILES)] = []


NOT_FOUND = _refusal(404, "not-found", "No such submission", "申請が見つかりません")
NOT_WAITING = "この申請は追加情報を待っていません（状態が変わりました）"
_EMPTY = _refusal(422, "empty-response", "Write a reply or attach a file", "返信の文か添付ファイルを入れてください",
                  errors=[{"path": "comment", "code": "required", "message": "a reply or a file is required"}])
_BAD_ID = _refusal(400, "bad-request", "The reply id must be a UUID (lower case, canonical form)",
                   "返信のIDが正しくありません", errors=[{"path": "id", "code": "uuid", "message": "not a UUID"}])


def _bad_shape(detail: str) -> Refusal:
    return _refusal(400, "bad-request", f"Invalid reply: {detail}", "返信の形が正しくありません")


def _reply_hash(sid: str, data: RespondIn) -> str:
    return hashlib.sha256(canonical_json([sid, data.comment, data.answers,
                                          [msgspec.to_builtins(f) for f in data.files]])).hexdigest()


async def check_response(svc: Services, user: AccountLike, sid: str, raw: Any) -> ResponseWrite | Refusal:
    """Decide a reply before anything is written. ``raw``: a :class:`RespondIn` (HTTP, decoded by Litestar)
    or the ``response`` object of a sync mutation (decoded here, so a bad one refuses that mutation only)."""
    try:
        data = raw if isinstance(raw, RespondIn) else msgspec.convert(raw, RespondIn)
    except msgspec.ValidationError as exc:
        return _bad_shape(str(exc))
    if data.id is not None and not _is_uuid(data.id):
        return _BAD_ID
    bad = [{"path": f"files[{i}].sha256", "code": "sha256", "message": "not a sha256 (64 lower-case hex digits)"}
           for i, f in enumerate(data.files) if not is_sha256(f.sha256)]
    if bad:
        return _refusal(400, "bad-request", "Every file must be named by its sha256 (64 lower-case hex digits)",
                        "添付ファイルの指定が正しくありません", errors=bad)
    rec = await svc.submissions.get(sid)
    # Only the filer answers; to anyone else the submission is as absent as one that never existed.
    if rec is None or rec.account_id != user.id:
        return NOT_FOUND
    if not (data.comment or "").strip() and not data.answers and not data.files:
        return _EMPTY
    proc, _ = await svc.catalog.get(rec.procedure_id, rec.procedure_version)
    if proc is None:  # a submission stored before versions were checked: answers are never stored unvalidated
        return UNKNOWN_PROCEDURE
    merged = {**rec.answers, **data.answers}
    if data.answers:
        errors = await svc.validator.validate(proc, merged, "resident" if user.role == "resident" else "staff")
        if (refused := answers_refusal(errors)) is not None:  # as when filing (server.filing)
            return refused
    files = [msgspec.to_builtins(f) for f in data.files]
    return ResponseWrite(
        id=data.id or str(uuid.uuid4()), submission_id=sid, account_id=user.id, answers=merged,
        comment=(data.comment or "").strip() or None, files=files,
        attachments=named_files(svc, proc, data.answers, (f["sha256"] for f in files)),
        body_hash=_reply_hash(sid, data))
