"""The published procedure catalog: the library loaded at start plus every version ever published.

A version is published the first time the server starts with it in the library and is stored forever in
``procedure_versions`` (its full definition as JSON), so a submission filled with a version that has
since left the library still validates against exactly that version (and is flagged ``retired_version``).
Loading, compiling and validating are the real ``procedure_definitions`` functions; this module only adds
publication, the per-version caches and the shape of validation errors in API responses.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import msgspec

from procedure_definitions.compile import compile_life_event, compile_procedure
from procedure_definitions.forms import FieldError
from procedure_definitions.forms import validate_answers as _validate
from procedure_definitions.library import DEFAULT_LIBRARY, Library
from procedure_definitions.library import load_library as _load_library
from procedure_definitions.model import AttachmentField, LifeEvent, Procedure, procedure_fields
from procedure_definitions.versions import latest as latest_version
from server.definitions.live import is_live, now_utc

log = logging.getLogger("madoguchi.catalog")

__all__ = [
    "Catalog",
    "LibraryLike",
    "error_dict",
    "load_library",
    "publish_library",
    "validate_answers",
]


class LibraryLike(Protocol):
    procedures: dict[str, dict[str, Procedure]]
    life_events: dict[str, dict[str, LifeEvent]]

    def latest(self, id: str) -> Procedure | None: ...  # procedure_definitions.library.Library's

    def latest_event(self, id: str) -> LifeEvent | None: ...


def load_library(path: str | Path | None) -> Library:
    """The library to publish: ``path`` or the shipped one. Definitions with errors are left out (logged)."""
    lib = _load_library(Path(path) if path else DEFAULT_LIBRARY)
    errors = [p for p in lib.problems if getattr(p, "severity", "error") == "error"]
    for p in errors[:20]:
        log.error("library problem: %s", p.format())  # one located line, as `madoguchi check` prints it
    n_proc = sum(len(v) for v in lib.procedures.values())
    n_ev = sum(len(v) for v in lib.life_events.values())
    log.info("library loaded: %d procedure versions, %d life event versions, %d errors", n_proc, n_ev, len(errors))
    return lib


def publish_library(conn: sqlite3.Connection, library: LibraryLike) -> dict[str, int]:
    """Import the library folder's versions into ``procedure_versions`` (``server.definitions.live``)."""
    from server.definitions.live import import_library

    return import_library(conn, library)


_T = TypeVar("_T")


