"""Lobby kiosks (受付機): the console pairs a browser as a place's kiosk and revokes it (``/console/kiosks``), and
the public kiosk page (``/kiosk``) checks bookings in and draws walk-in tickets with it.

Pairing is done ON the kiosk device by desk staff (``queue_desk``): 「この端末を受付機にする」 makes a ``kiosks``
row holding only the sha256 of a random secret, sets that secret as the ``madoguchi_kiosk`` cookie (HttpOnly,
SameSite=Strict, one year) and ends the staff session on that browser, so a lobby device never keeps a clerk
signed in. The cookie lets the device do exactly two things, for its own place: check a booking in and draw a
ticket (the queue's routes ask ``server.tickets.kiosk_auth.kiosk_place``; docs/security.md "Kiosks"). Its POSTs
pass the one CSRF check of every cookie-carrying request (``server.auth.middleware.csrf_middleware``: the
double-submit header that ``pwa/js/api.js`` adds, Origin/Sec-Fetch-Site), with no exemption.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any, Final

from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from server.audit import append_audit
from server.auth.config import get_config
from server.auth.http import clear_session_cookie
from server.auth.middleware import session_of
from server.auth.roles import QUEUE_DESK_ROLES
from server.auth.store import delete_session, hash_secret
from server.authz import require_roles
from server.booking import clock
from server.booking.config import BookingConfig, place_label
from server.booking.store import place_of
from server.console.landing import configurator_landing
from server.console.readable import account_names, department_names
from server.console.routes import refusal_page, render_page
from server.problems import Problem
from server.services import services
from server.tickets.context import hub_of
from server.tickets.kiosk_auth import KIOSK_COOKIE, kiosk_place

__all__ = ["KIOSK_NAME_MAX", "KIOSK_TEXTS", "kiosk_pages_router", "place_names"]

KIOSK_NAME_MAX = 40
_COOKIE_DAYS = 365

_MESSAGES = {
    "unknown-place": "その窓口は設定にありません。画面を再読み込みしてください。",
    "kiosk-name": f"受付機の名前（置き場所など）を{KIOSK_NAME_MAX}文字以内で入力してください。",
    "not-found": "その受付機は見つかりません。",
}
_refused = partial(refusal_page, messages=_MESSAGES)


def place_names(cfg: BookingConfig, lang: str = "ja") -> dict[str, str]:
    """Each place's name in ``lang`` (Japanese when the city gave none), by id."""
    return {p.id: place_label(p, lang) for p in cfg.places}


@get("/console/kiosks", include_in_schema=False)
async def kiosks_page(request: Request[Any, Any, Any]) -> Response[str]:
    require_roles(request, *QUEUE_DESK_ROLES)
    svc = services(request)

    rows = await svc.db.read(lambda c: c.execute("SELECT id, place, name, created_by, created_at, revoked_at FROM"
                                                 " kiosks ORDER BY revoked_at IS NOT NULL, created_at DESC").fetchall())
    cfg = await hub_of(request).config()
    names = await account_names(svc.db, [r[3] for r in rows])
    places = place_names(cfg)
    kiosks = [{"id": r[0], "place": places.get(r[1], r[1]), "name": r[2], "by": names.get(r[3], ("",))[0],
               "created_at": r[4], "revoked_at": r[5]} for r in rows]
    this_place = await kiosk_place(request)
    return render_page(request, "kiosks.html", current="kiosks", kiosks=kiosks, places=places,
                       this_place=places.get(this_place, this_place) if this_place else "")


@post("/console/kiosks", include_in_schema=False)
async def pair(request: Request[Any, Any, Any]) -> Response[Any]:
    """This browser becomes ``place``'s kiosk: the row, the cookie, and the staff session here ends."""
    user = require_roles(request, *QUEUE_DESK_ROLES)
    svc = services(request)
    form = await request.form()
    place, name = str(form.get("place") or ""), str(form.get("name") or "").strip()
    try:
        cfg = await hub_of(request).config()
        if place not in {p.id for p in cfg.places}:
            raise Problem(422, "unknown-place", "No such place")
        if not name or len(name) > KIOSK_NAME_MAX:
            raise Problem(422, "kiosk-name", f"A kiosk's name is 1 to {KIOSK_NAME_MAX} characters")
    except Problem as exc:
        return _refused(request, exc, "/console/kiosks")
    token, kid, session = secrets.token_urlsafe(32), str(uuid.uuid4()), session_of(request.scope)

    def job(c: Any) -> None:
        c.execute("INSERT INTO kiosks (id, token_hash, place, name, created_by, created_at)"
                  " VALUES (?, ?, ?, ?, ?, ?)", (kid, hash_secret(token).hex(), place, name, user.id, clock.now_iso()))
        append_audit(c, actor=user.id, action="kiosk.pair", subject=f"kiosk:{kid}",
                     details={"place": place, "name": name})
        if session is not None:  # a lobby device keeps no clerk signed in
            delete_session(c, session.token_hash)
            append_audit(c, actor=user.id, action="auth.logout", subject=user.id, details={"via": "kiosk.pair"})

    await svc.db.write(job)
    config = get_config(request.scope)
    cookies = [Cookie(key=KIOSK_COOKIE, value=token, path="/", httponly=True, samesite="strict", secure=config.secure,
                      max_age=_COOKIE_DAYS * 86400), clear_session_cookie(config)]
    return Redirect("/kiosk", status_code=303, cookies=cookies)


