"""Where a role without the casework console lands: configurators on ``/console/procedures``, never on a 403.

``configurator_landing`` is the ``before_request`` hook of every router that serves console pages (a hook on
those routers, not on the app: ``POST /api/submissions``'s fast lane replicates no app-wide hook). A role
that has no ``console`` capability but ``configure`` (or ``analytics``) is sent, 303, from any console page
that is not its own to its own page: the bookmark, the header's brand link, an old link all land there.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.response import Redirect
from litestar.types import Guard

from server.auth.roles import capabilities

__all__ = ["PROCEDURE_HOME", "configurator_landing", "landing_of", "or_landing"]

PROCEDURE_HOME = "/console/procedures"
# Console pages a role without the casework console may open (its own pages, shared files).
_OWN_PAGES = ("/console/procedures", "/console/tokens", "/console/device", "/console/analytics",
              "/console/static/", "/console/assets/")


def landing_of(role: str | None) -> str | None:
    """The page a role without the casework console lands on (None: the role has the console, or nothing)."""
    can = capabilities(role or "")
    if not role or "console" in can or not ({"configure", "analytics"} & set(can)):
        return None
    return PROCEDURE_HOME if "configure" in can else "/console/analytics"


async def configurator_landing(request: Request[Any, Any, Any]) -> Response[Any] | None:
    if request.method not in ("GET", "HEAD"):
        return None
    path = request.url.path
    if not (path == "/console" or path.startswith("/console/")) or path.startswith(_OWN_PAGES):
        return None
    target = landing_of(getattr(request.scope.get("user"), "role", None))
    return Redirect(target, status_code=303) if target else None


def or_landing(guard: Guard) -> Guard:
    """``guard`` for a console page, except that a GET by a role with a landing passes through to the page's
    ``before_request`` (``configurator_landing``), which sends it to its own page: guards run before that
    hook, and a refusal would be the raw 403 the landing replaces."""

    def wrapped(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> Any:
        method = connection.scope.get("method", "GET")
        if method in ("GET", "HEAD") and landing_of(getattr(connection.scope.get("user"), "role", None)):
            return None
        return guard(connection, handler)

    wrapped.__name__ = getattr(guard, "__name__", "guard")
    for attr in ("roles",):  # read by docs and the authorization test
        if hasattr(guard, attr):
            setattr(wrapped, attr, getattr(guard, attr))
    return wrapped
