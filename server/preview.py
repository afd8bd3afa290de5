"""Preview links: a draft opened on any phone in the app's real renderer, with no account, storing nothing.

A preview token is a capability URL: ``base64url(JSON {"d": draft id, "e": expiry, unix seconds})`` ``.``
``base64url(HMAC-SHA256(secret, payload))``. The secret is made once per installation and kept in the
database (``server.storage.keys``: a restart keeps every link working; a copied database keeps its links too),
and the signature is checked in constant time before anything is read. A token names one draft and shows
only its definition (what the resident would be asked): no answers, no account, no personal data.

Routes (docs/api.md "Preview"):

- ``POST /api/drafts/{draft_id}/preview`` (capability ``configure``, bearer scope ``drafts``) makes a link:
  ``{url, qr_svg, expires_at}`` (audited ``draft.preview_link``).
- ``GET /preview/{token}``: the page (``server/preview_static/preview.js`` imports the content-hashed
  ``render.js``/``form.js`` of the bundle being served: the renderer residents run, not a copy). It is not part
  of the PWA bundle or its precache, and the service worker leaves ``/preview/`` to the network.
- ``GET /api/preview/{token}``: the compiled draft (``revision``, ``compiled``: what
  ``procedure_definitions.compile`` gives plus ``estimate_seconds`` as in the bundle), ``Cache-Control:
  no-store``, ``ETag`` by revision (``304`` on ``If-None-Match``): the page polls it to follow new pushes.
- ``GET /api/preview/{token}/qr.svg``: the link as a QR code (segno).

A token that does not verify or names no draft answers 404 ``preview-not-found``; an expired one or one of an
abandoned draft 410 (``preview-expired``, ``preview-abandoned``): a page in Japanese and English for
``/preview/``, problem+json for the API. Never a 500 for a garbage token.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import io
import json
import re
import weakref
from collections import OrderedDict
from html import escape
from pathlib import Path
from typing import Any

import msgspec
import segno
from litestar import Request, Response, Router, get, post
from litestar.params import FromPath

from procedure_definitions import compile as compiler
from server import audit
from server.auth.roles import CONFIGURE_ROLES
from server.authz import require_roles
from server.definitions.drafts import DraftRow, draft_definition, get_draft, problem_line
from server.problems import Problem
from server.security import CSP
from server.services import Services, services
from server.storage.keys import preview_secret

__all__ = [
    "MAX_TOKEN_LENGTH",
    "PREVIEW_TTL",
    "PreviewLink",
    "make_token",
    "new_preview_link",
    "preview_router",
    "qr_svg",
    "read_token",
]

PREVIEW_TTL = dt.timedelta(days=7)
MAX_TOKEN_LENGTH = 400  # a draft id of up to 100 characters fits easily; anything longer is not ours


_STATIC = Path(__file__).resolve().parent / "preview_static"
_STATIC_TYPES = {"preview.js": "text/javascript", "preview.css": "text/css"}
# The page may be framed (the notebook client shows it in an iframe); it has nothing to click that acts.
_PAGE_CSP = CSP.replace("frame-ancestors 'none'", "frame-ancestors *")


class PreviewLink(msgspec.Struct):
    url: str
    qr_svg: str
    expires_at: str  # UTC ISO 8601


# ------------------------------------------------------------------------------------------------ tokens


_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_SECRETS: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()


async def _secret(svc: Services) -> bytes:
    key = _SECRETS.get(svc.db)
    if key is None:
        key = _SECRETS[svc.db] = await svc.db.write(preview_secret)
    return key


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def make_token(secret: bytes, draft_id: str, expires: dt.datetime) -> str:
    payload = _b64(json.dumps({"d": draft_id, "e": int(expires.timestamp())}, separators=(",", ":")).encode())
    return f"{payload}.{_sign(secret, payload)}"


def read_token(secret: bytes, token: str, *, now: dt.datetime | None = None) -> tuple[str, dt.datetime]:
    """(draft id, expiry) of a token whose signature verifies; raises ``Problem`` 404/410 otherwise."""
    unknown = Problem(404, "preview-not-found", "No such preview link")
    if len(token) > MAX_TOKEN_LENGTH or not _TOKEN.fullmatch(token):
        raise unknown
    payload, sig = token.split(".")
    # Constant time: how much of a forged signature matches must not show in the answer's timing.
    if not hmac.compare_digest(_sign(secret, payload).encode(), sig.encode()):
        raise unknown
    try:
        data = json.loads(_unb64(payload))
        draft_id, exp = data["d"], data["e"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise unknown from None
    if not isinstance(draft_id, str) or not isinstance(exp, int):
        raise unknown
    expires = dt.datetime.fromtimestamp(exp, dt.UTC)
    if expires <= (now or dt.datetime.now(dt.UTC)):
        raise Problem(410, "preview-expired", "This preview link has expired: ask for a new one")
    return draft_id, expires


async def _revision(svc: Services, token: str) -> tuple[str, int]:
    """(draft id, revision) of a link's draft: 404 / 410 as ``_open``, reading two columns only (the page polls
    this about once a second; the draft's text, up to 1 MB, is read only when it changed)."""
    draft_id, _ = read_token(await _secret(svc), token)
    found = await svc.db.read(lambda c: c.execute(
        "SELECT revision, state FROM procedure_drafts WHERE id = ?", (draft_id,)).fetchone())
    if found is None:
        raise Problem(404, "preview-not-found", "No such preview link")
    if found[1] == "abandoned":
        raise Problem(410, "preview-abandoned", "This draft was abandoned: its preview is closed")
    return draft_id, int(found[0])


