"""The one filing policy: who may file, for whom, which version, which attachments, and the one writer.

Every path that files a submission (``POST /api/submissions``, its fast lane ``server.submission_lane``,
``submission.create`` in ``POST /sync/push``) calls :func:`check_filing` before it writes anything and
then one of the two entry points of the writer (:func:`write_filing`, batched, for HTTP;
:func:`write_filing_in`, inside the sync push's write job). The check answers a :class:`Filing` (what to
write) or a :class:`Refusal`; HTTP answers a refusal as problem+json (``Refusal.problem``), sync as a
terminal ``rejected`` receipt (``Refusal.reason``, ``Refusal.message`` in Japanese). Slugs and reasons map
1:1 (``docs/sync.md``, "Rejection reasons"):

==========================  ======  =====================  ================================================
problem slug (HTTP)         status  sync reason            when
==========================  ======  =====================  ================================================
``forbidden``               403     ``forbidden``          role may not file; a resident filing for another
``bad-request``             400     ``bad_request``        the id is not a UUID (sync; HTTP decodes one);
                                                           ``on_behalf_of`` is not 1-100 characters; an
                                                           ``attachments`` entry is not a sha256 (sync)
``unknown-procedure``       422     ``unknown_procedure``  the version was never published here
``filer-not-allowed``       403     ``filer_not_allowed``  the procedure's ``filers`` exclude this role
``unknown-resident``        422     ``unknown_resident``   ``on_behalf_of`` is not in the registry
``staff-only-field``        422     ``staff_only_field``   a resident answered a ``staff_only`` field
                                                           (``errors``: those paths, code ``staff_only``)
``invalid-answers``         422     ``invalid_answers``    the procedure's own rules (``errors``)
``idempotency-key-reused``  422     ``id_conflict``        the id was used with another body (writer)
==========================  ======  =====================  ================================================

A two-person procedure (``parties``, docs/procedure-format.md) filed by a resident is their part only: the
answers of the other parties' sections are refused (``invalid-answers``, code ``other_party``), the part is
validated on its own and stored ``awaiting_partner`` with one waiting slot per party (``server.parties``);
when the last party has confirmed, ``check_filing(..., complete=True)`` decides the whole filing again with
every part, and ``server.storage.parties`` files it (``received``). Staff filing fill every part at once.

A retired version (published earlier, since replaced) is accepted, validated against that version and
flagged ``retired_version``. Answers that change a value prefilled from the resident's profile flag it
``prefill_corrected`` (``server.prefill_check``; in a two-person procedure each part against the profile of the
person who answers it). Attachments (the sha256 referenced in the answers, plus the ``attachments``
list a sync payload declares) are linked to the submission; those its filer does not hold yet (not stored,
or stored by someone else: the same answer, ``server.storage.sync.blobs.held_by``) flag it
``incomplete_attachments`` until the filer has delivered the last one. The writer stores, in the submission's own
transaction and only when it is created (never on a retry): the row, its attachment links, the telemetry
and, when staff file, the ``submission.file_on_behalf`` audit entry.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec

from procedure_definitions.forms import is_number, is_sha256
from procedure_definitions.parties import FIRST_FILER, part_field_ids, part_of, party_ids
from server import audit
from server.auth.roles import FILER_ROLES
from server.authz import AccountLike
from server.prefill_check import CORRECTED_FLAG, corrected_paths, uses_prefill
from server.problems import Problem
from server.registry import bound_resident_id
from server.storage.submissions import (
    IdempotencyConflict,
    NewSubmission,
    Receipt,
    body_hash,
    canonical_json,
    create_many,
)
from server.telemetry import TelemetryIn, insert_telemetry, telemetry_row

if TYPE_CHECKING:
    from procedure_definitions.model import Procedure
    from server.services import Services

__all__ = [
    "ID_REUSED",
    "ON_BEHALF_MAX",
    "UNKNOWN_PROCEDURE",
    "Filing",
    "Refusal",
    "answers_refusal",
    "attachment_names",
    "attachment_refs",
    "bound_resident",
    "check_filing",
    "named_files",
    "write_filing",
    "write_filing_in",
]

ON_BEHALF_MAX = 100  # registry ids are short ("R0001"); the bound only keeps garbage out


@dataclass(frozen=True)
class Refusal:
    """A filing refused before anything was written: the same decision for every path."""

    status: int
    slug: str  # problem type slug (HTTP)
    reason: str  # rejected receipt reason (sync)
    detail: str  # English, for the problem document
    message: str  # Japanese, for the person (sync receipt)
    extra: dict[str, Any] = field(default_factory=dict)  # problem extensions / receipt ``result``

    def problem(self) -> Problem:
        return Problem(self.status, self.slug, self.detail, **self.extra)


def _refusal(status: int, slug: str, detail: str, message: str, **extra: Any) -> Refusal:
    return Refusal(status, slug, slug.replace("-", "_"), detail, message, extra)


ID_REUSED = Refusal(422, "idempotency-key-reused", "id_conflict",
                    "This submission id was already used with a different body", "同じIDの別の申請がすでにあります")
_NOT_A_FILER = _refusal(403, "forbidden", "Your role may not file submissions", "申請を提出する権限がありません")
_NOT_FOR_OTHERS = _refusal(403, "forbidden", "Residents file for themselves", "代理の申請は職員だけができます")
UNKNOWN_PROCEDURE = _refusal(
    422, "unknown-procedure", "This procedure version was never published",
    "この手続きの様式はサーバーで公開されていません。アプリを最新にしてから、もう一度入力してください",
    errors=[{"path": "procedure_version", "code": "unknown", "message": "unknown version"}])
_BAD_ID = _refusal(
    400, "bad-request", "The submission id must be a UUID (lower case, canonical form)", "申請のIDが正しくありません",
    errors=[{"path": "id", "code": "uuid", "message": "not a UUID"}])
_BAD_ON_BEHALF = _refusal(
    400, "bad-request", f"on_behalf_of must be a registry id of 1-{ON_BEHALF_MAX} characters",
    "代理で申請する住民の指定が正しくありません",
    errors=[{"path": "on_behalf_of", "code": "length", "message": f"1-{ON_BEHALF_MAX} characters"}])
_UNKNOWN_RESIDENT = _refusal(
    422, "unknown-resident", "No such resident in the registry", "代理で申請する住民が見つかりません",
    errors=[{"path": "on_behalf_of", "code": "unknown", "message": "unknown resident"}])


@dataclass(frozen=True)
class Filing:
    """An accepted filing: what the writer stores, and what it adds when the submission is created."""

    new: NewSubmission
    actor: str
    staff: bool  # staff filing (for a resident or not): audited ``submission.file_on_behalf``
    via: str  # "api" | "sync"
    telemetry: tuple[Any, ...] | None = None  # a telemetry row, stored only on creation
    parties: tuple[str, ...] = ()  # a held first part: the parties it waits for (server.storage.parties)

    def after_create(self, conn: sqlite3.Connection) -> None:
        """Inside the write job that created the submission."""
        if self.telemetry is not None:
            insert_telemetry(conn, self.telemetry)
        if self.parties:
            from server.storage.parties import open_parties  # storage imports this module's types

            open_parties(conn, self.new.id, self.parties, actor=self.actor)
        if self.staff:
            audit.append_audit(conn, actor=self.actor, action="submission.file_on_behalf",
                               subject=f"submission:{self.new.id}",
                               details={"resident": self.new.on_behalf_of, "via": self.via})


def attachment_names(value: Any) -> dict[str, str]:
    """Every attachment object (``{sha256, size, name?, ...}``: a string ``sha256`` and a number ``size``)
    anywhere in the answers, inside other attachment objects too: sha256 → its file name (the first 12 hex
    digits when it has none). What the writer links and the console lists; ``attachmentRefs`` in
    pwa/js/drafts.js applies the same rule on the device (tests/conformance/attachments.json pins both)."""
    out: dict[str, str] = {}

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            sha = v.get("sha256")
            if isinstance(sha, str) and is_number(v.get("size")):
                out.setdefault(sha, str(v.get("name") or sha[:12]))
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(value)
    return out


def attachment_refs(value: Any) -> set[str]:
    """sha256 of every attachment object referenced anywhere in the answers."""
    return set(attachment_names(value))


def named_files(svc: Services, proc: Procedure, answers: dict[str, Any], declared: Iterable[str] = ()) -> list[str]:
    """The files a submission's answers (and a sync payload's ``attachments`` list) name, sorted: linked to the
    submission by the writer, when filing and when answering a request for more information."""
    files = set(declared)
    if svc.catalog.has_attachments(proc):
        files |= attachment_refs(answers)
    return sorted(f for f in files if is_sha256(f))  # anything else names no file


async def bound_resident(svc: Services, user: AccountLike) -> str | None:
    """The registry id the account is bound to (identity binding), if any. A session's account carries its
    binding, exactly (a binding bumps the session cache's epoch: server.auth.session_cache), so only an
    account without that attribute costs a read: every resident filing asks this (the prefill check)."""
    if hasattr(user, "resident_id"):
        rid = user.resident_id
        return str(rid) if rid else None
    return await svc.db.read(lambda c: bound_resident_id(c, user.id))


def _telemetry(raw: Any, proc: Procedure) -> tuple[Any, ...] | None:
    """The telemetry row a filing stores, or ``None``: telemetry never fails a filing, on any path. One that
    is not ``POST /api/telemetry``'s shape (not an object, unknown keys, wrong types, counts out of range),
    has unparsable timestamps, or names another procedure or version than the one filed (which could be one
    never published here) is dropped: counted under the version filed or not at all."""
    if raw is None:
        return None
    try:
        t = raw if isinstance(raw, TelemetryIn) else msgspec.convert(raw, TelemetryIn)
        if (t.procedure_id, t.procedure_version) != (proc.id, proc.version):
            return None
        return telemetry_row(t)
    except (msgspec.ValidationError, Problem):
        return None


def _is_uuid(text: str) -> bool:
    """Whether ``text`` is a UUID in the canonical form the API stores (``str(uuid.UUID(...))``)."""
    try:
        return len(text) == 36 and str(uuid.UUID(text)) == text
    except ValueError:
        return False


def _bad_attachments(attachments: Iterable[str]) -> Refusal | None:
    """A sync payload's ``attachments`` list names files by sha256 (lower-case hex): anything else is refused,
    as ``POST /api/submissions`` refuses a malformed sha256 in the answers, never stored and dropped."""
    bad = [{"path": f"attachments[{i}]", "code": "sha256", "message": "not a sha256 (64 lower-case hex digits)"}
           for i, sha in enumerate(attachments) if not is_sha256(sha)]
    if not bad:
        return None
    return _refusal(400, "bad-request", "Every attachments entry must be a sha256 (64 lower-case hex digits)",
                    "添付ファイルの指定が正しくありません", errors=bad[:20])


def _first_message(errors: list[dict[str, Any]]) -> str:
    first = errors[0].get("message")
    text = first.get("ja") if isinstance(first, dict) else first
    return f"入力内容を確認してください：{text or errors[0].get('path')}"


def answers_refusal(errors: list[dict[str, Any]]) -> Refusal | None:
    """The refusal of answers the validator found ``errors`` in (``None``: none), the same on every path that
    validates a resident's answers (filing, a reply to a request for information, a partner's part)."""
    if staff_only := [e for e in errors if e.get("code") == "staff_only"]:
        # Its own refusal, not just invalid answers: the client sent what only the counter may write.
        return _refusal(422, "staff-only-field", "Residents cannot answer fields filled in by staff at the counter",
                        "窓口の職員が記入する項目は送信できません", errors=staff_only)
    if errors:
        return _refusal(422, "invalid-answers", "The answers do not satisfy the procedure's rules",
                        _first_message(errors), errors=errors)
    return None


async def check_filing(svc: Services, user: AccountLike, *, submission_id: str, procedure_id: str,
                       procedure_version: str, answers: dict[str, Any], on_behalf_of: str | None,
                       telemetry: Any = None,
                       attachments: Iterable[str] = (), via: str = "api", complete: bool = False,
                       partners: Mapping[str, str] | None = None) -> Filing | Refusal:
    """Decide a filing before anything is written (answers are validated in the worker processes).

    ``complete``: every part of a two-person procedure is in (``server.parties``): validate the whole.
    ``partners``: party → the registry id of the person who confirmed that part; each part's prefilled values
    are compared with its own person's profile (the filer's part with the filer's)."""
    if user.role not in FILER_ROLES:
        return _NOT_A_FILER
    if not _is_uuid(submission_id):  # HTTP decodes a UUID already; sync sends any string
        return _BAD_ID
    # Shapes first, for every role and path alike (HTTP and sync give the same answer to the same body).
    if on_behalf_of is not None and not 1 <= len(on_behalf_of) <= ON_BEHALF_MAX:
        return _BAD_ON_BEHALF
    attachments = list(attachments)
    if (bad_files := _bad_attachments(attachments)) is not None:
        return bad_files
    proc, retired = await svc.catalog.get(procedure_id, procedure_version)
    if proc is None:  # never stored unvalidated
        return UNKNOWN_PROCEDURE
    filer = "resident" if user.role == "resident" else "staff"
    if filer not in proc.filers:
        return _refusal(403, "filer-not-allowed", f"This procedure cannot be filed by {filer}",
                        "この手続きはこの立場では申請できません")
    record = None  # the record staff file for, read once (its profile reuses it)
    if user.role == "resident":
        if on_behalf_of is not None and on_behalf_of != await bound_resident(svc, user):
            return _NOT_FOR_OTHERS
    elif on_behalf_of is not None and (record := await svc.registry.get(on_behalf_of)) is None:
        return _UNKNOWN_RESIDENT
    parts = party_ids(proc) if user.role == "resident" and not complete else []
    if parts:  # the first filer's part only: the others confirm theirs from their own accounts
        theirs = sorted(set(answers) & {f for p in parts for f in part_field_ids(proc, p)})
        if theirs:
            return _refusal(422, "invalid-answers", "Another party answers these fields from their own account",
                            "相手の方の欄は、相手の方が自分で入力します",
                            errors=[{"path": f, "code": "other_party", "message": "another party's field"}
                                    for f in theirs[:20]])
    errors = await svc.validator.validate(part_of(proc, FIRST_FILER) if parts else proc, answers, filer)
    if (refused := answers_refusal(errors)) is not None:
        return refused
    files = named_files(svc, proc, answers, attachments)
    flags = ["retired_version"] if retired else []
    corrected: list[str] = []
    if uses_prefill(proc):
        rid = on_behalf_of if filer == "staff" else await bound_resident(svc, user)
        # A part of another person was prefilled from their own profile, never the filer's.
        people = [(p, partners.get(p)) for p in party_ids(proc)] if partners else []
        own = part_of(proc, FIRST_FILER) if people or parts else proc
        checks = [(own, rid), *((part_of(proc, p), prid) for p, prid in people)]
        for part, person in checks:
            # No person (nobody bound): no profile, so a person field's pick names nobody the records know.
            corrected += corrected_paths(part, answers, await svc.registry.profile(
                person, record if record is not None and person == record.id else None) if person else {})
        if corrected:  # stored with it: the console lists them as decided now, not against a later registry
            flags.append(CORRECTED_FLAG)
    answers_json = canonical_json(answers)  # encoded once: hashed here, stored by the writer
    new = NewSubmission(
        id=submission_id, procedure_id=proc.id, procedure_version=proc.version, department=proc.department.id,
        answers=answers, answers_json=answers_json, flags=flags, corrected=corrected,
        account_id=user.id, on_behalf_of=on_behalf_of, attachments=files,
        body_hash=body_hash(proc.id, proc.version, answers, on_behalf_of, answers_json=answers_json),
        status="awaiting_partner" if parts else "received")
    return Filing(new=new, actor=user.id, staff=filer == "staff", via=via,
                  telemetry=_telemetry(telemetry, proc), parties=tuple(parts))


async def write_filing(svc: Services, filing: Filing) -> tuple[Receipt, bool]:
    """Store through the batched writer (HTTP): the receipt and whether it was created (False: a retry).
    Raises the ``idempotency-key-reused`` problem when the id was used with another body."""
    try:
        return await svc.submissions.create(filing.new, also=filing.after_create)
    except IdempotencyConflict:
        raise ID_REUSED.problem() from None


def write_filing_in(conn: sqlite3.Connection, filing: Filing) -> tuple[Receipt, bool]:
    """Store inside a write job (sync push). Raises :class:`IdempotencyConflict` (nothing written)."""
    out = create_many(conn, [filing.new])[0]
    if isinstance(out, Exception):
        raise out
    if out[1]:
        filing.after_create(conn)
    return out
