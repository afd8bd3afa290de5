"""``/console/analytics`` (利用状況): the analytics report's key figures for managers, server-rendered.

The same definitions as ``madoguchi report`` (``madoguchi.analytics.metrics``), over the live database: the
de-identified tables are read in one job of the reader pool (``Database.read``) and the figures computed in a
thread of their own, one computation at a time per database, so neither the event loop nor the reader pool waits
on DuckDB. Capability ``analytics``. No personal data on the page (ids, versions, counts,
field labels), so reading it is not audited. Charts are in the report and the notebook: the console's strict CSP
has no room for the renderer's inline styles, and tables are what a screen reader reads anyway.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

from litestar import Request, Response, Router, get
from markupsafe import Markup

from madoguchi.analytics.dataset import to_dataset
from server.analytics_api import analytics_dataset, dataset_tables
from server.auth.roles import ANALYTICS_ROLES
from server.authz import require_roles
from server.console.routes import render_page
from server.services import services

__all__ = ["CACHE_SECONDS", "TOP_FIELDS", "analytics_router", "key_figures"]

TOP_FIELDS = 10  # fields listed per table: the worst ones (the report lists all)
# The figures read every row of the analytics tables (seconds at 100,000 applications): managers reloading the
# page, or several of them, reuse one computation per database for a minute instead of loading the reader pool.
CACHE_SECONDS = 60.0
_cache: weakref.WeakKeyDictionary[Any, tuple[float, dict[str, Any]]] = weakref.WeakKeyDictionary()
_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


def key_figures(tables: dict[str, Any]) -> dict[str, Any]:
    """The page's tables as HTML (escaped by ``display_table``) and the dataset's row counts, from the
    de-identified tables (``read_tables`` via ``dataset_tables``)."""
    from madoguchi.analytics.metrics import GOAL_SECONDS, all_figures
    from madoguchi.analytics.report import display_table

    ds = to_dataset(tables, "live")
    frames = all_figures(ds)
    ov = frames["overview"].copy()
    ov["goal"] = ["―" if p != p or p is None else ("目標内" if p <= GOAL_SECONDS else "目標超過") for p in ov["p50_s"]]
    drop = frames["dropoff"]
    drop = drop[drop["exits"] > 0].sort_values(["dropoff", "views"], ascending=False).head(TOP_FIELDS)
    errors = frames["errors"].head(0) if frames["errors"].empty else (
        frames["errors"].sort_values("errors", ascending=False).head(TOP_FIELDS))
    titles = ds.versions[["procedure_id", "version", "title"]]
    vol = frames["volumes"]
    by_day = vol.groupby(["weekday", "weekday_label"], as_index=False)["submissions"].sum()
    by_hour = vol.groupby("hour", as_index=False)["submissions"].sum()
    by_hour["hour_label"] = by_hour["hour"].astype(str) + "時台"
    tables = {
        "overview": display_table(ov, ("title", "version", "starts", "submissions", "completion_rate", "p50_s",
                                       "p90_s", "estimate_s", "goal"), "手続・版ごと"),
        "dropoff": display_table(drop.merge(titles, on=["procedure_id", "version"], how="left"),
                                 ("title", "version", "label", "views", "exits", "dropoff"),
                                 f"離脱率の高い項目（上位 {TOP_FIELDS}）"),
        "errors": display_table(errors.merge(titles, on=["procedure_id", "version"], how="left"),
                                ("title", "version", "label", "errors", "views", "error_rate"),
                                f"入力エラーの多い項目（上位 {TOP_FIELDS}）"),
        "weekday": display_table(by_day, ("weekday_label", "submissions"), "曜日ごとの申請件数（日本時間）"),
        "hour": display_table(by_hour, ("hour_label", "submissions"), "時間帯ごとの申請件数（日本時間）"),
        "steps": display_table(frames["visit_steps"], ("step_label", "department_label", "n", "p50_min", "p90_min",
                                                       "mean_min"), "来庁の手順ごとの時間（分）"),
    }
    from madoguchi.analytics.queue_metrics import queue_figures

    queue = queue_figures(ds)  # once: the tables and the forecast's note read the same frames
    tables.update(_queue_tables(queue))
    empty = {"overview": ov.empty, "dropoff": drop.empty, "errors": errors.empty, "weekday": by_day.empty,
             "hour": by_hour.empty, "steps": frames["visit_steps"].empty}
    empty.update({k: not v for k, v in tables.items() if k.startswith("queue_")})
    # Markup: display_table escapes every header and cell itself.
    return {"tables": {k: Markup(v) for k, v in tables.items()}, "forecast_note": _forecast_note(queue),
            "empty": empty, "counts": ds.counts(), "goal": GOAL_SECONDS, "generated_at": ds.generated_at}


def _forecast_note(queue: dict[str, Any]) -> str:
    from madoguchi.analytics.report import forecast_note

    return forecast_note(queue["forecast"], queue["forecast_day"])


def _queue_tables(queue: dict[str, Any]) -> dict[str, str]:
    """The queue's key figures (待ち時間と予約) from ``queue_metrics.queue_figures``: waits by JST hour and by
    weekday, no-show rate, mean capacity use per place, and tomorrow's forecast; an empty string where there is no
    data."""
    from madoguchi.analytics.report import display_table

    by_hour, waits, no_show, use = queue["waits_hour"], queue["waits_weekday"], queue["no_show"], queue["capacity"]
    if not use.empty:
        use = use.groupby("place", as_index=False).agg(booked_min=("booked_min", "sum"),
                                                       bookable_min=("bookable_min", "sum"))
        use["capacity_use"] = use["booked_min"] / use["bookable_min"]
    forecast = queue["forecast"]
    return {
        "queue_waits_hour": "" if by_hour.empty else display_table(
            by_hour, ("kind_label", "hour_label", "n", "p50_min", "p90_min"), "時間帯ごとの待ち時間（分、日本時間）"),
        "queue_waits": "" if waits.empty else display_table(
            waits, ("kind_label", "weekday_label", "n", "p50_min", "p90_min"), "曜日ごとの待ち時間（分）"),
        "queue_no_show": "" if no_show.empty else display_table(
            no_show, ("place", "due", "no_shows", "no_show_rate"), "来庁なしの率（窓口が ― の行は全体）"),
        "queue_capacity": "" if use.empty else display_table(
            use, ("place", "booked_min", "bookable_min", "capacity_use"), "予約枠の利用率（予約のあった日の合計）"),
        "queue_forecast": "" if forecast.empty else display_table(
            forecast, ("place", "hour_label", "mean_arrivals", "weeks", "booked"), "明日の混む時間帯（予測）"),
    }


@get("/console/analytics", include_in_schema=False)
async def analytics_page(request: Request[Any, Any, Any]) -> Response[str]:
    require_roles(request, *ANALYTICS_ROLES)
    db = services(request).db
    lock = _locks.setdefault(db, asyncio.Lock())
    async with lock:  # one computation at a time per database: managers arriving together wait for it
        hit = _cache.get(db)
        if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
            figures = hit[1]
        else:
            # Only the read holds a reader of the pool; pandas and DuckDB run in a thread of their own.
            tables = await db.read(dataset_tables)
            figures = await asyncio.to_thread(key_figures, tables)
            _cache[db] = (time.monotonic(), figures)
    return render_page(request, "analytics.html", current="analytics", **figures)


analytics_router = Router(path="/", route_handlers=[analytics_dataset, analytics_page])
