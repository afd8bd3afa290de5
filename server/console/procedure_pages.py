"""The configurator's console: ``/console/procedures`` (every procedure and life event: live version, schedule,
drafts, history, retired), one procedure's versions with 廃止する / 元に戻す, a draft's check results, diff and
publish form, and a publish request with 承認して公開する. The forms and the publish-request API are in
``server.console.procedure_actions``; the rules they keep (a fresh passkey, a second configurator) in
docs/configuring.md "The configurator's console".

Configurators have no casework console: ``server.console.landing`` sends them from any other console page to
``/console/procedures`` (303), so their role lands on its own page, never on a refusal. Definitions hold no
personal data: these reads are not audited (the actions are, by ``server.definitions.publishing``).
"""

from __future__ import annotations

import importlib.util
import sqlite3
from typing import Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.params import FromPath

from procedure_definitions.model import Procedure
from procedure_definitions.timing import BUDGET_SECONDS
from procedure_definitions.versions import latest, version_key
from server.auth.roles import CONFIGURE_ROLES
from server.authz import may_approve_publish, require_roles, two_person_publish
from server.console.readable import account_names, department_names
from server.console.routes import render_page
from server.definitions.drafts import DraftRow, draft_definition, get_draft, list_drafts
from server.definitions.drafts_api import draft_out
from server.definitions.live import is_live, now_utc
from server.definitions.requests import PublishRequest, get_request, list_requests
from server.problems import Problem
from server.services import Services, services

__all__ = ["draft_diff_rows", "preview_available", "procedure_pages_router", "version_rows"]

_KIND_LABELS = {"procedure": "手続き", "life_event": "ライフイベント"}
_ORIGIN_LABELS = {"library": "ライブラリ（同梱）", "console": "コンソール"}
_DRAFT_STATES = {"draft": "下書き", "published": "公開済み", "abandoned": "破棄"}
_REQUEST_STATES = {"open": "承認待ち", "published": "承認・公開済み", "withdrawn": "取り下げ", "superseded": "新しい申請に置き換え"}


def _configurator(request: Request[Any, Any, Any]) -> Any:
    return require_roles(request, *CONFIGURE_ROLES)


# -- what the pages read --------------------------------------------------------------------------------------

class VersionRow(msgspec.Struct):
    procedure_id: str
    version: str
    kind: str
    title: str
    department: str | None
    published_at: str
    origin: str
    published_by: str | None
    approved_by: str | None
    live_from: str | None
    closes_at: str | None
    close_message: dict[str, str] | None
    retired_at: str | None
    retired_by: str | None
    requested_by: str | None  # who asked, when a second configurator approved it


_VERSION_SQL = (
    "SELECT v.procedure_id, v.version, v.kind, v.title, v.department, v.published_at, v.origin, v.published_by,"
    " v.approved_by, v.live_from, v.closes_at, v.close_message, v.retired_at, v.retired_by,"
    " (SELECT r.requested_by FROM publish_requests r WHERE r.draft_id = v.draft_id AND r.state = 'published'"
    "  ORDER BY r.published_at DESC LIMIT 1)"
    " FROM procedure_versions v")


def version_rows(conn: sqlite3.Connection, pid: str | None = None) -> list[VersionRow]:
    """Published versions (every one, or one definition's), newest version first per definition."""
    rows = conn.execute(_VERSION_SQL + (" WHERE v.procedure_id = ?" if pid else ""), (pid,) if pid else ()).fetchall()
    out = []
    for r in rows:
        vals = list(r)
        vals[11] = msgspec.json.decode(vals[11]) if vals[11] else None
        out.append(VersionRow(*vals))
    out.sort(key=lambda v: version_key(v.version), reverse=True)
    out.sort(key=lambda v: (v.kind != "procedure", v.procedure_id))
    return out


def _eligible(rows: list[VersionRow], now: str) -> list[VersionRow]:
    """Versions residents may get: not retired, live from now (the live library's rule, ``load_live``)."""
    return [v for v in rows if is_live(v.retired_at, v.live_from, now)]


def _newest(rows: list[VersionRow]) -> str | None:
    return latest([v.version for v in rows]) if rows else None


