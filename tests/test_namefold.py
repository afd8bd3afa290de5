"""The search key of names and addresses (procedure_definitions/namefold.py): every rule and every table entry."""

from __future__ import annotations

import pytest

from procedure_definitions.namefold import (
    FOLD_VERSION,
    VARIANTS,
    VARIANTS_FILE,
    address_key,
    parse_variants,
    search_key,
)

# The pairs issue 13 names: the table may grow but must keep these (a city's data file starts from them).
REQUIRED = {"髙": "高", "\ufa11": "崎", "邊": "辺", "邉": "辺", "齋": "斎", "齊": "斎", "濱": "浜", "澤": "沢",
            "櫻": "桜", "廣": "広", "國": "国", "嶋": "島", "德": "徳", "藏": "蔵"}


def _entries() -> list[tuple[int, str, str, str]]:
    out = []
    for n, line in enumerate(VARIANTS_FILE.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            pair, _, comment = line.partition("#")
            variant, rep = pair.split()
            out.append((n, variant, rep, comment.strip()))
    return out


@pytest.mark.parametrize(("variant", "rep"), sorted(REQUIRED.items()))
def test_the_pairs_the_issue_names_are_in_the_table(variant: str, rep: str) -> None:
    assert VARIANTS.get(variant) == rep


@pytest.mark.parametrize(("line", "variant", "rep", "comment"), _entries(), ids=lambda v: str(v))
def test_every_table_entry_folds_both_ways_and_says_why(line: int, variant: str, rep: str, comment: str) -> None:
    assert comment, f"line {line} has no comment"
    # In a name, alone, after a kana reading and with an IVS on it: the variant and the representative agree.
    assert search_key(f"山{variant}") == search_key(f"山{rep}") == f"山{rep}"
    assert search_key(variant) == rep and search_key(rep) == rep
    assert search_key(f"{variant}\U000e0100田") == search_key(f"{rep}田")
    assert variant != rep


def test_every_line_of_the_file_is_an_entry() -> None:
    assert len(_entries()) == len(VARIANTS) > len(REQUIRED)


def test_names_differ_when_the_characters_differ() -> None:
    # Folding is not matching everything: unrelated names keep distinct keys.
    assert search_key("高橋") != search_key("高槁")
    assert search_key("斎藤") != search_key("佐藤")
    assert search_key("ガ") != search_key("カ")  # dakuten are not folded


@pytest.mark.parametrize(("a", "b"), [
    ("たかはし", "タカハシ"),            # hiragana / katakana
    ("ﾀｶﾊｼ", "タカハシ"),                # half-width katakana
    ("ｶﾞｸ", "ガク"),                     # half-width voiced mark joins
    ("が", "か\u3099"),                  # combining dakuten
    ("ＮＧＵＹＥＮ", "nguyen"),          # full-width Latin, case
    ("Nguyen Van An", "NGUYENVANAN"),    # spaces, case
    ("山田　太郎", "山田太郎"),          # ideographic space
    ("山田 太郎", "山田太郎"),           # ASCII space
    ("ジョン・スミス", "ジョンスミス"),  # 中黒
    ("ジョン･スミス", "ジョンスミス"),   # half-width 中黒
    ("きょうこ", "キヨウコ"),            # small kana / large
    ("ちゅうおう１－２", "チユウオウ1-2"),  # full-width digits and hyphen-minus
    ("\ufa10", "塚"),                    # compatibility ideograph (NFKC)
    ("葛\U000e0100城", "葛城"),          # IVS
    ("葛\ufe00城", "葛城"),              # standard variation selector
    ("\U00020bb7田", "吉田"),            # つちよし, outside the BMP
])
def test_rules(a: str, b: str) -> None:
    assert search_key(a) == search_key(b)


def test_empty_and_only_spaces_fold_to_nothing() -> None:
    assert search_key("") == search_key(" \u3000\t") == ""


@pytest.mark.parametrize(("text", "problem"), [
    ("髙 高\n", "comment"),
    ("髙 高 #   \n", "comment"),
    ("髙高 # x\n", "two single characters"),
    ("髙 高 高 # x\n", "two single characters"),
    ("\ufa10 塚 # x\n", "NFKC"),
    ("高 高 # x\n", "its own"),
    ("髙 高 # x\n髙 高 # y\n", "twice"),
    ("髙 高 # x\n高 丁 # y\n", "must not itself be a variant"),
])
def test_a_malformed_table_is_refused_with_its_line(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_variants(text)


def test_a_city_line_is_read_as_the_shipped_ones() -> None:
    table = parse_variants("# a comment line\n\n邊 辺  # 旧字体\n")
    assert table == {"邊": "辺"}


def test_the_fold_version_names_the_table() -> None:
    rules, digest = FOLD_VERSION.split(":")
    assert rules and len(digest) == 16


@pytest.mark.parametrize(("a", "b"), [
    ("外神田四丁目5番6号", "外神田4-5-6"),
    ("外神田4丁目5-6", "外神田４－５－６"),
    ("九段南一丁目二番一号", "九段南1-2-1"),
    ("二十三番地の二", "23-2"),
    ("百二番地", "102"),
    ("千二百三十四番地", "1234"),  # japan.kanji_number: the one reader of kanji numbers
    ("三百十番地の五", "310-5"),
    ("六本木6丁目10番1号", "六本木6-10-1"),
    ("外神田四丁目", "外神田4"),
    ("丸の内1-9-1", "丸ノ内1-9-1"),
])
def test_address_numbers_one_way(a: str, b: str) -> None:
    assert address_key(a) == address_key(b)


@pytest.mark.parametrize(("a", "b"), [
    ("四谷", "4谷"), ("千代田", "1000代田"), ("三田", "3田"),  # place names keep their kanji numerals
    ("外神田4-5-6", "外神田4-5-7"),
    ("十百番地", "1100"), ("十百番地", "110"),  # a malformed run is no number: kept as written
])
def test_address_keys_that_stay_apart(a: str, b: str) -> None:
    assert address_key(a) != address_key(b)


def test_address_key_folds_what_search_key_folds() -> None:
    assert address_key("渡邊ﾋﾞﾙ　２０１") == address_key("渡辺ビル201") == search_key("渡辺ビル201")
