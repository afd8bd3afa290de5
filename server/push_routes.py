"""HTTP endpoints of Web Push (``server/push.py``; docs/api.md "Web Push")."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, delete, get, post
from litestar.params import FromQuery, JSONBody

from server.auth import requires_role
from server.authz import require_user
from server.problems import Problem
from server.push import (
    SubscriptionIn,
    checked_subscription,
    delete_subscription,
    endpoint_to_forget,
    save_subscription,
)
from server.services import services

__all__ = ["push_router"]

# Deny first: the guard runs before the body is read (staff get no status notifications of their own).
_RESIDENT = requires_role("resident")


class PushKey(msgspec.Struct):
    public_key: str  # base64url, the PWA's applicationServerKey


class SubscriptionOut(msgspec.Struct):
    endpoint: str  # what is stored: the key DELETE /api/push/subscriptions takes


@get("/api/push/key", summary="The installation's VAPID public key (applicationServerKey)")
async def push_key(request: Request[Any, Any, Any]) -> PushKey:
    svc = services(request)
    key = await svc.db.read(lambda c: c.execute("SELECT public_key FROM push_vapid WHERE id = 1").fetchone())
    if key is None:  # made at start (server.app.open_services); absent only on a database opened elsewhere
        raise Problem(404, "not-found", "Web Push is not set up on this server")
    return PushKey(public_key=key[0])


@post("/api/push/subscriptions", summary="Receive status notifications in this browser (resident)", status_code=201,
      guards=[_RESIDENT])
async def subscribe(request: Request[Any, Any, Any], data: JSONBody[SubscriptionIn]) -> Response[SubscriptionOut]:
    user = require_user(request)  # the guard admitted residents only
    svc = services(request)
    sub = checked_subscription(data, svc.settings)
    await svc.db.write(lambda c: save_subscription(c, user.id, sub))
    return Response(SubscriptionOut(endpoint=sub.endpoint), status_code=201)


@delete("/api/push/subscriptions", summary="Stop status notifications in a browser (resident)", status_code=204,
        guards=[_RESIDENT])
async def unsubscribe(request: Request[Any, Any, Any],
                      endpoint: Annotated[str, FromQuery]) -> None:
    user = require_user(request)  # the guard admitted residents only
    # Idempotent: an endpoint that is not (or no longer) this account's is the same 204, so nobody learns
    # whose it is.
    await services(request).db.write(lambda c: delete_subscription(c, user.id, endpoint_to_forget(endpoint)))


push_router = Router(path="/", route_handlers=[push_key, subscribe, unsubscribe], tags=["push"])
