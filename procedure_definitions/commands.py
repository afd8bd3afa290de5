"""CLI handlers for the procedure language: check, list, schema, export-notebook.

Each takes the argparse Namespace and returns the exit code; output goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys

from .errors import Problem, problem
from .library import DEFAULT_LIBRARY, Library, load_library
from .model import Procedure
from .versions import sort_versions

__all__ = ["check", "check_library", "export_notebook", "life_event_lines", "list_definitions", "schema"]


def check_library(lib: Library, *, scenarios: bool = True, estimates: bool = True) -> tuple[list[Problem], list[str]]:
    """All problems of a loaded library plus scenario failures and time warnings; and estimate lines.

    The lines are the procedures' (``ID VERSION: N s (...)``, a contract); life events are in
    :func:`life_event_lines`, printed as a separate block.
    """
    problems = list(lib.problems)
    lines: list[str] = []
    for res in lib.results:
        d = res.definition
        if not isinstance(d, Procedure) or not res.ok:
            continue
        if scenarios and d.scenarios:
            from .scenarios import run_scenarios

            problems.extend(run_scenarios(d, res.located, res.path))
        if estimates:
            from .timing import estimate, format_estimate

            est = estimate(d)
            lines.append(format_estimate(d, est))
            if est.over_budget:
                line, col = res.located.pos(("id",)) if res.located else (1, 1)
                problems.append(problem("PD401", res.path, line, col, seconds=est.seconds))
    return problems, lines


def life_event_lines(lib: Library) -> list[str]:
    """One estimate line per life event (latest version): household of two, questions answered no / all yes."""
    from .timing_events import estimate_life_event, every_yes, format_life_event
    from .versions import latest

    procedures = {p.id: p for p in lib.latest_procedures()}
    lines = []
    for eid in sorted(lib.life_events):
        versions = lib.life_events[eid]
        event = versions[latest(versions)]
        common = estimate_life_event(event, procedures)
        every = estimate_life_event(event, procedures, every_yes(event))
        lines.extend(format_life_event(event, common, every))
    return lines


def check(ns: argparse.Namespace) -> int:
    lib = load_library(ns.paths or None)
    problems, estimates = check_library(lib, scenarios=not ns.no_scenarios, estimates=not ns.quiet)
    problems.sort(key=lambda p: (p.path, p.line, p.col, p.code))
    out = sys.stdout
    for p in problems:
        out.write(p.format() + "\n")
    if estimates:
        out.write("\nEstimated completion time (signed-in resident, prefilled profile, phone):\n")
        for line in estimates:
            out.write(f"  {line}\n")
        if lib.life_events:
            out.write("\nEstimated life events (same resident, household of two; questions answered no, "
                      "then every procedure):\n")
            for line in life_event_lines(lib):
                out.write(f"  {line}\n")
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    n = len(lib.results)
    out.write(f"\n{n} file{'s' if n != 1 else ''} checked: {errors} error{'s' if errors != 1 else ''}, "
              f"{warnings} warning{'s' if warnings != 1 else ''}\n")
    return 1 if errors or n == 0 else 0


def list_definitions(ns: argparse.Namespace) -> int:
    lib = load_library(ns.path or DEFAULT_LIBRARY)
    rows = []
    for kind, table in (("procedure", lib.procedures), ("life_event", lib.life_events)):
        for did in sorted(table):
            for version in sort_versions(table[did]):
                d = table[did][version]
                rows.append({"id": did, "version": version, "kind": kind, "title": d.title.ja})
    if ns.json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
    else:
        for r in rows:
            sys.stdout.write(f"{r['kind']:<10} {r['id']:<24} {r['version']:<8} {r['title']}\n")
    for p in lib.problems:
        if p.severity == "error":
            sys.stderr.write(p.format() + "\n")
    return 0 if lib.ok else 1


def schema(ns: argparse.Namespace) -> int:
    from .schema import json_schema

    sys.stdout.write(json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n")
    return 0


def export_notebook(ns: argparse.Namespace) -> int:
    from .loader import load_file
    from .notebook import notebook_to_yaml

    res = load_file(ns.notebook)
    errors = [p for p in res.problems if p.severity == "error"]
    if errors:
        for p in errors:
            sys.stdout.write(p.format() + "\n")
        return 1
    sys.stdout.write(notebook_to_yaml(ns.notebook))
    return 0
