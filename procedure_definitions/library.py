"""A procedure library: every definition found under one or more paths, loaded and cross-checked."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from .bundles import (
    fill_problem,
    question_fill_problem,
    reasked_questions,
    repeated_questions,
    unmapped_person_numbers,
)
from .checker import field_tag
from .errors import Problem, did_you_mean, problem
from .loader import LoadResult, load_file
from .model import LifeEvent, Procedure, procedure_fields
from .versions import latest as latest_version

__all__ = ["DEFAULT_LIBRARY", "Library", "discover", "load_library"]

DEFAULT_LIBRARY = Path(__file__).resolve().parent / "library"
SUFFIXES = (".yaml", ".yml", ".ipynb")


class Library(msgspec.Struct):
    procedures: dict[str, dict[str, Procedure]] = {}  # id -> version -> Procedure
    life_events: dict[str, dict[str, LifeEvent]] = {}
    results: list[LoadResult] = []  # one per file, in path order
    problems: list[Problem] = []  # every problem, per file and cross-file

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def get(self, id: str, version: str) -> Procedure | None:
        return self.procedures.get(id, {}).get(version)

    def latest(self, id: str) -> Procedure | None:
        versions = self.procedures.get(id)
        return versions[latest_version(versions)] if versions else None

    def latest_event(self, id: str) -> LifeEvent | None:
        """The newest version of life event ``id`` (as :meth:`latest` for procedures), or None."""
        versions = self.life_events.get(id)
        return versions[latest_version(versions)] if versions else None

    def latest_procedures(self) -> list[Procedure]:
        return [p for pid in sorted(self.procedures) if (p := self.latest(pid)) is not None]


def discover(paths: Iterable[str | Path]) -> Iterator[Path]:
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                # Not only regular files: a pipe, device or symbolic link loop named like a definition is
                # reported by the loader (PD005) rather than skipped without a word.
                if f.suffix in SUFFIXES and not f.is_dir() and ".ipynb_checkpoints" not in f.parts:
                    yield f
        else:
            yield p


def load_library(path: str | Path | Iterable[str | Path] | None = None) -> Library:
    """Load every definition under ``path`` (default: the shipped library). Never raises for bad files."""
    if path is None:
        paths: list[str | Path] = [DEFAULT_LIBRARY]
    elif isinstance(path, str | Path):
        paths = [path]
    else:
        paths = list(path)
    lib = Library(procedures={}, life_events={}, results=[], problems=[])
    where: dict[tuple[str, str, str], str] = {}
    for f in discover(paths):
        if not os.path.lexists(f):  # a dangling link or link loop exists as a link: the loader says which
            lib.problems.append(problem("PD005", str(f), 1, 1, detail="no such file or folder"))
            continue
        res = load_file(f)
        lib.results.append(res)
        lib.problems.extend(res.problems)
        d = res.definition
        if d is None or not res.ok:
            continue
        kind = "procedure" if isinstance(d, Procedure) else "life event"
        key = (kind, d.id, d.version)
        if key in where:
            assert res.located is not None
            lib.problems.append(
                problem("PD209", res.path, *res.located.pos(("id",)), what=kind, id=d.id, version=d.version,
                        other=where[key])
            )
            continue
        where[key] = res.path
        table = lib.procedures if isinstance(d, Procedure) else lib.life_events
        table.setdefault(d.id, {})[d.version] = d
    lib.problems.extend(check_life_event_links(lib))
    return lib


def check_life_event_links(lib: Library) -> list[Problem]:
    """Life events must name existing procedures, map shared fields onto fields of the same type, map
    questions onto yesno fields their answer can fill, and ask nothing twice (bundles.py)."""
    out: list[Problem] = []
    for res in lib.results:
        ev = res.definition
        if not isinstance(ev, LifeEvent) or res.located is None or not res.ok:
            continue
        loc = res.located
        for i, p in enumerate(ev.procedures):
            if p.procedure not in lib.procedures:
                out.append(problem("PD210", res.path, *loc.pos(("procedures", i, "procedure")), id=p.procedure,
                                   hint=did_you_mean(p.procedure, lib.procedures)))
        for si, s in enumerate(ev.shared_fields):
            for proc_id, field_id in s.maps_to.items():
                pos = loc.pos(("shared_fields", si, "maps_to", proc_id))
                proc = lib.latest(proc_id)
                if proc is None:
                    out.append(problem("PD210", res.path, *pos, id=proc_id, hint=did_you_mean(proc_id, lib.procedures)))
                    continue
                fields = {f.id: f for f, group in procedure_fields(proc) if group is None}
                target = fields.get(field_id)
                if target is None:
                    out.append(problem("PD211", res.path, *pos, shared=s.field.id, field=field_id, procedure=proc_id,
                                       hint=did_you_mean(field_id, fields)))
                elif (bad := fill_problem(ev, proc, field_id, s)) is not None and bad[0] == "party":
                    out.append(problem("PD235", res.path, *pos, shared=s.field.id, procedure=proc_id, field=field_id))
                elif field_tag(target) != field_tag(s.field):
                    out.append(problem("PD212", res.path, *pos, shared=s.field.id, shared_type=field_tag(s.field),
                                       procedure=proc_id, field=field_id, field_type=field_tag(target)))
                elif bad is not None:
                    out.append(problem("PD236", res.path, *pos, shared=s.field.id, procedure=proc_id, field=field_id,
                                       reason=bad[1]))
        for qi, q in enumerate(ev.questions):
            for proc_id, field_id in q.maps_to.items():
                pos = loc.pos(("questions", qi, "maps_to", proc_id))
                proc = lib.latest(proc_id)
                if proc is None:
                    out.append(problem("PD210", res.path, *pos, id=proc_id, hint=did_you_mean(proc_id, lib.procedures)))
                elif (fill := question_fill_problem(ev, q, proc, field_id)) is not None:
                    code, args = fill
                    out.append(problem(code, res.path, pos[0], pos[1], **args))
        procs = {p.procedure: proc for p in ev.procedures if (proc := lib.latest(p.procedure)) is not None}
        for qi, proc_id, field_id in reasked_questions(ev, procs):
            out.append(problem("PD245", res.path, *loc.pos(("questions", qi, "id")), question=ev.questions[qi].id,
                               procedure=proc_id, field=field_id))
        for i, (name, first, first_field, second, second_field) in repeated_questions(ev, procs):
            out.append(problem("PD240", res.path, *loc.pos(("procedures", i, "procedure")), name=name, first=first,
                               first_field=first_field, second=second, second_field=second_field))
        for i, proc_id, group, item in unmapped_person_numbers(ev, procs):
            out.append(problem("PD241", res.path, *loc.pos(("procedures", i, "procedure")), procedure=proc_id,
                               group=group, item=item))
    return out
