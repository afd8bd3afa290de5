"""What a draft's text is worth: the same checks as ``madoguchi check``, in the context of the live library.

``check_source`` loads YAML or a notebook (``procedure_definitions.loader.load_source``), runs the
definition's scenarios and the time estimate, checks a life event's links against the live procedures, and
adds the version rule of published definitions: a published version is frozen (PD247) and a draft must be
newer than the live version (PD248). Pure: the caller passes what is published.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

import msgspec

from procedure_definitions.errors import Problem, problem
from procedure_definitions.library import Library, check_life_event_links
from procedure_definitions.loader import load_source
from procedure_definitions.model import LifeEvent, Procedure
from procedure_definitions.versions import InvalidVersion, latest, version_key

__all__ = ["CheckOutcome", "check_source", "is_notebook", "next_patch"]


class CheckOutcome(msgspec.Struct):
    definition: Procedure | LifeEvent | None  # None when the text has errors
    problems: list[Problem]
    estimate_seconds: int | None = None
    estimate_line: str | None = None
    scenarios: list[dict[str, Any]] = []  # [{name, ok, errors: [located lines]}]
    procedure_id: str | None = None  # what the text says, even when it has errors
    version: str | None = None
    kind: str | None = None

    @property
    def ok(self) -> bool:
        return self.definition is not None and not any(p.severity == "error" for p in self.problems)


def is_notebook(filename: str, source: str) -> bool:
    if filename.lower().endswith(".ipynb"):
        return True
    if filename.lower().endswith((".yaml", ".yml")):
        return False
    head = source.lstrip()[:200]
    return head.startswith("{") and '"cells"' in source[:100_000]


def next_patch(version: str) -> str:
    try:
        major, minor, patch = (int(x) for x in version.split("-", 1)[0].split("+", 1)[0].split("."))
    except ValueError:
        return "1.0.0"
    return f"{major}.{minor}.{patch + 1}"


def _what(kind: str) -> str:
    return "procedure" if kind == "procedure" else "life event"


def _identity(res: Any) -> tuple[str | None, str | None, str | None]:
    """The id, version and kind the text names, read from the located YAML even when the model failed."""
    loc = getattr(res, "located", None)
    value = getattr(loc, "data", None) if loc is not None else None
    if not isinstance(value, Mapping):
        return None, None, None
    pid, version, kind = value.get("id"), value.get("version"), value.get("kind", "procedure")
    return (pid if isinstance(pid, str) and pid else None, version if isinstance(version, str) else None,
            kind if kind in ("procedure", "life_event") else None)


def check_source(filename: str, source: str, *, live: Any, published: Set[tuple[str, str]]) -> CheckOutcome:
    """Check a draft's text. ``live`` is the live library (procedures and life events by id and version);
    ``published`` every (id, version) ever published, retired ones too."""
    res = load_source(source, filename, notebook=is_notebook(filename, source))
    problems = list(res.problems)
    d = res.definition
    pid, version, kind = _identity(res)
    if d is not None:
        pid, version = d.id, d.version
        kind = "procedure" if isinstance(d, Procedure) else "life_event"
    out = CheckOutcome(definition=None, problems=problems, procedure_id=pid, version=version, kind=kind)
    if d is None or not res.ok:
        return out
    line, col = res.located.pos(("version",)) if res.located else (1, 1)
    table = live.procedures if isinstance(d, Procedure) else live.life_events
    live_versions = table.get(d.id, {})
    try:
        live_latest = latest(live_versions) if live_versions else None
        if (d.id, d.version) in published:
            newest = max([v for (i, v) in published if i == d.id], key=version_key)
            problems.append(problem("PD247", filename, line, col, what=_what(kind or ""), id=d.id,
                                    version=d.version, suggest=next_patch(newest)))
        elif live_latest is not None and version_key(d.version) <= version_key(live_latest):
            problems.append(problem("PD248", filename, line, col, what=_what(kind or ""), id=d.id,
                                    version=d.version, live=live_latest, suggest=next_patch(live_latest)))
    except InvalidVersion:  # the loader reports a bad version itself
        pass
    if isinstance(d, Procedure):
        from procedure_definitions.scenarios import run_scenarios
        from procedure_definitions.timing import estimate, format_estimate

        failed = run_scenarios(d, res.located, filename)
        problems.extend(failed)
        out.scenarios = _scenario_results(d, failed)
        est = estimate(d)
        out.estimate_seconds = round(est.seconds)
        out.estimate_line = format_estimate(d, est)
        if est.over_budget:
            pl, pc = res.located.pos(("id",)) if res.located else (1, 1)
            problems.append(problem("PD401", filename, pl, pc, seconds=est.seconds))
    else:
        procs: dict[str, dict[str, Procedure]] = {k: dict(v) for k, v in live.procedures.items()}
        lib = Library(procedures=procs, life_events={d.id: {d.version: d}}, results=[res], problems=[])
        problems.extend(check_life_event_links(lib))
    problems.sort(key=lambda p: (p.line, p.col, p.code))
    if not any(p.severity == "error" for p in problems):
        out.definition = d
    return out


def _scenario_results(proc: Procedure, failed: list[Problem]) -> list[dict[str, Any]]:
    """Each scenario with whether it passed and the located lines of its failures."""
    out = []
    for sc in proc.scenarios:
        mine = [p.format() for p in failed if f"scenario '{sc.name}'" in p.message]
        out.append({"name": sc.name, "ok": not mine, "errors": mine})
    return out