def _state(v: VersionRow, live: str | None, now: str) -> str:
    if v.retired_at is not None:
        return "廃止"
    if v.live_from and v.live_from > now:
        return "公開予定"
    if v.version == live:
        return "公開中（締め切り済み）" if v.closes_at and v.closes_at <= now else "公開中"
    return "過去の版"


def _names_of(rows: list[VersionRow], drafts: list[DraftRow], requests: list[PublishRequest]) -> list[str | None]:
    return [*(x for v in rows for x in (v.published_by, v.approved_by, v.retired_by, v.requested_by)),
            *(x for d in drafts for x in (d.created_by, d.updated_by)),
            *(x for r in requests for x in (r.requested_by, r.approved_by))]


def _person(names: dict[str, tuple[str, str, str | None]]) -> Any:
    def text(account_id: str | None) -> str:
        if not account_id:
            return ""
        if account_id == "library":
            return "ライブラリから外れた版（自動）"
        found = names.get(account_id)
        return found[0] if found else "（不明なアカウント）"
    return text


def _departments(svc: Services) -> dict[str, str]:
    return dict(svc.catalog.of_library(department_names))


# -- /console/procedures ------------------------------------------------------------------------------------

@get("/console/procedures", include_in_schema=False)
async def procedures_page(request: Request[Any, Any, Any]) -> Response[str]:
    _configurator(request)
    svc = services(request)

    def read(c: sqlite3.Connection) -> tuple[list[VersionRow], list[DraftRow], list[PublishRequest]]:
        return version_rows(c), list_drafts(c), list_requests(c, state="open")

    versions, drafts, requests = await svc.db.read(read)
    names = _person(await account_names(svc.db, _names_of(versions, drafts, requests)))
    depts = _departments(svc)
    now = now_utc()
    by_id: dict[str, list[VersionRow]] = {}
    for v in versions:
        by_id.setdefault(v.procedure_id, []).append(v)
    open_drafts: dict[str, list[DraftRow]] = {}
    loose: list[DraftRow] = []  # drafts whose text names no id yet (unreadable)
    for d in drafts:
        if d.state != "draft":
            continue
        if d.procedure_id is None:
            loose.append(d)
        else:
            open_drafts.setdefault(d.procedure_id, []).append(d)
    requested = {r.draft_id for r in requests}
    rows: list[dict[str, Any]] = []

    def order(p: str) -> tuple[bool, bool, str]:  # published procedures, then life events, then new drafts
        vs = by_id.get(p)
        return vs is None, vs is not None and vs[0].kind != "procedure", p

    for pid in sorted(set(by_id) | set(open_drafts), key=order):
        vs = by_id.get(pid, [])
        live = _newest(_eligible(vs, now))
        live_row = next((v for v in vs if v.version == live), None)
        head = live_row or (vs[0] if vs else None)
        ds = open_drafts.get(pid, [])
        draft_title, draft_dept = _from_draft(ds[0] if ds else None, pid)
        rows.append({
            "pid": pid, "title": head.title if head else draft_title,
            "kind": _KIND_LABELS.get(head.kind if head else (ds[0].kind or ""), ""),
            "department": depts.get(head.department or "", head.department or "") if head else draft_dept,
            "live": live, "live_closes_at": live_row.closes_at if live_row else None,
            "scheduled": [v for v in vs if v.retired_at is None and v.live_from and v.live_from > now],
            "drafts": [{"id": d.id, "version": d.version, "ok": d.ok, "by": names(d.updated_by),
                        "at": d.updated_at, "requested": d.id in requested,
                        "errors": sum(1 for p in d.problems if p.get("severity") == "error")} for d in ds],
            "retired": [v.version for v in vs if v.retired_at is not None],
            "count": len(vs),
        })
    by_draft = {d.id: d for d in drafts}
    counts = {"definitions": len(rows), "live": sum(1 for r in rows if r["live"]),
              "drafts": sum(len(r["drafts"]) for r in rows) + len(loose), "requests": len(requests),
              "retired": sum(len(r["retired"]) for r in rows)}
    return render_page(request, "procedures.html", current="procedures", rows=rows, loose=loose, counts=counts,
                       requests=[(r, names(r.requested_by), _what(by_draft.get(r.draft_id), r.draft_id))
                                 for r in requests], approvals=_approvals(svc))


