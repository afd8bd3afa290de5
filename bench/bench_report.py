"""Analytics report benchmark: `madoguchi report` over 100,000 submissions and their telemetry and form sessions.

    python3 -m bench.bench_report [--submissions N] [--visits N] [--runs N] [--write]

Fills a fresh SQLite file with synthetic use through testsupport/analytics_data.py (the real migrations, the
shipped library, telemetry and form-session rows made by the server's own functions; about 1.35 form sessions per
submission), then times the whole command as a city runs it (`python -m madoguchi.cli report --db ... --out ...`:
interpreter start, imports, reading the file read-only, the DuckDB figures, the SVG charts, writing the HTML),
median of ``--runs``; and once in-process, the phases. Goal: under 10 s. ``--write`` puts the result into
docs/benchmarks.md between the ``<!-- report-bench -->`` markers.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_resident import write_doc
from testsupport.analytics_data import fill_database
from testsupport.servers import ROOT

MARK = "<!-- report-bench -->"
GOAL_S = 10.0


def run_cli(db: Path, out: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "madoguchi.cli", "report", "--db", str(db), "--out", str(out)],
                          capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"madoguchi report failed: {done.stderr.strip()}")
    return elapsed


def phases(db: Path, out: Path) -> dict[str, float]:
    """One in-process run, timed per phase (imports already paid by the CLI runs' measurements)."""
    from madoguchi.analytics.charts import figures, to_svg
    from madoguchi.analytics.dataset import load_sqlite
    from madoguchi.analytics.metrics import all_figures
    from madoguchi.analytics.report import render_html

    t0 = time.perf_counter()
    ds = load_sqlite(db)
    t1 = time.perf_counter()
    frames = all_figures(ds)
    t2 = time.perf_counter()
    svgs = {k: to_svg(c) for k, c in figures(frames, ds.versions)}
    t3 = time.perf_counter()
    out.write_text(render_html(ds, frames, svgs), encoding="utf-8")
    t4 = time.perf_counter()
    return {"read": t1 - t0, "figures": t2 - t1, "charts": t3 - t2, "html": t4 - t3, "charts_n": len(svgs),
            **{f"rows_{k}": v for k, v in ds.counts().items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--submissions", type=int, default=100_000)
    ap.add_argument("--visits", type=int, default=2_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="write the result into docs/benchmarks.md")
    ns = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="report-bench-"))
    try:
        db = tmp / "city.db"
        t = time.perf_counter()
        fill_database(db, submissions=ns.submissions, visits=ns.visits, seed=2026)
        fill_s = time.perf_counter() - t
        size_mb = db.stat().st_size / 1e6
        times = [run_cli(db, tmp / "report.html") for _ in range(ns.runs)]
        html_kb = (tmp / "report.html").stat().st_size / 1e3
        ph = phases(db, tmp / "phases.html")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    median = statistics.median(times)
    rows = [
        "## Analytics report (`bench/bench_report.py`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on this 2-core machine. `madoguchi report --db city.db --out"
        f" report.html` over {ns.submissions:,} submissions, {ph['rows_telemetry']:,} telemetry rows,"
        f" {ph['rows_form_sessions']:,} form sessions and {ph['rows_visit_events']:,} visit steps"
        f" ({ns.visits:,} visits; a {size_mb:.0f} MB file made by testsupport/analytics_data.py in {fill_s:.0f} s):"
        " the whole command (interpreter, imports, read-only read, DuckDB figures, vl-convert SVG charts, HTML).",
        "",
        "| metric | goal | result |",
        "|---|---|---|",
        f"| `madoguchi report`, wall time (median of {ns.runs}) | < {GOAL_S:.0f} s | **{median:.1f} s** |",
        f"| of which: read the file (sqlite3 → pandas) | | {ph['read']:.2f} s |",
        f"| of which: the figures (DuckDB SQL) | | {ph['figures']:.2f} s |",
        f"| of which: {ph['charts_n']} charts to SVG (vl-convert) | | {ph['charts']:.2f} s |",
        f"| of which: the HTML | | {ph['html']:.2f} s |",
        f"| report size | | {html_kb:.0f} KB |",
    ]
    text = "\n".join(rows)
    print(text)
    if ns.write:
        write_doc(text, MARK)  # the one marked-section writer (bench_resident)
    return 0 if median < GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
