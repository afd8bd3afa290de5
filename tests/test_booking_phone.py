"""The one phone rule (server/booking/phone.py) used by the booking API, the console's 電話予約 and (through the
API's 422 bad-phone) the resident app: numbers as people type them on Japanese keyboards are accepted and keyed
by their digits; what is not a phone number is refused."""

from __future__ import annotations

import pytest

from server.booking.phone import PHONE_MAX, phone_digits


@pytest.mark.parametrize(("typed", "digits"), [
    ("090-1234-5678", "09012345678"),
    ("09012345678", "09012345678"),
    ("０９０－１２３４－５６７８", "09012345678"),  # a Japanese IME's full-width digits and hyphens
    ("０９０ー１２３４ー５６７８", "09012345678"),  # the long vowel mark typed for a hyphen
    ("(090) 1234-5678", "09012345678"),
    ("０３（１２３４）５６７８", "0312345678"),
    ("＋８１　９０－１２３４－５６７８", "819012345678"),
    ("+81 90-1234-5678", "819012345678"),
    ("  03-1234-5678 ", "0312345678"),
])
def test_numbers_as_typed_are_phone_numbers(typed: str, digits: str) -> None:
    assert phone_digits(typed) == digits


@pytest.mark.parametrize("typed", [
    "", "0", "090", "03-12", "abc", "090-1234-ABCD", "0" * 16, "090 1234 5678 9012 3456 78", "090-1234-5678 内線12",
    "81+90-1234-5678", "090\n1234\n5678", "0" * 10 + " " * (PHONE_MAX - 9),
])
def test_other_text_is_not(typed: str) -> None:
    assert phone_digits(typed) is None
