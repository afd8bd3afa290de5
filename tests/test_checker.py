"""Every error code of the catalogue, reported with the right position, all at once, never a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procedure_definitions.errors import CATALOGUE
from procedure_definitions.library import load_library
from procedure_definitions.loader import load_text
from procedure_definitions.model import Procedure

BASE = """\
kind: procedure
id: sample
version: 1.0.0
title: {ja: 見本, en: Sample, ja-easy: みほん}
department: {id: shimin, name: 市民課}
sections:
  - id: main
    title: 本文
    fields:
      - id: copies
        type: number
        label: 通数
        min: 1
        max: 10
      - id: relation
        type: choice
        label: 関係
        choices:
          - {value: self, label: 本人}
          - {value: proxy, label: 代理人}
      - id: proxy_name
        type: name
        label: 代理人の氏名
        show_if: relation = 'proxy'
      - id: total
        type: number
        label: 手数料
        calculate: copies * 300
"""


def codes(text: str) -> list[str]:
    return [p.code for p in load_text(text, "x.yaml").problems]


def test_base_is_valid() -> None:
    res = load_text(BASE, "x.yaml")
    assert res.problems == []
    assert isinstance(res.definition, Procedure)
    assert res.definition.title.en == "Sample"
    # string shorthand became {ja: ...}
    assert res.definition.sections[0].title.ja == "本文"


def test_yaml_syntax_error_has_position() -> None:
    res = load_text("kind: procedure\nid: [a, b\nversion: 1\n", "bad.yaml")
    (p,) = res.problems
    assert p.code == "PD001" and p.path == "bad.yaml" and p.line >= 2
    assert p.format().startswith("bad.yaml:")


def test_duplicate_key() -> None:
    res = load_text(BASE + "id: again\n", "x.yaml")
    dup = [p for p in res.problems if p.code == "PD002"]
    assert dup and dup[0].line == BASE.count("\n") + 1 and "first is at line 2" in dup[0].message


def test_not_a_mapping_and_unknown_kind() -> None:
    assert codes("- a\n- b\n") == ["PD003"]
    res = load_text(BASE.replace("kind: procedure", "kind: procedur"), "x.yaml")
    assert [p.code for p in res.problems] == ["PD004"]
    assert "did you mean 'procedure'" in res.problems[0].message


def test_unknown_key_with_suggestion_and_position() -> None:
    text = BASE.replace("        label: 通数\n", "        lable: 通数\n")
    res = load_text(text, "x.yaml")
    unknown = [p for p in res.problems if p.code == "PD101"]
    assert len(unknown) == 1
    assert "lable" in unknown[0].message and "did you mean 'label'" in unknown[0].message
    assert unknown[0].line == text.splitlines().index("        lable: 通数") + 1
    assert unknown[0].col == 9
    # and the then-missing label is reported too: all problems at once
    assert any(p.code == "PD103" and "'label'" in p.message for p in res.problems)


def test_wrong_types_name_the_key() -> None:
    text = BASE.replace("min: 1", "min: one").replace("version: 1.0.0", "version: 1.0")
    res = load_text(text, "x.yaml")
    msgs = {p.code: p.message for p in res.problems}
    assert "PD102" in msgs
    assert any("'min' must be a number" in p.message for p in res.problems)
    assert any("'version' must be a string" in p.message and "quote it" in p.message for p in res.problems)


def test_yaml_boolean_trap_is_explained() -> None:
    text = BASE.replace("{value: self, label: 本人}", "{value: no, label: いいえ}")
    res = load_text(text, "x.yaml")
    assert any(p.code == "PD102" and "quote it" in p.message for p in res.problems)


def test_missing_required_key() -> None:
    text = BASE.replace("department: {id: shimin, name: 市民課}\n", "")
    assert codes(text) == ["PD103"]


def test_bad_literal_value() -> None:
    text = BASE.replace("        min: 1\n", "        merge: reveiw\n        min: 1\n")
    res = load_text(text, "x.yaml")
    assert [p.code for p in res.problems] == ["PD104"]
    assert "did you mean 'review'" in res.problems[0].message


def test_signature_rule_is_one_of_four_and_defaults_to_autograph() -> None:
    """The printed form's signature rule (docs/procedure-format.md "Signature"): an unknown value is PD104 at
    its line; absent, the definition loads with the rule that every other rule accepts (自署)."""
    res = load_text(BASE.replace("sections:\n", "signature: stamp\nsections:\n", 1), "x.yaml")
    assert [(p.code, p.line) for p in res.problems] == [("PD104", 6)]
    assert "autograph_or_seal" in res.problems[0].message
    for rule in ("name_only", "autograph", "autograph_or_seal", "seal_optional"):
        res = load_text(BASE.replace("sections:\n", f"signature: {rule}\nsections:\n", 1), "x.yaml")
        assert res.problems == [] and res.definition.signature == rule  # type: ignore[union-attr]
    assert load_text(BASE, "x.yaml").definition.signature == "autograph"  # type: ignore[union-attr]


def test_every_shipped_procedure_declares_its_signature_rule() -> None:
    root = Path(__file__).resolve().parent.parent / "procedure_definitions" / "library" / "procedures"
    paths = sorted(root.glob("*.yaml"))
    assert paths
    for path in paths:  # said in the file (with its reason), not left to the default
        assert re.search(r"^signature: [a-z_]+  # ", path.read_text(encoding="utf-8"), re.M), path.name


def test_unknown_field_type() -> None:
    res = load_text(BASE.replace("type: number\n        label: 通数", "type: nubmer\n        label: 通数"), "x.yaml")
    assert [p.code for p in res.problems] == ["PD105"]
    assert "did you mean 'number'" in res.problems[0].message


def test_bad_ids_and_version() -> None:
    text = BASE.replace("id: sample", "id: Sample_1").replace("- id: copies", "- id: Copies")
    text = text.replace("version: 1.0.0", "version: v1")
    got = codes(text)
    assert got.count("PD106") == 2 and "PD107" in got


def test_empty_choices() -> None:
    text = BASE.replace(
        "        choices:\n          - {value: self, label: 本人}\n          - {value: proxy, label: 代理人}\n",
        "        choices: []\n",
    )
    assert "PD108" in codes(text)


def test_duplicate_ids() -> None:
    text = BASE + textwrap.indent(
        "- id: copies\n  type: text\n  label: 重複\n", " " * 6
    )
    res = load_text(text, "x.yaml")
    dup = [p for p in res.problems if p.code == "PD201"]
    assert len(dup) == 1 and "first defined at line 10" in dup[0].message


def test_unknown_reference_with_suggestion() -> None:
    res = load_text(BASE.replace("relation = 'proxy'", "relaton = 'proxy'"), "x.yaml")
    assert [p.code for p in res.problems] == ["PD202"]
    assert "did you mean 'relation'" in res.problems[0].message


def test_expression_syntax_error_points_into_the_expression() -> None:
    text = BASE.replace("calculate: copies * 300", "calculate: copies * (300")
    res = load_text(text, "x.yaml")
    (p,) = res.problems
    assert p.code == "PD203"
    line = text.splitlines()[p.line - 1]
    assert line.strip().startswith("calculate:") and p.col > line.index("copies")


def test_expression_type_error() -> None:
    res = load_text(BASE.replace("copies * 300", "copies * relation"), "x.yaml")
    assert "PD204" in [p.code for p in res.problems]


def test_calculation_cycle() -> None:
    text = BASE.replace("calculate: copies * 300", "calculate: other + 1") + textwrap.indent(
        "- id: other\n  type: number\n  label: 他\n  calculate: total * 2\n", " " * 6
    )
    res = load_text(text, "x.yaml")
    cyc = [p for p in res.problems if p.code == "PD205"]
    assert len(cyc) == 1 and "total" in cyc[0].message and "other" in cyc[0].message


def test_prefill_unknown_attribute_and_type_mismatch() -> None:
    text = BASE.replace("        label: 代理人の氏名\n", "        label: 代理人の氏名\n        prefill: nmae\n")
    res = load_text(text, "x.yaml")
    assert [p.code for p in res.problems] == ["PD206"] and "did you mean 'name'" in res.problems[0].message
    text = BASE.replace("        label: 通数\n", "        label: 通数\n        prefill: name\n")
    assert codes(text) == ["PD207"]



def test_has_spouse_prefills_a_yes_no_field_only() -> None:
    # The profile's has_spouse is a yes/no (true or absent): a yesno field takes it, a number or text cannot.
    yes_no = "      - id: married\n        type: yesno\n        label: 配偶者はいますか\n        prefill: has_spouse\n"
    assert codes(BASE + yes_no) == []
    assert codes(BASE + yes_no.replace("type: yesno", "type: text")) == ["PD207"]
    assert codes(BASE.replace("        label: 通数\n", "        label: 通数\n        prefill: has_spouse\n")) == ["PD207"]

def test_prefill_part_takes_the_family_part_of_the_filers_own_name_into_a_two_part_field() -> None:
    part = "        prefill_part: family\n"
    name = "      - id: child_name\n        type: name\n        label: 子の氏名\n        prefill: name\n" + part
    kana = "      - id: child_kana\n        type: kana\n        split: true\n        label: よみかた\n        prefill: name_kana\n" + part
    assert codes(BASE + name + kana) == []
    assert codes(BASE + name.replace("        prefill: name\n", "")) == ["PD223"]  # nothing to take a part of
    assert codes(BASE + name.replace("prefill: name", "prefill: household_head_name")) == ["PD223"]  # not the filer's
    assert codes(BASE + name.replace("type: name", "type: name\n        single_part: true")) == ["PD223"]
    assert codes(BASE + kana.replace("        split: true\n", "")) == ["PD223"]
    assert codes(BASE + name + "        prefill_editable: false\n") == ["PD223"]  # the 名 would be locked too
    text = BASE + name.replace("type: name", "type: text")
    res = load_text(text, "x.yaml")
    assert sorted(p.code for p in res.problems) == ["PD207", "PD223"]
    bad = next(p for p in res.problems if p.code == "PD223")
    assert bad.line == len(text.splitlines()) and "field 'child_name'" in bad.message  # at the prefill_part line


def test_prefill_values_map_a_scalar_attribute_onto_a_choice() -> None:
    role = ("      - id: role\n        type: choice\n        label: 欄\n        prefill: sex\n"
            "        prefill_values: {male: husband, female: wife}\n"
            "        choices:\n          - {value: husband, label: 夫}\n          - {value: wife, label: 妻}\n")
    assert codes(BASE + role) == []
    assert codes(BASE + role.replace("female: wife", "female: wfie")) == ["PD224"]  # not a choice
    assert codes(BASE + role.replace("        prefill: sex\n", "")) == ["PD224"]  # nothing to map
    assert codes(BASE + role.replace("prefill: sex", "prefill: address")) == ["PD224"]  # not a scalar
    assert codes(BASE + role.replace("prefill: sex", "prefill: has_spouse")
                 .replace("{male: husband, female: wife}", '{"true": husband}')) == []  # a yes/no keyed true
    text = "      - id: memo\n        type: text\n        label: 欄\n        prefill: sex\n        prefill_values: {male: husband}\n"
    res = load_text(BASE + text, "x.yaml")
    assert [p.code for p in res.problems] == ["PD224"] and "only a choice field" in res.problems[0].message


def test_option_problems() -> None:
    assert codes(BASE.replace("min: 1", "min: 20")) == ["PD208"]


def test_group_scope_hint() -> None:
    text = BASE + textwrap.indent(
        "- id: members\n  type: group\n  label: 世帯員\n  fields:\n"
        "    - {id: member_age, type: number, label: 年齢}\n"
        "- id: note\n  type: text\n  label: 備考\n  show_if: member_age > 3\n",
        " " * 6,
    )
    res = load_text(text, "x.yaml")
    assert [p.code for p in res.problems] == ["PD202"]
    assert "members.member_age" in res.problems[0].message
    ok = text.replace("show_if: member_age > 3", "show_if: count(members) > 3")
    assert codes(ok) == []


LIFE_EVENT = """\
kind: life_event
id: moving
version: 1.0.0
title: 転入
questions:
  - {id: has_kids, label: 子どもがいますか}
