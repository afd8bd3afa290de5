"""The queue bench's phones poll as the app does: ``bench.queue_sim.next_poll`` / ``long_poll_pause`` against the
shared vectors of tests/conformance/polling.json (node runs pwa/js/polling.js against them: tests/js/polling.test.mjs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.queue_sim import long_poll_pause, next_poll

VECTORS = json.loads((Path(__file__).parent / "conformance" / "polling.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("v", VECTORS["next_poll"], ids=str)
def test_next_poll(v: dict[str, Any]) -> None:
    assert next_poll(v["last_s"], v["changed"], v["hint_s"]) == pytest.approx(v["want_s"])


@pytest.mark.parametrize("v", VECTORS["long_poll_pause"], ids=str)
def test_long_poll_pause(v: dict[str, Any]) -> None:
    got = long_poll_pause(v["last_s"], v["status"], v["took_s"], v["retry_after"], v["hint_s"])
    assert got == pytest.approx(v["want_s"])