async def _open(svc: Services, token: str) -> DraftRow:
    draft_id, _ = read_token(await _secret(svc), token)
    row = await svc.db.read(lambda c: get_draft(c, draft_id))
    if row is None:
        raise Problem(404, "preview-not-found", "No such preview link")
    if row.state == "abandoned":
        raise Problem(410, "preview-abandoned", "This draft was abandoned: its preview is closed")
    return row


def qr_svg(text: str, title: str = "QR") -> str:
    """``text`` as a standalone SVG QR code (error correction M, black on white)."""
    buf = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buf, kind="svg", scale=4, border=4, xmldecl=False,
                                                  title=title, dark="#000", light="#fff")
    return buf.getvalue().decode("utf-8")


# ------------------------------------------------------------------------------------------ compiled draft

_COMPILED: OrderedDict[tuple[str, int], dict[str, Any] | None] = OrderedDict()
_COMPILED_MAX = 32


def _lines(row: DraftRow) -> list[str]:
    errors = sorted(row.problems, key=lambda p: p.get("severity") != "error")
    return [problem_line(p) for p in errors]


def _compiled(svc: Services, row: DraftRow) -> dict[str, Any] | None:
    """What the bundle ships for this definition (compiled, with its estimate); None when it has errors."""
    key = (row.id, row.revision)
    if key in _COMPILED:
        _COMPILED.move_to_end(key)
        return _COMPILED[key]
    definition = draft_definition(row)
    data: dict[str, Any] | None = None
    if definition is not None:
        # The bundle's own estimate (a life event's per set of included procedures too).
        from madoguchi.build import _estimate_seconds

        kind = "procedure" if row.kind != "life_event" else "life_event"
        data = (compiler.compile_procedure if kind == "procedure" else compiler.compile_life_event)(definition)  # type: ignore[arg-type]
        est = row.estimate_seconds if kind == "procedure" else None
        data["estimate_seconds"] = est if est is not None else _estimate_seconds(kind, definition, svc.catalog.library)
    _COMPILED[key] = data
    while len(_COMPILED) > _COMPILED_MAX:
        _COMPILED.popitem(last=False)
    return data


def _etag(draft_id: str, revision: int) -> str:
    return f'"{draft_id}.{revision}"'


# --------------------------------------------------------------------------------------------------- page

_TEXTS = {
    "banner_ja": "プレビュー（保存されません）",
    "banner_en": "Preview — nothing is saved",
}
_REFUSED = {
    "preview-not-found": ("このプレビューのリンクは見つかりません。", "This preview link does not exist."),
    "preview-expired": ("このプレビューのリンクは有効期限が切れました。新しいリンクを作ってもらってください。",
                        "This preview link has expired: ask for a new one."),
    "preview-abandoned": ("この下書きは破棄されたため、プレビューは終了しました。",
                          "This draft was abandoned: its preview has ended."),
}


def _bundle_files(svc: Services) -> dict[str, bytes]:
    return svc.pwa.files  # the bundle being served now (swapped whole when a publish rebuilds it)


