"""procedure_definitions.japan: shared conformance vectors, hand-written examples and properties."""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from procedure_definitions import japan

VECTORS_PATH = Path(__file__).parent / "conformance" / "japan.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["vectors"]

# Python calls for each vector's "fn"; parse_wareki and to_wareki exchange ISO strings like japan.js.
FUNCTIONS: dict[str, Callable[[str], Any]] = {
    "is_valid_my_number": japan.is_valid_my_number,
    "is_valid_corporate_number": japan.is_valid_corporate_number,
    "normalize_kana": japan.normalize_kana,
    "is_katakana": japan.is_katakana,
    "is_valid_phone": japan.is_valid_phone,
    "normalize_postal_code": japan.normalize_postal_code,
    "normalize_digits": japan.normalize_digits,
    "phone_digits": japan.phone_digits,
    "parse_wareki": lambda s: japan.parse_wareki(s).isoformat(),
    "parse_wareki_partial": japan.parse_wareki_partial,
    "to_wareki": lambda s: japan.to_wareki(datetime.date.fromisoformat(s)),
}
RAISING = {"parse_wareki", "parse_wareki_partial", "to_wareki"}


def test_vectors_cover_every_function() -> None:
    counts = {fn: sum(v["fn"] == fn for v in VECTORS) for fn in FUNCTIONS}
    assert len(VECTORS) >= 150
    assert set(v["fn"] for v in VECTORS) == set(FUNCTIONS)
    assert min(counts.values()) >= 8, counts


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: f"{v['fn']}:{v['input']}")
def test_conformance(vector: dict[str, Any]) -> None:
    fn = FUNCTIONS[vector["fn"]]
    if vector["fn"] in RAISING and vector["expected"] == "error":
        with pytest.raises(ValueError):
            fn(vector["input"])
    else:
        assert fn(vector["input"]) == vector["expected"]


def test_parse_wareki_returns_a_date() -> None:
    assert japan.parse_wareki("令和元年5月1日") == datetime.date(2019, 5, 1)


def test_to_wareki_accepts_a_datetime() -> None:
    assert japan.to_wareki(datetime.datetime(2019, 4, 30, 23, 59)) == "平成31年4月30日"


def test_errors_explain_the_problem() -> None:
    with pytest.raises(ValueError, match="平成 ended on 2019-04-30"):
        japan.parse_wareki("平成31年5月1日")
    with pytest.raises(ValueError, match="lunisolar"):
        japan.parse_wareki("明治5年12月31日")
    with pytest.raises(ValueError, match="令和 has no year 0"):
        japan.parse_wareki("令和0年5月1日")


def test_normalize_kana_keeps_ivs_bytes() -> None:
    name = "\u845b\U000e0100飾 \U00020bb7"  # 葛 + VS17, then 𠮷 (outside the BMP)
    assert japan.normalize_kana(name).encode() == "\u845b\U000e0100飾\u3000\U00020bb7".encode()


def test_non_strings_are_invalid() -> None:
    assert japan.is_valid_my_number(123456789018) is False  # type: ignore[arg-type]
    assert japan.normalize_postal_code(None) is None  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        japan.parse_wareki(None)  # type: ignore[arg-type]


# --- properties -------------------------------------------------------------------------------------

KANA_ALPHABET = "あいうえおかがきぎぱぴぁぃっゃゔゝゞゟｱｲｳｶｷﾊﾋﾜｦｧｯｬｰﾞﾟ･｡ アイウガヴヵー・\u3000漢字ABC\u3099"


@given(st.text(alphabet=KANA_ALPHABET) | st.text())
def test_normalize_kana_is_idempotent(s: str) -> None:
    once = japan.normalize_kana(s)
    assert japan.normalize_kana(once) == once


# Kana letters only: a lone ﾞ becomes ゛, which is not a letter.
KANA_TOKENS = [*"あいうえおかがぱぁっゃゔゝゞゖｱｶﾊｯｬｰｦ･ ", "ｶﾞ", "ﾊﾟ", "ｳﾞ", "ﾜﾞ"]


@given(st.lists(st.sampled_from(KANA_TOKENS), min_size=1).map("".join))
def test_normalized_kana_is_katakana(s: str) -> None:
    assert japan.is_katakana(japan.normalize_kana(s))


@given(st.dates(min_value=datetime.date(1873, 1, 1), max_value=datetime.date(2100, 12, 31)))
def test_to_wareki_round_trips(d: datetime.date) -> None:
    assert japan.parse_wareki(japan.to_wareki(d)) == d
    assert japan.parse_wareki(d.isoformat()) == d
    assert japan.parse_wareki(d.strftime("%Y%m%d")) == d
    assert japan.parse_wareki_partial(japan.to_wareki(d)) == d.isoformat()


@given(st.dates(max_value=datetime.date(1872, 12, 31)))
def test_dates_before_1873_are_rejected(d: datetime.date) -> None:
    with pytest.raises(ValueError):
        japan.to_wareki(d)
    with pytest.raises(ValueError):
        japan.parse_wareki(d.isoformat())


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_exactly_one_my_number_check_digit(prefix: str) -> None:
    assert sum(japan.is_valid_my_number(prefix + str(c)) for c in range(10)) == 1


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_exactly_one_corporate_check_digit(body: str) -> None:
    valid = [c for c in range(10) if japan.is_valid_corporate_number(str(c) + body)]
    assert len(valid) == 1 and valid[0] != 0


@given(st.text())
def test_parsers_fail_only_with_value_error(s: str) -> None:
    for fn in (japan.parse_wareki, japan.parse_wareki_partial):
        with contextlib.suppress(ValueError):
            fn(s)
    japan.normalize_postal_code(s)
    japan.is_valid_phone(s)


@pytest.mark.parametrize(("run", "digits"), [
    ("四", "4"), ("一〇", "10"), ("二〇一九", "2019"), ("十", "10"), ("十五", "15"), ("二十三", "23"), ("一十", "10"),
    ("百", "100"), ("百二", "102"), ("三百十", "310"), ("千", "1000"), ("千二百三十四", "1234"), ("二千五", "2005"),
    # Malformed: left as is (a date then fails to parse; an address keeps the run).
    ("十十", "十十"), ("二十三十", "二十三十"), ("十百", "十百"), ("百〇二", "百〇二"), ("千千", "千千"),
])
def test_kanji_number_reads_tens_hundreds_and_thousands(run: str, digits: str) -> None:
    assert japan.kanji_number(run) == digits


def test_dates_keep_refusing_malformed_kanji_numbers() -> None:
    assert japan.parse_wareki("令和二年十二月二十五日") == datetime.date(2020, 12, 25)
    for bad in ("令和十十年一月一日", "令和二年百月一日"):
        with pytest.raises(ValueError):
            japan.parse_wareki(bad)