def _what(row: DraftRow | None, draft_id: str) -> str:
    """What a publish request asks to publish, for its link: the draft's title and version."""
    if row is None:
        return draft_id
    title, _ = _from_draft(row, row.procedure_id or row.filename)
    return f"{title} {row.version or ''}".strip()


def _from_draft(row: DraftRow | None, pid: str) -> tuple[str, str]:
    """(title, department name) of a definition nothing of which is published yet, from its draft (else the id,
    and no department): a new procedure is named as its author wrote it, never by its raw id."""
    d = draft_definition(row) if row is not None else None
    if d is None:
        return pid, ""
    return d.title.ja, d.department.name.ja if isinstance(d, Procedure) else ""


def _approvals(svc: Services) -> int:
    return 2 if two_person_publish(svc.settings) else 1


# -- /console/procedures/{pid} -----------------------------------------------------------------------------

@get("/console/procedures/{pid:str}", include_in_schema=False)
async def procedure_page(request: Request[Any, Any, Any], pid: FromPath[str]) -> Response[str]:
    _configurator(request)
    svc = services(request)

    def read(c: sqlite3.Connection) -> tuple[list[VersionRow], list[DraftRow]]:
        return version_rows(c, pid), list_drafts(c, procedure_id=pid, limit=50)

    versions, drafts = await svc.db.read(read)
    if not versions and not drafts:
        raise Problem(404, "not-found", "No such procedure")
    names = _person(await account_names(svc.db, _names_of(versions, drafts, [])))
    now = now_utc()
    eligible = _eligible(versions, now)
    live = _newest(eligible)
    rows: list[dict[str, Any]] = []
    for v in versions:
        if v.retired_at is None:  # 廃止する: residents then get the newest other version, if any
            after = _newest([e for e in eligible if e.version != v.version])
        else:  # 元に戻す: this version is eligible again (unless scheduled later)
            back = v.live_from is None or v.live_from <= now
            after = _newest([*eligible, v] if back else eligible)
        rows.append({"v": v, "state": _state(v, live, now), "live": v.version == live, "after": after,
                     "published_by": names(v.published_by), "approved_by": names(v.approved_by),
                     "requested_by": names(v.requested_by), "retired_by": names(v.retired_by),
                     "origin": _ORIGIN_LABELS.get(v.origin, v.origin)})
    head = next((v for v in versions if v.version == live), versions[0] if versions else None)
    draft_title, draft_dept = _from_draft(drafts[0] if drafts else None, pid)
    title = head.title if head else draft_title
    depts = _departments(svc)
    return render_page(request, "procedure.html", current="procedures", pid=pid, title=title, rows=rows,
                       live=live, department=depts.get(head.department or "", head.department or "") if head
                       else draft_dept,
                       drafts=[(d, _DRAFT_STATES.get(d.state, d.state), names(d.updated_by)) for d in drafts])


# -- /console/procedures/drafts/{id} ------------------------------------------------------------------------

def _live_definition(svc: Services, d: Any) -> Any:
    lib = svc.catalog.library
    return lib.latest(d.id) if isinstance(d, Procedure) else lib.latest_event(d.id)


def draft_diff_rows(svc: Services, row: DraftRow) -> tuple[str | None, list[dict[str, Any]]]:
    """(the live version compared with, the changes breaking first) of a draft without errors."""
    from procedure_definitions.diff import diff_definitions

    d = draft_definition(row)
    if d is None:
        return None, []
    diff = diff_definitions(_live_definition(svc, d), d)
    changes = [{"kind": c.kind, "path": c.path, "breaking": c.breaking, "message": c.message.ja,
                "effect": c.effect.ja} for c in diff.changes]
    changes.sort(key=lambda c: not c["breaking"])
    return diff.against, changes


def preview_available() -> bool:
    """Whether the preview part (``server.preview``: ``POST /api/drafts/{id}/preview``) is installed."""
    return importlib.util.find_spec("server.preview") is not None


