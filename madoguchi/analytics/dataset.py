"""The analytics dataset: de-identified tables of ids, versions, timestamps and counts (docs/analytics.md).

Two sources give the same :class:`Dataset`: :func:`load_sqlite` opens the city's SQLite file read-only
(``file:PATH?mode=ro``: the report can never write to it), :func:`load_api` reads ``GET /api/analytics/dataset``
with an analytics token. Both go through :func:`read_tables`, which is also what the server's API and console page
call: the columns below are the whole of what analytics ever sees. No answers, names, account ids, session tokens,
who did a step or where: a visit is a number local to the dataset, a form session a row number.

``read_tables`` needs only ``sqlite3`` (the server calls it in its reader pool); pandas is imported when the
tables become DataFrames (:func:`to_dataset`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["OPTIONAL_TABLES", "REQUIRED_TABLES", "TABLE_COLUMNS", "Dataset", "DatasetError", "capacity_rows",
           "definition_fields", "load_api", "load_sqlite", "read_tables", "to_dataset"]

# Tables every Madoguchi database has (core v2); the others are read when present (an older database has no
# form_sessions, a fresh one no visits): their figures are then empty.
REQUIRED_TABLES: Final = ("procedure_versions", "submissions", "telemetry")

# name -> (columns, kinds). kind: 's' text, 't' UTC timestamp, 'f' real, 'i' integer, 'b' boolean.
TABLE_COLUMNS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "versions": (("procedure_id", "s"), ("version", "s"), ("kind", "s"), ("title", "s"), ("department", "s"),
                 ("department_name", "s"), ("published_at", "t"), ("retired_at", "t"), ("estimate_s", "f")),
    "submissions": (("procedure_id", "s"), ("procedure_version", "s"), ("received_at", "t"),
                    ("staff_filed", "b")),
    "telemetry": (("procedure_id", "s"), ("procedure_version", "s"), ("opened_at", "t"), ("acknowledged_at", "t"),
                  ("duration_s", "f"), ("fields_typed", "i"), ("fields_prefilled", "i")),
    # viewed: JSON list of field paths; errors: JSON object field path -> count (paths of the definition, never
    # what was typed: server/form_sessions).
    "form_sessions": (("session_no", "i"), ("procedure_id", "s"), ("procedure_version", "s"), ("channel", "s"),
                      ("started_at", "t"), ("ended_at", "t"), ("duration_s", "f"), ("outcome", "s"),
                      ("viewed", "s"), ("last_field", "s"), ("errors", "s")),
    "visit_events": (("visit_no", "i"), ("department", "s"), ("step", "s"), ("at", "t")),
    # Each version's field paths (ids joined by dots, as form_sessions names them) and Japanese labels, in the
    # order of the definition: figures show labels, not codes.
    "fields": (("procedure_id", "s"), ("version", "s"), ("path", "s"), ("label", "s"), ("position", "i")),
    # 持ち物 the counter saw, per visit and the department of the application's part (the 確認 step's fallback).
    "visit_documents": (("visit_no", "i"), ("department", "s"), ("seen_at", "t")),
    # The queue's and bookings' event log (待たない): tickets and bookings as numbers local to the dataset (like
    # visit_no), never their ids, codes, names or phones; ``booth``: the counter's name as called ("3").
    "queue_events": (("place", "s"), ("event", "s"), ("at", "t"), ("kind", "s"), ("booth", "s"), ("ticket_no", "i"),
                     ("booking_no", "i")),
    # Bookings made (holds that never became one left out): JST day and start, length in minutes, party size,
    # status, departments (JSON list of ids).
    "bookings": (("booking_no", "i"), ("place", "s"), ("day", "s"), ("start", "s"), ("minutes", "i"), ("party", "i"),
                 ("status", "s"), ("departments", "s")),
    # Each place's bookable capacity per ISO weekday (1 = 月 … 7 = 日) from the booking rules: opening hours (JST
    # HH:MM), booths, booths that take bookings.
    "capacity": (("place", "s"), ("weekday", "i"), ("open", "s"), ("close", "s"), ("booths", "i"),
                 ("booking_booths", "i")),
}
# Tables a dataset from an older server or file may lack: empty then.
OPTIONAL_TABLES: Final = ("queue_events", "bookings", "capacity")
# The twin of server.booking.config.WEEKDAYS (ISO order: index + 1 is the ISO weekday), spelled here so that
# madoguchi.analytics imports nothing of server.
_ISO_WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_QUERIES: Final[dict[str, str]] = {
    "submissions": "SELECT procedure_id, procedure_version, received_at, on_behalf_of IS NOT NULL FROM submissions",
    # Only telemetry stored with a filing: POST /api/telemetry is open to anyone, so its rows are no completions.
    "telemetry": "SELECT procedure_id, procedure_version, opened_at, acknowledged_at, duration_s, fields_typed,"
                 " fields_prefilled FROM telemetry WHERE source = 'filing'",
    "form_sessions": "SELECT id, procedure_id, procedure_version, channel, started_at, ended_at, duration_s, outcome,"
                     " viewed, last_field, errors FROM form_sessions",
    # Visits are numbered by the order they opened: the visit's UUID (and its resident) stay in the database.
    "visit_events": "SELECT n.no, e.department, e.step, e.at FROM visit_events e JOIN"
                    " (SELECT id, row_number() OVER (ORDER BY opened_at, id) AS no FROM visits) n ON n.id = e.visit_id"
                    " ORDER BY e.id",
    "visit_documents": "SELECT n.no, s.department, d.seen_at FROM visit_documents d"
                       " JOIN visit_submissions s ON s.submission_id = d.submission_id JOIN"
                       " (SELECT id, row_number() OVER (ORDER BY opened_at, id) AS no FROM visits) n ON n.id = d.visit_id",
    # Tickets numbered by their first event, bookings by when they were made: the same booking_no here and in
    # ``bookings``.
    "queue_events": "SELECT e.place, e.event, e.at, e.kind, e.booth, t.no, b.no FROM queue_events e"
                    " LEFT JOIN (SELECT ticket_id, row_number() OVER (ORDER BY min(id)) AS no FROM queue_events"
                    " WHERE ticket_id IS NOT NULL GROUP BY ticket_id) t ON t.ticket_id = e.ticket_id"
                    " LEFT JOIN (SELECT id, row_number() OVER (ORDER BY created_at, id) AS no FROM bookings) b"
                    " ON b.id = e.booking_id ORDER BY e.id",
    "bookings": "SELECT n.no, b.place, b.day, b.start, b.minutes, b.party, b.status, b.departments FROM bookings b"
                " JOIN (SELECT id, row_number() OVER (ORDER BY created_at, id) AS no FROM bookings) n ON n.id = b.id"
                " WHERE b.status NOT IN ('held', 'expired') ORDER BY n.no",
}
_OPTIONAL_SOURCES: Final = {"form_sessions": ("form_sessions",),
                            "visit_events": ("visits", "visit_events"),
                            "visit_documents": ("visits", "visit_submissions", "visit_documents"),
                            "queue_events": ("queue_events", "bookings"),
                            "bookings": ("bookings",)}


class DatasetError(Exception):
    """The source is missing, unreadable or not a Madoguchi database (one line, for the CLI)."""


@dataclass
class Dataset:
    """One DataFrame per table of :data:`TABLE_COLUMNS` (timestamps as naive UTC ``datetime64``)."""

    tables: dict[str, pd.DataFrame]
    source: str
    generated_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    _duck: Any = field(default=None, repr=False, compare=False)

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    def counts(self) -> dict[str, int]:
        return {name: len(df) for name, df in self.tables.items()}


def definition_fields(proc: Any) -> list[tuple[str, str]]:
    """``(path, Japanese label)`` of every field of a procedure, in order (paths as form_sessions names them:
    ``procedure_definitions.model.field_paths``)."""
    from procedure_definitions.model import field_paths

    return [(path, f.label.ja) for path, f in field_paths(proc)]


def _definition_facts(rows: list[tuple[Any, ...]]) -> tuple[dict[tuple[str, str], tuple[Any, ...]], list[list[Any]]]:
    """``madoguchi check``'s estimate of each stored procedure version (``procedure_definitions.timing``), its
    department's name, and its field paths with labels."""
    est: dict[tuple[str, str], tuple[Any, ...]] = {}
    fields: list[list[Any]] = []
    for pid, version, kind, published_at, definition in rows:
        # A published version is frozen: its facts are worked out once per process (keyed by when it was
        # published too, as two databases may hold different texts under one id and version).
        key = (pid, version, published_at)
        known = _FACTS.get(key)
        if known is None:
            known = _FACTS[key] = _facts_of(kind, definition)
            if len(_FACTS) > 2048:
                _FACTS.clear()
        est[(pid, version)] = known[0]
        fields.extend([pid, version, path, label, i] for i, (path, label) in enumerate(known[1]))
    return est, fields


