"""The characters no person's name may hold: the one definition, used by every path that takes a name.

``server.auth.names`` (account and passkey names, a visit's new person) builds its rule on it, and the form
engine (``procedure_definitions.forms``: every ``name`` answer, so HTTP, sync, the console interview and the
fast lane refuse the same names) tests each part with ``bad_name_char``. ``pwa/js/form.js`` holds the same
class (``NOT_IN_NAME``), pinned by tests/conformance/forms.json.

Forbidden: C0 control characters (tab and newline included: a name is one line), DEL, C1 controls (invisible;
they drive terminals and printers), the line and paragraph separators, the bidirectional marks, embeddings,
overrides and isolates (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069: they show or print a name in
another order than it is stored, a spoofing vector), and lone surrogates. Variation selectors (IVS
U+E0100-U+E01EF, U+FE00-U+FE0F) are allowed: an MJ variant such as 邊 + U+E0102 is a name as written, and
names are never normalized.
"""

from __future__ import annotations

import re

__all__ = ["NAME_FORBIDDEN", "bad_name_char"]

# A regex character class body (no brackets), so a pattern can embed it.
NAME_FORBIDDEN = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff"
_BAD = re.compile(f"[{NAME_FORBIDDEN}]")


def bad_name_char(value: str) -> str | None:
    """The first character of ``value`` no name may hold, or None when there is none."""
    found = _BAD.search(value)
    return None if found is None else found.group()
