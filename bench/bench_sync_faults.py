"""Larger fault-injection run: simulated devices on an unreliable network (drops, duplicates, delays,
reordering, cut uploads, clocks a year ahead) against the real server, SIGKILLed and restarted mid-run.

    python3 -m bench.bench_sync_faults [--devices 6] [--ops 150] [--seeds 3] [--write-docs]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

# Run as a path too (python3 bench/bench_x.py): the project root goes first on sys.path, before the
# project imports, so this checkout (not an installed copy) is what runs.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testsupport.faults import run_fault_workload
from testsupport.servers import ROOT


def main() -> int:
    ap = argparse.ArgumentParser(description="Sync fault-injection run")
    ap.add_argument("--devices", type=int, default=6, help="staff devices (plus one resident device)")
    ap.add_argument("--ops", type=int, default=150, help="operations per device")
    ap.add_argument("--households", type=int, default=4, help="shared records edited concurrently")
    ap.add_argument("--seeds", type=int, default=3, help="independent runs")
    ap.add_argument("--kill-every", type=float, default=1.5, help="mean seconds between SIGKILLs")
    ap.add_argument("--write-docs", action="store_true", help="append the outcome to the sync section of docs/benchmarks.md")
    ns = ap.parse_args()
    rows = []
    for seed in range(1, ns.seeds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            r = run_fault_workload(tmp, devices=ns.devices, ops_per_device=ns.ops, households=ns.households,
                                   kill_every=ns.kill_every, seed=seed)
        f = r.faults
        line = (f"| {seed} | {r.devices} × {ns.ops} | {r.invariants['acknowledged']} | {r.kills} | "
                f"{f.dropped_requests}/{f.dropped_responses}/{f.duplicated}/{f.delayed}+{f.replayed_late}/"
                f"{f.cut_chunks}/{f.interrupted_pulls} | {r.invariants['conflicts']} | {r.clock_ahead_flags} | "
                f"{r.seconds:.1f} s | all hold |")
        print(line, flush=True)
        rows.append(line)
    if ns.write_docs:
        MARK = "<!-- sync-bench -->"

        path = ROOT / "docs" / "benchmarks.md"
        text = path.read_text(encoding="utf-8")
        table = "\n".join([
            "",
            "### Sync fault injection (`bench/bench_sync_faults.py`)",
            "",
            "Simulated devices speak HTTP to the real server (`madoguchi serve`, SIGKILLed and restarted mid-run) "
            "through a faulty network; 6 staff devices edit 4 shared households, every other one with its clock "
            "a year ahead, and one resident device files a submission with a file uploaded in cut chunks. "
            "Invariants checked after quiescence: every acknowledged mutation applied exactly once or with a "
            "terminal conflict/rejection record, none applied twice, every device equal to the server, "
            "attachments intact, audit chain valid, submission stored once and completed.",
            "",
            "| seed | devices × ops | acknowledged | SIGKILLs | faults: lost req / lost resp / dup / delayed+late / cut chunks / cut pulls | conflicts | clock_ahead | time | invariants |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
        ])
        head, sep, rest = text.partition(MARK)
        body, sep2, tail = rest.partition(MARK)
        if sep and sep2:
            body = body.split("\n### Sync fault injection")[0].rstrip("\n") + "\n" + table + "\n"
            path.write_text(head + MARK + body + MARK + tail, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