class Catalog:
    """Procedures by (id, version): the live library first, then stored (retired or not yet live) versions.

    ``library`` is swapped whole by ``reload`` (after a publish, retire or restore, and when a scheduled
    version goes live): readers take one reference and see one consistent library.
    """

    def __init__(self, library: LibraryLike, db: Any) -> None:
        self.library = library
        self._db = db
        self._reload_lock = threading.Lock()
        self._stored: dict[tuple[str, str], tuple[Procedure | None, bool]] = {}
        self._lock = threading.Lock()
        self._compiled: dict[tuple[str, str], bytes] = {}
        self._has_attachments: dict[tuple[str, str], bool] = {}
        self._derived: dict[Any, Any] = {}
        self._derived_from: Any = None

    def of_library(self, derive: Callable[[Mapping[str, Mapping[str, Procedure]]], _T]) -> _T:
        """``derive(library.procedures)`` made once per loaded library, not per request: what every console
        page shows from it (``server.console.readable.department_names``, ``procedure_titles``)."""
        lib = self.library
        if self._derived_from is not lib:  # another library loaded: what was derived from the old one goes
            self._derived, self._derived_from = {}, lib
        if derive not in self._derived:
            self._derived[derive] = derive(lib.procedures)
        out: _T = self._derived[derive]
        return out

    def reload_in(self, conn: sqlite3.Connection) -> Any:
        """Rebuild the live library from the table (``server.definitions.live.load_live``) with ``conn``
        (a reader or the writer's connection) and swap it in. Returns the new library."""
        from server.definitions.live import LiveLibrary, load_live

        with self._reload_lock:
            prev = self.library if isinstance(self.library, LiveLibrary) else None
            lib = load_live(conn, prev)
            self.library = lib
            with self._lock:
                self._stored.clear()  # a version retired or restored a moment ago is looked up again
        return lib

    async def reload(self) -> Any:
        return await self._db.read(self.reload_in)

    def due(self, now: str) -> bool:
        """Whether a scheduled change (a version going live, or closing) is due: then ``reload``."""
        nxt = getattr(self.library, "next_change", None)
        return bool(nxt and nxt <= now)

    def current(self) -> list[Procedure]:
        out = []
        for versions in self.library.procedures.values():
            out.append(versions[latest_version(versions)])
        return sorted(out, key=lambda p: p.id)

    async def get(self, pid: str, version: str) -> tuple[Procedure | None, bool]:
        """(procedure, retired). Unknown versions give (None, False). From memory but for the first look at a
        retired version (then the reader pool)."""
        live = self.library.procedures.get(pid, {}).get(version)
        if live is not None:
            return live, False
        key = (pid, version)
        with self._lock:
            if key in self._stored:
                return self._stored[key]
        row = await self._db.read(lambda c: c.execute(
            "SELECT definition, live_from FROM procedure_versions WHERE procedure_id = ? AND version = ?"
            " AND kind = 'procedure'", (pid, version)).fetchone())
        if row is not None and not is_live(None, row[1], now_utc()):
            # Scheduled, not live yet: nobody may file, fetch or count it before its time (not cached: the
            # reload when it goes live clears this cache anyway).
            return None, False
        found: tuple[Procedure | None, bool] = (
            (msgspec.json.decode(row[0], type=Procedure), True) if row else (None, False))
        with self._lock:
            self._stored[key] = found
        return found

    def has_attachments(self, proc: Procedure) -> bool:
        """Whether any field (groups included) is an attachment: only then can answers reference files."""
        key = (proc.id, proc.version)
        found = self._has_attachments.get(key)
        if found is None:
            found = self._has_attachments[key] = any(
                isinstance(f, AttachmentField) for f, _ in procedure_fields(proc))
        return found

    async def life_event(self, eid: str, version: str) -> LifeEvent | None:
        live = self.library.life_events.get(eid, {}).get(version)
        if live is not None:
            return live
        row = await self._db.read(lambda c: c.execute(
            "SELECT definition, live_from FROM procedure_versions WHERE procedure_id = ? AND version = ?"
            " AND kind = 'life_event'", (eid, version)).fetchone())
        if row is None or not is_live(None, row[1], now_utc()):
            return None
        return msgspec.json.decode(row[0], type=LifeEvent)

    async def compiled(self, pid: str, version: str) -> bytes | None:
        """The compiled JSON of a procedure or life event version (cached: published versions never change)."""
        key = (pid, version)
        data = self._compiled.get(key)
        if data is None:
            proc, _ = await self.get(pid, version)
            if proc is not None:
                data = msgspec.json.encode(compile_procedure(proc))
            else:
                ev = await self.life_event(pid, version)
                if ev is None:
                    return None
                data = msgspec.json.encode(compile_life_event(ev))
            self._compiled[key] = data
        return data


def error_dict(e: FieldError) -> dict[str, Any]:
    """A FieldError as it appears in a 422 problem: ``message`` is the localized dict ``{ja, en, ja-easy}``."""
    return {"path": e.path, "field_id": e.field_id, "code": e.code, "message": dict(e.message)}


def validate_answers(proc: Procedure, answers: dict[str, Any], *, today: str | None = None,
                     filer: str = "resident") -> list[dict[str, Any]]:
    """The procedure's own rules (``procedure_definitions.forms``), errors shaped for the API.

    Validation runs on the compiled procedure, which ``forms`` caches per (id, version): nothing is
    recompiled per request. ``filer`` ("resident" or "staff") decides who sees, owes and may give staff_only
    fields: a resident's answer to one is an error of code ``staff_only``.
    """
    return [error_dict(e) for e in _validate(proc, answers, today=today, filer=filer)]
