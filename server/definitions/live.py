"""The live library: what the server offers now, read from ``procedure_versions``.

Live = published, not retired, and its ``live_from`` (if any) is past. The shipped library is imported into
the table once per version (``import_library``); from then on the table is the truth, so a version published
or retired in the console survives a restart. ``LiveLibrary`` has the attributes of
``procedure_definitions.library.Library`` that the server and the build read.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Mapping
from typing import Any

import msgspec

from procedure_definitions.library import Library
from procedure_definitions.model import LifeEvent, Procedure

__all__ = ["LiveLibrary", "Schedule", "import_library", "is_live", "load_live", "now_utc"]


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Schedule(msgspec.Struct, frozen=True):
    """When a live version closes to new applications, and what the app says then."""

    closes_at: str | None = None
    close_message: dict[str, str] | None = None


class LiveLibrary(Library):
    """A ``procedure_definitions.library.Library`` (its lookups: ``get``, ``latest``, ``latest_event``, ``latest_procedures``) of
    the live versions, with their schedules."""

    schedules: dict[tuple[str, str], Schedule] = msgspec.field(default_factory=dict)
    next_change: str | None = None  # the earliest future live_from or closes_at: reload then


def is_live(retired_at: str | None, live_from: str | None, now: str) -> bool:
    """The one rule of what residents get: published, not retired, and its ``live_from`` (if any) past."""
    return retired_at is None and not (live_from and live_from > now)


def import_library(conn: sqlite3.Connection, library: Any) -> dict[str, int]:
    """Import the shipped (or ``--library``) folder's versions; call inside a write job.

    Each version is inserted once (origin 'library'): a stored version keeps its first definition, since
    published versions are frozen. A library version no longer in the folder is retired by 'library' (an
    upgrade that drops it); it comes back if the folder has it again. A version retired by a person in the
    console stays retired: the folder never overrides a decision taken in the console.
    """
    now = now_utc()
    present: set[tuple[str, str]] = set()
    imported = 0
    tables: list[tuple[str, Mapping[str, Mapping[str, Any]]]] = [
        ("procedure", getattr(library, "procedures", {}) or {}),
        ("life_event", getattr(library, "life_events", {}) or {}),
    ]
    for kind, table in tables:
        for pid, versions in table.items():
            for version, d in versions.items():
                present.add((pid, version))
                dept = d.department.id if isinstance(d, Procedure) else None
                cur = conn.execute(
                    "INSERT INTO procedure_versions (procedure_id, version, kind, title, department, definition,"
                    " published_at, origin) VALUES (?, ?, ?, ?, ?, ?, ?, 'library') ON CONFLICT DO NOTHING",
                    (pid, version, kind, d.title.ja, dept, msgspec.json.encode(d).decode(), now),
                )
                imported += cur.rowcount
    retired = restored = 0
    for pid, version, retired_at, retired_by in conn.execute(
        "SELECT procedure_id, version, retired_at, retired_by FROM procedure_versions WHERE origin = 'library'"
    ).fetchall():
        by_library = retired_by in (None, "library")
        if (pid, version) in present and retired_at is not None and by_library:
            conn.execute("UPDATE procedure_versions SET retired_at = NULL, retired_by = NULL"
                         " WHERE procedure_id = ? AND version = ?", (pid, version))
            restored += 1
        elif (pid, version) not in present and retired_at is None:
            conn.execute("UPDATE procedure_versions SET retired_at = ?, retired_by = 'library'"
                         " WHERE procedure_id = ? AND version = ?", (now, pid, version))
            retired += 1
    return {"published": imported, "retired": retired, "restored": restored}


def load_live(conn: sqlite3.Connection, previous: LiveLibrary | None = None, *, now: str | None = None
              ) -> LiveLibrary:
    """The live library from the table. Versions ``previous`` already holds are reused as they are (a
    published version never changes), so the form engine's per-version caches stay warm."""
    now = now or now_utc()
    lib = LiveLibrary(procedures={}, life_events={}, results=[], problems=[], schedules={})
    upcoming: list[str] = []
    rows = conn.execute(
        "SELECT procedure_id, version, kind, definition, live_from, closes_at, close_message"
        " FROM procedure_versions WHERE retired_at IS NULL").fetchall()
    for pid, version, kind, definition, live_from, closes_at, close_message in rows:
        if not is_live(None, live_from, now):  # retired rows are not read at all
            upcoming.append(live_from)
            continue
        if closes_at and closes_at > now:
            upcoming.append(closes_at)
        if kind == "procedure":
            old_p = previous.procedures.get(pid, {}).get(version) if previous else None
            lib.procedures.setdefault(pid, {})[version] = old_p or msgspec.json.decode(definition, type=Procedure)
        else:
            old_e = previous.life_events.get(pid, {}).get(version) if previous else None
            lib.life_events.setdefault(pid, {})[version] = old_e or msgspec.json.decode(definition, type=LifeEvent)
        if closes_at or close_message:
            message = msgspec.json.decode(close_message) if close_message else None
            lib.schedules[(pid, version)] = Schedule(closes_at=closes_at, close_message=message)
    lib.next_change = min(upcoming) if upcoming else None
    return lib
