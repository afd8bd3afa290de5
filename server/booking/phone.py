"""The one phone number rule of a booking without an account (the API's ``POST /api/bookings``, the console's
電話予約, and through the API's answer the resident app; docs/booking.md "Phone numbers").

A number is kept as the person typed it (shown to the desk and sent to the city's SMS adapter as written), but it
is judged by its digits: a Japanese keyboard often gives full-width digits and hyphens (「０９０－１２３４－５６７８」),
and people write brackets (「(03) 1234-5678」, 「０３（１２３４）５６７８」). Folding those to ASCII is safe for phone
numbers (unlike names). :func:`phone_digits` answers the folded digits, the key that caps open bookings per
number however it was written (``bookings.phone_key``), or None when the text is not a phone number. Pure.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["PHONE_MAX", "PHONE_MAX_DIGITS", "PHONE_MIN_DIGITS", "phone_digits"]

PHONE_MAX: Final = 30  # characters as typed (the app's and the console's maxlength, the API's max_length)
PHONE_MIN_DIGITS: Final = 6  # a local number without its area code is not enough to call back
PHONE_MAX_DIGITS: Final = 15  # E.164's longest number

# Full-width digits and signs, and the dashes and spaces people type between groups, as ASCII.
_FOLD: Final = str.maketrans({
    **{chr(0xFF10 + i): str(i) for i in range(10)},
    "＋": "+", "（": "(", "）": ")", "　": " ",
    **dict.fromkeys("－‐‑‒–—―−ーｰ", "-"),
})
_SHAPE: Final = re.compile(r"\+?[0-9() -]+", re.ASCII)


def phone_digits(text: str) -> str | None:
    """The digits of ``text`` as a phone number, or None when it is not one: up to
    :data:`PHONE_MAX` characters as typed of digits, spaces, hyphens and brackets, full-width or not, an optional
    ``+`` first, and from :data:`PHONE_MIN_DIGITS` to :data:`PHONE_MAX_DIGITS` digits."""
    if not isinstance(text, str) or len(text) > PHONE_MAX:
        return None
    folded = text.translate(_FOLD).strip()
    if not _SHAPE.fullmatch(folded):
        return None
    digits = re.sub(r"[^0-9]", "", folded)
    if not PHONE_MIN_DIGITS <= len(digits) <= PHONE_MAX_DIGITS:
        return None
    return digits
