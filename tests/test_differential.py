"""Differential test: evaluate.py and pwa/js/expr.js on the same random expressions and answers.

Hypothesis draws ASTs (every operator and function, regular expressions from a grammar of pieces the two
engines might read differently), answers and item scopes; one node process runs each batch through
tests/conformance/expr_runner.mjs. Both must give the same value or the same error code. Seeded and
bounded (derandomize), so a failure reproduces; every disagreement it found is pinned in
tests/conformance/expressions.json. DIFF_EXAMPLES=n draws n cases (400 by default).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procedure_definitions.expressions import FUNCTIONS, EvalError, evaluate
from tests.jsonsame import same

RUNNER = Path(__file__).parent / "conformance" / "expr_runner.mjs"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

SAFE = 2**53 - 1
KEYS = ["a", "b", "s", "n", "l", "o"]
# Characters where UTF-16 and code points, normalization, classes or case might make the engines differ.
CHARS = [
    "a", "b", "A", "Z", "0", "9", "_", " ", "-", ".", "\n", "\r", "\t", "あ", "ア", "ｱ", "１", "葛", "𠮷", "😀",
    "é", "e\u0301", "\u3000", "\u00a0", "\u2028", "\u200b", "\ufeff", "\U000e0100", "[", "]", "\\", "'",
    "\x00", "\u212a", "ß", "İ",
]
PIECES = [
    "a", "b", ".", "\\d", "\\D", "\\w", "\\W", "\\s", "\\S", "\\b", "\\B", "[a-c]", "[^a]", "[\\s]", "[\\d-]",
    "[a-\\s]", "[\\w-z]", "[-a]", "(?:a|b)", "(a)", "(?=a)", "(?!b)", "^", "$", "|", "*", "+", "?", "{2}",
    "{1,3}", "{2,}", "{101}", "(", ")", "[", "]", "{", "}", "\\", "\\u3042", "\\x41", "[ぁ-ん]", "𠮷",
    "[😀-😂]", "\\.", "\\-", "\\/", "\\0", "\\1", "\\k", "(?<n>a)", "(?i)", "[\\b]", "\\n", "e\u0301", "é",
    "(?:a+)", "(?:a*)*", "(a|ab)+", "\\p{L}", "[^]", "\\cA",
]
NUMBERS = st.one_of(
    st.integers(-SAFE, SAFE),
    st.sampled_from([0, -0.0, 0.1, 0.2, 0.3, 2.5, -2.5, 1e21, 1e-7, 123e-20, 2**53 - 1, 5e-324, 1.7976931348623157e308]),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: abs(x) <= SAFE),
)
TEXT = st.lists(st.sampled_from(CHARS), max_size=5).map("".join)
DATES = st.sampled_from(["2000-02-29", "2024-01-31", "1989-01-08", "2019-05-01", "1990-04", "1990", "0001-01-01",
                         "9999-12-31", "2023-02-29", "x"])
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT, DATES)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)),
    max_leaves=6,
)
PATTERNS = st.lists(st.sampled_from(PIECES), max_size=5).map("".join)


def _lit(v: Any) -> dict[str, Any]:
    return {"lit": v}


def _ast(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    leaf = st.one_of(
        SCALARS.map(_lit),
        st.lists(st.sampled_from(KEYS), min_size=1, max_size=2).map(lambda p: {"ref": p}),
    )
    if depth == 0:
        return leaf
    sub = _ast(depth - 1)
    binary = st.builds(
        lambda op, a, b: {"op": op, "args": [a, b]},
        st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "+", "-", "*", "/", "%", "and", "or"]), sub, sub,
    )
    unary = st.builds(lambda op, a: {"op": op, "args": [a]}, st.sampled_from(["not", "neg"]), sub)
    lists = st.lists(sub, max_size=3).map(lambda xs: {"list": xs})
    matches = st.builds(lambda s, p: {"call": "matches", "args": [s, _lit(p)]}, sub, PATTERNS)

    @st.composite
    def calls(draw: st.DrawFn) -> dict[str, Any]:
        name = draw(st.sampled_from(sorted(FUNCTIONS)))
        lo, hi = FUNCTIONS[name]
        n = draw(st.integers(lo, hi if hi is not None else lo + 2))
        return {"call": name, "args": [draw(sub) for _ in range(n)]}

    return st.one_of(leaf, binary, unary, lists, matches, calls())


CASES = st.fixed_dictionaries(
    {
        "ast": _ast(3),
        "answers": st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=4),
        "item": st.one_of(st.none(), st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=2)),
        "today": st.just("2025-06-15"),
    }
)


def _python(case: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"value": evaluate(case["ast"], case["answers"], item=case["item"], today=case["today"])}
    except EvalError as e:
        return {"error": e.code}


def _node(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert NODE is not None
    text = json.dumps(cases, ensure_ascii=True)  # \u escapes: the bytes say exactly which code points
    done = subprocess.run([NODE, str(RUNNER)], input=text, capture_output=True, text=True, timeout=60, check=True)
    out: list[dict[str, Any]] = json.loads(done.stdout, parse_int=lambda t: int(t) if len(t) < 16 else float(t))
    return out


def _agree(py: dict[str, Any], js: dict[str, Any]) -> bool:
    if "error" in py or "error" in js:
        return py.get("error") == js.get("error")
    return same(py["value"], js["value"])


def test_python_and_javascript_agree() -> None:
    # Hypothesis draws the cases (seeded), one node process evaluates them all: a process per example
    # would cost more than the evaluations.
    cases: list[dict[str, Any]] = []

    @settings(
        max_examples=int(os.environ.get("DIFF_EXAMPLES", "400")),
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(CASES)
    def draw(case: dict[str, Any]) -> None:
        cases.append(case)

    draw()
    assert len(cases) >= 100
    js = _node(cases)
    disagreements = [
        (json.dumps(c, ensure_ascii=True), _python(c), r) for c, r in zip(cases, js, strict=True)
        if not _agree(_python(c), r)
    ]
    assert not disagreements, "\n".join(map(str, disagreements[:5]))


# --- whole forms: forms.py and form.js on random answers to the shared conformance procedures -------------

FORMS = json.loads((Path(__file__).parent / "conformance" / "forms.json").read_text(encoding="utf-8"))
FORM_RUNNER = Path(__file__).parent / "conformance" / "form_runner.mjs"


def _ids(fields: list[dict[str, Any]]) -> list[str]:
    return [f["id"] for f in fields]


def _field_value(field: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Mostly plausible answers for the field's type, sometimes anything."""
    kind = field.get("type", "text")
    plausible: dict[str, st.SearchStrategy[Any]] = {
        "number": NUMBERS | st.sampled_from([2**53, -(2**53), 1e300]),
        "yesno": st.booleans(),
        "choice": st.sampled_from([c["value"] for c in field.get("choices", [])] or ["x"]),
        "multichoice": st.lists(st.sampled_from([c["value"] for c in field.get("choices", [])] or ["x"]), max_size=3),
        "date": DATES,
        "wareki": DATES,
    }
    if kind == "group" and depth == 0:
        inner = field.get("fields", [])
        item = st.fixed_dictionaries({}, optional={f["id"]: _field_value(f, 1) for f in inner})
        return st.lists(item, max_size=3) | VALUES
    return plausible.get(kind, TEXT) | VALUES