@post("/console/kiosks/{kid:str}/revoke", include_in_schema=False)
async def revoke(request: Request[Any, Any, Any], kid: FromPath[str]) -> Response[Any]:
    user = require_roles(request, *QUEUE_DESK_ROLES)

    def job(c: Any) -> bool:
        done = c.execute("UPDATE kiosks SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                         (clock.now_iso(), kid)).rowcount
        if done:
            append_audit(c, actor=user.id, action="kiosk.revoke", subject=f"kiosk:{kid}", details={})
        return bool(done)

    if not await services(request).db.write(job):
        return _refused(request, Problem(404, "not-found", "No such kiosk, or revoked already"), "/console/kiosks")
    return Redirect("/console/kiosks", status_code=303)


# The kiosk's own texts (ja, en): the page is rendered in one language, the script reads the texts it shows
# from the page (no second copy in JavaScript).
KIOSK_TEXTS: dict[str, dict[str, str]] = {
    "ja": {
        "title": "受付", "other_lang": "English", "unpaired": "この端末は受付機として登録されていません。",
        "staff_link": "職員の方：受付機として登録する", "booked": "予約の方",
        "code_label": "予約番号", "code_hint": "予約の QR コードをかざすか、予約番号（8文字）を入力してください。",
        "checkin": "受付する", "walkin": "予約のない方", "what_for": "ご用件（わかる方だけ選んでください）",
        "priority": "優先（妊娠中・障害のある方など）", "draw": "番号札を取る", "your_number": "あなたの受付番号",
        "ahead": "あなたの前に {n} 人", "estimate": "目安 {m} 分", "due": "予約の時間が近づくとお呼びします",
        "phone": "スマートフォンで読み取ると、順番と呼び出しがわかります。", "print": "番号札を印刷する",
        "back": "最初の画面に戻る", "returning": "30秒後に最初の画面に戻ります。", "qr": "順番を確かめるページの QR コード",
        "unknown-code": "この予約番号は見つかりません。もう一度お試しいただくか、職員にお声がけください。",
        "wrong-day": "ご予約は別の日です。職員にお声がけください。",
        "cancelled": "この予約は取り消されています。職員にお声がけください。",
        "wrong-place": "このご予約は別の窓口のものです。職員にお声がけください。",
        "place-closed": "本日は閉庁日のため、番号札はお出しできません。",
        "refused": "この端末は受付機として使えなくなりました。職員にお声がけください。",
        "failed": "受付できませんでした。職員にお声がけください。",
        "empty": "予約番号を入力してください。",
    },
    "en": {
        "title": "Reception", "other_lang": "日本語", "unpaired": "This device is not registered as a reception kiosk.",
        "staff_link": "Staff: register this device as a kiosk", "booked": "I have a booking",
        "code_label": "Booking code", "code_hint": "Hold your booking's QR code to the scanner, or type the 8-character code.",
        "checkin": "Check in", "walkin": "No booking", "what_for": "What is your visit about? (optional)",
        "priority": "Priority (pregnancy, disability, etc.)", "draw": "Take a number",
        "your_number": "Your number", "ahead": "{n} ahead of you", "estimate": "About {m} min",
        "due": "You will be called near your booked time",
        "phone": "Scan with your phone to follow your turn.", "print": "Print the ticket",
        "back": "Back to start", "returning": "Returns to the start in 30 seconds.", "qr": "QR code of your ticket page",
        "unknown-code": "This booking code was not found. Try again or ask the staff.",
        "wrong-day": "Your booking is for another day. Please ask the staff.",
        "cancelled": "This booking was cancelled. Please ask the staff.",
        "wrong-place": "This booking is for another counter. Please ask the staff.",
        "place-closed": "The office is closed today: no numbers are given.",
        "refused": "This device can no longer be used as a kiosk. Please ask the staff.",
        "failed": "Could not check you in. Please ask the staff.",
        "empty": "Please enter your booking code.",
    },
}


# One derive function per language, made once: ``catalog.of_library`` caches by the function, and a partial
# made per request would never hit (and would pile up until the library reloads).
_DEPARTMENT_NAMES: Final[dict[str, Callable[[Any], dict[str, str]]]] = {
    "ja": department_names, "en": partial(department_names, lang="en")}


@get("/kiosk", include_in_schema=False)
async def kiosk_page(request: Request[Any, Any, Any], lang: FromQuery[str | None] = None) -> Response[str]:
    """The lobby kiosk: public; without a paired kiosk's cookie it says so and links staff to pairing."""
    lang = "en" if lang == "en" else "ja"
    svc = services(request)
    place = await kiosk_place(request)
    cfg = await hub_of(request).config()
    found = place_of(cfg, place) if place else None
    departments: list[tuple[str, str]] = []
    if found is not None:
        names = svc.catalog.of_library(_DEPARTMENT_NAMES[lang])
        ids = list(found.departments) or sorted(names)
        departments = [(d, names.get(d, d)) for d in ids]
    return render_page(request, "kiosk.html", t=KIOSK_TEXTS[lang], lang=lang, place=found.id if found else "",
                       place_name=place_label(found, lang) if found else "",
                       departments=departments)


kiosk_pages_router = Router(path="/", route_handlers=[kiosks_page, pair, revoke, kiosk_page],
                            before_request=configurator_landing)
