"""The published procedure catalog: the library loaded at start plus every version ever published.

A version is published the first time the server starts with it in the library and is stored forever in
``procedure_versions`` (its full definition as JSON), so a submission filled with a version that has
since left the library still validates against exactly that version (and is flagged ``retired_version``).
The adapters at the bottom isolate us from the library, forms and compile modules of other engineers.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path
from typing import Any, Protocol

import msgspec

from procedure_definitions.model import LifeEvent, Procedure

__all__ = [
    "Catalog",
    "LibraryLike",
    "PublishedVersion",
    "compile_procedure",
    "default_library_path",
    "load_library",
    "publish_library",
    "validate_answers",
]


class LibraryLike(Protocol):
    procedures: dict[str, dict[str, Procedure]]
    life_events: dict[str, dict[str, LifeEvent]]


class PublishedVersion(msgspec.Struct, frozen=True):
    id: str
    version: str
    kind: str
    title: str
    department: str | None
    published_at: str
    retired: bool


def default_library_path() -> Path:
    import procedure_definitions

    return Path(procedure_definitions.__file__).parent / "library"


class _FallbackLibrary:
    """Used only while ``procedure_definitions.library.load_library`` does not exist yet."""

    def __init__(self) -> None:
        self.procedures: dict[str, dict[str, Procedure]] = {}
        self.life_events: dict[str, dict[str, LifeEvent]] = {}
        self.problems: list[Any] = []


def load_library(path: str | Path | None) -> LibraryLike:
    root = Path(path) if path else default_library_path()
    try:
        from procedure_definitions.library import load_library as real_load
    except ImportError:
        real_load = None
    if real_load is not None:
        return real_load(root)  # type: ignore[no-any-return]
    from procedure_definitions.loader import load_file

    lib = _FallbackLibrary()
    for f in sorted(root.rglob("*.yaml")):
        res = load_file(f)
        lib.problems.extend(res.problems)
        d = res.definition
        if isinstance(d, Procedure) and res.ok:
            lib.procedures.setdefault(d.id, {})[d.version] = d
        elif isinstance(d, LifeEvent) and res.ok:
            lib.life_events.setdefault(d.id, {})[d.version] = d
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


def _version_key(v: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in v.replace("-", ".").split("."))


class Catalog:
    """Procedures by (id, version): the loaded library first, then stored (retired) versions."""

    def __init__(self, library: LibraryLike, db: Any) -> None:
        self.library = library
        self._db = db
        self._stored: dict[tuple[str, str], tuple[Procedure | None, bool]] = {}
        self._lock = threading.Lock()
        self._compiled: dict[tuple[str, str], bytes] = {}

    def current(self) -> list[Procedure]:
        out = []
        for versions in self.library.procedures.values():
            out.append(versions[max(versions, key=_version_key)])
        return sorted(out, key=lambda p: p.id)

    def published(self) -> list[PublishedVersion]:
        rows = self._db.read_sync(lambda c: c.execute(
            "SELECT procedure_id, version, kind, title, department, published_at, retired_at"
            " FROM procedure_versions ORDER BY procedure_id, version").fetchall())
        return [PublishedVersion(r[0], r[1], r[2], r[3], r[4], r[5], r[6] is not None) for r in rows]

    def departments(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for versions in self.library.procedures.values():
            for p in versions.values():
                out[p.department.id] = p.department.name.ja
        return out

    def get(self, pid: str, version: str) -> tuple[Procedure | None, bool]:
        """(procedure, retired). Unknown versions give (None, False)."""
        live = self.library.procedures.get(pid, {}).get(version)
        if live is not None:
            return live, False
        key = (pid, version)
        with self._lock:
            if key in self._stored:
                return self._stored[key]
        row = self._db.read_sync(lambda c: c.execute(
            "SELECT definition FROM procedure_versions WHERE procedure_id = ? AND version = ? AND kind = 'procedure'",
            (pid, version)).fetchone())
        found: tuple[Procedure | None, bool] = (
            (msgspec.json.decode(row[0], type=Procedure), True) if row else (None, False))
        with self._lock:
            self._stored[key] = found
        return found

    def compiled(self, pid: str, version: str) -> bytes | None:
        key = (pid, version)
        if key not in self._compiled:
            proc, _ = self.get(pid, version)
            if proc is None:
                return None
            self._compiled[key] = msgspec.json.encode(compile_procedure(proc))
        return self._compiled[key]


def validate_answers(proc: Procedure, answers: dict[str, Any]) -> list[dict[str, str]]:
    """Errors as ``[{path, code, message}]``, from the expressions engineer's ``forms`` module."""
    try:
        from procedure_definitions.forms import validate_answers as real_validate
    except ImportError:
        return _minimal_validate(proc, answers)
    out = []
    for e in real_validate(proc, answers):
        if isinstance(e, dict):
            out.append({"path": str(e.get("path", "")), "code": str(e.get("code", "")),
                        "message": str(e.get("message", ""))})
        else:
            out.append({"path": str(getattr(e, "path", "")), "code": str(getattr(e, "code", "")),
                        "message": str(getattr(e, "message", ""))})
    return out


def _minimal_validate(proc: Procedure, answers: dict[str, Any]) -> list[dict[str, str]]:
    # Stand-in until procedure_definitions.forms lands: unknown keys and unconditional required fields.
    from procedure_definitions.model import procedure_fields

    errors = []
    top = {f.id: f for s in proc.sections for f in s.fields}
    for key in answers:
        if key not in top:
            errors.append({"path": key, "code": "unknown_field", "message": "この項目はありません"})
    for s in proc.sections:
        if s.show_if:
            continue
        for f in s.fields:
            if f.required and not f.show_if and answers.get(f.id) in (None, "", [], {}):
                errors.append({"path": f.id, "code": "required", "message": "入力してください"})
    del procedure_fields
    return errors


def compile_procedure(proc: Procedure) -> Any:
    try:
        from procedure_definitions.compile import compile_procedure as real_compile
    except ImportError:
        return msgspec.to_builtins(proc)
    return real_compile(proc)