@st.composite
def _form_case(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(sorted(FORMS["procedures"])))
    fields = [f for s in FORMS["procedures"][name]["sections"] for f in s.get("fields", [])]
    answers = draw(st.fixed_dictionaries({}, optional={f["id"]: _field_value(f) for f in fields}))
    if draw(st.booleans()) and draw(st.booleans()):
        answers["not_a_field"] = draw(VALUES)
    return {"procedure": name, "answers": answers, "today": "2025-06-15",
            "filer": draw(st.sampled_from(["resident", "staff"]))}


def test_forms_agree() -> None:
    from procedure_definitions.forms import evaluate_form

    cases: list[dict[str, Any]] = []

    @settings(max_examples=int(os.environ.get("DIFF_EXAMPLES", "400")), derandomize=True, deadline=None,
              database=None, suppress_health_check=list(HealthCheck))
    @given(_form_case())
    def draw(case: dict[str, Any]) -> None:
        cases.append(case)

    draw()
    assert NODE is not None
    text = json.dumps({"procedures": FORMS["procedures"], "cases": cases}, ensure_ascii=True)
    done = subprocess.run([NODE, str(FORM_RUNNER)], input=text, capture_output=True, text=True, timeout=120,
                          check=True)
    disagreements = []
    # JavaScript prints a double beyond 2**53 without a point ("2702159776422297000"): read it back as the
    # double it is, not as an exact Python int.
    results = json.loads(done.stdout, parse_int=lambda t: int(t) if len(t) < 16 else float(t))
    for case, js in zip(cases, results, strict=True):
        # Through JSON, as the phone would get them: an int beyond 2**53 reaches JavaScript rounded.
        py = msgspec.to_builtins(evaluate_form(FORMS["procedures"][case["procedure"]],
                                               json.loads(json.dumps(case["answers"])), today=case["today"],
                                               filer=case["filer"]))
        if not same(py, js):
            disagreements.append((json.dumps(case, ensure_ascii=True), py, js))
    assert not disagreements, "\n".join(map(str, disagreements[:3]))
