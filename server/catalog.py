"""The published procedure catalog: the library loaded at start plus every version ever published.

A version is published the first time the server starts with it in the library and is stored forever in
``procedure_versions`` (its full definition as JSON), so a submission filled with a version that has
since left the library still validates against exactly that version (and is flagged ``retired_version``).
Loading, compiling and validating are the real ``procedure_definitions`` functions; this module only adds
publication, the per-version caches and the shape of validation errors in API responses.
"""

from __future__ import annotations

import datetime as dt
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


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def publish_library(conn: sqlite3.Connection, library: LibraryLike) -> dict[str, int]:
    """Record every library version as published; mark stored versions no longer shipped as retired.

    Call inside a write job. A version already stored keeps its first definition: published versions are
    immutable, so a changed file with the same version number does not rewrite history.
    """
    now = _now()
    present: set[tuple[str, str]] = set()
    published = 0
    tables: list[tuple[str, dict[str, dict[str, Any]]]] = [
        ("procedure", library.procedures),
        ("life_event", library.life_events),
    ]
    for kind, table in tables:
        for pid, versions in table.items():
            for version, d in versions.items():
                present.add((pid, version))
                dept = d.department.id if isinstance(d, Procedure) else None
                cur = conn.execute(
                    "INSERT INTO procedure_versions (procedure_id, version, kind, title, department, definition,"
                    " published_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (pid, version, kind, d.title.ja, dept, msgspec.json.encode(d).decode(), now),
                )
                published += cur.rowcount
    retired = 0
    restored = 0
    for pid, version, retired_at in conn.execute(
        "SELECT procedure_id, version, retired_at FROM procedure_versions"
    ).fetchall():
        if (pid, version) in present and retired_at is not None:
            conn.execute("UPDATE procedure_versions SET retired_at = NULL WHERE procedure_id = ? AND version = ?",
                         (pid, version))
            restored += 1
        elif (pid, version) not in present and retired_at is None:
            conn.execute("UPDATE procedure_versions SET retired_at = ? WHERE procedure_id = ? AND version = ?",
                         (now, pid, version))
            retired += 1
    return {"published": published, "retired": retired, "restored": restored}


_T = TypeVar("_T")


class Catalog:
    """Procedures by (id, version): the loaded library first, then stored (retired) versions."""

    def __init__(self, library: LibraryLike, db: Any) -> None:
        self.library = library
        self._db = db
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
            "SELECT definition FROM procedure_versions WHERE procedure_id = ? AND version = ? AND kind = 'procedure'",
            (pid, version)).fetchone())
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
            "SELECT definition FROM procedure_versions WHERE procedure_id = ? AND version = ? AND kind = 'life_event'",
            (eid, version)).fetchone())
        return msgspec.json.decode(row[0], type=LifeEvent) if row else None

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
