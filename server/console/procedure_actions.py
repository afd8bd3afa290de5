"""What the configurator's console does: publish a draft (or ask for it to be published), approve or withdraw a
publish request, retire and restore a version; and ``POST /api/drafts/{id}/publish-request`` for the notebook
client and the CLI (a token of scope ``drafts`` may ask, never publish).

Every action that changes what residents get (publish, approve, retire, restore) needs a session (never a
bearer token: the middleware refuses tokens on routes whose ``opt`` has no ``token_scope``), capability
``configure`` and a fresh passkey check (``require_fresh``: 403 ``reauth-required``; the page's script,
``/oauth/studio.js``, runs ``/auth/reauth/options`` + ``/verify`` and sends the form again). With
``Settings.publish_approvals == 2`` 公開する makes a publish request and only another configurator or admin
approves it. The forms answer ``{location}`` to the script (``Accept: application/json``) and 303 without it;
refusals are a Japanese page for a browser, problem+json for the script and the API.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Request, Response, Router, post
from litestar.params import FromPath

from procedure_definitions.japan import JST
from server.audit import append_audit
from server.auth.account_routes import require_fresh
from server.auth.problems import AuthProblem
from server.auth.roles import CONFIGURE_ROLES
from server.authz import AccountLike, may_approve_publish, require_roles, two_person_publish
from server.console.landing import PROCEDURE_HOME
from server.console.routes import render_page
from server.definitions.drafts import DraftRow, get_draft
from server.definitions.publishing import publish_draft, restore_version, retire_version
from server.definitions.requests import PublishRequest, create_request_in, get_request, withdraw_request_in
from server.problems import Problem
from server.services import Services, services

__all__ = ["PublishRequestIn", "parse_schedule", "procedure_actions_router"]

MESSAGE_MAX = 500
_MESSAGE_KEYS = ("ja", "en", "ja-easy")

# Refusals in the configurator's words (the problem's slug -> Japanese); the script shows them in the page's
# status line, a browser without it on the error page.
MESSAGES: Mapping[str, str] = {
    "not-found": "見つかりません。一覧から開き直してください。",
    "draft-has-errors": "エラーのある下書きは公開できません。エラーを直してから送り直してください。",
    "draft-closed": "この下書きは公開済みか破棄済みです。新しい下書きを送ってください。",
    "draft-changed": "申請のあとで下書きが送り直されました。承認する人が見ていない内容は公開できません。新しい内容を確認して、もう一度申請してください。",
    "request-closed": "この申請はすでに公開・取り下げ・置き換えのいずれかで終わっています。",
    "own-request": "自分が申請した公開は承認できません。別の設定担当者（または管理者）が承認します。",
    "invalid-schedule": "日時またはメッセージを確認してください。",
    "already-retired": "この版はすでに廃止されています。",
    "not-retired": "この版は廃止されていません。",
    "reauth-required": "この操作にはパスキーでの確認が必要です。JavaScript を有効にして、もう一度押してください。",
}


class PublishRequestIn(msgspec.Struct, forbid_unknown_fields=True):
    live_from: str | None = None
    closes_at: str | None = None
    close_message: dict[str, str] | None = None


def _when(value: str | None, path: str, *, local: bool) -> dt.datetime | None:
    """ISO 8601 with an offset (the API); a form's ``datetime-local`` value (no offset) is JST."""
    if value is None or not value.strip():
        return None
    try:
        t = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if t.tzinfo is not None:
            t = t.astimezone(dt.UTC)  # at the ends of the range (year 1, 9999) this overflows: refused below
    except (ValueError, OverflowError):
        raise Problem(422, "invalid-schedule", f"{path}: not an ISO 8601 date and time",
                      errors=[{"path": path, "code": "invalid", "message": "ISO 8601, e.g. 2027-04-01T09:00:00+09:00"}]
                      ) from None
    if t.tzinfo is None:
        if not local:
            raise Problem(422, "invalid-schedule", f"{path}: give the offset (+09:00 or Z)",
                          errors=[{"path": path, "code": "offset", "message": "an offset is required"}])
        t = t.replace(tzinfo=JST)
    try:
        return t.astimezone(dt.UTC)
    except OverflowError:
        raise Problem(422, "invalid-schedule", f"{path}: out of range",
                      errors=[{"path": path, "code": "invalid", "message": "out of range"}]) from None


