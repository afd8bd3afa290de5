"""The Python expression interpreter against the conformance vectors, plus parser/type-checker tests."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procedure_definitions.expressions import (
    EVAL_ERROR_CODES,
    FUNCTIONS,
    EvalError,
    ExprSyntaxError,
    evaluate,
    functions_used,
    infer_type,
    parse,
    references,
    value_type,
)
from procedure_definitions.model import (
    AttachmentField,
    DateField,
    GroupField,
    KanaField,
    MultiChoiceField,
    NameField,
    NoticeField,
    NumberField,
    PhoneField,
    Text,
    WarekiField,
    YesNoField,
)
from tests.jsonsame import same

CONFORMANCE = Path(__file__).parent / "conformance" / "expressions.json"
DATA = json.loads(CONFORMANCE.read_text(encoding="utf-8"))
VECTORS = DATA["vectors"]


def _id(vec: dict[str, Any]) -> str:
    return vec["expr"] if vec["expr"] is not None else json.dumps(vec["ast"])


def test_enough_vectors() -> None:
    assert len(VECTORS) >= 220
    assert len(DATA["syntax_errors"]) >= 30


@pytest.mark.parametrize("vec", VECTORS, ids=_id)
def test_vector(vec: dict[str, Any]) -> None:
    kwargs = {"item": vec.get("item"), "today": vec.get("today")}
    if "error" in vec:
        with pytest.raises(EvalError) as info:
            evaluate(vec["ast"], vec["answers"], **kwargs)
        assert info.value.code == vec["error"]
        assert info.value.code in EVAL_ERROR_CODES
    else:
        got = evaluate(vec["ast"], vec["answers"], **kwargs)
        assert same(got, vec["expected"]), f"{vec['expr']}: got {got!r}, expected {vec['expected']!r}"


def test_stored_asts_match_the_parser() -> None:
    for vec in VECTORS:
        if vec["expr"] is not None:
            assert json.dumps(vec["ast"], sort_keys=True) == json.dumps(parse(vec["expr"]), sort_keys=True), (
                vec["expr"]
            )


@pytest.mark.parametrize("src", [v["expr"] for v in DATA["syntax_errors"]])
def test_syntax_error_vectors(src: str) -> None:
    with pytest.raises(ExprSyntaxError) as info:
        parse(src)
    assert 0 <= info.value.offset <= len(src)
    assert info.value.message


@pytest.mark.parametrize(
    ("src", "offset", "fragment"),
    [
        ("", 0, "empty"),
        ("1 +", 3, "unexpected end of expression"),
        ("(1", 2, "expected ')'"),
        ("1)", 1, "')'"),
        ("a < b < c", 6, "do not chain"),
        ("agee(1)", 0, "unknown function 'agee' (did you mean 'age'?)"),
        ("age()", 0, "age() takes 1 to 2 arguments, got 0"),
        ("today(1)", 0, "today() takes 0 arguments, got 1"),
        ("'abc", 0, "unterminated string"),
        ("a.", 2, "after '.'"),
        ("#", 0, "unexpected character '#'"),
        ("a not b", 2, "'not'"),
        ("1 = = 2", 4, "expected a value"),
        ("[1,]", 3, "']'"),
        ("x === 1", 4, "'='"),
        ("a && b", 2, "'&'"),
        ("山田 = 1", 0, "full-width"),
        ("a\u3000= 1", 1, "full-width"),
        (r"x = '\q'", 5, "unknown escape"),
        ("12abc", 2, "'abc'"),
        (".5", 0, "'.'"),
        ("(" * 60 + "1" + ")" * 60, 40, "nested too deeply"),
    ],
)
def test_syntax_error_offsets(src: str, offset: int, fragment: str) -> None:
    with pytest.raises(ExprSyntaxError) as info:
        parse(src)
    assert info.value.offset == offset
    assert fragment in info.value.message


def test_parse_shapes() -> None:
    assert parse("a = 1") == {"op": "==", "args": [{"ref": ["a"]}, {"lit": 1}]}
    assert parse("a not in b") == {
        "op": "not",
        "args": [{"op": "in", "args": [{"ref": ["a"]}, {"ref": ["b"]}]}],
    }
    assert parse("not a and b")["op"] == "and"
    assert parse("a or b and c") == {
        "op": "or",
        "args": [{"ref": ["a"]}, {"op": "and", "args": [{"ref": ["b"]}, {"ref": ["c"]}]}],
    }
    assert parse("-x.y") == {"op": "neg", "args": [{"ref": ["x", "y"]}]}
    assert parse(" today( ) ") == {"call": "today", "args": []}
    assert parse("1 - 2 - 3")["args"][0]["op"] == "-"  # left associative


def test_parse_is_cached() -> None:
    assert parse("count(members) > 2") is parse("count(members) > 2")


def test_references_and_functions() -> None:
    ast = parse("a.b + c > 1 and age(a.b) < 3 and if(d, e, [f])")
    assert references(ast) == [("a", "b"), ("c",), ("d",), ("e",), ("f",)]
    assert functions_used(ast) == {"age", "if"}
    assert references(parse("1 + 2")) == []


def test_functions_table() -> None:
    assert FUNCTIONS["age"] == (1, 2)
    assert FUNCTIONS["concat"][1] is None
    js = (Path(__file__).parents[1] / "pwa" / "js" / "expr.js").read_text(encoding="utf-8")
    for name, (lo, hi) in FUNCTIONS.items():
        assert f"{name}: [{lo}, {'null' if hi is None else hi}]" in js, name


def test_default_today_is_used() -> None:
    got = evaluate(parse("today()"), {})
    assert isinstance(got, str) and len(got) == 10 and got[4] == "-"


def test_bool_is_not_a_number_in_answers() -> None:
    assert evaluate(parse("x = 1"), {"x": True}) is False
    with pytest.raises(EvalError) as info:
        evaluate(parse("x + 1"), {"x": True})
    assert info.value.code == "type"


# --- static types ------------------------------------------------------------------------------------

FIELD_TYPES = {
    ("n",): "number",
    ("s",): "string",
    ("b",): "boolean",
    ("d",): "date",
    ("l",): "list",
    ("o",): "object",
}


def _infer(src: str) -> tuple[str, list[str]]:
    return infer_type(parse(src), FIELD_TYPES.get)


@pytest.mark.parametrize(
    ("src", "type_"),
    [
        ("n + 1", "number"),
        ("n > 1 and s = 'x'", "boolean"),
        ("age(d)", "number"),
        ("add_days(d, 3)", "date"),
        ("today()", "date"),
        ("wareki(d)", "string"),
        ("concat(s, n)", "string"),
        ("if(b, n, null)", "number"),
        ("if(b, n, s)", "any"),
        ("coalesce(d, '2020-01-01')", "string"),
        ("unknown_field", "any"),
        ("[1, 2]", "list"),
        ("null", "null"),
    ],
)
def test_infer_type_ok(src: str, type_: str) -> None:
    assert _infer(src) == (type_, [])


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("n = 'x'", "cannot compare number with string"),
        ("n < s", "cannot compare number with string"),
        ("b < b", "cannot order boolean values"),
        ("age(n)", "age() expects a date, got number"),
        ("s + 1", "'+' needs numbers, got string (use concat())"),
        ("-s", "'-' needs numbers, got string"),
        ("count(s)", "count() expects a list, got string"),
        ("1 in n", "'in' needs a list or a string on the right, got number"),
        ("n in s", "'in' a string needs a string on the left, got number"),
        ("concat(l)", "concat() expects strings or numbers, got list"),
        ("matches(s, '(?<=a)')", "matches(): only (?:...), (?=...) and (?!...) groups are supported"),
        ("add_days(d, s)", "add_days() expects a number, got string"),
        ("d = 1", "cannot compare date with number"),
    ],
)
def test_infer_type_errors(src: str, message: str) -> None:
    _, errors = _infer(src)
    assert message in errors


@pytest.mark.parametrize(
    "src", ["d < '2020-01-01'", "d = d", "d >= today()", "'x' in l", "s in 'abc'", "len(d)"]
)
def test_dates_compare_with_strings(src: str) -> None:
    assert _infer(src)[1] == []


def test_infer_hand_built_bad_call() -> None:
    _, errors = infer_type({"call": "nope", "args": []}, FIELD_TYPES.get)
    assert errors == ["unknown function 'nope'"]


def test_value_type() -> None:
    label = Text(ja="x")
    assert value_type(NumberField(id="a", label=label)) == "number"
    assert value_type(YesNoField(id="a", label=label)) == "boolean"
    assert value_type(DateField(id="a", label=label)) == "date"
    assert value_type(WarekiField(id="a", label=label)) == "date"
    assert value_type(MultiChoiceField(id="a", label=label)) == "list"
    assert value_type(GroupField(id="a", label=label)) == "list"
    assert value_type(AttachmentField(id="a", label=label)) == "list"
    assert value_type(NameField(id="a", label=label)) == "object"
    assert value_type(NameField(id="a", label=label, single_part=True)) == "string"
    assert value_type(KanaField(id="a", label=label)) == "string"
    assert value_type(KanaField(id="a", label=label, split=True)) == "object"
    assert value_type(PhoneField(id="a", label=label)) == "string"
    assert value_type(NoticeField(id="a", label=label)) == "null"


# --- robustness --------------------------------------------------------------------------------------

EXPR_ALPHABET = "()[]'\",.=!<>+-*/% \\abdefilnortuxy0123456789_"


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=40), st.text(alphabet=EXPR_ALPHABET, max_size=40)))
def test_parse_only_raises_syntax_errors(src: str) -> None:
    try:
        ast = parse(src)
    except ExprSyntaxError as e:
        assert 0 <= e.offset <= len(src)
        return
    assert isinstance(ast, dict)


NAMES = ["a", "b", "members", "age", "name"]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
    | st.sampled_from(["", "2020-02-29", "1989-01", "2019", "2019-13-01", "\\d+", "(a"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(NAMES), children, max_size=3)
    ),
    max_leaves=8,
)
leaves = st.one_of(
    json_values.filter(lambda x: not isinstance(x, list | dict)).map(lambda x: {"lit": x}),
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=3).map(lambda p: {"ref": p}),
)
BINARY = ["==", "!=", "<", "<=", ">", ">=", "in", "+", "-", "*", "/", "%", "and", "or"]


def _branches(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    binary = st.tuples(st.sampled_from(BINARY), children, children).map(
        lambda t: {"op": t[0], "args": [t[1], t[2]]}
    )
    unary = st.tuples(st.sampled_from(["not", "neg"]), children).map(lambda t: {"op": t[0], "args": [t[1]]})
    calls = st.sampled_from(sorted(FUNCTIONS)).flatmap(
        lambda name: st.lists(
            children, min_size=FUNCTIONS[name][0], max_size=FUNCTIONS[name][1] or FUNCTIONS[name][0] + 2
        ).map(lambda args: {"call": name, "args": args})
    )
    lists = st.lists(children, max_size=3).map(lambda xs: {"list": xs})
    return binary | unary | calls | lists


asts = st.recursive(leaves, _branches, max_leaves=12)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(
    asts,
    st.dictionaries(st.sampled_from(NAMES), json_values, max_size=5),
    st.none() | st.dictionaries(st.sampled_from(NAMES), json_values, max_size=3),
)
def test_evaluate_only_raises_eval_errors(
    ast: dict[str, Any], answers: dict[str, Any], item: dict[str, Any] | None
) -> None:
    try:
        result = evaluate(ast, answers, item=item, today="2024-02-29")
    except EvalError as e:
        assert e.code in EVAL_ERROR_CODES
        return
    json.dumps(result, allow_nan=False)  # results are always JSON values


@settings(max_examples=200)
@given(asts)
def test_infer_type_never_crashes(ast: dict[str, Any]) -> None:
    type_, errors = infer_type(ast, lambda path: None)
    assert isinstance(type_, str) and isinstance(errors, list)


def test_syntax_error_messages_are_english() -> None:
    for src in [v["expr"] for v in DATA["syntax_errors"]]:
        with pytest.raises(ExprSyntaxError) as info:
            parse(src)
        assert all(c in string.printable or ord(c) > 0x7F for c in info.value.message)


def test_japan_today_turns_at_midnight_in_japan(monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from procedure_definitions.expressions import dates

    # 2026-03-31T14:59:59Z is 23:59:59 on March 31st in Japan; one second later it is April 1st there.
    midnight = dt.datetime(2026, 3, 31, 15, 0, tzinfo=dt.UTC).timestamp()
    for t, expected in [(midnight - 1, "2026-03-31"), (midnight, "2026-04-01"), (midnight - 1, "2026-03-31"),
                        (midnight + 86399, "2026-04-01"), (midnight + 86400, "2026-04-02")]:
        monkeypatch.setattr(dates.time, "time", lambda t=t: t)
        assert dates.japan_today() == expected, t
