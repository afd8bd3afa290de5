"""``GET /api/analytics/dataset``: the de-identified analytics tables as JSON (docs/api.md, docs/analytics.md).

The same tables ``madoguchi report --db`` reads from the file (``madoguchi.analytics.dataset.read_tables``: ids,
versions, timestamps, counts, field paths and labels; never answers, names, account ids or who did a step), for
the analytics notebook run away from the server (``load_api`` with a bearer token of scope ``analytics``).
Capability ``analytics``. The tables hold no personal data, so reading them is not audited.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import msgspec
from litestar import Request, Response, get

from madoguchi.analytics.dataset import read_tables
from server.auth.roles import ANALYTICS_ROLES
from server.authz import require_roles
from server.booking.config import config_in
from server.services import services

__all__ = ["analytics_dataset", "dataset_tables"]


def dataset_tables(conn: sqlite3.Connection) -> dict[str, Any]:
    """``read_tables`` with the booking rules in force (the built-in default when the city set none), so the
    capacity figures have the same places from the API, the console and a file whose rules were set."""
    return read_tables(conn, booking_config=msgspec.to_builtins(config_in(conn)))


@get("/api/analytics/dataset", summary="The de-identified analytics tables (no personal data)", tags=["analytics"],
     opt={"token_scope": "analytics"})
async def analytics_dataset(request: Request[Any, Any, Any]) -> Response[bytes]:
    require_roles(request, *ANALYTICS_ROLES)
    tables = await services(request).db.read(dataset_tables)
    body = {"generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "tables": tables}
    return Response(msgspec.json.encode(body), media_type="application/json", headers={"Cache-Control": "no-store"})
