"""The visit page's counter-code panel (窓口コード): load a resident's code into the visit, see their pre-entry
readably, bind their account to the visit's resident in one click.

Every read and change goes through ``server.counter_code`` (the API's functions: one policy, one rate limit, one
audit); values are ``server.display``'s texts (labels, 「姓 名」, 和暦, procedure titles, never codes). A refused
form answers the console's Japanese error page with the API's status code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from litestar import Request, Response, Router, post
from litestar.params import FromPath
from litestar.response import Redirect

from procedure_definitions.library import latest_version
from server.auth.roles import BIND_ROLES, PREENTRY_LOAD_ROLES
from server.authz import AccountLike, require_roles
from server.console.landing import configurator_landing
from server.console.routes import refusal_page
from server.counter_code import PreentryView, bind_from_visit, load_counter_code, visit_preentry
from server.display import AnswerSection, answer_sections, form_values, life_event_sections
from server.problems import Problem
from server.services import Services, services
from server.visits import VisitView

__all__ = ["PreentryPanel", "preentry_pages_router", "preentry_panel"]

_MESSAGES = {
    "code-not-found": "そのコードは見つかりません。読み取り直すか、住民の方に新しいコードを作ってもらってください。",
    "code-expired": "そのコードは有効期限が切れています。住民の方に新しいコードを作ってもらってください。",
    "rate-limited": "コードの入力が続けて多すぎます。少し待ってからもう一度お試しください。",
    "visit-closed": "この来庁は終了しています。再開してから操作してください。",
    "not-found": "来庁記録が見つかりません。",
    "no-account-loaded": "先に住民の方の窓口コードを読み込んでください。",
    "visit-without-resident": "住民記録のない方の来庁です。住民記録を選んでから結び付けてください。",
    "already-bound": "このアカウントは別の住民記録に結び付いています。結び付けは変更していません。本人確認・紐づけの画面で確認してください。",
    "not-a-resident-account": "住民のアカウントではないため結び付けられません。",
    "bad-request": "コードを入力してください。",
}


@dataclass(frozen=True)
class PreentryPart:
    title: str  # the procedure's title (never its id)
    sections: list[AnswerSection]


@dataclass(frozen=True)
class PreentryPanel:
    """What the visit page shows of a loaded code."""

    view: PreentryView
    title: str  # the pre-entered procedure's or life event's title, "" without a pre-entry
    parts: list[PreentryPart]
    life_event: str = ""  # the life event whose interview the pre-entry feeds (preselected on the visit page)
    # A pre-entered life event's own answers (its questions, its shared fields), shown before its procedures;
    # with ``of_event`` each procedure is headed by its title.
    shared: list[AnswerSection] = field(default_factory=list)
    of_event: bool = False


async def _part(svc: Services, pid: str, version: str, answers: Any) -> PreentryPart | None:
    proc, _ = await svc.catalog.get(pid, version)
    if proc is None:
        return None
    try:
        sections = answer_sections(proc, form_values(proc, answers if isinstance(answers, dict) else {}))
    except Exception:  # a draft is unvalidated input: an answer the form cannot read is left out
        sections = []
    return PreentryPart(proc.title.ja, sections)


async def preentry_panel(svc: Services, user: AccountLike, visit: VisitView) -> PreentryPanel | None:
    """The panel of ``visit`` for ``user`` (None: nothing loaded, or a role that does not load codes); the
    pre-entry's read is audited (``visit.preentry_read``)."""
    if user.role not in PREENTRY_LOAD_ROLES:
        return None
    view = await visit_preentry(svc, user, visit.id, via="console")
    if view is None:
        return None
    pre, title, parts, shared = view.preentry, "", [], []
    if pre is not None and pre.get("kind") == "procedure":
        part = await _part(svc, pre["id"], pre["version"], pre.get("answers"))
        if part is not None:
            title, parts = part.title, [part]
    elif pre is not None:
        ev = await svc.catalog.life_event(pre["id"], pre["version"])
        title = ev.title.ja if ev is not None else ""
        if ev is not None:
            try:
                shared = life_event_sections(ev, pre.get("questions") or {}, pre.get("answers") or {})
            except Exception:  # unvalidated input, as in _part: what the form cannot read is left out
                shared = []
        for pid, p in (pre.get("procedures") or {}).items():
            found = await _part(svc, pid, p.get("version", ""), p.get("answers"))
            if found is not None:
                parts.append(found)
    return PreentryPanel(view, title, parts, _life_event_of(svc, pre), shared,
                         pre is not None and pre.get("kind") != "procedure")


def _life_event_of(svc: Services, pre: dict[str, Any] | None) -> str:
    """The life event a pre-entry belongs to: its own id, or for a procedure the life event it leads (listed
    earliest, then the event with the fewest procedures: 転居届 → 市内で引っ越した, not 結婚)."""
    if pre is None:
        return ""
    events = svc.catalog.library.life_events
    if pre.get("kind") == "life_event":
        return str(pre.get("id")) if pre.get("id") in events else ""
    ranked = []
    for eid, versions in events.items():
        if not versions:
            continue
        listed = [lp.procedure for lp in versions[latest_version(dict(versions))].procedures]
        if pre.get("id") in listed:
            ranked.append((listed.index(str(pre.get("id"))), len(listed), eid))
    return min(ranked)[2] if ranked else ""


# The console's one refusal page (server.console.routes.refusal_page) with this page's messages.
_refused = partial(refusal_page, messages=_MESSAGES)


@post("/console/visits/{vid:str}/counter-code", include_in_schema=False)
async def load_form(request: Request[Any, Any, Any], vid: FromPath[str]) -> Response[Any]:
    user = require_roles(request, *PREENTRY_LOAD_ROLES)
    back = f"/console/visits/{vid}"
    code = str((await request.form()).get("code") or "").strip()[:40]
    try:
        if not code:
            raise Problem(400, "bad-request")
        await load_counter_code(request, user, vid, code, via="console")
    except Problem as exc:
        return _refused(request, exc, back)
    return Redirect(f"{back}#preentry-title", status_code=303)


@post("/console/visits/{vid:str}/bind-account", include_in_schema=False)
async def bind_form(request: Request[Any, Any, Any], vid: FromPath[str]) -> Response[Any]:
    user = require_roles(request, *BIND_ROLES)
    back = f"/console/visits/{vid}"
    document = str((await request.form()).get("id_document") or "").strip()[:100] or None
    try:
        await bind_from_visit(services(request), user, vid, document)
    except Problem as exc:
        return _refused(request, exc, back)
    return Redirect(f"{back}#preentry-title", status_code=303)


preentry_pages_router = Router(path="/", route_handlers=[load_form, bind_form],
                               before_request=configurator_landing)
