"""The one search key of a name or an address: what every search of people compares (registry, console).

``search_key`` folds the differences a clerk cannot see or type at the counter so that 高橋 finds 髙橋, やまだ
finds ヤマダ and 「山田 太郎」 finds 山田太郎:

1. variation selectors dropped (IVS U+E0100-E01EF, standard U+FE00-FE0F): 葛󠄀 and 葛 are one key;
2. NFKC: full/half width (ｶﾞ, Ａ, １), compatibility ideographs (塚 U+FA10 → 塚);
3. hiragana → katakana (``japan.normalize_kana``), small kana → large (ショウ and シヨウ: older records
   wrote kana without small letters);
4. spaces of every width and 中黒 ・ removed; Latin letters case-folded (NGUYEN, Nguyen);
5. 異体字/旧字体 → a representative by the table ``name_variants.txt`` (髙→高, 﨑→崎, 邊/邉→辺, ...), a data
   file a city reads and extends.

``address_key`` adds what addresses need on top: an address's numbers in kanji as digits and 丁目/番地/番/号/の
after a number as hyphens, so 外神田四丁目5番6号, 外神田4丁目5-6 and 外神田4-5-6 are one key.

The key is for comparing only. It is never written where a name is stored or shown (names keep their
IVS/MJ characters byte for byte): only a search-key column or index holds it. Pure: no I/O after import.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from procedure_definitions.japan import kanji_number, normalize_kana

__all__ = ["FOLD_VERSION", "VARIANTS", "VARIANTS_FILE", "address_key", "parse_variants", "search_key"]

VARIANTS_FILE = Path(__file__).with_name("name_variants.txt")

# Bump when a rule here changes (the table's own changes are in its hash): stored keys are rebuilt.
_RULES = "3"  # 3: the numbers of addresses read by japan.kanji_number (a malformed run stays as is)


def _is_variation_selector(c: str) -> bool:
    o = ord(c)
    return 0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF


def parse_variants(text: str) -> dict[str, str]:
    """The table's pairs {variant: representative}; ValueError naming the line of a malformed one.

    A line is ``異体字 代表字 # comment`` (the comment is required); blank lines and lines starting with ``#``
    are skipped. Each side is one character that NFKC leaves alone (NFKC runs first, so a pair it already
    folds would never apply); a representative is never itself a variant and a variant appears once."""
    table: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pair, sep, comment = line.partition("#")
        if not sep or not comment.strip():
            raise ValueError(f"line {n}: a pair needs a comment saying what the variant is")
        parts = pair.split()
        if len(parts) != 2 or any(len(p) != 1 for p in parts):
            raise ValueError(f"line {n}: expected two single characters, the variant and its representative")
        variant, rep = parts
        if any(unicodedata.normalize("NFKC", c) != c or _is_variation_selector(c) for c in parts):
            raise ValueError(f"line {n}: NFKC or the selector rule already folds {pair.strip()!r}")
        if variant == rep or variant in table:
            raise ValueError(f"line {n}: {variant!r} is its own representative or listed twice")
        table[variant] = rep
    for variant, rep in table.items():
        if rep in table:
            raise ValueError(f"{variant!r} → {rep!r}: a representative must not itself be a variant")
    return table


_TEXT = VARIANTS_FILE.read_text(encoding="utf-8")
VARIANTS: dict[str, str] = parse_variants(_TEXT)
# Which keys a database holds: the rules and the table. A server whose stored keys were made with another
# version rebuilds them at start (server/registry_search.py).
FOLD_VERSION = f"{_RULES}:{hashlib.sha256(_TEXT.encode('utf-8')).hexdigest()[:16]}"

_SMALL = dict(zip("ァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ",
                  "アイウエオツヤユヨワカケクシストヌハヒフヘホムラリルレロ", strict=True))
_DROP = {"・"}


class _CharFold(dict[int, str | None]):
    """One character's fold after NFKC (kana to katakana, small to large, 異体字 to its representative; spaces
    and 中黒 dropped), worked out on first sight and kept: ``str.translate`` then folds a text at C speed. The
    key is computed on every filing (server/storage/submission_search.py) inside the one writer."""

    def __missing__(self, code: int) -> str | None:
        out = []
        for c in normalize_kana(chr(code)):
            if not (c.isspace() or c in _DROP):
                c = _SMALL.get(c, c)
                out.append(VARIANTS.get(c, c))
        self[code] = value = "".join(out) or None
        return value


_SELECTORS = dict.fromkeys([*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)])
_FOLD = _CharFold()


def search_key(text: str) -> str:
    """The folded key of ``text`` (a name, a kana reading, an address, a search term); see the module."""
    return unicodedata.normalize("NFKC", text.translate(_SELECTORS)).translate(_FOLD).casefold()


_KANJI_NUMBER = re.compile("[〇一二三四五六七八九十百千]+")
_MARKS = ("丁目", "番地", "番", "号")  # after a number; ノ (の once folded) joins two numbers
_ADDRESS_MARK = re.compile("(?<=[0-9])(?:丁目|番地|番|号|ノ)+(?=[0-9]|$)")


_AFTER_NUMBER = re.compile("[0-9〇一二三四五六七八九十百千](?:丁目|番地|番|号|ノ|-)+$")


def _numbers_as_digits(s: str) -> str:
    """Kanji numerals that are an address's numbers as digits: a run followed by 丁目/番地/番/号, or following
    a number and its mark (五番六号, 二十三番地ノ二). Place names keep theirs (四谷, 千代田, 三田)."""
    out, last = [], 0
    for m in _KANJI_NUMBER.finditer(s):
        before, after = s[:m.start()], s[m.end():]
        numbered = after.startswith(_MARKS) or _AFTER_NUMBER.search(before) is not None
        out += [s[last:m.start()], kanji_number(m[0]) if numbered else m[0]]
        last = m.end()
    return "".join([*out, s[last:]])


def address_key(text: str) -> str:
    """The folded key of an address or an address search term: ``search_key``, then its numbers the one way
    (kanji numerals of 丁目/番地/番/号 as digits, those marks after a number as ``-``, no hyphen at the end)."""
    s = _ADDRESS_MARK.sub("-", _numbers_as_digits(search_key(text)))
    return re.sub("-+", "-", s).rstrip("-")
