"""The sync benchmark's own workload stays valid: a small run pushes every record and pulls them all back.

Timing is not checked here (that is bench/bench_sync.py's job on a quiet machine); this only keeps the
benchmark from rotting when the protocol's rules change (e.g. a field shape it sends becoming refused).
"""

from __future__ import annotations

import importlib.util

from testsupport.servers import ROOT


def test_the_sync_benchmark_workload_is_accepted_whole() -> None:
    spec = importlib.util.spec_from_file_location("bench_sync", ROOT / "bench" / "bench_sync.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    # bench_ours asserts that every mutation was applied and that the pull returned every record.
    out = bench.bench_ours(40, 16, 16)
    assert out["push_s"] > 0 and out["pull_s"] > 0
