"""The queue's and bookings' figures (待たない), one function per figure, DuckDB SQL over the dataset's
``queue_events``, ``bookings`` and ``capacity`` tables. Definitions: docs/analytics.md "Waits and bookings".

Times in the dataset are naive UTC; hours, weekdays and days are JST (UTC+9 all year). A booking's time is its
JST ``day`` and ``start``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Final

from madoguchi.analytics.metrics import WEEKDAYS, _con, query
from procedure_definitions.japan import JST

if TYPE_CHECKING:
    import pandas as pd

    from madoguchi.analytics.dataset import Dataset

__all__ = ["FORECAST_WEEKS", "KIND_LABELS", "MIN_FORECAST_WEEKS", "busy_hours_forecast", "capacity_use",
           "forecast_day", "no_show_rate", "queue_figures", "ticket_waits", "waits_by_hour", "waits_by_weekday"]

KIND_LABELS: Final = {"booking": "予約", "walkin": "当日"}
FORECAST_WEEKS: Final = 8  # the same weekday over at most this many past weeks
MIN_FORECAST_WEEKS: Final = 4  # fewer weeks with data: the forecast says it rests on few weeks

_KIND_LABEL_SQL: Final = "CASE kind " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in KIND_LABELS.items()) + " END"
_WEEKDAY_SQL: Final = "[" + ", ".join(f"'{d}'" for d in WEEKDAYS) + "]"


def ticket_waits(ds: Dataset) -> pd.DataFrame:
    """One row per ticket that was called: its place, kind, when its wait started (``wait_from``: a walk-in's
    ticket; a booking's the later of its arrival and its booked time), its first call, and the minutes between.
    Tickets that left before any call are not waits (they are counted as ``left`` in the log)."""
    return query(ds, """
WITH t AS (
    SELECT ticket_no, any_value(place) AS place,
           coalesce(any_value(kind) FILTER (WHERE event = 'ticket'), any_value(kind)) AS kind,
           any_value(booking_no) AS booking_no,
           min("at") FILTER (WHERE event = 'ticket') AS arrived,
           min("at") FILTER (WHERE event = 'called') AS called
    FROM queue_events WHERE ticket_no IS NOT NULL GROUP BY ticket_no),
w AS (
    SELECT t.*, CASE WHEN t.kind = 'booking' AND b.day IS NOT NULL
                     THEN greatest(t.arrived, CAST(b.day || ' ' || b.start AS TIMESTAMP) - INTERVAL 9 HOUR)
                     ELSE t.arrived END AS wait_from
    FROM t LEFT JOIN bookings b USING (booking_no))
SELECT ticket_no, place, kind, arrived, wait_from, called, epoch(called - wait_from) / 60 AS wait_min
FROM w WHERE arrived IS NOT NULL AND called IS NOT NULL AND called >= wait_from
ORDER BY ticket_no""")


def _waits_by(ds: Dataset, waits: pd.DataFrame | None, key_sql: str, key: str, label_sql: str) -> pd.DataFrame:
    con = _con(ds)
    con.register("ticket_wait_rows", ticket_waits(ds) if waits is None else waits)
    return con.execute(f"""
SELECT kind, {_KIND_LABEL_SQL} AS kind_label, {key_sql} AS {key}, {label_sql} AS {key}_label, count(*) AS n,
       round(quantile_cont(wait_min, 0.5), 1) AS p50_min, round(quantile_cont(wait_min, 0.9), 1) AS p90_min
FROM ticket_wait_rows GROUP BY ALL ORDER BY kind, {key}""").df()


def waits_by_hour(ds: Dataset, waits: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per kind (予約, 当日) and JST hour the wait started: tickets, p50 and p90 of the minutes to the first call;
    ``waits``: :func:`ticket_waits` of ``ds`` when computed already."""
    return _waits_by(ds, waits, "hour(wait_from + INTERVAL 9 HOUR)", "hour",
                     "CAST(hour(wait_from + INTERVAL 9 HOUR) AS VARCHAR) || '時台'")


def waits_by_weekday(ds: Dataset, waits: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per kind and ISO weekday (1 = 月 … 7 = 日, JST) the wait started: tickets, p50 and p90 in minutes."""
    return _waits_by(ds, waits, "isodow(wait_from + INTERVAL 9 HOUR)", "weekday",
                     f"{_WEEKDAY_SQL}[isodow(wait_from + INTERVAL 9 HOUR)]")


def no_show_rate(ds: Dataset) -> pd.DataFrame:
    """Per place and in all (place NULL): bookings due (come: ``checked_in``, or not: ``no_show``; cancelled
    and still upcoming ones are not due), no-shows, and no-shows ÷ due."""
    return query(ds, """
WITH d AS (SELECT place, status FROM bookings WHERE status IN ('checked_in', 'no_show'))
SELECT place, count(*) AS due, count(*) FILTER (WHERE status = 'no_show') AS no_shows,
       count(*) FILTER (WHERE status = 'no_show') / count(*) AS no_show_rate
FROM d GROUP BY GROUPING SETS ((place), ()) HAVING count(*) > 0 ORDER BY place NULLS LAST""")


def capacity_use(ds: Dataset) -> pd.DataFrame:
    """Per place and day with bookings: minutes booked (bookings not cancelled) ÷ bookable minutes (opening
    hours × booths taking bookings, from the rules for that weekday). Days the rules do not open are left out."""
    return query(ds, """
WITH b AS (
    SELECT place, day, sum(minutes) AS booked_min, count(*) AS bookings
    FROM bookings WHERE status IN ('booked', 'checked_in', 'no_show') GROUP BY ALL),
c AS (
    SELECT place, weekday, booking_booths,
           (CAST(split_part(close, ':', 1) AS INTEGER) * 60 + CAST(split_part(close, ':', 2) AS INTEGER)
            - CAST(split_part(open, ':', 1) AS INTEGER) * 60 - CAST(split_part(open, ':', 2) AS INTEGER))
           * booking_booths AS bookable_min
    FROM capacity)
SELECT b.place, b.day, isodow(CAST(b.day AS DATE)) AS weekday, b.bookings, b.booked_min, c.bookable_min,
       b.booked_min / nullif(c.bookable_min, 0) AS capacity_use
FROM b JOIN c ON c.place = b.place AND c.weekday = isodow(CAST(b.day AS DATE))
ORDER BY b.place, b.day""")


def forecast_day(ds: Dataset) -> dt.date:
    """The day the forecast is for by default: tomorrow (JST) of when the dataset was read."""
    made = dt.datetime.fromisoformat(ds.generated_at).astimezone(JST)
    return made.date() + dt.timedelta(days=1)


def busy_hours_forecast(ds: Dataset, day: dt.date | None = None, weeks: int = FORECAST_WEEKS) -> pd.DataFrame:
    """Tomorrow's (or ``day``'s) busy hours per place: the mean number of tickets drawn or checked in per JST
    hour on the same weekday over the last ``weeks`` weeks before it, counting only the weeks that day had any
    ticket at that place (``weeks``: how many; a closed day or a holiday is not a quiet day). ``booked``: the
    bookings already made for that day starting in that hour. Empty when no such past day has data: there is
    nothing to forecast from."""
    target = day or forecast_day(ds)
    past = [(target - dt.timedelta(days=7 * k)).isoformat() for k in range(1, weeks + 1)]
    return query(ds, """
WITH a AS (
    SELECT place, CAST(CAST("at" + INTERVAL 9 HOUR AS DATE) AS VARCHAR) AS day, hour("at" + INTERVAL 9 HOUR) AS hour
    FROM queue_events WHERE event = 'ticket'),
a2 AS (SELECT * FROM a WHERE list_contains(?, day)),
w AS (SELECT place, count(DISTINCT day) AS weeks FROM a2 GROUP BY place),
h AS (SELECT place, hour, count(*) AS arrivals FROM a2 GROUP BY ALL),
bk AS (
    SELECT place, CAST(split_part(start, ':', 1) AS INTEGER) AS hour, count(*) AS booked FROM bookings
    WHERE day = ? AND status IN ('booked', 'checked_in') GROUP BY ALL)
SELECT h.place, ? AS day, h.hour, CAST(h.hour AS VARCHAR) || '時台' AS hour_label,
       round(h.arrivals / w.weeks, 1) AS mean_arrivals, w.weeks, coalesce(bk.booked, 0) AS booked
FROM h JOIN w USING (place) LEFT JOIN bk USING (place, hour)
ORDER BY h.place, h.hour""", [past, target.isoformat(), target.isoformat()])


def queue_figures(ds: Dataset, day: dt.date | None = None) -> dict[str, Any]:
    """Every queue figure, each computed once (the report, the console page, the notebook): the tickets' waits
    are read once for both their tables."""
    waits = ticket_waits(ds)
    target = day or forecast_day(ds)
    return {"waits_hour": waits_by_hour(ds, waits), "waits_weekday": waits_by_weekday(ds, waits),
            "no_show": no_show_rate(ds), "capacity": capacity_use(ds), "forecast": busy_hours_forecast(ds, target),
            "forecast_day": target}
