"""The common path the time model estimates: the definition's first valid scenario.

A definition's first scenario that expects ``valid: true`` is its most common case (docs/procedure-format.md,
"Scenarios"). The estimate follows the branches that scenario opens: a ``show_if`` field, item field or
section is on the path when the form engine (:func:`.forms.evaluate_procedure`, the server's and the PWA's
rules) shows it for the scenario's answers, and a field is required when the engine says so for them
(``required``, a true ``required_if``, a postal code linked to a required address: the ※必須 markers). Without such a scenario every
condition counts as false (nothing conditional is shown or required).

Like the scripted resident of bench/bench_resident.py, the resident on the path leaves optional fields empty:
the scenario's answers to top-level fields that are optional on its path (and not prefilled or calculated)
are dropped before the path is taken, so a branch that only an optional answer opens is not followed.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import msgspec

from .compile import compile_procedure
from .expressions import EvalError, ExprSyntaxError, evaluate, parse, truthy
from .forms import evaluate_form
from .model import FieldBase, Procedure, Scenario, Section

__all__ = ["CommonPath", "common_path", "common_scenario"]

_INDEX = re.compile(r"\[\d+\]")


class CommonPath(msgspec.Struct, frozen=True):
    scenario: str  # its name, for the breakdown's reader
    shown: frozenset[str]  # answer paths the form shows: "field", "group[0].field"
    required_paths: frozenset[str]  # the shown paths required now
    values: dict[str, Any]  # the scenario's answers after calculations and hiding
    today: str | None

    def _seen(self, path: str) -> str | None:
        """``path`` as the scenario has it: an item the scenario lacks reads as its first item."""
        if path in self.shown:
            return path
        first = _INDEX.sub("[0]", path)
        return first if first in self.shown else None

    def hidden(self, field: FieldBase, path: str) -> bool:
        # An item field of a group the scenario left empty counts as hidden, like without a scenario.
        return bool(field.show_if) and self._seen(path) is None

    def required(self, field: FieldBase, path: str) -> bool:
        """Required on the path, as the form engine decides it (``FormState.required``, the ※必須 markers)."""
        if path in self.required_paths or _INDEX.sub("[0]", path) in self.required_paths:
            return True
        # An item the scenario does not have (the model adds a group's minimum): the field's own rule.
        return "[" in path and self._seen(path) is None and field.required

    def holds(self, expr: str) -> bool:
        """A top-level condition (a document's ``required_if``) on the path."""
        try:
            return truthy(evaluate(parse(expr), self.values, today=self.today))
        except (EvalError, ExprSyntaxError):
            return False

    def section_shown(self, section: Section) -> bool:
        return not section.show_if or any(f.id in self.shown for f in section.fields)



def common_scenario(proc: Procedure) -> Scenario | None:
    """The first scenario of a resident filing that expects ``valid: true`` (staff scenarios are the counter's)."""
    return next((s for s in proc.scenarios if s.expect.valid is True and s.filer == "resident"), None)


def common_path(proc: Procedure) -> CommonPath | None:
    """The path of ``proc``'s first valid resident scenario (None without one); memoized per definition."""
    return _common_path(msgspec.json.encode(proc))


@functools.lru_cache(maxsize=256)
def _common_path(encoded: bytes) -> CommonPath | None:
    # Keyed by the whole definition, not id and version: an edited definition (an author's draft, a test's
    # variant) keeps its id and version but not its path.
    proc = msgspec.json.decode(encoded, type=Procedure)
    scenario = common_scenario(proc)
    if scenario is None:
        return None
    compiled = compile_procedure(proc)
    answers = dict(scenario.answers)
    top = {f.id: f for s in proc.sections for f in s.fields}
    path = _path(compiled, scenario, answers)
    for _ in range(2):  # dropping an optional answer can hide or unrequire another: settle (twice suffices here)
        kept = {k: v for k, v in answers.items() if k not in top or _kept(top[k], path)}
        if kept == answers:
            break
        answers = kept
        path = _path(compiled, scenario, answers)
    return path


def _kept(field: FieldBase, path: CommonPath) -> bool:
    return bool(field.prefill or field.calculate or field.read_only) or path.required(field, field.id)


def _path(compiled: dict[str, Any], scenario: Scenario, answers: dict[str, Any]) -> CommonPath:
    state = evaluate_form(compiled, answers, today=scenario.today)
    return CommonPath(scenario=scenario.name, shown=frozenset(state.shown), required_paths=frozenset(state.required),
                      values=dict(state.values), today=scenario.today)
