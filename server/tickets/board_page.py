"""The lobby board (待合表示): ``GET /board`` (the first place) and ``GET /board/{place}`` — a public page for the
waiting room's screen: numbers and booths only, never a name (docs/queue.md "Board").

The latest call huge (「A-034」「3番窓口」), the recent calls, how many wait; each new call announced in an
``aria-live`` region in Japanese and English. The page works from its first HTML alone (it refreshes itself
without JavaScript); its script file (``/board.js``, strict CSP: no inline script or style) follows the place's
event stream and falls back to long polling by the resident app's own rule (``HOLD_S`` and ``longPollPause`` of
``pwa/js/polling.js``, served next to it as ``/polling.js``),
so a call shows within 2 s.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response, Router, get
from litestar.params import FromPath, FromQuery

from procedure_definitions.japan import JST
from server.booking.config import place_label
from server.pwa import pwa_module
from server.tickets.context import hub_of, place_of
from server.tickets.hub import BOARD_CALLS, booth_label
from server.tickets.views import BoardView, board_view

__all__ = ["BOARD_TEXTS", "board_router"]

_HERE = Path(__file__).resolve().parent
_env = Environment(loader=FileSystemLoader(_HERE / "templates"), autoescape=select_autoescape(["html"]))
_STATIC: Final[dict[str, str]] = {"board.js": "text/javascript", "board.css": "text/css"}
# The resident app's modules board.js imports (one long-poll rule for the app and the board), as they are.
_PWA_MODULES: Final = ("polling.js",)

# The board's words, both languages: the page shows the chosen one first; the script reads them from the page.
BOARD_TEXTS: Final[dict[str, dict[str, str]]] = {
    "ja": {"title": "呼び出し案内", "now": "ただいまお呼びしている番号", "recent": "これまでのお呼び出し",
           "waiting": "お待ちの方", "people": "人", "none": "まだお呼び出しはありません", "number": "番号",
           "booth": "窓口", "time": "時刻", "other_lang": "English", "hint": "番号が表示されたら、表示の窓口へお越しください。"},
    "en": {"title": "Now calling", "now": "Now calling", "recent": "Recent calls", "waiting": "Waiting",
           "people": "", "none": "No numbers called yet", "number": "Number", "booth": "Counter", "time": "Time",
           "other_lang": "日本語", "hint": "When your number is shown, please go to the counter shown."},
}


def _time(at: str) -> str:
    return dt.datetime.fromisoformat(at).astimezone(JST).strftime("%H:%M") if at else ""


async def _page(request: Request[Any, Any, Any], place_id: str | None, lang: str | None) -> Response[str]:
    hub = hub_of(request)
    cfg = await hub.config()
    place = place_of(cfg, place_id) if place_id is not None else cfg.places[0]
    view: BoardView = board_view(await hub.snapshot(place, cfg))
    lang = "en" if lang == "en" else "ja"
    texts = BOARD_TEXTS[lang]
    calls = [{"number": c.number, "booth": booth_label(c.booth, lang), "time": _time(c.at)} for c in view.called]
    html = _env.get_template("board.html").render(
        lang=lang, t=texts, place=place.id, place_name=place_label(place, lang),
        latest=calls[0] if calls else None,
        recent=calls[1:], many=len(view.called) > BOARD_CALLS, board_calls=BOARD_CALLS, waiting=view.waiting,
        version=view.version,
        # Every call the page shows (board.js announces only calls above these: a call leaving is no news).
        shown_keys=" ".join(f"{c.number}@{c.at}" for c in view.called),
        other_href=f"/board/{place.id}" + ("" if lang == "en" else "?lang=en"))
    return Response(html, media_type="text/html", headers={"Cache-Control": "no-cache"})


@get("/board", summary="The lobby board page (public: numbers and booths only)", include_in_schema=False)
async def board_first(request: Request[Any, Any, Any], lang: FromQuery[str | None] = None) -> Response[str]:
    return await _page(request, None, lang)


@get("/board/{place:str}", summary="A place's lobby board page", include_in_schema=False)
async def board_place(request: Request[Any, Any, Any], place: FromPath[str],
                      lang: FromQuery[str | None] = None) -> Response[str]:
    return await _page(request, place, lang)


def _file(name: str) -> Response[bytes]:
    return Response((_HERE / "static" / name).read_bytes(), media_type=_STATIC[name],
                    headers={"Cache-Control": "no-cache"})


@get("/board.js", include_in_schema=False, sync_to_thread=False)
def board_js() -> Response[bytes]:
    return _file("board.js")


@get([f"/{name}" for name in _PWA_MODULES], include_in_schema=False, sync_to_thread=False)
def board_modules(request: Request[Any, Any, Any]) -> Response[bytes]:
    module = pwa_module(request.url.path.lstrip("/"))
    assert module is not None  # the routes are the listed modules
    return module


@get("/board.css", include_in_schema=False, sync_to_thread=False)
def board_css() -> Response[bytes]:
    return _file("board.css")


board_router = Router(path="/", route_handlers=[board_first, board_place, board_js, board_modules, board_css])