procedures:
  - procedure: sample
  - procedure: sample2
    include_if: has_kid
shared_fields:
  - field: {id: n, type: number, label: 数}
    maps_to: {sample: copies, sample2: x}
"""


def test_life_event_links(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "e.yaml").write_text(LIFE_EVENT, encoding="utf-8")
    lib = load_library(tmp_path)
    got = sorted(p.code for p in lib.problems)
    assert got == ["PD202"]  # has_kid (typo) inside the file; cross-file checks only run on valid files
    (tmp_path / "e.yaml").write_text(LIFE_EVENT.replace("has_kid\n", "has_kids\n"), encoding="utf-8")
    lib = load_library(tmp_path)
    got = sorted(p.code for p in lib.problems)
    assert got == ["PD210", "PD210"]  # sample2 twice: as a procedure and in maps_to
    text = LIFE_EVENT.replace("has_kid\n", "has_kids\n").replace("sample2", "sample")
    (tmp_path / "e.yaml").write_text(text.replace("  - procedure: sample\n    include", "  - procedure: sample\n    include", 1), encoding="utf-8")
    lib = load_library(tmp_path)
    assert "PD201" in [p.code for p in lib.problems]  # the same procedure listed twice


def test_shared_field_type_mismatch(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(BASE, encoding="utf-8")
    ev = LIFE_EVENT.replace("has_kid\n", "has_kids\n").replace("  - procedure: sample2\n    include_if: has_kids\n", "")
    ev = ev.replace("maps_to: {sample: copies, sample2: x}", "maps_to: {sample: relation}")
    (tmp_path / "e.yaml").write_text(ev, encoding="utf-8")
    assert [p.code for p in load_library(tmp_path).problems] == ["PD212"]
    (tmp_path / "e.yaml").write_text(ev.replace("{sample: relation}", "{sample: copeis}"), encoding="utf-8")
    probs = load_library(tmp_path).problems
    assert [p.code for p in probs] == ["PD211"] and "did you mean 'copies'" in probs[0].message


def test_duplicate_definition_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(BASE, encoding="utf-8")
    assert [p.code for p in load_library(tmp_path).problems] == ["PD209"]


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes(b"\xff\xfe\x00bad")
    assert [p.code for p in load_library(tmp_path).problems] == ["PD005"]


def test_every_catalogue_code_is_tested() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    others = "".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("test_*.py"))
    untested = [c for c in CATALOGUE if c not in source and c not in others]
    assert untested == []


# -- never a traceback -----------------------------------------------------------------------------

_yaml_atoms = st.sampled_from(
    ["kind: procedure", "id: x", "version: 1.0.0", "title: t", "sections:", "  - id: s", "    fields:",
     "      - {id: a, type: text, label: A}", "      - {id: b, type: number, show_if: 'a = (1'}", "- 1",
     "{", "]", "type: group", "fields: []", "  calculate: b + a", "label: {ja: x, en: 3}", "choices: [1, 2]",
     "\t", ":", "'", "&a [*a]", "<<: *a", "prefill: name", "kind: life_event", "questions: []"]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_yaml_atoms, max_size=14), st.text(max_size=20))
def test_fuzz_never_raises(lines: list[str], noise: str) -> None:
    res = load_text("\n".join(lines) + "\n" + noise, "fuzz.yaml")
    for p in res.problems:
        assert p.code in CATALOGUE


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=len(BASE) - 1), st.text(min_size=1, max_size=4))
def test_fuzz_mutations_of_a_valid_file(pos: int, insert: str) -> None:
    res = load_text(BASE[:pos] + insert + BASE[pos:], "m.yaml")
    assert all(p.code in CATALOGUE and p.line >= 1 and p.col >= 1 for p in res.problems)


def test_cli_check_reports_and_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "p.yaml").write_text(BASE, encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "madoguchi.cli", "check", str(good)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "sample 1.0.0" in r.stdout  # the time estimate line
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("label: 通数", "lable: 通数"), encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "madoguchi.cli", "check", str(bad)], capture_output=True, text=True)
    assert r.returncode == 1
    assert f"{bad}:12:9: PD101 unknown key 'lable' (did you mean 'label'?)" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr


def test_cli_schema_is_2020_12_and_validates_shorthand() -> None:
    r = subprocess.run([sys.executable, "-m", "madoguchi.cli", "schema"], capture_output=True, text=True, check=True)
    schema = json.loads(r.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {"type": "string"} in schema["$defs"]["Text"]["anyOf"]
    assert "GroupField" in schema["$defs"]


@pytest.mark.parametrize("flag", [["--json"]])
def test_cli_list_json(tmp_path: Path, flag: list[str]) -> None:
    (tmp_path / "p.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "e.yaml").write_text(LIFE_EVENT.replace("has_kid\n", "has_kids\n").replace(
        "  - procedure: sample2\n    include_if: has_kids\n", "").replace(", sample2: x", ""), encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "madoguchi.cli", "list", *flag, "--path", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert {(x["id"], x["kind"]) for x in rows} == {("sample", "procedure"), ("moving", "life_event")}
    assert all(set(x) == {"id", "version", "kind", "title"} for x in rows)


def test_choice_filter_without_filters_warns() -> None:
    text = BASE.replace("        choices:\n          - {value: self", "        choice_filter: copies\n        choices:\n          - {value: self")
    res = load_text(text, "x.yaml")
    assert [(p.code, p.severity) for p in res.problems] == [("PD213", "warning")]
    assert res.ok  # warnings do not make a definition invalid


SCENARIOS = """\
scenarios:
  - name: one copy
    answers: {copies: 2, relation: self}
    expect: {valid: true, hidden: [proxy_name], values: {total: 600}}
  - name: too many
    answers: {copies: 11, relation: proxy}
    expect: {valid: false, errors: [copies], shown: [proxy_name]}
