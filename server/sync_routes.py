"""HTTP endpoints of the sync protocol (``docs/sync.md``), conflict review API and console page.

Wiring into the main app (``server/app.py``)::

    from server.sync_routes import SyncConfig, sync_router
    app = Litestar(route_handlers=[..., sync_router], on_app_init=[..., SyncConfig().on_app_init])

Without an explicit :class:`SyncConfig` the handlers fall back to ``app.state.services`` (database, settings,
catalog, registry and validation workers of the main app: ``server/app.py`` mounts it this way).
``python -m server.sync_routes --db F --port P`` runs a standalone server with only auth + sync (no catalog,
so no published procedure: every ``submission.create`` is rejected ``unknown_procedure``); the fault-injection
harness and the benchmark use the real ``madoguchi serve`` unless given ``mode="standalone"``
(``testsupport.servers``). The file upload handlers are in ``server.sync_blob_routes``, the configuration
and per-request context both share in ``server.sync_context``; this router mounts them all.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import anyio
import msgspec
from litestar import Request, Response, Router, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from server import audit
from server.auth import requires_role, requires_signed_in
from server.auth.roles import CASEWORK_ROLES, CONFLICT_RESOLVER_ROLES, is_staff_role
from server.authz import require_user
from server.console.landing import configurator_landing, or_landing
from server.console.readable import account_names, actor_text
from server.console.routes import ROLE_LABELS, render_page
from server.display import address_text, name_text
from server.draft_policy import draft_patch_refusal
from server.filing import Refusal, check_filing
from server.input_limits import json_problem
from server.problems import Problem
from server.responding import check_response
from server.storage.db import Database
from server.storage.sync import (
    ConflictPage,
    ConflictRow,
    Decision,
    InvalidValue,
    KeyReuse,
    NotFoundError,
    PermissionDenied,
    StaleConflict,
    SyncReset,
    Verdict,
)
from server.sync_blob_routes import MAX_CHUNK, blob_chunk, blob_offset, create_blob
from server.sync_context import STATE_KEY, Ctx, SyncConfig, principal, sync_context
from server.uploads import UploadLimits
from sync.messages import PullPage, PushRequest, PushResponse
from sync.records import DRAFT, Principal

__all__ = [
    "MAX_BATCH",
    "MAX_CHUNK",
    "STATE_KEY",
    "SyncConfig",
    "standalone_app",
    "sync_router",
]

MAX_BATCH = 1000  # mutations per push request
MAX_PUSH_BYTES = 16 * 1024 * 1024
CONSOLE_PAGE = 50  # conflicts per console page (the API: ``limit``, default 200, at most 1000)
_TEMPLATES = Path(__file__).resolve().parent / "templates"

# Route guards (deny first; they run before the body is read). Object-level rules (a draft only to its
# owner, shared records by role/department/assignment) are applied by the store on every record.
# Resolving: residents (their own drafts' conflicts) and the console roles; configurators see no records.
_RESOLVERS = requires_role(*CONFLICT_RESOLVER_ROLES)
_CONSOLE = requires_role(*CASEWORK_ROLES)

_push_decoder = msgspec.json.Decoder(PushRequest)


# -- push / pull ------------------------------------------------------------------------------------------
@post("/sync/push", summary="Push queued mutations; one receipt per mutation, in order",
      request_max_body_size=MAX_PUSH_BYTES, status_code=200, guards=[requires_signed_in], opt={"reads_body": True})
async def push(request: Request[Any, Any, Any]) -> PushResponse:
    p = principal(request)
    ctx = sync_context(request)
    body = await request.body()
    try:
        req = _push_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise Problem(400, "bad-request", f"Invalid push body: {exc}") from None
    except msgspec.DecodeError:
        raise Problem(400, "bad-request", "The body is not JSON") from None
    if len(req.mutations) > MAX_BATCH:
        raise Problem(413, "too-large", f"At most {MAX_BATCH} mutations per push", max_batch=MAX_BATCH)
    verdicts = await _filing_decisions(request, req.mutations)
    try:
        receipts = await ctx.db.write(lambda c: ctx.store.push_in(c, p, req.mutations, verdicts=verdicts))
    except KeyReuse as exc:
        raise Problem(422, "idempotency-key-reused",
                      "A mutation_id was already used with a different body; nothing in this push was applied",
                      mutation_ids=exc.mutation_ids) from None
    return PushResponse(receipts=receipts)


async def _filing_decisions(request: Request[Any, Any, Any], mutations: list[Any]) -> dict[str, Decision]:
    """The filing policy's decision (``server.filing.check_filing``, as for ``POST /api/submissions``) about
    each ``submission.create``, made before the write job (answers are validated in the validation worker
    processes). A refusal becomes a terminal ``rejected`` receipt with the policy's reason; a server without
    services (no catalog, so nothing published) decides nothing and the store refuses them all."""
    svc = request.app.state.get("services")
    if svc is None:
        return {}
    user = require_user(request)
    out: dict[str, Decision] = {}
    for m in mutations:
        if m.kind == "draft.patch":  # a resident's draft never holds a staff-only value (server/draft_policy.py)
            if (refusal := await draft_patch_refusal(svc, sync_context(request).db, user, m)) is not None:
                out[m.mutation_id] = refusal
            continue
        if m.kind == "submission.respond" and m.response is not None and m.entity.type == "submission":
            # The respond policy, as for POST /api/submissions/{id}/respond (server/responding.py).
            reply = await check_response(svc, user, m.entity.id, m.response)
            out[m.mutation_id] = (Verdict(reply.reason, reply.message, reply.extra or None)
                                  if isinstance(reply, Refusal) else reply)
            continue
        s = m.submission
        if m.kind != "submission.create" or s is None or m.entity.type != "submission":
            continue  # refused by the store (bad_request)
        decision = await check_filing(
            svc, user, submission_id=m.entity.id, procedure_id=s.procedure_id, procedure_version=s.procedure_version,
            answers=s.answers, on_behalf_of=s.on_behalf_of, telemetry=s.telemetry,
            attachments=s.attachments, via="sync")
        out[m.mutation_id] = (Verdict(decision.reason, decision.message, decision.extra or None)
                              if isinstance(decision, Refusal) else decision)
    return out


@get("/sync/pull", summary="Changes after a cursor that the signed-in account may see (paged)",
     guards=[requires_signed_in])
async def pull(request: Request[Any, Any, Any], cursor: FromQuery[int] = 0, limit: FromQuery[int] = 500,
               db: FromQuery[str | None] = None) -> PullPage:
    p = principal(request)
    ctx = sync_context(request)
    if cursor < 0 or limit < 1:
        raise Problem(400, "bad-request", "cursor must be >= 0 and limit >= 1")
    # Outreach workers' assigned households become shared records on first sight (from the registry).
    if p.role == "outreach" and await ctx.db.read(lambda c: ctx.store.missing_assigned(c, p)):
        await ctx.db.write(lambda c: ctx.store.materialize_assigned_in(c, p))
    try:
        page = await ctx.db.read(lambda c: ctx.store.pull(c, p, cursor, limit, database_id=db))
    except SyncReset as exc:
        # Never echo a cursor the database does not know: the device would skip whatever gets that seq next.
        raise Problem(409, "sync-reset", "The replica belongs to another database or a later state of this one:"
                      " drop the replica and the cursor, keep the outbox, pull again from cursor 0",
                      reason=exc.reason, database_id=exc.database_id) from None
    await _audit_reads(ctx, p, "sync.pull", None, [f"{ch.type}:{ch.id}" for ch in page.changes if ch.type != DRAFT],
                       cursor=cursor)
    return page


async def _audit_reads(ctx: Ctx, p: Principal, action: str, subject: str | None, ids: list[str],
                       **details: Any) -> None:
    """One audit entry for a staff read of shared records (households, residents, cases, their conflicts):
    the ids and their count, not one entry per record, and none when nothing personal was returned (an
    empty page, a device's own drafts) or the reader is a resident (their own data)."""
    if ids and is_staff_role(p.role):
        await audit.record(ctx.db, actor=p.id, action=action, subject=subject, details={**audit.many(ids), **details})


def _conflict_ids(rows: list[ConflictRow]) -> list[str]:
    return [str(c.id) for c in rows if c.type != DRAFT]


# -- conflicts --------------------------------------------------------------------------------------------
class ResolveIn(msgspec.Struct, forbid_unknown_fields=True):
    choice: str
    value: Any = None


def _check_conflict_paging(cursor: int | None, limit: int) -> None:
    """The one paging rule of conflict lists, API and console: a cursor comes from a previous page (>= 1)."""
    if limit < 1 or (cursor is not None and cursor < 1):
        raise Problem(400, "bad-request", "limit must be >= 1 and cursor >= 1")


@get("/api/conflicts", summary="Conflicts visible to me, newest first, paged (status=open|resolved|all; mine=1: my"
     " own mutations'; cursor from the previous page)", guards=[requires_signed_in])
async def list_conflicts(request: Request[Any, Any, Any], status: FromQuery[str] = "open",
                         mine: FromQuery[bool] = False, cursor: FromQuery[int | None] = None,
                         limit: FromQuery[int] = 200) -> ConflictPage:
    p = principal(request)
    ctx = sync_context(request)
    if status not in ("open", "resolved", "all"):
        raise Problem(400, "bad-request", "status must be open, resolved or all")
    _check_conflict_paging(cursor, limit)
    page = await ctx.db.read(lambda c: ctx.store.list_conflicts(
        c, p, status=None if status == "all" else status, mine_only=mine, cursor=cursor, limit=limit))
    await _audit_reads(ctx, p, "conflict.list", None, _conflict_ids(page.items), via="api")
    return page


@get("/api/conflicts/{cid:int}", summary="One conflict with base / server / mine and the current value",
     guards=[requires_signed_in])
async def get_conflict(request: Request[Any, Any, Any], cid: FromPath[int]) -> ConflictRow:
    p = principal(request)
    ctx = sync_context(request)
    try:
        row = await ctx.db.read(lambda c: ctx.store.get_conflict(c, p, cid))
    except NotFoundError:  # absent or not in the account's scope: the same answer
        raise Problem(404, "not-found", "No such conflict") from None
    await _audit_reads(ctx, p, "conflict.read", f"conflict:{cid}", _conflict_ids([row]), via="api",
                       record=f"{row.type}:{row.record_id}")
    return row


@post("/api/conflicts/{cid:int}/resolve", summary="Decide a conflict: keep base, server or mine, or a custom value",
      status_code=200, guards=[_RESOLVERS])
async def resolve_conflict(request: Request[Any, Any, Any], cid: FromPath[int], data: JSONBody[ResolveIn]) -> ConflictRow:
    p = principal(request)
    ctx = sync_context(request)
    if data.choice not in ("base", "server", "mine", "custom"):
        raise Problem(422, "invalid", "choice must be base, server, mine or custom")
    try:
        return await ctx.db.write(lambda c: ctx.store.resolve_in(c, p, cid, data.choice, data.value))
    except InvalidValue as exc:
        raise Problem(422, "invalid", f"The custom value does not fit the field: {exc}") from None
    except NotFoundError:
        raise Problem(404, "not-found", "No such conflict") from None
    except PermissionDenied:
        raise Problem(403, "forbidden", "You may not resolve this conflict") from None
    except StaleConflict:
        raise Problem(409, "conflict", "This conflict is already resolved") from None


@get("/console/conflicts", summary="Console: open conflicts (HTML)", media_type="text/html", include_in_schema=False,
     guards=[or_landing(_CONSOLE)], before_request=configurator_landing)  # configurators land on their page
async def conflicts_page(request: Request[Any, Any, Any], status: FromQuery[str] = "open",
                         cursor: FromQuery[int | None] = None) -> Response[str]:
    p = principal(request)
    ctx = sync_context(request)
    _check_conflict_paging(cursor, CONSOLE_PAGE)
    page = await ctx.db.read(lambda c: ctx.store.list_conflicts(
        c, p, status=None if status == "all" else ("resolved" if status == "resolved" else "open"),
        cursor=cursor, limit=CONSOLE_PAGE))
    rows = page.items
    await _audit_reads(ctx, p, "conflict.list", None, _conflict_ids(rows), via="console")
    # Who resolved each one, by display name (server.console.readable), never the account id.
    names = await account_names(ctx.db, [r.resolved_by for r in rows])
    # The console's own page frame (header, who is signed in, menu); values are shown by the helpers below.
    return render_page(request, "conflicts.html", rows=rows, status=status, current="conflicts",
                       next_cursor=page.cursor, first_page=cursor is None,
                       who=lambda aid: actor_text(aid, names, ROLE_LABELS, filer=None),
                       type_labels=_TYPE_LABELS, field_label=_field_label, choice_labels=_CHOICE_LABELS, show=_show,
                       as_json=lambda v: msgspec.json.encode(v).decode(),
                       is_text=lambda c: all(v is None or isinstance(v, str) for v in (c.base, c.server, c.mine)))


@post("/console/conflicts/{cid:int}/resolve", summary="Console: decide a conflict (HTML form; works without JS)",
      include_in_schema=False, guards=[_CONSOLE], status_code=303, opt={"reads_body": True})
async def resolve_form(request: Request[Any, Any, Any], cid: FromPath[int]) -> Response[str]:
    p = principal(request)
    ctx = sync_context(request)
    form = await request.form()
    choice = str(form.get("choice") or "")
    raw = form.get("value")
    value: Any = None
    if choice not in ("base", "server", "mine", "custom"):
        return _html_error(request, 422, "決め方（choice）が正しくありません。")
    if choice == "custom":
        text = str(raw or "")
        if text.strip()[:1] in ("{", "[", '"') and json_problem(text.encode()) is not None:
            return _html_error(request, 422, "値が深く入れ子になりすぎているか、数が大きすぎます。")
        try:
            value = msgspec.json.decode(text) if text.strip()[:1] in ("{", "[", '"') else text
        except msgspec.DecodeError:
            return _html_error(request, 422, "値がJSONとして読めません。")
    try:
        await ctx.db.write(lambda c: ctx.store.resolve_in(c, p, cid, choice, value))
    except InvalidValue as exc:
        return _html_error(request, 422, f"この項目には使えない値です（{exc}）。")
    except NotFoundError:
        return _html_error(request, 404, "この競合は見つかりません。")
    except PermissionDenied:
        raise Problem(403, "forbidden", "You may not resolve this conflict") from None
    except StaleConflict:
        return _html_error(request, 409, "この競合はすでに対応済みです。")
    return Response("", status_code=303, headers={"Location": f"/console/conflicts#conflict-{cid}"})


def _html_error(request: Request[Any, Any, Any], status: int, text: str) -> Response[str]:
    return render_page(request, "error.html", http_status=status, heading="決定できませんでした", message=text,
                       back="/console/conflicts")


@get("/console/assets/sync-conflicts.js", summary="Console script for the conflicts page",
     media_type="text/javascript", include_in_schema=False)
async def conflicts_js() -> Response[bytes]:
    data = await anyio.Path(_TEMPLATES / "sync_conflicts.js").read_bytes()
    return Response(data, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


_TYPE_LABELS = {"household": "世帯", "resident": "住民", "case": "案件", "draft": "下書き"}
_FIELD_LABELS = {"name": "氏名", "name_kana": "フリガナ", "birth_date": "生年月日", "phone": "電話番号",
                 "address": "住所", "address_notes": "住所のメモ", "contact_log": "連絡記録", "notes": "メモ",
                 "members": "世帯の人", "head_name": "世帯主の氏名", "my_number": "個人番号",
                 "_deleted": "削除", "_record": "記録全体", "status": "状態", "assignee": "担当者"}
_ADDRESS_KEYS = frozenset({"postal_code", "prefecture", "city", "town", "block", "building"})
_CHOICE_LABELS = {"server": "サーバーの値", "mine": "端末の値", "base": "元の値", "custom": "書き直した値"}


def _field_label(field: str) -> str:
    name, _, element = field.partition("[")
    label = _FIELD_LABELS.get(name, name)
    return f"{label}（{element[:-1]}）" if element else label


def _show(v: Any) -> str:
    """A value as staff read it (server.display, the one place for readable values): names as 「姓 名」,
    addresses the Japanese way, yes/no as はい/いいえ, log entries as their text, other structures as JSON."""
    if v is None or v == "":
        return "（なし）"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "はい" if v else "いいえ"
    if isinstance(v, dict) and ("family" in v or "given" in v) and set(v) <= {"family", "given"}:
        return name_text(v)
    if isinstance(v, dict) and v and set(v) <= _ADDRESS_KEYS and any(v.get(k) for k in ("prefecture", "city")):
        return address_text(v)
    if isinstance(v, list) and all(isinstance(e, dict) and "text" in e for e in v):
        return " / ".join(str(e["text"]) for e in v) or "（なし）"
    return msgspec.json.encode(v).decode()


def _install_poison_hook() -> None:
    """Test hook (``MADOGUCHI_SYNC_POISON=1`` only): a command whose handler raises, to prove that a
    poison mutation gets a terminal receipt and never blocks a device's queue."""
    from sync import commands

    def _poison(*_: Any) -> Any:
        raise RuntimeError("poison")

    commands.COMMANDS["poison"] = _poison


if os.environ.get("MADOGUCHI_SYNC_POISON"):
    _install_poison_hook()


sync_router = Router(path="/", route_handlers=[
    push, pull, list_conflicts, get_conflict, resolve_conflict, conflicts_page, resolve_form, conflicts_js,
    create_blob, blob_offset, blob_chunk,
], tags=["sync"])


# -- standalone server (tests, benchmarks) -------------------------------------------------------------------
def standalone_app(db_path: str, *, origin: str = "http://localhost:8000", synchronous: str = "FULL") -> Any:
    """A Litestar app with auth + sync only, on the server's Database and migrations."""
    from litestar import Litestar

    from server import input_limits
    from server.auth import AuthConfig, install
    from server.maintenance import Maintenance, at_start
    from server.problems import exception_handlers
    from server.storage.migrations import apply_migrations
    from server.storage.schema import all_components
    from server.storage.sync import MIGRATIONS

    db = Database.open(db_path, synchronous=synchronous)
    db.write_sync(lambda c: apply_migrations(c, [*all_components(), ("sync", MIGRATIONS)]))
    db.write_sync(lambda c: at_start(c, db_path))
    auth = AuthConfig(db=db, origin=origin)
    cfg = SyncConfig(db=db, attachment_root=Path(db_path + ".attachments"))
    limits = UploadLimits()
    maintenance = Maintenance(db, root=Path(db_path + ".attachments"), expiry_s=limits.expiry_s, interval_s=60.0)

    @get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(route_handlers=[healthz], on_app_init=[install(auth), cfg.on_app_init, input_limits.on_app_init],
                    exception_handlers=exception_handlers, on_startup=[maintenance.start],
                    on_shutdown=[maintenance.stop, db.close])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m server.sync_routes", description="Standalone sync server")
    ap.add_argument("--db", required=True, help="SQLite file")
    ap.add_argument("--port", type=int, default=8000, help="port")
    ap.add_argument("--host", default="127.0.0.1", help="bind address")
    ap.add_argument("--origin", default=None, help="public origin (default http://localhost:PORT)")
    ns = ap.parse_args(argv)
    import uvicorn

    app = standalone_app(ns.db, origin=ns.origin or f"http://localhost:{ns.port}")
    uvicorn.run(app, host=ns.host, port=ns.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
