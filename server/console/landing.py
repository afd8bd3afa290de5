"""Where a role without the casework console lands: configurators on ``/console/procedures``, never on a 403.

``configurator_landing`` is the ``before_request`` hook of every router that serves console pages (a hook on
those routers, not on the app: ``POST /api/submissions``'s fast lane replicates no app-wide hook). A role
that has no ``console`` capability but ``configure`` (or ``analytics``) is sent, 303, from any console page
that is not its own to its own page: the bookmark, the header's brand link, an old link all land there.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.response import Redirect

from server.auth.roles import capabilities

__all__ = ["PROCEDURE_HOME", "configurator_landing"]

PROCEDURE_HOME = "/console/procedures"
# Console pages a role without the casework console may open (its own pages, shared files).
_OWN_PAGES = ("/console/procedures", "/console/tokens", "/console/device", "/console/analytics",
              "/console/static/", "/console/assets/")


async def configurator_landing(request: Request[Any, Any, Any]) -> Response[Any] | None:
    if request.method not in ("GET", "HEAD"):
        return None
    path = request.url.path
    if not (path == "/console" or path.startswith("/console/")) or path.startswith(_OWN_PAGES):
        return None
    role = getattr(request.scope.get("user"), "role", None)
    if not role:
        return None
    can = capabilities(role)
    if "console" in can or not ({"configure", "analytics"} & set(can)):
        return None
    return Redirect(PROCEDURE_HOME if "configure" in can else "/console/analytics", status_code=303)