def _assets(files: dict[str, bytes]) -> dict[str, str]:
    """URLs of the modules the page imports, from the served bundle's content-hashed file names."""
    out: dict[str, str] = {}
    for path in files:
        m = re.fullmatch(r"assets/([a-z0-9-]+)\.[0-9a-f]{8,}\.(js|css|png)", path)
        if m and m.group(1) in ("render", "form", "i18n", "dom", "paths", "expr", "lifeevent", "app", "icon-192"):
            out[f"{m.group(1)}.{m.group(2)}"] = "/" + path
        elif re.fullmatch(r"data/catalog\.[0-9a-f]{8,}\.json", path):
            out["catalog"] = "/" + path  # live procedures' titles: a life event lists the ones it includes
        elif path.startswith("postal/") and "postal" not in out:
            out["postal"] = "/" + path.rsplit("/", 1)[0] + "/"
    return out


def _static_url(name: str) -> str:
    digest = hashlib.sha256((_STATIC / name).read_bytes()).hexdigest()[:10]
    return f"/preview/static/{name}?v={digest}"


def _head(svc: Services, *, script: bool) -> str:
    a = _assets(_bundle_files(svc))
    head = f'<link rel="icon" type="image/png" href="{a["icon-192.png"]}">\n' if "icon-192.png" in a else ""
    if "app.css" in a:
        head += f'<link rel="stylesheet" href="{a["app.css"]}">\n'
    head += f'<link rel="stylesheet" href="{_static_url("preview.css")}">\n'
    if script:
        head += f'<script type="module" src="{_static_url("preview.js")}"></script>\n'
    return head


def _page(body: str, *, head: str = "", attrs: str = "") -> str:
    return (
        '<!doctype html>\n<html lang="ja" data-preview="true"' + attrs + '>\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f'<title>{_TEXTS["banner_ja"]} — 窓口</title>\n{head}</head>\n<body>\n'
        # A named <aside>: a landmark (axe's region rule: no content outside every landmark).
        f'<aside class="preview-banner" id="preview-banner" aria-label="{_TEXTS["banner_ja"]}">'
        f'<strong>{_TEXTS["banner_ja"]}</strong> <span lang="en">/ {_TEXTS["banner_en"]}</span>'
        ' <span id="preview-version" class="preview-version"></span></aside>\n'
        f"{body}\n</body>\n</html>\n"
    )


def _html(text: str, status: int) -> Response[str]:
    return Response(text, media_type="text/html", status_code=status,
                    headers={"Cache-Control": "no-store", "Content-Security-Policy": _PAGE_CSP})


def _refusal_page(svc: Services, e: Problem) -> Response[str]:
    ja, en = _REFUSED.get(e.slug, _REFUSED["preview-not-found"])
    head = _head(svc, script=False)
    body = ('<main id="main" class="preview-main">\n<h1 id="page-title">プレビューを表示できません'
            ' <span lang="en">/ The preview cannot be shown</span></h1>\n'
            f'<p class="notice warning">{escape(ja)}</p>\n<p lang="en">{escape(en)}</p>\n</main>')
    return _html(_page(body, head=head), e.status_code)


def _app_page(svc: Services, token: str) -> Response[str]:
    a = _assets(_bundle_files(svc))
    head = _head(svc, script=False)
    missing = [m for m in ("render.js", "form.js", "i18n.js", "dom.js", "paths.js", "expr.js") if m not in a]
    if missing:  # the app is not built (placeholder page): say so rather than a page that never loads
        body = ('<main id="main" class="preview-main"><h1 id="page-title">プレビューを表示できません'
                ' <span lang="en">/ The preview cannot be shown</span></h1>'
                '<p class="notice warning">住民向けアプリが組み立てられていません。'
                ' <span lang="en">The resident app is not built on this server.</span></p></main>')
        return _html(_page(body, head=head), 503)
    head = _head(svc, script=True)
    data = {"token": token, "render": a["render.js"], "form": a["form.js"], "i18n": a["i18n.js"],
            "dom": a["dom.js"], "paths": a["paths.js"], "expr": a["expr.js"],
            "lifeevent": a.get("lifeevent.js", ""), "catalog": a.get("catalog", ""), "postal": a.get("postal", "")}
    attrs = "".join(f' data-{k}="{escape(v)}"' for k, v in data.items())
    body = ('<header class="top">\n<span class="brand"><span aria-hidden="true" class="brand-mark">窓</span>'
            '<span id="brand-name">窓口</span></span>\n<div class="top-tools">\n'
            '<label class="lang-label" for="lang"><span id="lang-label">言語</span></label>\n'
            '<select id="lang" name="lang">\n<option value="ja" lang="ja">日本語</option>\n'
            '<option value="ja-easy" lang="ja">やさしい にほんご</option>\n'
            '<option value="en" lang="en">English</option>\n</select>\n</div>\n</header>\n'
            '<main id="main" class="preview-main" tabindex="-1">\n<h1 id="page-title">プレビュー</h1>\n'
            '<p id="boot">読み込み中…</p>\n<noscript><p class="notice warning">JavaScript を有効にしてください。'
            ' <span lang="en">Turn on JavaScript to see the preview.</span></p></noscript>\n</main>\n'
            '<p id="preview-live" class="visually-hidden" role="status" aria-live="polite"></p>')
    return _html(_page(body, head=head, attrs=attrs), 200)