async def _preview_link(svc: Services, row: DraftRow, actor: str) -> tuple[str, str, str]:
    """(url, QR code URL, expires at) of a new preview link (``server.preview.new_preview_link``)."""
    from server.preview import new_preview_link

    link = await new_preview_link(svc, row, actor, via="console")
    return link.url, f"/api/preview/{link.url.rsplit('/', 1)[1]}/qr.svg", link.expires_at


def _check_view(svc: Services, row: DraftRow) -> dict[str, Any]:
    out = draft_out(svc, row)
    errors = [line for p, line in zip(row.problems, out.lines, strict=True) if p.get("severity") == "error"]
    warnings = [line for p, line in zip(row.problems, out.lines, strict=True) if p.get("severity") != "error"]
    against, changes = draft_diff_rows(svc, row)
    est = row.estimate_seconds
    return {"out": out, "errors": errors, "warnings": warnings, "against": against, "changes": changes,
            "breaking": sum(1 for c in changes if c["breaking"]), "estimate": est, "budget": int(BUDGET_SECONDS),
            "over": est is not None and est > BUDGET_SECONDS}


@get("/console/procedures/drafts/{draft_id:str}", include_in_schema=False)
async def draft_page(request: Request[Any, Any, Any], draft_id: FromPath[str]) -> Response[str]:
    """A draft: check results, diff, preview, publish."""
    return await _draft_view(request, draft_id, make_link=False)


@post("/console/procedures/drafts/{draft_id:str}/preview", include_in_schema=False, status_code=200)
async def draft_preview(request: Request[Any, Any, Any], draft_id: FromPath[str]) -> Response[str]:
    """プレビューのリンクと QR コードを作る: the draft page with a new preview link (a POST: it is audited, and a
    reload of the page makes no other link)."""
    return await _draft_view(request, draft_id, make_link=True)


async def _draft_view(request: Request[Any, Any, Any], draft_id: str, *, make_link: bool) -> Response[str]:
    user = _configurator(request)
    svc = services(request)

    def read(c: sqlite3.Connection) -> tuple[DraftRow | None, list[PublishRequest]]:
        return get_draft(c, draft_id), list_requests(c, draft_id=draft_id, limit=20)

    row, requests = await svc.db.read(read)
    if row is None:
        raise Problem(404, "not-found", "No such draft")
    names = _person(await account_names(svc.db, _names_of([], [row], requests)))
    view = _check_view(svc, row)
    d = draft_definition(row)
    link = None
    if make_link and preview_available() and row.state == "draft":
        link = await _preview_link(svc, row, user.id)
    return render_page(request, "procedure_draft.html", current="procedures", row=row, **view,
                       title=d.title.ja if d is not None else row.filename, names=names,
                       state_label=_DRAFT_STATES.get(row.state, row.state), approvals=_approvals(svc),
                       requests=[(r, _REQUEST_STATES.get(r.state, r.state)) for r in requests],
                       preview=preview_available(), link=link)


# -- /console/procedures/requests/{id} ---------------------------------------------------------------------

@get("/console/procedures/requests/{request_id:str}", include_in_schema=False)
async def request_page(request: Request[Any, Any, Any], request_id: FromPath[str]) -> Response[str]:
    user = _configurator(request)
    svc = services(request)

    def read(c: sqlite3.Connection) -> tuple[PublishRequest | None, DraftRow | None]:
        req = get_request(c, request_id)
        return req, (get_draft(c, req.draft_id) if req else None)

    req, row = await svc.db.read(read)
    if req is None or row is None:
        raise Problem(404, "not-found", "No such publish request")
    names = _person(await account_names(svc.db, _names_of([], [row], [req])))
    changed = row.revision != req.draft_revision
    approvals = _approvals(svc)
    own = req.requested_by == user.id
    d = draft_definition(row)
    return render_page(request, "procedure_request.html", current="procedures", req=req, row=row,
                       **_check_view(svc, row), title=d.title.ja if d is not None else row.filename, names=names,
                       state_label=_REQUEST_STATES.get(req.state, req.state), changed=changed, approvals=approvals,
                       own=own, may_approve=req.state == "open" and not changed and row.state == "draft"
                       and may_approve_publish(user, requested_by=req.requested_by, settings=svc.settings))


procedure_pages_router = Router(path="/", route_handlers=[procedures_page, procedure_page, draft_page,
                                                          draft_preview, request_page])
