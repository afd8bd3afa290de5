"""Smoke test of the scripted resident (bench/bench_resident.py): one procedure end to end against the real
server, and the arithmetic that turns its counts into seconds. No timing is asserted: it is a benchmark."""

from __future__ import annotations

import os

import msgspec
import pytest

from bench.bench_resident import run_all, seconds
from bench.resident_driver import Counts
from procedure_definitions.timing import DEFAULT_MODEL
from testsupport.chromium import CHROMIUM

pytestmark = pytest.mark.browser


def test_counts_by_keyboard() -> None:
    c = Counts()
    c.typed("山田")  # a kanji is typed as its reading (2 kana) and converted once per run
    c.typed("ヤマダ")
    c.typed("090-1234-5678")
    c.typed("3丁目15-1")  # digits, kana, digits: two keyboard switches
    c.typed("taro@example.jp")
    assert (c.kana, c.conversions, c.digits, c.ascii, c.switches) == (4 + 3 + 4, 1 + 1, 13 + 5, 15, 2)
    assert c.typed_chars == 2 + 3 + 13 + 7 + 15


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")
def test_scripted_resident_files_one_procedure_to_the_receipt() -> None:
    [run] = run_all(["juminhyo-copy"])
    assert run.ok, run.outcome  # a receipt on the phone and the submission stored by the server
    assert run.received == 1
    c = run.counts
    # At least one form screen, the review and the receipt (the overview folds into the first step since
    # issue 12: a screen with nothing to answer costs no page); every screen was left by a tap.
    assert c.screens >= 3 and c.taps >= c.screens - 1
    assert c.answered >= 1 and c.read_chars > 0
    # Every count is priced by its TouchModel constant: one more second per tap adds `taps` seconds.
    slower = msgspec.structs.replace(DEFAULT_MODEL, tap=DEFAULT_MODEL.tap + 1)
    assert sum(seconds(c, slower).values()) - run.measured_s == pytest.approx(c.taps)
