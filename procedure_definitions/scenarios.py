"""Run the example scenarios a procedure carries and report the ones whose expectations fail."""

from __future__ import annotations

import math
from typing import Any

from .errors import Problem, did_you_mean, problem
from .model import Procedure, procedure_fields
from .yamlpos import Located

__all__ = ["run_scenarios"]


def _same(a: Any, b: Any) -> bool:
    """Like the language's ``deep_equal``, but numbers compare with a tolerance: a configurator writes
    ``0.3`` for a calculation that yields ``0.1 + 0.2``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _matches(field_id: str, path: str) -> bool:
    """A field id names every path of that field: 'copies', or 'members[0].name' for 'name'."""
    return path == field_id or path.endswith("." + field_id) or path.startswith(field_id + "[")


def run_scenarios(proc: Procedure, loc: Located | None, file: str) -> list[Problem]:
    from .forms import evaluate_procedure

    out: list[Problem] = []
    top_ids = {f.id for f, group in procedure_fields(proc) if group is None}
    for i, sc in enumerate(proc.scenarios):
        line, col = loc.pos(("scenarios", i)) if loc else (1, 1)

        def fail(detail: str, sc_name: str = sc.name, line: int = line, col: int = col) -> None:
            out.append(problem("PD301", file, line, col, scenario=sc_name, detail=detail))

        unknown = [k for k in sc.answers if k not in top_ids]
        for k in unknown:
            kl, kc = loc.pos(("scenarios", i, "answers", k), key=True) if loc else (line, col)
            out.append(problem("PD302", file, kl, kc, scenario=sc.name, field=k, hint=did_you_mean(k, top_ids)))
        if unknown:
            continue
        try:
            state = evaluate_procedure(proc, sc.answers, today=sc.today, filer=sc.filer)
        except Exception as e:  # an evaluation error is a failed scenario, not a crash
            fail(f"evaluation error: {e}")
            continue
        exp = sc.expect
        error_paths = sorted({f"{e.path} ({e.code})" for e in state.errors})
        if exp.valid is not None and exp.valid != state.valid:
            detail = "expected valid, but got errors: " + ", ".join(error_paths) if exp.valid else (
                "expected errors, but the answers are valid")
            fail(detail)
        for fid in exp.errors or []:
            if not any(_matches(fid, e.path) or e.field_id == fid for e in state.errors):
                fail(f"expected an error on '{fid}'; errors: {', '.join(error_paths) or 'none'}")
        for fid in exp.shown or []:
            if not any(_matches(fid, p) for p in state.shown):
                fail(f"expected '{fid}' to be shown")
        for fid in exp.hidden or []:
            if any(_matches(fid, p) for p in state.shown):
                fail(f"expected '{fid}' to be hidden")
        for fid, want in (exp.values or {}).items():
            got = state.values.get(fid)
            if not _same(got, want):
                fail(f"expected {fid} = {want!r}, got {got!r}")
    return out
