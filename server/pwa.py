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
import threading
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from server.problems import Problem

__all__ = ["PLACEHOLDER", "Bundle", "build_bundle", "pwa_handlers", "pwa_module"]

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


class Bundle:
    """The PWA files being served, rebuilt when the live library changes (a publish in the console).

    ``rebuild`` runs the incremental build (``build_pwa(previous=...)``: only changed versions compile) off
    the event loop and swaps ``files`` whole, so a request sees either the old bundle or the new one. Phones
    get the new version on their next start: ``sw.js`` changes with the precache list.
    """

    def __init__(self, files: dict[str, bytes], result: Any = None, *, frozen: bool = False) -> None:
        self.files = _with_placeholder(files)
        self.result = result
        self.frozen = frozen  # a prebuilt folder (``serve --build-dir``): served as it is
        self.builds = 0
        self._lock = threading.Lock()
        self._wanted: Any = None  # the newest library asked for, not built yet
        self._worker: threading.Thread | None = None
        self._state = threading.Lock()

    def request_rebuild(self, library: Any) -> None:
        """Rebuild for ``library`` in a background thread; requests made while one builds coalesce into one
        more build of the newest library. Independent of any event loop (a publish from a short-lived loop,
        as in tests and benches, still gets its rebuild)."""
        with self._state:
            self._wanted = library
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="pwa-rebuild", daemon=True)
                self._worker.start()

    def _work(self) -> None:
        while True:
            with self._state:
                library, self._wanted = self._wanted, None
                if library is None:
                    self._worker = None
                    return
            self.rebuild(library)

    def rebuild(self, library: Any) -> bool:
        """Build the bundle for ``library`` and serve it. False (logged) when frozen or the build failed."""
        if self.frozen:
            log.warning("the PWA is served from a prebuilt folder: a published change reaches phones only "
                        "after `madoguchi build` and a restart")
            return False
        from madoguchi.build import build_pwa

        with self._lock:  # one build at a time: each starts from the previous result
            try:
                prev = self.result if hasattr(self.result, "source_hashes") else None
                result = build_pwa(library, previous=prev)
            except Exception:
                log.exception("PWA REBUILD FAILED: phones keep the previous bundle")
                return False
            # The previous build's content-hashed files stay served beside the new ones until the next build: a
            # phone that read the old sw.js a moment ago still finds every file of its precache list.
            previous = getattr(self.result, "files", None) or self.files
            kept = {p: data for p, data in previous.items() if _HASHED.search(p) and p not in result.files}
            self.result = result
            self.files = _with_placeholder({**kept, **result.files})
            self.builds += 1
        log.info("PWA rebuilt: %d files", len(result.files))
        return True


_PWA_JS = Path(__file__).resolve().parent.parent / "pwa" / "js"
_MODULE_NAME = re.compile(r"[a-z][a-z0-9-]*\.js")


def pwa_module(name: str) -> Response[bytes] | None:
    """A module of pwa/js as it is in the source (not the built bundle), for pages outside the app that import the
    app's own rules: the console's live lists, the lobby board. None for a name that is not a plain module there."""
    path = _PWA_JS / name
    if not _MODULE_NAME.fullmatch(name) or not path.is_file():
        return None
    return Response(path.read_bytes(), media_type="text/javascript", headers={"Cache-Control": "no-cache"})


def _with_placeholder(files: dict[str, bytes]) -> dict[str, bytes]:
    files.setdefault("index.html", PLACEHOLDER)
    return files


def build_bundle(library: Any, settings: Any) -> Bundle:
    if getattr(settings, "build_dir", None):
        root = Path(settings.build_dir)
        return Bundle({p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()},
                      frozen=True)
    prebuilt = getattr(settings, "build_result", None)
    if prebuilt is not None:  # built already (serve, tests): served as it is; a rebuild starts from it
        return Bundle(dict(prebuilt.files), prebuilt)
    from madoguchi.build import build_pwa

    try:
        result = build_pwa(library)
    except Exception:
        # The API and the console still work without the resident app; say so loudly rather than not start.
        log.exception("PWA BUILD FAILED: serving a placeholder page at / instead of the resident app")
        return Bundle({"index.html": PLACEHOLDER})
    log.info("PWA built: %d files", len(result.files))
    return Bundle(dict(result.files), result)


def _headers(path: str) -> dict[str, str]:
    if path == "sw.js":
        return {"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"}
    if _HASHED.search(path) or path.startswith("postal/"):  # postal/<datahash>/...: the folder is the hash
        return {"Cache-Control": "public, max-age=31536000, immutable"}
    return {"Cache-Control": "no-cache"}


def _media_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return _TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


_DIRS = ("assets", "data", "procedures", "life-events", "postal")  # what a rebuild may add files under


def pwa_handlers(bundle: Bundle) -> list[HTTPRouteHandler]:
    files = bundle.files

    def serve(path: str) -> Response[bytes]:
        data = bundle.files.get(path)  # the bundle of this moment: a rebuild swaps it whole
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
    dirs = sorted(({p.split("/", 1)[0] for p in files if "/" in p} | set(_DIRS)) - _RESERVED)
    if dirs:
        @get([f"/{d}/{{path:path}}" for d in dirs], include_in_schema=False, sync_to_thread=False)
        def nested(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[bytes]:
            return serve(request.url.path.lstrip("/"))

        handlers.append(nested)
    return handlers
