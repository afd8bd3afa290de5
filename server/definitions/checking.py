"""What a draft's text is worth: the same checks as ``madoguchi check``, in the context of the live library.

``check_source`` loads YAML or a notebook (``procedure_definitions.loader.load_source``), runs the
definition's scenarios and the time estimate, checks a life event's links against the live procedures, and
adds the version rule of published definitions: a published version is frozen (PD247) and a draft must be
newer than the live version (PD248). Pure: the caller passes what is published.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from procedure_definitions.errors import Problem, problem
from procedure_definitions.library import Library, check_life_event_links
from procedure_definitions.loader import load_source
from procedure_definitions.model import LifeEvent, Procedure
from procedure_definitions.versions import InvalidVersion, version_key

__all__ = ["CheckOutcome", "check_source", "is_notebook", "next_patch", "version_problem"]


class CheckOutcome(msgspec.Struct):
    # The definition whenever the text loads (a draft whose scenarios fail or whose version is taken can still be
    # previewed and tried); ``ok`` says whether it may be published.
    definition: Procedure | LifeEvent | None
    problems: list[Problem]
    estimate_seconds: int | None = None
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


def version_problem(kind: str, pid: str, version: str, published: Mapping[tuple[str, str], bool]
                    ) -> tuple[str, dict[str, str]] | None:
    """The one version rule of published definitions, for a push and again at publishing: PD247 when the
    version is published already (frozen, retired ones too), PD248 when it is not newer than every version
    still offered or scheduled. ``published`` maps each stored (id, version) to whether it is retired."""
    what = _what(kind)
    mine = {v: retired for (i, v), retired in published.items() if i == pid}
    try:
        if version in mine:
            return "PD247", {"what": what, "id": pid, "version": version,
                             "suggest": next_patch(max(mine, key=version_key))}
        active = [v for v, retired in mine.items() if not retired]
        if active:
            newest = max(active, key=version_key)
            if version_key(version) <= version_key(newest):
                return "PD248", {"what": what, "id": pid, "version": version, "live": newest,
                                 "suggest": next_patch(newest)}
    except InvalidVersion:  # the loader reports a bad version itself
        return None
    return None


def _identity(res: Any) -> tuple[str | None, str | None, str | None]:
    """The id, version and kind the text names, read from the located YAML even when the model failed."""
    loc = getattr(res, "located", None)
    value = getattr(loc, "data", None) if loc is not None else None
    if not isinstance(value, Mapping):
        return None, None, None
    pid, version, kind = value.get("id"), value.get("version"), value.get("kind", "procedure")
    return (pid if isinstance(pid, str) and pid else None, version if isinstance(version, str) else None,
            kind if kind in ("procedure", "life_event") else None)


def check_source(filename: str, source: str, *, live: Any, published: Mapping[tuple[str, str], bool]
                 ) -> CheckOutcome:
    """Check a draft's text. ``live`` is the live library (a life event's procedures must be live);
    ``published`` every (id, version) ever published, to whether it is retired (``version_problem``)."""
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
    found = version_problem(kind or "procedure", d.id, d.version, published)
    if found is not None:
        code, kw = found
        problems.append(problem(code, filename, line, col, **kw))
    if isinstance(d, Procedure):
        from procedure_definitions.scenarios import run_scenarios
        from procedure_definitions.timing import estimate

        problems.extend(run_scenarios(d, res.located, filename))
        est = estimate(d)
        out.estimate_seconds = round(est.seconds)
        if est.over_budget:
            pl, pc = res.located.pos(("id",)) if res.located else (1, 1)
            problems.append(problem("PD401", filename, pl, pc, seconds=est.seconds))
    else:
        procs: dict[str, dict[str, Procedure]] = {k: dict(v) for k, v in live.procedures.items()}
        lib = Library(procedures=procs, life_events={d.id: {d.version: d}}, results=[res], problems=[])
        problems.extend(check_life_event_links(lib))
    problems.sort(key=lambda p: (p.line, p.col, p.code))
    out.definition = d
    return out