# ------------------------------------------------------------------------------------------------- routes


async def new_preview_link(svc: Services, row: DraftRow, actor: str, *, via: str = "api") -> PreviewLink:
    """A new link to ``row`` (the console's draft page makes one too), audited ``draft.preview_link``."""
    if row.state == "abandoned":
        raise Problem(409, "draft-abandoned", "This draft was abandoned")
    expires = (dt.datetime.now(dt.UTC) + PREVIEW_TTL).replace(microsecond=0)
    token = make_token(await _secret(svc), row.id, expires)
    url = f"{svc.settings.origin.rstrip('/')}/preview/{token}"
    expires_at = expires.isoformat().replace("+00:00", "Z")
    await audit.record(svc.db, actor=actor, action="draft.preview_link", subject=f"draft:{row.id}",
                       details={"expires_at": expires_at, "revision": row.revision, "via": via})
    return PreviewLink(url=url, qr_svg=qr_svg(url, "プレビューのQRコード / Preview QR code"), expires_at=expires_at)


@post("/api/drafts/{draft_id:str}/preview", opt={"token_scope": "drafts"}, summary="A preview link for a draft",
      tags=["drafts"])
async def make_preview_link(request: Request[Any, Any, Any], draft_id: FromPath[str]) -> PreviewLink:
    user = require_roles(request, *CONFIGURE_ROLES)
    svc = services(request)
    row = await svc.db.read(lambda c: get_draft(c, draft_id))
    if row is None:
        raise Problem(404, "not-found", "No such draft")
    return await new_preview_link(svc, row, user.id)


# The token routes admit a bearer token of scope drafts too (a notebook fetching the QR code or the data).
@get("/preview/{token:str}", include_in_schema=False, opt={"token_scope": "drafts"})
async def preview_page(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[str]:
    svc = services(request)
    try:
        await _open(svc, token)
    except Problem as e:
        return _refusal_page(svc, e)
    return _app_page(svc, token)


@get("/api/preview/{token:str}", opt={"token_scope": "drafts"}, summary="The compiled draft a preview link shows", tags=["drafts"])
async def preview_data(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    svc = services(request)
    etag = _etag(*await _revision(svc, token))
    headers = {"Cache-Control": "no-store", "ETag": etag}
    sent = request.headers.get("if-none-match", "")
    if etag in (t.strip() for t in sent.split(",")):
        return Response(b"", status_code=304, headers=headers)
    row = await _open(svc, token)
    headers["ETag"] = _etag(row.id, row.revision)  # a push may have landed between the two reads
    compiled = _compiled(svc, row)
    body = {"id": row.id, "procedure_id": row.procedure_id, "version": row.version, "kind": row.kind,
            "revision": row.revision, "state": row.state, "updated_at": row.updated_at,
            "ok": compiled is not None, "lines": _lines(row), "compiled": compiled}
    return Response(body, headers=headers)


@get("/api/preview/{token:str}/qr.svg", opt={"token_scope": "drafts"}, summary="A preview link as a QR code", tags=["drafts"])
async def preview_qr(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[str]:
    svc = services(request)
    await _open(svc, token)
    url = f"{svc.settings.origin.rstrip('/')}/preview/{token}"
    return Response(qr_svg(url, "プレビューのQRコード / Preview QR code"), media_type="image/svg+xml",
                    headers={"Cache-Control": "no-store"})


@get("/preview/static/{name:str}", include_in_schema=False, sync_to_thread=False)
def preview_static(name: FromPath[str]) -> Response[bytes]:
    if name not in _STATIC_TYPES:
        raise Problem(404, "not-found", "No such file")
    return Response((_STATIC / name).read_bytes(), media_type=_STATIC_TYPES[name],
                    headers={"Cache-Control": "no-cache"})


preview_router = Router(path="/", route_handlers=[make_preview_link, preview_page, preview_data, preview_qr,
                                                  preview_static])
