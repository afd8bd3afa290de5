"""CSV cells made inert (server.export.neutralize): only a plain decimal number may start with + or -."""

from __future__ import annotations

import pytest

from server.export import neutralize


@pytest.mark.parametrize("value", ["-5", "+81", "-1.5e+3", "-0.25", "+.5", "", "山田", "5-1"])
def test_plain_values_stay(value: str) -> None:
    assert neutralize(value) == value


# What Python's float() reads but a spreadsheet does not take as a number: it would evaluate a formula
# (a name such as inf or nan, digit separators, surrounding control characters).
@pytest.mark.parametrize("value", ["-inf", "-nan", "-Infinity", "+1_000", "-1\r", "-1\n", "=1+1", "@SUM(A1)",
                                   "\t=1", "＝1", "-2+3+cmd|' /C calc'!A0"])
def test_anything_a_spreadsheet_could_evaluate_gets_a_quote(value: str) -> None:
    assert neutralize(value) == "'" + value
