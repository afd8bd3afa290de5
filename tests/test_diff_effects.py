"""The diff's effects tell the truth: each breaking change's claim checked against the real PWA code.

A draft that is valid on the shipped 児童手当 (its first scenario, plus an older sibling) is moved to an edited
version by ``pwa/js/migrate.js`` ``migrateAnswers`` (what the app does when a draft is opened, formview.js)
and checked by ``pwa/js/form.js`` ``evaluateForm``, in node; what happened (answers kept aside, fields the
update notice asks for, errors) must be what ``diff_definitions`` says in its ``effect``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from procedure_definitions.compile import compile_procedure
from procedure_definitions.diff import Change, diff_definitions
from procedure_definitions.loader import load_text
from procedure_definitions.model import Procedure

ROOT = Path(__file__).resolve().parents[1]
JIDO = (ROOT / "procedure_definitions" / "library" / "procedures" / "jido-teate.yaml").read_text(encoding="utf-8")
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

RUNNER = f"""
import {{ migrateAnswers }} from '{(ROOT / "pwa/js/migrate.js").as_uri()}';
import {{ evaluateForm }} from '{(ROOT / "pwa/js/form.js").as_uri()}';
let input = '';
for await (const chunk of process.stdin) input += chunk;
const out = JSON.parse(input).map(({{ from, to, answers, today }}) => {{
  const before = evaluateForm(from, answers, {{ today }});
  const m = migrateAnswers({{ from, to, answers, retired: {{}} }});
  const after = evaluateForm(to, m.answers, {{ today }});
  return {{ validBefore: before.valid, ask: m.ask, retired: Object.keys(m.retired),
           errors: after.errors.map((e) => [e.path, e.code]) }};
}});
process.stdout.write(JSON.stringify(out));
"""

OCCUPATION = """      - id: claimant_occupation
        type: text
        max_length: 100
"""
OCCUPATION_FULL = OCCUPATION + "        label: {ja: 職業・勤務先, en: Occupation and employer, ja-easy: 仕事と 仕事の 場所}\n"
SIBLING_DATE = """          - id: sibling_birth_date
            type: wareki
            required: true
            label: {ja: 生年月日, en: Date of birth, ja-easy: 生まれた 日}
"""
KOSEI = "          - {value: kosei, label: {ja: 厚生年金, en: Employees' Pension Insurance, ja-easy: こうせいねんきん（会社）}}\n"


def load(text: str) -> Procedure:
    res = load_text(text, "jido-teate.yaml")
    assert isinstance(res.definition, Procedure), [p.format() for p in res.problems]
    return res.definition


def edit(old: str, new: str) -> Procedure:
    assert JIDO.count(old) == 1, old
    return load(JIDO.replace(old, new))


OLD = load(JIDO)
SCENARIO = OLD.scenarios[0]
DRAFT: dict[str, Any] = {**SCENARIO.answers, "older_siblings": [
    {"sibling_name": {"family": "山田", "given": "蓮"}, "sibling_birth_date": "2006-06-01"}]}

# name -> (edited version, the draft's answers, the one breaking change expected, what the PWA must do)
CASES: dict[str, tuple[Procedure, dict[str, Any], str, dict[str, Any]]] = {
    "field_removed": (edit(OCCUPATION_FULL, ""), DRAFT, "field_removed",
                      {"retired": ["claimant_occupation"], "ask": [], "errors": []}),
    "field_added_required": (
        edit(OCCUPATION_FULL, OCCUPATION_FULL + "      - id: workplace_phone\n        type: phone\n"
             "        required: true\n        label: {ja: 勤務先の電話番号}\n"),
        DRAFT, "field_added", {"retired": [], "ask": ["workplace_phone"], "errors": [["workplace_phone", "required"]]}),
    "field_removed_in_group": (edit(SIBLING_DATE, ""), DRAFT, "field_removed",
                               {"retired": [], "ask": [], "errors": [["older_siblings[0].sibling_birth_date", "unknown_field"]]}),
    "field_added_in_group": (
        edit(SIBLING_DATE, SIBLING_DATE + "          - id: sibling_school\n            type: text\n"
             "            required: true\n            label: {ja: 学校名}\n"),
        DRAFT, "field_added", {"retired": [], "ask": [], "errors": [["older_siblings[0].sibling_school", "required"]]}),
    "choice_removed": (edit(KOSEI, ""), DRAFT, "choice_removed",
                       {"retired": [], "ask": [], "errors": [["pension_type", "choice"]]}),
    "type_changed": (edit(OCCUPATION, OCCUPATION.replace("type: text\n        max_length: 100", "type: number")), DRAFT,
                     "type_changed", {"retired": [], "ask": [], "errors": [["claimant_occupation", "type"]]}),
    "rule_tightened_bound": (edit(OCCUPATION, OCCUPATION.replace("max_length: 100", "max_length: 2")), DRAFT,
                             "rule_tightened", {"retired": [], "ask": [], "errors": [["claimant_occupation", "max_length"]]}),
    "rule_tightened_required": (
        edit(OCCUPATION, OCCUPATION.replace("type: text\n", "type: text\n        required: true\n")),
        {k: v for k, v in DRAFT.items() if k != "claimant_occupation"}, "rule_tightened",
        {"retired": [], "ask": ["claimant_occupation"], "errors": [["claimant_occupation", "required"]]}),
}


@pytest.fixture(scope="module")
def pwa() -> dict[str, dict[str, Any]]:
    batch = [{"from": compile_procedure(OLD), "to": compile_procedure(new), "answers": answers, "today": SCENARIO.today}
             for new, answers, _, _ in CASES.values()]
    assert NODE is not None
    run = subprocess.run([NODE, "--input-type=module", "-e", RUNNER], input=json.dumps(batch), capture_output=True,
                         text=True, timeout=60, check=True)
    return dict(zip(CASES, json.loads(run.stdout), strict=True))


def breaking(new: Procedure, kind: str) -> Change:
    found = [c for c in diff_definitions(OLD, new).changes if c.breaking]
    assert [c.kind for c in found] == [kind], [(c.kind, c.path) for c in found]
    return found[0]


@pytest.mark.parametrize("name", list(CASES))
def test_what_the_pwa_does_is_what_the_effect_says(name: str, pwa: dict[str, dict[str, Any]]) -> None:
    new, _answers, kind, expected = CASES[name]
    got = pwa[name]
    assert got["validBefore"] is True  # the draft was complete on the live version
    assert {k: got[k] for k in expected} == expected
    effect = breaking(new, kind).effect.en
    if got["retired"]:
        assert "kept aside on the phone" in effect and "no longer sent" in effect
    if got["ask"]:
        assert "update notice names it" in effect
    else:
        assert "update notice names it" not in effect and "asked" not in effect.split(";")[0].lower()
    codes = {code for _, code in got["errors"]}
    if "unknown_field" in codes:
        assert "unknown_field" in effect
    if got["errors"]:
        assert "refuse" in effect  # a complete draft is now refused until corrected
    assert effect.endswith("Stored submissions are unchanged (they keep the version they were filed with).")
