"""The tests' stand-ins for services outside the city (a push service, a core system) listen the same way:
a threaded HTTP server on 127.0.0.1 (a free port) that hands each POST to a function and answers its status
with an empty body."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["OnPost", "serve_posts"]

OnPost = Callable[[str, dict[str, str], bytes], int]  # (path, headers with lower-case names, body) -> status


def serve_posts(on_post: OnPost) -> ThreadingHTTPServer:
    """Start serving at once (a daemon thread); ``shutdown()`` and ``server_close()`` end it."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = on_post(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
