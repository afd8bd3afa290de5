"""The one rule for names people give and others see: account display names (self-registration, staff
invites), passkey names and a visit's new person (the 姓 a ``Name``, the 名 a ``NamePart``, which may be
empty). Shown in the console, the account page and the terminal.

A name is 1 to ``MAX_NAME`` characters (code points), not only white space, on one line, and holds none of
the characters ``procedure_definitions.names`` forbids (the form engine refuses them in name answers too):
C0 control characters (tab and newline included), DEL, C1 controls (invisible; they drive terminals and
printers), the line and paragraph separators, and bidirectional marks, embeddings, overrides and isolates
(U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069: they show text in another order than it is stored, a
spoofing vector), or a lone surrogate. Unlike definitions (``procedure_definitions.yamlpos.bad_string``, which
allows tab and newline in multi-line text), a name is one line.

A name is **never normalized**: what is accepted is stored and shown byte for byte, so an MJ variant written
with an ideographic variation selector (邊 + U+E0102) stays that glyph.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

from procedure_definitions.names import NAME_FORBIDDEN, bad_name_char

__all__ = ["MAX_NAME", "NAME_PATTERN", "Name", "NamePart", "check_name"]

MAX_NAME = 100
_FORBIDDEN = NAME_FORBIDDEN  # the characters: procedure_definitions.names, shared with the form engine
# Linear: the look-ahead scans the white space once, the class once (a body may hold a long string).
NAME_PATTERN = rf"\A(?!\s*\Z)[^{_FORBIDDEN}]*\Z"
_NAME = re.compile(NAME_PATTERN)

# Request bodies decode names through this type, so every JSON path refuses the same names (400).
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN)]

# A part of a person's name that may be empty (a visit's new person's 名: none for some foreign residents):
# the same characters refused, nothing else asked.
NamePart = Annotated[str, msgspec.Meta(max_length=MAX_NAME, pattern=rf"\A[^{_FORBIDDEN}]*\Z")]


def check_name(value: str) -> str:
    """``value`` when it is an acceptable name (unchanged: never normalized); else ValueError saying why."""
    if not 1 <= len(value) <= MAX_NAME:
        raise ValueError(f"a name must be 1 to {MAX_NAME} characters")
    bad = bad_name_char(value)
    if bad is not None:
        raise ValueError(f"a name may not hold the control or bidirectional character U+{ord(bad):04X}")
    if _NAME.search(value) is None:
        raise ValueError("a name must show something, not only white space")
    return value