"""


def _scenario_problems(text: str, tmp_path: Path) -> list[str]:
    from procedure_definitions.commands import check_library

    (tmp_path / "p.yaml").write_text(text, encoding="utf-8")
    problems, _ = check_library(load_library(tmp_path), estimates=False)
    return [p.message for p in problems]


def test_scenarios_pass_and_fail(tmp_path: Path) -> None:
    assert _scenario_problems(BASE + SCENARIOS, tmp_path) == []
    wrong = SCENARIOS.replace("total: 600", "total: 500").replace("errors: [copies]", "errors: [relation]")
    from procedure_definitions.commands import check_library

    (tmp_path / "p.yaml").write_text(BASE + wrong, encoding="utf-8")
    problems, _ = check_library(load_library(tmp_path), estimates=False)
    assert [p.code for p in problems] == ["PD301", "PD301"]
    msgs = [p.message for p in problems]
    assert any("expected total = 500, got 600" in m for m in msgs)
    assert any("expected an error on 'relation'" in m for m in msgs)


def test_scenario_unknown_answer_field(tmp_path: Path) -> None:
    from procedure_definitions.commands import check_library

    (tmp_path / "p.yaml").write_text(BASE + SCENARIOS.replace("{copies: 2,", "{copeis: 2,"), encoding="utf-8")
    problems, _ = check_library(load_library(tmp_path), estimates=False)
    assert [p.code for p in problems] == ["PD302"]
    assert "did you mean 'copies'" in problems[0].message


def test_time_budget_warning(tmp_path: Path) -> None:
    from procedure_definitions.commands import check_library

    many = "".join(
        f"      - {{id: note{i}, type: longtext, label: 長い説明をここに書いてください{i}, required: true}}\n"
        for i in range(12)
    )
    (tmp_path / "p.yaml").write_text(BASE + many, encoding="utf-8")
    problems, lines = check_library(load_library(tmp_path), scenarios=False)
    assert [p.code for p in problems] == ["PD401"]
    assert problems[0].severity == "warning" and len(lines) == 1
    (tmp_path / "p.yaml").write_text(BASE, encoding="utf-8")
    assert check_library(load_library(tmp_path), scenarios=False)[0] == []


def test_broken_notebook_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    nb = tmp_path / "broken.ipynb"
    nb.write_text("{not json", encoding="utf-8")
    assert [p.code for p in load_library(tmp_path).problems] == ["PD006"]


@pytest.mark.parametrize("text", ["&a [*a]", "a: &a {b: *a}", "m: {<<: [1]}", "m: {<<: 3}"])
def test_hostile_yaml_is_a_syntax_problem(text: str) -> None:
    assert [p.code for p in load_text(text, "h.yaml").problems] == ["PD001"]


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ("min: 1\n", "min: 9007199254740992\n", "PD109"),
        ("min: 1\n", "min: -.inf\n", "PD109"),
        ("min: 1\n", "min: .nan\n", "PD109"),
        ("min: 1\n", "min: 1" + "0" * 400 + "\n", "PD109"),
        ("copies * 300", "copies * 9007199254740992", "PD203"),
    ],
)
def test_numbers_a_double_cannot_hold_are_refused(old: str, new: str, code: str) -> None:
    res = load_text(BASE.replace(old, new, 1), "x.yaml")
    (p,) = res.problems
    line = next(i for i, text in enumerate(BASE.replace(old, new, 1).splitlines(), 1) if new.strip()[:20] in text)
    assert (p.code, p.line) == (code, line), p.format()


# --- the checker never crashes: one located `path:line:col: CODE message` line per problem, quickly ---------

_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
) + "kind: procedure\n"  # 9**9 (387 million) strings once expanded
_LINE = re.compile(r"x\.yaml:(\d+):(\d+): (PD\d{3}) [^\n\r\x00]+")


def _with_field(extra: str) -> str:
    # constraint_message: a constraint without one is a warning (PD242) of its own
    return BASE + "      - id: extra\n        type: text\n        label: 追加\n        constraint_message: 直してください。\n" + extra


ROBUSTNESS: dict[str, tuple[str, str, str]] = {
    # name: (definition, code, a text on the line the problem must point at)
    "huge integer literal in an expression": (BASE.replace("copies * 300", "copies * 3" + "0" * 5000), "PD203",
                                              "calculate: copies * 3000"),
    "huge integer in the YAML": (BASE.replace("min: 1\n", "min: 1" + "0" * 5000 + "\n"), "PD001", "min: 1000"),
    "alias bomb": (_BOMB, "PD001", "e: &e"),  # the first alias expanding past the budget
    # 5 million characters from a 100 KB file: bytes multiplied rather than values
    "a long text repeated through aliases": (BASE + 'note: &t "' + "x" * 100_000 + '"\nnotes: [' + ", ".join(
        ["*t"] * 50) + "]\n", "PD001", "notes: [*t"),
    "alias cycle": ("kind: procedure\na: &a [*a]\n", "PD001", "a: &a"),
    "deeply nested YAML": ("kind: procedure\nx: " + "[" * 3000 + "]" * 3000 + "\n", "PD001", "x: [[["),
    "a list where a field type is expected": (BASE.replace("type: number", "type: [number]", 1), "PD102",
                                              "type: [number]"),
    "a mapping where the kind is expected": (BASE.replace("kind: procedure", "kind: {a: 1}"), "PD004", "kind:"),
    "a list as a key": (BASE + "? [a, b]\n: 1\n", "PD001", "? [a, b]"),
    "a mapping as a key": (BASE.replace("    title: 本文", "    {a: 1}: 本文"), "PD001", "{a: 1}: 本文"),
    "a mapping where an id is expected": (BASE.replace("- id: copies", "- id: {a: 1}"), "PD102", "- id: {a: 1}"),
    "a list where a field name is expected": (_with_field("        prefill: [name]\n"), "PD102", "prefill: [name]"),
    "deeply nested regular expression": (
        _with_field(f"        constraint: \"matches(extra, '{'(' * 5000}a{')' * 5000}')\"\n"), "PD204", "constraint:"),
    "nested regular expression past the group limit": (
        _with_field(f"        constraint: \"matches(extra, '{'(' * 21}a{')' * 21}')\"\n"), "PD204", "constraint:"),
    "exponential regular expression": (_with_field("        constraint: \"matches(extra, '(a+)+b')\"\n"), "PD204",
                                       "constraint:"),
    "a raw NUL byte": (BASE.replace("label: 通数", "label: 通\x00数"), "PD001", "label: 通\x00数"),
    "an escaped NUL": (BASE.replace("label: 通数", 'label: "通\\0数"'), "PD001", 'label: "通\\0数"'),
    "an id with a newline": (BASE.replace("- id: copies", '- id: "copies\\n"'), "PD106", 'id: "copies\\n"'),
    "an id with a newline inside": (BASE.replace("- id: copies", '- id: "cop\\nies"'), "PD106", 'id: "cop\\nies"'),
    "a definition id with a newline": (BASE.replace("id: sample", 'id: "sample\\n"'), "PD106", 'id: "sample\\n"'),
    "a date bound with a newline": (_with_field('        type: date\n        min: "2026-04-01\\n"\n').replace(
        "        type: text\n        label: 追加\n        constraint_message: 直してください。\n        type: date",
        "        type: date\n        label: 追加"),
        "PD208", "min: \"2026"),
    "an unknown tag": (BASE.replace("min: 1\n", "min: !!python/object:os.system 1\n"), "PD001", "min: !!python"),
    "an escaped ESC and RLO in a hint": (_with_field('        hint: {ja: "a\\x1bb\\u202e"}\n'), "PD001", "hint:"),
    "an escaped DEL, NEL and backspace": (_with_field('        hint: "a\\x7fb\\x85c\\x08"\n'), "PD001", "hint:"),
    "an escaped C1 control": (BASE.replace("label: 通数", 'label: "通\\x9b数"'), "PD001", 'label: "通'),
    "an escaped carriage return": (BASE.replace("label: 通数", 'label: "通\\r数"'), "PD001", 'label: "通'),
    "an escaped bell in a single-line id": (BASE.replace("- id: copies", '- id: "cop\\aies"'), "PD001",
                                             "cop\\aies"),
    "a raw right-to-left override in a label": (BASE.replace("label: 通数", "label: 通\u202e数"), "PD001",
                                                "label: 通"),
    "a bidi isolate in an id": (BASE.replace("- id: copies", '- id: "copies\\u2066"'), "PD001",
                                "copies\\u2066"),
    "an escaped control character in a key": (BASE.replace("    title: 本文", '    "ti\\x1btle": 本文'), "PD001",
                                              "ti\\x1btle"),
    "alternatives repeated without bound": (_with_field("        constraint: \"matches(extra, '(a|a)*')\"\n"),
                                            "PD204", "constraint:"),
    "optional items repeated without bound": (
        _with_field("        constraint: \"matches(extra, '(?:a?a?)+b')\"\n"), "PD204", "constraint:"),
    "overlapping classes repeated without bound": (
        _with_field("        constraint: \"matches(extra, '(\\\\\\\\d|\\\\\\\\w)*')\"\n"), "PD204", "constraint:"),
    "three repeats without bound in a row": (
        _with_field("        constraint: \"matches(extra, '.*.*.*=')\"\n"), "PD204", "constraint:"),
}


@pytest.mark.parametrize("text", ["ok\tand\nnewline", "右から左: עברית\u200f", "葛\U000e0100飾", "a\u2028b"])
def test_tab_newline_and_other_format_characters_are_kept(text: str) -> None:
    escaped = text.encode("unicode_escape").decode("ascii")
    res = load_text(BASE.replace("label: 通数", f'label: "{escaped}"'), "x.yaml")
    assert res.problems == [] and res.definition is not None


@pytest.mark.parametrize("key", ["null", "true", "~", "yes", "1", "1.5"])
def test_an_unknown_key_is_reported_as_written(key: str) -> None:
    (p,) = load_text(BASE.replace("    title: 本文", f"    title: 本文\n    {key}: x"), "x.yaml").problems
    assert p.code == "PD101" and f"unknown key '{key}'" in p.format(), p.format()


@pytest.mark.parametrize("name", ROBUSTNESS)
def test_the_checker_never_crashes(name: str) -> None:
    text, code, marker = ROBUSTNESS[name]
    started = time.monotonic()
    problems = load_text(text, "x.yaml").problems
    assert time.monotonic() - started < 3, "within the time budget"
    assert len(problems) == 1, [p.format() for p in problems]
    line = problems[0].format()
    m = _LINE.fullmatch(line)
    assert m is not None, repr(line)
    expected_line = next(i for i, t in enumerate(text.split("\n"), 1) if marker in t)
    assert (m.group(3), int(m.group(1))) == (code, expected_line), line


def test_problem_lines_escape_control_characters() -> None:
    (p,) = load_text(BASE.replace("- id: copies", '- id: "a\\u2028b\\tc"'), "x.yaml").problems
    assert "\n" not in p.format() and "\u2028" not in p.format() and "\\u2028" in p.format()


def test_the_cli_prints_one_line_per_bad_file(tmp_path: Path) -> None:
    for i, name in enumerate(ROBUSTNESS):
        (tmp_path / f"f{i:02d}.yaml").write_text(ROBUSTNESS[name][0], encoding="utf-8", errors="surrogatepass")
    r = subprocess.run([sys.executable, "-m", "madoguchi.cli", "check", "--no-scenarios", "-q", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "Traceback" not in r.stdout + r.stderr
    lines = [x for x in r.stdout.splitlines() if x.startswith(str(tmp_path))]
    # Every file gives at least one problem; a file whose problem is also the library's (a life event or
    # duplicate across files) may add lines, but every line is one located problem.
    assert {x.split(":")[0] for x in lines} == {str(tmp_path / f"f{i:02d}.yaml") for i in range(len(ROBUSTNESS))}
    assert all(re.fullmatch(re.escape(str(tmp_path)) + r"/f\d\d\.yaml:\d+:\d+: PD\d{3} .+", x) for x in lines)


# --- hostile files: byte-multiplying aliases, devices, pipes, link loops, oversize files --------------------


def test_a_text_bomb_is_refused_at_the_alias_that_passes_the_budget() -> None:
    from procedure_definitions.yamlpos import MAX_CHARS

    long = 100_000
    text = BASE + f'note: &t "{"x" * long}"\nnotes:\n' + "  - *t\n" * (MAX_CHARS // long + 10)
    started = time.monotonic()
    (p,) = load_text(text, "x.yaml").problems
    assert time.monotonic() - started < 3
    assert p.code == "PD001" and f"more than {MAX_CHARS} characters" in p.message, p.format()
    lines = text.split("\n")
    assert lines[p.line - 1] == "  - *t" and p.col == 5, p.format()
    # The refused alias is the one that takes the expanded text past the budget, not any other.
    # The anchor and the aliases before it hold (before + 1) copies; the rest of the file is under 2 KB.
    before = sum(1 for x in lines[: p.line - 1] if x == "  - *t")
    assert (before + 1) * long <= MAX_CHARS < (before + 2) * long + 2_000, before
    # Just under the budget the same file gets past the YAML reader (only the unknown keys are reported).
    fewer = BASE + f'note: &t "{"x" * long}"\nnotes:\n' + "  - *t\n" * (MAX_CHARS // long - 2)
    assert "PD001" not in codes(fewer) and codes(fewer)


def _cli_check(*paths: Path | str, timeout: float = 30) -> tuple[int, list[str], float]:
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "madoguchi.cli", "check", "--no-scenarios", "-q", *map(str, paths)],
                       capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    lines = [x for x in r.stdout.splitlines() if x and not x.endswith(("warnings", "warning"))]
    return r.returncode, lines, time.monotonic() - started


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs named pipes")
def test_only_regular_files_are_read(tmp_path: Path) -> None:
    import os

    lib = tmp_path / "lib"
    lib.mkdir()
    os.mkfifo(lib / "pipe.yaml")  # reading it would wait forever
    (lib / "loop_a.yaml").symlink_to(lib / "loop_b.yaml")
    (lib / "loop_b.yaml").symlink_to(lib / "loop_a.yaml")
    (lib / "ok.yaml").write_text(BASE, encoding="utf-8")
    code, lines, took = _cli_check(lib, "/dev/zero")  # /dev/zero: a read that never ends
    assert code == 1 and took < 20
    assert sorted(lines) == [
        "/dev/zero:1:1: PD005 cannot read file: not a regular file (a folder, device or pipe)",
        f"{lib}/loop_a.yaml:1:1: PD005 cannot read file: a symbolic link loop",
        f"{lib}/loop_b.yaml:1:1: PD005 cannot read file: a symbolic link loop",
        f"{lib}/pipe.yaml:1:1: PD005 cannot read file: not a regular file (a folder, device or pipe)",
    ], lines


def test_a_definition_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    from procedure_definitions.loader import MAX_FILE_BYTES

    padding = "# " + "x" * 97 + "\n"  # 100 bytes of comment
    at_limit = BASE + padding * ((MAX_FILE_BYTES - len(BASE.encode())) // 100)
    at_limit += "#" * (MAX_FILE_BYTES - len(at_limit.encode()) - 1) + "\n"
    (tmp_path / "at_limit.yaml").write_text(at_limit, encoding="utf-8")
    (tmp_path / "over.yaml").write_text(at_limit + "\n", encoding="utf-8")
    assert (tmp_path / "at_limit.yaml").stat().st_size == MAX_FILE_BYTES
    code, lines, took = _cli_check(tmp_path)
    assert code == 1 and took < 20
    assert lines == [f"{tmp_path}/over.yaml:1:1: PD005 cannot read file: {MAX_FILE_BYTES + 1} bytes, over the "
                     f"{MAX_FILE_BYTES}-byte limit for a definition file"], lines


def test_the_build_and_the_server_refuse_a_text_bomb_with_the_same_line(tmp_path: Path) -> None:
    """The probe's laugh.yaml (a 500 KB text reused 15 000 times) took `madoguchi build` to 1.8 GB and a crash.

    Scaled down here (100 KB x 200 = 20 million characters), run under a 1.5 GB address-space limit.
    """
    import resource

    from server.catalog import load_library as server_load_library

    lib = tmp_path / "lib"
    lib.mkdir()
    bomb = BASE.replace("label: 通数", "label: &t " + "x" * 100_000).replace(
        "label: 手数料", "label: *t\n        hint: [" + ", ".join(["*t"] * 200) + "]")
    (lib / "bomb.yaml").write_text(bomb, encoding="utf-8")
    (lib / "ok.yaml").write_text(BASE.replace("id: sample", "id: other"), encoding="utf-8")

    served = server_load_library(lib)
    assert set(served.procedures) == {"other"}
    (p,) = served.problems
    line = p.format()
    assert p.code == "PD001" and "hint: [*t" in bomb.split("\n")[p.line - 1], line

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))

    r = subprocess.run([sys.executable, "-m", "madoguchi.cli", "build", "--library", str(lib), "--out",
                        str(tmp_path / "out")], capture_output=True, text=True, timeout=120, preexec_fn=limit)
    assert r.returncode == 0 and "Traceback" not in r.stdout + r.stderr, r.stderr[-2000:]
    assert f"warning: {line}" in r.stdout.splitlines(), r.stdout
    assert "1 procedure versions" in r.stdout


HOUSEHOLD = BASE + textwrap.indent(
    "- id: movers\n  type: group\n  label: 異動者\n  prefill: household_members\n  pick: true\n"
    "  prefill_map: {mover_name: name, mover_birth: birth_date}\n  fields:\n"
    "    - {id: mover_name, type: name, label: 氏名}\n"
    "    - {id: mover_birth, type: wareki, label: 生年月日}\n"
    "    - {id: mover_count, type: number, label: 人数}\n", " " * 6)


def _positions(text: str) -> list[tuple[str, int, int]]:
    return [(p.code, p.line, p.col) for p in load_text(text, "x.yaml").problems]


def test_household_prefill_map_is_valid() -> None:
    assert codes(HOUSEHOLD) == []


def test_household_prefill_map_unknown_attribute_has_position_and_hint() -> None:
    text = HOUSEHOLD.replace("mover_birth: birth_date", "mover_birth: brith_date")
    res = load_text(text, "x.yaml")
    assert [p.code for p in res.problems] == ["PD215"]
    p = res.problems[0]
    line = text.splitlines()[p.line - 1]
    assert "brith_date" in line[p.col - 1:] and "did you mean 'birth_date'" in p.message


def test_household_prefill_map_type_mismatch() -> None:
    text = HOUSEHOLD.replace("mover_birth: birth_date", "mover_count: birth_date")
    res = load_text(text, "x.yaml")
    assert [p.code for p in res.problems] == ["PD216"]
    assert "'mover_count' is number" in res.problems[0].message


def test_household_prefill_map_unknown_item_field() -> None:
    text = HOUSEHOLD.replace("mover_birth: birth_date", "mover_brth: birth_date")
    res = load_text(text, "x.yaml")
    assert [p.code for p in res.problems] == ["PD202"] and "did you mean 'mover_birth'" in res.problems[0].message


def test_prefill_map_on_a_non_group_is_refused_at_the_key() -> None:
    text = BASE.replace("        label: 代理人の氏名\n", "        label: 代理人の氏名\n        pick: true\n")
    (code, line, col), = _positions(text)
    assert code == "PD214" and text.splitlines()[line - 1][col - 1:].startswith("pick")
    text = BASE.replace("        label: 代理人の氏名\n", "        label: 代理人の氏名\n        prefill_map: {x: name}\n")
    assert codes(text) == ["PD214"]


def test_prefill_map_on_a_group_not_prefilled_from_people() -> None:
    assert codes(HOUSEHOLD.replace("        prefill: household_members\n", "")) == ["PD214"]


def test_group_prefilled_from_people_needs_a_map() -> None:
    text = HOUSEHOLD.replace("        prefill_map: {mover_name: name, mover_birth: birth_date}\n", "")
    assert codes(text) == ["PD217"]


def test_a_question_asked_twice_in_a_life_event(tmp_path: Path) -> None:
    """PD240: two procedures included together both ask 通数 (same id, type, label): asked twice."""
    (tmp_path / "p.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "q.yaml").write_text(BASE.replace("id: sample", "id: sample2"), encoding="utf-8")
    ev = LIFE_EVENT.replace("has_kid\n", "has_kids\n").replace("maps_to: {sample: copies, sample2: x}", "maps_to: {sample: relation}")
    ev = ev.replace("{id: n, type: number, label: 数}", "{id: rel, type: choice, label: 関係, choices: [{value: self, label: 本人}, {value: proxy, label: 代理人}]}")
    ev = ev.replace("maps_to: {sample: relation}", "maps_to: {sample: relation, sample2: relation}")
    (tmp_path / "e.yaml").write_text(ev, encoding="utf-8")
    probs = load_library(tmp_path).problems
    assert [p.code for p in probs] == ["PD240"]
    (p,) = probs
    lines = ev.splitlines()
    assert p.path.endswith("e.yaml") and lines[p.line - 1][p.col - 1:].startswith("sample2")
    assert "'copies'" in p.message and "sample.copies" in p.message and "sample2.copies" in p.message
    # Covered by a shared field: asked once.
    (tmp_path / "e.yaml").write_text(ev + "  - field: {id: n, type: number, label: 数}\n    maps_to: {sample: copies, sample2: copies}\n",
                                     encoding="utf-8")
    assert load_library(tmp_path).problems == []
    # Never included together (one answer each way): not asked twice.
    exclusive = ev.replace("  - procedure: sample\n", "  - procedure: sample\n    include_if: not has_kids\n", 1)
    (tmp_path / "e.yaml").write_text(exclusive, encoding="utf-8")
    assert load_library(tmp_path).problems == []
    # A field shown on a condition (proxy_name) and the calculated total are not compared; a changed label is another question.
    (tmp_path / "q.yaml").write_text(BASE.replace("id: sample", "id: sample2").replace("label: 通数", "label: 部数"), encoding="utf-8")
    (tmp_path / "e.yaml").write_text(ev, encoding="utf-8")
    assert load_library(tmp_path).problems == []


def test_shipped_life_events_ask_nothing_twice() -> None:
    assert [p.format() for p in load_library().problems if p.code == "PD240"] == []


def test_a_persons_my_number_must_follow_them_through_a_life_event(tmp_path: Path) -> None:
    """PD241: a 個人番号 item of a group of people not mapped to my_number, next to another group of people."""
    count = "          - {id: mover_count"
    people = HOUSEHOLD.replace(count, "          - {id: mover_no, type: my_number, label: 個人番号}\n" + count, 1)
    assert codes(people) == []
    (tmp_path / "p.yaml").write_text(people, encoding="utf-8")
    (tmp_path / "q.yaml").write_text(people.replace("id: sample\n", "id: sample2\n", 1), encoding="utf-8")
    ev = ("kind: life_event\nid: ev\nversion: 1.0.0\ntitle: 出来事\nquestions:\n  - {id: more, label: もう一つ}\n"
          "procedures:\n  - procedure: sample\n  - procedure: sample2\n    include_if: more\n")
    (tmp_path / "e.yaml").write_text(ev, encoding="utf-8")
    probs = [p for p in load_library(tmp_path).problems if p.code == "PD241"]
    assert [p.line for p in probs] == [8, 9]  # at each procedure of the event's list
    assert {p.message.split(" ")[2] for p in probs} == {"sample.movers[].mover_no", "sample2.movers[].mover_no"}
    # Mapped, the number follows the person: asked once.
    mapped = people.replace("mover_birth: birth_date}", "mover_birth: birth_date, mover_no: my_number}")
    (tmp_path / "p.yaml").write_text(mapped, encoding="utf-8")
    (tmp_path / "q.yaml").write_text(mapped.replace("id: sample\n", "id: sample2\n", 1), encoding="utf-8")
    assert [p.code for p in load_library(tmp_path).problems if p.code == "PD241"] == []
    # Never included together: nothing to carry.
    (tmp_path / "p.yaml").write_text(people, encoding="utf-8")
    (tmp_path / "e.yaml").write_text(ev.replace("  - procedure: sample\n", "  - procedure: sample\n    include_if: not more\n"), encoding="utf-8")
    assert [p.code for p in load_library(tmp_path).problems if p.code == "PD241"] == []


def test_life_event_people_map_shared_fields_to_member_attributes(tmp_path: Path) -> None:
    """A life event's `people`: shared field id -> member attribute, checked like a group's prefill_map."""
    (tmp_path / "p.yaml").write_text(BASE, encoding="utf-8")
    ev = LIFE_EVENT.replace("has_kid\n", "has_kids\n").replace("sample2: x", "sample: copies").replace("  - procedure: sample2\n    include_if: has_kids\n", "")
    ev = ev.replace("maps_to: {sample: copies, sample: copies}", "maps_to: {sample: copies}")
    ev += "  - field: {id: who, type: name, label: 氏名}\n    maps_to: {sample: proxy_name}\n"
    good = ev + "people:\n  - id: me\n    map: {who: name}\n"
    (tmp_path / "e.yaml").write_text(good, encoding="utf-8")
    assert [p.code for p in load_library(tmp_path).problems] == []
    for bad, code in (("{whom: name}", "PD202"), ("{who: nmae}", "PD215"), ("{n: name}", "PD216")):
        (tmp_path / "e.yaml").write_text(good.replace("{who: name}", bad), encoding="utf-8")
        probs = load_library(tmp_path).problems
        assert [p.code for p in probs] == [code], (bad, [p.format() for p in probs])
        assert good.replace("{who: name}", bad).splitlines()[probs[0].line - 1].strip().startswith("map:")