_FACTS: dict[tuple[str, str, str], tuple[tuple[Any, ...], list[tuple[str, str]]]] = {}


def _facts_of(kind: str, definition: Any) -> tuple[tuple[Any, ...], list[tuple[str, str]]]:
    """((department name, estimate seconds), field paths with labels) of one stored version."""
    import msgspec

    from procedure_definitions.model import Procedure
    from procedure_definitions.timing import estimate

    seconds: float | None = None
    department: str | None = None
    paths: list[tuple[str, str]] = []
    if kind == "procedure":
        try:
            proc = msgspec.json.decode(definition, type=Procedure)
            department = proc.department.name.ja
            seconds = round(estimate(proc).seconds, 1)
            paths = definition_fields(proc)
        except (msgspec.DecodeError, ValueError, TypeError, KeyError):
            seconds = None  # a definition this code cannot read any more: no estimate, the rest still counts
    return (department, seconds), paths


def _tables_present(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def capacity_rows(config: Mapping[str, Any] | None) -> list[list[Any]]:
    """The ``capacity`` table of booking rules (``BookingConfig`` as plain JSON values): one row per place and
    weekday it opens."""
    rows: list[list[Any]] = []
    for place in (config or {}).get("places") or []:
        hours = place.get("hours") or {}
        for n, key in enumerate(_ISO_WEEKDAYS, start=1):
            span = hours.get(key)
            if isinstance(span, list) and len(span) == 2:
                rows.append([place.get("id"), n, span[0], span[1], len(place.get("booths") or []),
                             place.get("booking_booths")])
    return rows


def _stored_booking_config(conn: sqlite3.Connection, present: set[str]) -> Mapping[str, Any] | None:
    if "booking_config" not in present:
        return None
    row = conn.execute("SELECT config FROM booking_config WHERE id = 1").fetchone()
    try:
        return json.loads(row[0]) if row else None
    except ValueError:
        return None


def read_tables(conn: sqlite3.Connection, *, booking_config: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The de-identified tables as ``{name: {"columns": [...], "rows": [[...], ...]}}`` (JSON-ready: timestamps
    are the stored UTC ISO 8601 strings). Raises :class:`DatasetError` when a required table is missing.
    ``booking_config``: the booking rules in force as plain values (the server passes them, its built-in default
    included); else the rules stored by ``madoguchi booking set``; else no capacity rows."""
    present = _tables_present(conn)
    missing = [t for t in REQUIRED_TABLES if t not in present]
    if missing:
        raise DatasetError(f"not a Madoguchi database (no {', '.join(missing)} table)")
    out: dict[str, dict[str, Any]] = {}
    stored = conn.execute("SELECT procedure_id, version, kind, title, department, published_at, retired_at,"
                          " definition FROM procedure_versions ORDER BY procedure_id, published_at").fetchall()
    est, fields = _definition_facts([(r[0], r[1], r[2], r[5], r[7]) for r in stored])
    versions = [r[:7] for r in stored]
    rows: list[list[Any]] = []
    for r in versions:
        name, seconds = est.get((r[0], r[1]), (None, None))
        rows.append([*r[:5], name, *r[5:], seconds])
    out["versions"] = {"columns": [c for c, _ in TABLE_COLUMNS["versions"]], "rows": rows}
    out["fields"] = {"columns": [c for c, _ in TABLE_COLUMNS["fields"]], "rows": fields}
    for name, sql in _QUERIES.items():
        needs = _OPTIONAL_SOURCES.get(name, ())
        if name == "telemetry" and "source" not in {r[1] for r in conn.execute("PRAGMA table_info(telemetry)")}:
            sql = sql.split(" WHERE ")[0]  # a file from before telemetry had a source: every row is a filing's
        rows = [list(r) for r in conn.execute(sql)] if all(t in present for t in needs) else []
        if name == "submissions":
            rows = [[*r[:3], bool(r[3])] for r in rows]
        out[name] = {"columns": [c for c, _ in TABLE_COLUMNS[name]], "rows": rows}
    config = booking_config if booking_config is not None else _stored_booking_config(conn, present)
    out["capacity"] = {"columns": [c for c, _ in TABLE_COLUMNS["capacity"]], "rows": capacity_rows(config)}
    return out


def _frame(name: str, table: Mapping[str, Any]) -> pd.DataFrame:
    import pandas as pd

    spec = TABLE_COLUMNS[name]
    columns = [c for c, _ in spec]
    if list(table.get("columns", [])) != columns:
        raise DatasetError(f"table {name}: columns {table.get('columns')} are not {columns}")
    df = pd.DataFrame(table.get("rows", []), columns=columns)
    for col, kind in spec:
        if kind == "t":
            # Stored as UTC ISO 8601 (with or without an offset, 'Z' or fractions): naive UTC for DuckDB; JST is
            # UTC+9 all year (no daylight saving), so figures add 9 hours.
            df[col] = pd.to_datetime(df[col], utc=True, format="ISO8601", errors="coerce").dt.tz_convert(None)
        elif kind == "f":
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        elif kind == "i":
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
        elif kind == "b":
            df[col] = df[col].astype("boolean")
        else:
            df[col] = df[col].astype("object")
    return df


def to_dataset(tables: Mapping[str, Mapping[str, Any]], source: str) -> Dataset:
    """DataFrames from :func:`read_tables`' shape (also the API's ``tables``)."""
    missing = [n for n in TABLE_COLUMNS if n not in tables and n not in OPTIONAL_TABLES]
    if missing:
        raise DatasetError(f"the dataset has no {', '.join(missing)} table")
    def table(name: str) -> Mapping[str, Any]:
        return tables.get(name) or {"columns": [c for c, _ in TABLE_COLUMNS[name]], "rows": []}

    return Dataset({name: _frame(name, table(name)) for name in TABLE_COLUMNS}, source)


def load_sqlite(path: str | Path) -> Dataset:
    """The dataset of a Madoguchi SQLite file, opened read-only (``file:PATH?mode=ro``)."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"{p}: no such database file")
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise DatasetError(f"{p}: cannot open ({e})") from None
    try:
        return to_dataset(read_tables(conn), str(p))
    except DatasetError as e:
        raise DatasetError(f"{p}: {e}") from None
    except sqlite3.DatabaseError as e:  # "file is not a database", a broken file
        raise DatasetError(f"{p}: not a Madoguchi database ({e})") from None
    finally:
        conn.close()


def load_api(server: str, token: str, *, timeout: float = 60.0) -> Dataset:
    """The dataset from ``GET {server}/api/analytics/dataset`` with a bearer token of scope ``analytics``."""
    url = server.rstrip("/") + "/api/analytics/dataset"
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as e:
        detail = ""
        with contextlib.suppress(ValueError, AttributeError):  # a problem+json body names the reason
            detail = json.loads(e.read()).get("detail", "")
        raise DatasetError(f"{url}: HTTP {e.code} {detail}".rstrip()) from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise DatasetError(f"{url}: {e}") from None
    if not isinstance(body, dict) or not isinstance(body.get("tables"), dict):
        raise DatasetError(f"{url}: not an analytics dataset")
    return to_dataset(body["tables"], url)