def parse_schedule(body: PublishRequestIn, *, local: bool = False
                   ) -> tuple[str | None, str | None, dict[str, str] | None]:
    """(live_from, closes_at as UTC ISO 8601, the close message) or 422 ``invalid-schedule``: closes_at after
    live_from and after now, message texts ja/en/ja-easy of at most 500 characters."""
    live_from = _when(body.live_from, "live_from", local=local)
    closes_at = _when(body.closes_at, "closes_at", local=local)
    now = dt.datetime.now(dt.UTC)
    if closes_at is not None and (closes_at <= now or (live_from is not None and closes_at <= live_from)):
        raise Problem(422, "invalid-schedule", "closes_at must be after live_from and after now",
                      errors=[{"path": "closes_at", "code": "order", "message": "after live_from and now"}])
    message = {k: v.strip() for k, v in (body.close_message or {}).items() if v and v.strip()}
    for key, text in message.items():
        if key not in _MESSAGE_KEYS:
            raise Problem(422, "invalid-schedule", f"close_message: unknown language {key!r}",
                          errors=[{"path": f"close_message.{key}", "code": "unknown", "message": "ja, en, ja-easy"}])
        if len(text) > MESSAGE_MAX:
            raise Problem(422, "invalid-schedule", f"close_message.{key}: at most {MESSAGE_MAX} characters",
                          errors=[{"path": f"close_message.{key}", "code": "too_long", "message": str(MESSAGE_MAX)}])

    def iso(t: dt.datetime | None) -> str | None:
        return t.isoformat(timespec="seconds") if t is not None else None

    return iso(live_from), iso(closes_at), message or None


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _done(request: Request[Any, Any, Any], location: str) -> Response[Any]:
    if _wants_json(request):
        return Response({"location": location}, media_type="application/json", headers={"Cache-Control": "no-store"})
    return Response("", status_code=303, headers={"Location": location, "Cache-Control": "no-store"})


def _refused(request: Request[Any, Any, Any], exc: Problem | AuthProblem, back: str) -> Response[Any]:
    """The script gets problem+json with the Japanese text as ``detail``; a browser a page. 401 and the
    fresh-check 403 to the script are raised as they are (it runs the passkey check on the latter)."""
    slug = getattr(exc, "slug", "") or getattr(exc, "code", "")
    if _wants_json(request) or exc.status_code == 401 or (exc.status_code == 403 and slug != "reauth-required"):
        if _wants_json(request) and slug in MESSAGES and slug != "reauth-required":
            raise Problem(exc.status_code, slug, MESSAGES[slug], **getattr(exc, "extensions", {}))
        raise exc
    return render_page(request, "error.html", http_status=exc.status_code, heading="操作できませんでした",
                       message=MESSAGES.get(slug, "入力内容を確認してください。"), back=back)


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {k: str(v) for k, v in form.items()}


async def _draft(svc: Services, draft_id: str) -> DraftRow:
    row = await svc.db.read(lambda c: get_draft(c, draft_id))
    if row is None:
        raise Problem(404, "not-found", "No such draft")
    return row


def _ask(conn: Any, row: DraftRow, user: AccountLike, schedule: tuple[str | None, str | None, dict[str, str] | None],
         via: str) -> PublishRequest:
    """A publish request of the draft's current revision (inside a write job)."""
    fresh = get_draft(conn, row.id)
    if fresh is None:
        raise Problem(404, "not-found", "No such draft")
    if fresh.state != "draft":
        raise Problem(409, "draft-closed", f"This draft is {fresh.state}")
    if not fresh.ok:
        raise Problem(409, "draft-has-errors", "A draft with errors cannot be published: fix them and push again")
    live_from, closes_at, message = schedule
    req = create_request_in(conn, draft_id=fresh.id, draft_revision=fresh.revision, actor=user.id,
                            live_from=live_from, closes_at=closes_at, close_message=message)
    append_audit(conn, actor=user.id, action="procedure.publish_request", subject=f"draft:{fresh.id}",
                 details={"request": req.id, "revision": fresh.revision, "procedure": fresh.procedure_id,
                          "version": fresh.version, "live_from": live_from, "closes_at": closes_at, "via": via})
    return req


def _approval_url(svc: Services, request_id: str) -> str:
    return f"{svc.settings.origin.rstrip('/')}{PROCEDURE_HOME}/requests/{request_id}"


@post("/api/drafts/{draft_id:str}/publish-request", summary="Ask for a draft to be published (approved in the console)",
      opt={"token_scope": "drafts"}, status_code=202, tags=["drafts"])
async def publish_request_api(request: Request[Any, Any, Any], draft_id: FromPath[str]) -> dict[str, Any]:
    user = require_roles(request, *CONFIGURE_ROLES)
    svc = services(request)
    raw = await request.body()  # the body is optional: no schedule, publish when approved
    try:
        data = msgspec.json.decode(raw, type=PublishRequestIn) if raw.strip() else PublishRequestIn()
    except msgspec.ValidationError as e:
        raise Problem(400, "bad-request", f"Invalid body: {e}") from None
    except msgspec.DecodeError:
        raise Problem(400, "bad-request", "The body is not JSON") from None
    schedule = parse_schedule(data)
    row = await _draft(svc, draft_id)
    req = await svc.db.write(lambda c: _ask(c, row, user, schedule, "api"))
    return {"request_id": req.id, "approval_url": _approval_url(svc, req.id), "state": req.state}


