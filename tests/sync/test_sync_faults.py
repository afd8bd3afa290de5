"""Fault-injection run (small): devices on an unreliable network, server SIGKILLed mid-run.

Larger runs: ``python3 -m bench.bench_sync_faults``.
"""

from __future__ import annotations

from pathlib import Path

from testsupport.faults import run_fault_workload


def test_devices_converge_exactly_once_under_faults_and_sigkill(tmp_path: Path) -> None:
    report = run_fault_workload(str(tmp_path), devices=3, ops_per_device=25, households=3, kill_every=1.0, seed=3)
    assert report.kills >= 1
    f = report.faults
    assert f.dropped_responses and f.dropped_requests and f.duplicated and f.delayed and f.cut_chunks
    assert report.invariants["acknowledged"] >= 3 * 25
    assert report.clock_ahead_flags > 0  # the devices a year ahead were flagged, and changed nothing else
