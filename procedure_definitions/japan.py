"""Japan-aware value helpers: My Number, corporate number, wareki dates, kana, phone, postal code.

``pwa/js/japan.js`` mirrors every function here with identical results; the shared vectors in
``tests/conformance/japan.json`` pin them down. Both sides work on characters explicitly (hand tables,
ASCII-only patterns): no Unicode normalization (NFKC/NFC would rewrite names' compatibility ideographs)
and no locale-dependent classes such as Python's Unicode ``\\d``.
"""

from __future__ import annotations

import datetime
import re
from typing import NamedTuple

from procedure_definitions.postal import entries_for_code, entry_to_dict

__all__ = [
    "ERAS",
    "JST",
    "Era",
    "is_katakana",
    "is_valid_corporate_number",
    "is_valid_my_number",
    "is_valid_phone",
    "kanji_number",
    "lookup_postal_code",
    "normalize_digits",
    "normalize_kana",
    "normalize_postal_code",
    "parse_wareki",
    "parse_wareki_partial",
    "phone_digits",
    "to_wareki",
]

# Japan Standard Time (UTC+9, no daylight saving): the one zone object for every "time/day in Japan".
JST = datetime.timezone(datetime.timedelta(hours=9), "JST")

_ASCII_DIGITS = re.compile(r"[0-9]+")


def _is_ascii_digits(s: str, length: int) -> bool:
    return len(s) == length and _ASCII_DIGITS.fullmatch(s) is not None


def normalize_digits(s: str) -> str:
    """Full-width digits (０-９) to ASCII; everything else unchanged."""
    return s.translate(_FULLWIDTH_DIGITS)


_FULLWIDTH_DIGITS = {0xFF10 + i: 0x30 + i for i in range(10)}


def phone_digits(s: str) -> str:
    """A phone number's digits (full-width as ASCII, separators dropped, +81 as the leading 0): what two ways
    of writing one number share (03-1234-5678, 0312345678, +81-3-1234-5678)."""
    digits = re.sub(r"[^0-9]", "", normalize_digits(s))
    return "0" + digits[2:] if s.startswith("+81") else digits

# --- My Number and corporate number -------------------------------------------------------------


def is_valid_my_number(s: str) -> bool:
    """12 ASCII digits whose last digit is the check digit of 個人番号 (総務省令 第5条).

    Q_n is the n-th digit counted from the right of the first 11 digits; P_n = n + 1 for n <= 6 and
    n - 5 for n >= 7; check = 11 - (sum P_n Q_n mod 11), or 0 when the remainder is 0 or 1.
    """
    if not isinstance(s, str) or not _is_ascii_digits(s, 12):
        return False
    body = s[:11][::-1]
    total = sum(int(q) * (n + 1 if n <= 6 else n - 5) for n, q in enumerate(body, start=1))
    remainder = total % 11
    check = 0 if remainder <= 1 else 11 - remainder
    return int(s[11]) == check


def is_valid_corporate_number(s: str) -> bool:
    """13 ASCII digits whose first digit is the check digit of 法人番号.

    Q_n is the n-th digit from the right of the last 12 digits; P_n is 1 for odd n and 2 for even n;
    check = 9 - (sum P_n Q_n mod 9).
    """
    if not isinstance(s, str) or not _is_ascii_digits(s, 13):
        return False
    body = s[1:][::-1]
    total = sum(int(q) * (1 if n % 2 else 2) for n, q in enumerate(body, start=1))
    return int(s[0]) == 9 - total % 9


# --- Wareki ---------------------------------------------------------------------------------------


class Era(NamedTuple):
    name: str
    start: datetime.date
    end: datetime.date | None  # last day, inclusive; None for the current era


ERAS: tuple[Era, ...] = (
    Era("明治", datetime.date(1868, 10, 23), datetime.date(1912, 7, 29)),
    Era("大正", datetime.date(1912, 7, 30), datetime.date(1926, 12, 24)),
    Era("昭和", datetime.date(1926, 12, 25), datetime.date(1989, 1, 7)),
    Era("平成", datetime.date(1989, 1, 8), datetime.date(2019, 4, 30)),
    Era("令和", datetime.date(2019, 5, 1), None),
)
_ERA_BY_NAME = {era.name: era for era in ERAS}

# Japan adopted the Gregorian calendar on 明治6年1月1日; earlier dates were lunisolar and are out of scope.
_EARLIEST = datetime.date(1873, 1, 1)