@post("/console/procedures/drafts/{draft_id:str}/publish", include_in_schema=False, status_code=200)
async def publish_form(request: Request[Any, Any, Any], draft_id: FromPath[str]) -> Response[Any]:
    """公開する: publishes at once (fresh passkey) with one approval; with two, makes a publish request."""
    user = require_roles(request, *CONFIGURE_ROLES)
    svc = services(request)
    back = f"{PROCEDURE_HOME}/drafts/{draft_id}"
    form = await _form(request)
    try:
        schedule = parse_schedule(PublishRequestIn(
            live_from=form.get("live_from"), closes_at=form.get("closes_at"),
            close_message={"ja": form.get("close_ja", ""), "en": form.get("close_en", ""),
                           "ja-easy": form.get("close_ja_easy", "")}), local=True)
        row = await _draft(svc, draft_id)
        if two_person_publish(svc.settings):
            req = await svc.db.write(lambda c: _ask(c, row, user, schedule, "console"))
            return _done(request, f"{PROCEDURE_HOME}/requests/{req.id}")
        await require_fresh(request)
        live_from, closes_at, message = schedule
        pid, _ = await publish_draft(svc, draft_id, actor=user.id, live_from=live_from, closes_at=closes_at,
                                     close_message=message)
    except (Problem, AuthProblem) as exc:
        return _refused(request, exc, back)
    return _done(request, f"{PROCEDURE_HOME}/{pid}")


@post("/console/procedures/requests/{request_id:str}/approve", include_in_schema=False, status_code=200)
async def approve_form(request: Request[Any, Any, Any], request_id: FromPath[str]) -> Response[Any]:
    """承認して公開する: another configurator than the requester when the city asks for two; a fresh passkey."""
    user = require_roles(request, *CONFIGURE_ROLES)
    svc = services(request)
    back = f"{PROCEDURE_HOME}/requests/{request_id}"
    try:
        req = await svc.db.read(lambda c: get_request(c, request_id))
        if req is None:
            raise Problem(404, "not-found", "No such publish request")
        if not may_approve_publish(user, requested_by=req.requested_by, settings=svc.settings):
            raise Problem(409, "own-request", "The requester cannot approve their own request")
        await require_fresh(request)
        two = two_person_publish(svc.settings)
        pid, _ = await publish_draft(svc, req.draft_id, actor=user.id, approved_by=user.id if two else None,
                                     live_from=req.live_from, closes_at=req.closes_at,
                                     close_message=req.close_message, request_id=req.id)
    except (Problem, AuthProblem) as exc:
        return _refused(request, exc, back)
    return _done(request, f"{PROCEDURE_HOME}/{pid}")


@post("/console/procedures/requests/{request_id:str}/withdraw", include_in_schema=False, status_code=200)
async def withdraw_form(request: Request[Any, Any, Any], request_id: FromPath[str]) -> Response[Any]:
    """取り下げる: closes an open request without publishing (takes nothing live: no passkey check)."""
    user = require_roles(request, *CONFIGURE_ROLES)
    svc = services(request)
    back = f"{PROCEDURE_HOME}/requests/{request_id}"

    def job(c: Any) -> PublishRequest | None:
        before = get_request(c, request_id)
        if before is None:
            return None
        if before.state != "open":
            raise Problem(409, "request-closed", f"This request is {before.state}")
        after = withdraw_request_in(c, request_id)
        append_audit(c, actor=user.id, action="procedure.publish_withdraw", subject=f"draft:{before.draft_id}",
                     details={"request": request_id})
        return after

    try:
        if await svc.db.write(job) is None:
            raise Problem(404, "not-found", "No such publish request")
    except Problem as exc:
        return _refused(request, exc, back)
    return _done(request, back)


async def _retire_or_restore(request: Request[Any, Any, Any], pid: str, version: str, *, retire: bool
                             ) -> Response[Any]:
    user = require_roles(request, *CONFIGURE_ROLES)
    svc = services(request)
    back = f"{PROCEDURE_HOME}/{pid}"
    try:
        await require_fresh(request)
        await (retire_version if retire else restore_version)(svc, pid, version, actor=user.id)
    except (Problem, AuthProblem) as exc:
        return _refused(request, exc, back)
    return _done(request, back)


@post("/console/procedures/{pid:str}/versions/{version:str}/retire", include_in_schema=False, status_code=200)
async def retire_form(request: Request[Any, Any, Any], pid: FromPath[str], version: FromPath[str]) -> Response[Any]:
    """廃止する (a roll back when it is the live version): residents get the newest other version."""
    return await _retire_or_restore(request, pid, version, retire=True)


@post("/console/procedures/{pid:str}/versions/{version:str}/restore", include_in_schema=False, status_code=200)
async def restore_form(request: Request[Any, Any, Any], pid: FromPath[str], version: FromPath[str]) -> Response[Any]:
    """元に戻す: a retired version is offered again (the newest eligible version is live)."""
    return await _retire_or_restore(request, pid, version, retire=False)


procedure_actions_router = Router(path="/", route_handlers=[publish_request_api, publish_form, approve_form,
                                                            withdraw_form, retire_form, restore_form])
