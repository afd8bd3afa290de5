"""Serve the PWA bundle built in memory at start (``madoguchi.build.build_pwa``).

Content-hashed files are immutable and cached for a year; ``index.html`` and ``sw.js`` must be revalidated
every time (a stale service worker would pin users to an old app), and ``sw.js`` may control the whole
origin. When the build fails, the error is logged and a small placeholder page is served so the API and the
console still start.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from server.problems import Problem

__all__ = ["PLACEHOLDER", "build_files", "pwa_handlers"]

log = logging.getLogger("madoguchi.pwa")

PLACEHOLDER = b"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>\xe7\xaa\x93\xe5\x8f\xa3 Madoguchi</title></head>
<body><main><h1>\xe7\xaa\x93\xe5\x8f\xa3 Madoguchi</h1>
<p>The resident app is not built yet. Staff: <a href="/console/">console</a>.</p></main></body></html>
"""

_HASHED = re.compile(r"\.[0-9a-f]{8,}\.[A-Za-z0-9]+$")
_TYPES = {".webmanifest": "application/manifest+json", ".js": "text/javascript", ".mjs": "text/javascript",
          ".json": "application/json", ".css": "text/css", ".html": "text/html",  # Litestar adds the charset
          ".svg": "image/svg+xml", ".png": "image/png"}
_RESERVED = {"api", "auth", "console", "schema", "enroll", "healthz"}


def build_files(library: Any, settings: Any) -> dict[str, bytes]:
    if getattr(settings, "build_result", None) is not None:
        return dict(settings.build_result.files)
    if getattr(settings, "build_dir", None):
        root = Path(settings.build_dir)
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    from madoguchi.build import build_pwa

    try:
        result = build_pwa(library)
    except Exception:
        # The API and the console still work without the resident app; say so loudly rather than not start.
        log.exception("PWA BUILD FAILED: serving a placeholder page at / instead of the resident app")
        return {"index.html": PLACEHOLDER}
    log.info("PWA built: %d files", len(result.files))
    return dict(result.files)


def _headers(path: str) -> dict[str, str]:
    if path == "sw.js":
        return {"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"}
    if _HASHED.search(path) or path.startswith("postal/"):  # postal/<datahash>/...: the folder is the hash
        return {"Cache-Control": "public, max-age=31536000, immutable"}
    return {"Cache-Control": "no-cache"}


def _media_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return _TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


def pwa_handlers(files: dict[str, bytes]) -> list[HTTPRouteHandler]:
    files = dict(files)
    files.setdefault("index.html", PLACEHOLDER)

    def serve(path: str) -> Response[bytes]:
        data = files.get(path)
        if data is None:
            raise Problem(404, "not-found", "No such file")
        return Response(data, media_type=_media_type(path), headers=_headers(path))

    @get("/", include_in_schema=False, sync_to_thread=False)
    def index() -> Response[bytes]:
        return serve("index.html")

    handlers: list[HTTPRouteHandler] = [index]
    root_files = sorted(p for p in files if "/" not in p and p != "index.html")
    if root_files:
        @get([f"/{p}" for p in root_files], include_in_schema=False, sync_to_thread=False)
        def root_file(request: Request[Any, Any, Any]) -> Response[bytes]:
            return serve(request.url.path.lstrip("/"))

        handlers.append(root_file)
    dirs = sorted({p.split("/", 1)[0] for p in files if "/" in p} - _RESERVED)
    if dirs:
        @get([f"/{d}/{{path:path}}" for d in dirs], include_in_schema=False, sync_to_thread=False)
        def nested(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[bytes]:
            return serve(request.url.path.lstrip("/"))

        handlers.append(nested)
    return handlers
