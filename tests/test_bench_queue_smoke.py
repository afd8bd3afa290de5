"""The queue load benchmark's own workload stays valid: a tiny morning plays to the end without one error.

Timing is not checked here (bench/bench_queue.py's job on a quiet machine, docs/benchmarks.md); this keeps the
benchmark from rotting when the queue's API or rules change, and checks that what its clients saw adds up: every
arrival got a ticket, every ticket ended on the server as the booths ended it, boards and phones saw the calls
after they were made.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.bench_queue import render, run
from bench.queue_sim import Morning, plan

pytestmark = pytest.mark.slow


def test_a_tiny_morning_plays_to_the_end_without_errors() -> None:
    m = replace(Morning().scaled(0.02), speed=720.0)  # 4 h in 20 s
    r = run(m)
    t = r.tally
    assert t.errors == []
    people = [v for v in plan(m) if not v.no_show]
    assert t.ops["checkin"] == sum(v.kind == "booking" for v in people)
    assert t.ops["ticket"] == sum(v.kind == "walkin" for v in people)
    # Every ticket ended, and the server says the same: served to the end, or no-show after missing twice.
    assert t.issued == len(people) == t.closed
    assert set(r.states) <= {"done", "no_show"} and sum(r.states.values()) == len(people)
    assert r.states.get("no_show", 0) == t.ops["missed"] // 2
    assert t.ops["finish"] == r.states["done"] and t.ops["call"] >= t.ops["finish"]
    # Boards and phones saw calls, never before the booth asked for them (one clock for all clients).
    for key in ("board", "sse", "poll"):  # poll: the long-polling phones (?wait=25)
        assert r.delays[key], key
        assert min(r.delays[key]) >= 0, key
    assert len(r.delays["board"]) + r.unseen["board"] == m.boards * (t.ops["call"] + t.ops["recall"])
    assert r.cpu_s > 0 and r.mean_open > 0 and t.healthz
    assert "| errors | **0** |" in render(r)