# Every spelling of an era, longest first so that 大正 wins over 大.
_ERA_ALIASES = {
    "明治": "明治", "大正": "大正", "昭和": "昭和", "平成": "平成", "令和": "令和",
    "明": "明治", "大": "大正", "昭": "昭和", "平": "平成", "令": "令和",
    "M": "明治", "T": "大正", "S": "昭和", "H": "平成", "R": "令和",
    "m": "明治", "t": "大正", "s": "昭和", "h": "平成", "r": "令和",
    "Ｍ": "明治", "Ｔ": "大正", "Ｓ": "昭和", "Ｈ": "平成", "Ｒ": "令和",
    "㍾": "明治", "㍽": "大正", "㍼": "昭和", "㍻": "平成", "㋿": "令和",
}  # fmt: skip
_ERA_PREFIX = re.compile("(" + "|".join(sorted(_ERA_ALIASES, key=len, reverse=True)) + "|西暦)?(.*)", re.S)

_PUNCT = str.maketrans({"．": ".", "／": "/", "－": "-", **{chr(0xFF10 + i): str(i) for i in range(10)}})
_KANJI_DIGITS = {"〇": "0", "一": "1", "二": "2", "三": "3", "四": "4",
                 "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}  # fmt: skip
_KANJI_RUN = re.compile("[〇一二三四五六七八九十]+")  # a date's numbers: never in the hundreds
# A numeral with units, each at most once, in falling order: 二十三, 百二, 千二百三十四 (一 may lead a unit).
_D = "[一二三四五六七八九]"
_KANJI_UNITS = re.compile(f"(?:(?P<k>{_D}?)千)?(?:(?P<h>{_D}?)百)?(?:(?P<t>{_D}?)十)?(?P<o>{_D}?)")
_SPACE = "[ \t\u3000]"
_SPACE_BETWEEN_DIGITS = re.compile(f"(?<=[0-9]){_SPACE}+(?=[0-9])")
_ANY_SPACE = re.compile(f"{_SPACE}+")

# After the era prefix: year, then month and day, written with 年月日 or with one separator (. / -).
_ERA_FORMS = (
    re.compile("(?P<y>元|[0-9]{1,2})年(?:(?P<m>[0-9]{1,2})月(?:(?P<d>[0-9]{1,2})日?)?)?"),
    re.compile("(?P<y>[0-9]{1,2})(?:(?P<sep>[./-])(?P<m>[0-9]{1,2})(?:(?P=sep)(?P<d>[0-9]{1,2}))?)?"),
)
_GREGORIAN_FORMS = (
    re.compile("(?P<y>[0-9]{4})年(?:(?P<m>[0-9]{1,2})月(?:(?P<d>[0-9]{1,2})日?)?)?"),
    re.compile("(?P<y>[0-9]{4})(?:(?P<sep>[./-])(?P<m>[0-9]{1,2})(?:(?P=sep)(?P<d>[0-9]{1,2}))?)?"),
    re.compile("(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})"),
)


def kanji_number(run: str) -> str:
    """A run of kanji numerals as digits: 四 → 4, 二十三 → 23, 百二 → 102, 千二百 → 1200; a run without
    十百千 digit by digit (一〇 → 10, 二〇一九 → 2019). Malformed (十十, 二十三十, 十百, 百〇二) is left as is,
    so that a date reading it fails and an address keeps it: the one reader of dates (here) and of addresses'
    numbers (``namefold.address_key``)."""
    if not any(c in "十百千" for c in run):
        return "".join(_KANJI_DIGITS[c] for c in run)
    m = _KANJI_UNITS.fullmatch(run)
    if m is None:
        return run
    # A unit present with no digit before it counts once (十 = 10, 百二 = 102); an absent one (None) not at all.
    units = ((m["k"], 1000), (m["h"], 100), (m["t"], 10))
    total = sum((int(_KANJI_DIGITS[d]) if d else 1) * unit for d, unit in units if d is not None)
    return str(total + (int(_KANJI_DIGITS[m["o"]]) if m["o"] else 0))


def _prepare(s: str) -> str:
    if not isinstance(s, str):
        raise ValueError("not a string")
    s = _KANJI_RUN.sub(lambda m: kanji_number(m[0]), s.translate(_PUNCT))
    s = _SPACE_BETWEEN_DIGITS.sub("/", s)  # "2019 5 1" reads as 2019/5/1
    return _ANY_SPACE.sub("", s)


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _split(s: str) -> tuple[str | None, int, int | None, int | None]:
    """(era name or None, year as written, month, day) of an input, or ValueError."""
    text = _prepare(s)
    if not text:
        raise ValueError("empty date")
    prefix = _ERA_PREFIX.fullmatch(text)
    assert prefix is not None  # the pattern accepts anything
    era = _ERA_ALIASES.get(prefix[1]) if prefix[1] else None
    for form in _ERA_FORMS if era else _GREGORIAN_FORMS:
        m = form.fullmatch(prefix[2])
        if m:
            year = 1 if m["y"] == "元" else int(m["y"])
            return era, year, int(m["m"]) if m["m"] else None, int(m["d"]) if m["d"] else None
    raise ValueError(f"not a date: {s!r}")


_BEFORE_1873 = "dates before 1873-01-01 (明治6年) used the lunisolar calendar: not supported"


def _resolve(s: str) -> tuple[int, int | None, int | None]:
    """Gregorian (year, month, day) of an input, month and day None when not given; checked."""
    era_name, year, month, day = _split(s)
    era = _ERA_BY_NAME[era_name] if era_name else None
    if era is not None:
        if year < 1:
            raise ValueError(f"{era.name} has no year {year}")
        last_year = era.end.year - era.start.year + 1 if era.end else 99
        if year > last_year:
            raise ValueError(f"{era.name} ended in its year {last_year}")
        year = era.start.year + year - 1
    if year < _EARLIEST.year:
        raise ValueError(_BEFORE_1873)
    if month is not None and not 1 <= month <= 12:
        raise ValueError(f"no month {month}")
    if day is not None and month is not None and not 1 <= day <= _days_in_month(year, month):
        raise ValueError(f"no day {day} in {year}-{month:02d}")
    if era is not None:
        # The first and last day the input can denote (a whole month or year when partial).
        first = datetime.date(year, month or 1, day or 1)
        last = datetime.date(year, month or 12, day or _days_in_month(year, month or 12))
        if last < era.start:
            raise ValueError(f"{era.name} began on {era.start.isoformat()}")
        if era.end is not None and first > era.end:
            raise ValueError(f"{era.name} ended on {era.end.isoformat()}")
    return year, month, day


def parse_wareki(s: str) -> datetime.date:
    """A full date in Gregorian or Japanese-era notation; ValueError when invalid or incomplete."""
    year, month, day = _resolve(s)
    if month is None or day is None:
        raise ValueError(f"incomplete date: {s!r}")
    return datetime.date(year, month, day)


def parse_wareki_partial(s: str) -> str:
    """Like parse_wareki, also accepting year-month or year only: ISO "YYYY", "YYYY-MM" or "YYYY-MM-DD"."""
    year, month, day = _resolve(s)
    if month is None:
        return f"{year:04d}"
    if day is None:
        return f"{year:04d}-{month:02d}"
    return parse_wareki(s).isoformat()


def to_wareki(d: datetime.date) -> str:
    """e.g. 令和元年5月1日 (ASCII digits, no padding, 元年 for the first year); ValueError before 1873."""
    if isinstance(d, datetime.datetime):
        d = d.date()  # a datetime does not compare with a date
    if d < _EARLIEST:
        raise ValueError(_BEFORE_1873)
    era = next(era for era in reversed(ERAS) if era.start <= d)
    year = d.year - era.start.year + 1
    return f"{era.name}{'元' if year == 1 else year}年{d.month}月{d.day}日"


# --- Kana -----------------------------------------------------------------------------------------

_HALF = "｡｢｣､･ｦｧｨｩｪｫｬｭｮｯｰｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝﾞﾟ"
_FULL = "。「」、・ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン゛゜"
_VOICED = dict(zip("ｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾊﾋﾌﾍﾎｳﾜｦ", "ガギグゲゴザジズゼゾダヂヅデドバビブベボヴヷヺ", strict=True))
_SEMI_VOICED = dict(zip("ﾊﾋﾌﾍﾎ", "パピプペポ", strict=True))
_KANA_TABLE = {
    **{chr(c): chr(c + 0x60) for c in range(0x3041, 0x3097)},  # ぁ..ゖ -> ァ..ヶ (small stay small)
    "ゝ": "ヽ", "ゞ": "ヾ",
    **dict(zip(_HALF, _FULL, strict=True)),
    " ": "\u3000",
}  # fmt: skip


def normalize_kana(s: str) -> str:
    """Hiragana and half-width katakana to full-width katakana; everything else unchanged.

    Half-width ﾞ/ﾟ combine with the preceding half-width kana when a precomposed letter exists (ｶﾞ -> ガ),
    otherwise become ゛/゜. The ASCII space becomes the full-width space U+3000 so that a kana name typed
    as "ヤマダ タロウ" is stored in one consistent form that is_katakana accepts. Code points are mapped
    one by one, never normalized: surrogate pairs, variation selectors and other scripts pass untouched.
    """
    out: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        mark = s[i + 1] if i + 1 < len(s) else ""
        if mark == "ﾞ" and c in _VOICED:
            out.append(_VOICED[c])
            i += 2
        elif mark == "ﾟ" and c in _SEMI_VOICED:
            out.append(_SEMI_VOICED[c])
            i += 2
        else:
            out.append(_KANA_TABLE.get(c, c))
            i += 1
    return "".join(out)


_KATAKANA = re.compile("[\u30a1-\u30fe\u31f0-\u31ff\u3000]+")


def is_katakana(s: str) -> bool:
    """Non-empty and only full-width katakana (incl. small ones, ヴヵヶヽヾ), ー, ・ and U+3000."""
    return isinstance(s, str) and _KATAKANA.fullmatch(s) is not None


# --- Phone ----------------------------------------------------------------------------------------

_PHONE_FORMS = tuple(
    re.compile(p)
    for p in (
        "[0-9]{10,11}",
        "[0-9]{2,5}[- ][0-9]{1,4}[- ][0-9]{3,4}",
        "\\([0-9]{2,5}\\) ?[0-9]{1,4}[- ][0-9]{3,4}",
        "[0-9]{2,5}\\([0-9]{1,4}\\)[0-9]{3,4}",
        "[0-9]{2,5}[- ][0-9]{6,8}",
    )
)
_ELEVEN_DIGIT_PREFIXES = ("020", "050", "060", "070", "080", "090", "0800")
_NOT_DIGIT = re.compile("[^0-9]")
_INTERNATIONAL = re.compile("\\+81[- ]?([1-9].*)", re.S)


def is_valid_phone(s: str) -> bool:
    """A Japanese phone number, leniently: 10 digits (landline, 0120, 0570, ...) or 11 digits
    (070/080/090/050/020/060 and 0800), starting with one 0, ASCII digits with optional hyphens or
    spaces between groups, or parentheses around the area code or exchange; "+81" replaces the 0."""
    if not isinstance(s, str):
        return False
    if s.startswith("+81"):
        international = _INTERNATIONAL.fullmatch(s)
        if international is None:
            return False
        s = "0" + international[1]
    if not any(form.fullmatch(s) for form in _PHONE_FORMS):
        return False
    digits = _NOT_DIGIT.sub("", s)
    if not digits.startswith("0") or digits.startswith("00"):
        return False
    eleven = digits.startswith(_ELEVEN_DIGIT_PREFIXES)
    return len(digits) == (11 if eleven else 10)


# --- Postal code ----------------------------------------------------------------------------------

_POSTAL = re.compile(f"〒?{_SPACE}*([0-9]{{3}})[-－ー‐−]?([0-9]{{4}})")


def normalize_postal_code(s: str) -> str | None:
    """The 7 ASCII digits ("1000001") of 100-0001, 1000001, １００－０００１, 〒100-0001 (surrounding spaces ignored); else None."""
    if not isinstance(s, str):
        return None
    m = _POSTAL.fullmatch(re.sub(f"^{_SPACE}+|{_SPACE}+$", "", normalize_digits(s)))
    return m[1] + m[2] if m else None


def lookup_postal_code(code: str) -> list[dict[str, str]]:
    """Addresses of a postal code: [{prefecture, city, town, prefecture_kana, city_kana, town_kana}].

    [] for unknown or malformed codes; several entries when the code spans several towns (or
    prefectures); town "" for "-0000" codes (以下に掲載がない場合). Cached per code after the first call.
    """
    normalized = normalize_postal_code(code)
    if normalized is None:
        return []
    return [entry_to_dict(entry) for entry in entries_for_code(normalized)]
