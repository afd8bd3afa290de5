"""The published catalog over HTTP (anyone may read it: it holds no personal data)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, Router, get
from litestar.params import FromPath

from procedure_definitions.versions import version_key
from server.problems import Problem
from server.services import services

__all__ = ["ProcedureSummary", "procedures_router"]


class ProcedureSummary(msgspec.Struct):
    id: str
    version: str
    title: str
    kind: str
    department: str | None
    retired: bool
    origin: str = "library"  # 'library' (shipped) or 'console' (published by a configurator)
    live_from: str | None = None  # UTC ISO 8601: scheduled, not live before
    closes_at: str | None = None  # UTC ISO 8601: the app starts no new application after it
    close_message: dict[str, str] | None = None  # {ja, en, ja-easy}: what the app shows once closed


@get("/api/procedures", summary="Every published procedure version")
async def list_procedures(request: Request[Any, Any, Any]) -> list[ProcedureSummary]:
    svc = services(request)
    rows = await svc.db.read(lambda c: c.execute(
        "SELECT procedure_id, version, title, kind, department, retired_at, origin, live_from, closes_at,"
        " close_message FROM procedure_versions").fetchall())
    rows.sort(key=lambda r: (r[0], version_key(r[1])))
    return [ProcedureSummary(r[0], r[1], r[2], r[3], r[4], r[5] is not None, r[6], r[7], r[8],
                             msgspec.json.decode(r[9]) if r[9] else None) for r in rows]


@get("/api/procedures/{pid:str}/{version:str}", summary="The compiled procedure JSON of one version",
     media_type="application/json")
async def get_procedure(request: Request[Any, Any, Any], pid: FromPath[str], version: FromPath[str]) -> Response[bytes]:
    data = await services(request).catalog.compiled(pid, version)
    if data is None:
        raise Problem(404, "not-found", "No such procedure version")
    # A published version never changes, so caches may keep it.
    return Response(data, media_type="application/json", headers={"Cache-Control": "public, max-age=86400"})


procedures_router = Router(path="/", route_handlers=[list_procedures, get_procedure], tags=["procedures"])
