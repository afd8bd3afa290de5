"""Benchmark ``madoguchi check`` on 200 procedure files; goal: a cold check under 3 s on 2 cores.

Usage: ``python3 -m bench.bench_check [--files 200] [--repeat 3] [--write]``

It copies the shipped library's procedures into a temporary folder as N variants with distinct ids, then
times (1) the cold CLI in a fresh process, so interpreter start-up and imports count, with and without the
scenarios, and (2) in process: parsing only (YAML with positions), loading only (parse + shape + meaning
checks) and the whole check (load + scenarios + time estimates). With ``--write`` the results replace the
section between the ``<!-- check-bench -->`` markers of docs/benchmarks.md. When the goal is missed it adds
the hottest functions of a cProfile run as hints.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# Run as a path too (python3 bench/bench_x.py): the project root goes first on sys.path, before the
# project imports, so this checkout (not an installed copy) is what runs.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

__all__ = ["generate_variants", "main", "render_section", "time_cli", "time_in_process"]

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "procedure_definitions" / "library" / "procedures"
DOC = ROOT / "docs" / "benchmarks.md"
MARK = "<!-- check-bench -->"
GOAL_SECONDS = 3.0
_ID_LINE = re.compile(r"^id:\s*(\S+)\s*$", re.MULTILINE)


def generate_variants(source: Path, out: Path, count: int) -> list[Path]:
    """Write ``count`` copies of the YAML procedures in ``source`` with ids ``<id>-v<n>`` (round robin)."""
    sources = sorted(p for p in source.glob("*.yaml") if _ID_LINE.search(p.read_text(encoding="utf-8")))
    if not sources:
        raise SystemExit(f"no procedures with a top-level 'id:' line in {source}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for n in range(count):
        src = sources[n % len(sources)]
        text = src.read_text(encoding="utf-8")
        text = _ID_LINE.sub(lambda m, n=n: f"id: {m.group(1)}-v{n:03d}", text, count=1)
        path = out / f"{src.stem}-v{n:03d}.yaml"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _cli() -> list[str]:
    # The real entry point when installed; `python -m` otherwise (no pyenv/shim overhead either way).
    script = shutil.which("madoguchi")
    if script and Path(script).read_bytes()[:2] == b"#!" and b"python" in Path(script).read_bytes()[:200]:
        return [sys.executable, script]
    return [sys.executable, "-m", "madoguchi.cli"]


Timing = tuple[list[float], list[float]]  # wall-clock seconds, CPU seconds (user + system) per run


def _child_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def time_cli(args: list[str], repeat: int) -> tuple[Timing, int, str]:
    """Wall and CPU seconds of each fresh-process run, the exit code and the output's last line.

    CPU time is reported too because this machine is shared: under load the wall clock of a
    single-threaded run inflates, while its CPU time stays close to the wall time on an idle machine.
    """
    walls, cpus, code, last = [], [], 0, ""
    for _ in range(repeat):
        c0, t0 = _child_cpu(), time.perf_counter()
        proc = subprocess.run([*_cli(), *args], capture_output=True, text=True, cwd=ROOT, check=False)
        walls.append(time.perf_counter() - t0)
        cpus.append(_child_cpu() - c0)
        code = proc.returncode
        lines = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
        last = lines[-1] if lines else ""
    return (walls, cpus), code, last


def time_in_process(fn: Callable[[], object], repeat: int) -> Timing:
    walls, cpus = [], []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return walls, cpus


def _parse_all(files: list[Path]) -> None:
    from procedure_definitions.yamlpos import read_yaml

    for f in files:
        read_yaml(f.read_text(encoding="utf-8"))


def _load(folder: Path) -> object:
    from procedure_definitions.library import load_library

    return load_library(folder)


def _check(folder: Path) -> object:
    from procedure_definitions.commands import check_library

    return check_library(_load(folder))  # type: ignore[arg-type]


def _scenarios_and_estimates(lib: object) -> object:
    from procedure_definitions.commands import check_library

    return check_library(lib)  # type: ignore[arg-type]


def _profile(fn: Callable[[], object], top: int = 12) -> str:
    prof = cProfile.Profile()
    prof.runcall(fn)
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    keep = [ln for ln in buf.getvalue().splitlines() if re.match(r"\s*\d", ln)]
    return "\n".join(keep)


def _fmt(t: Timing) -> str:
    walls, cpus = t
    return f"{min(walls):.2f} (median {statistics.median(walls):.2f}) | {min(cpus):.2f}"


def render_section(results: dict[str, object]) -> str:
    r = results
    rows = "\n".join(f"| {name} | {value} |" for name, value in r["rows"])  # type: ignore[attr-defined]
    verdict = "meets" if r["met"] else "**misses**"
    text = f"""{MARK}
## Procedure check

`python3 -m bench.bench_check --write` ({r["date"]}; {r["machine"]}).
{r["files"]} procedure files ({r["kib"]:.0f} KiB) generated from the {r["sources"]} shipped library procedures
with distinct ids. Cold runs start a fresh Python process (imports count); in-process times are the best of
{r["repeat"]} runs after warm-up. Goal: a cold `madoguchi check` under {GOAL_SECONDS:.0f} s; by the wall clock it {verdict} the goal.

| measurement | wall s, best (median) | CPU s, best |
|---|---|---|
{rows}

Last line of the CLI output: `{r["last"]}` (exit code {r["code"]}).
"""
    if r.get("hints"):
        text += "\n" + "\n".join(f"- {h}" for h in r["hints"]) + "\n"  # type: ignore[attr-defined]
    if r.get("profile"):
        text += f"""
Hottest functions of one in-process check (cProfile, by own time): where to look first.

```
{r["profile"]}
```
"""
    return text + MARK


def write_section(section: str, doc: Path = DOC) -> None:
    """Replace the text between the markers (or append the section) without touching other sections."""
    current = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    start, end = current.find(MARK), current.rfind(MARK)
    if start != -1 and end > start:
        updated = current[:start] + section + current[end + len(MARK) :]
    else:
        updated = current.rstrip("\n") + "\n\n" + section + "\n"
    doc.write_text(updated, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    ap.add_argument("--profile", action="store_true", help="always include profiling hints")
    ns = ap.parse_args(argv)

    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-") as tmp:
        folder = Path(tmp) / "procedures"
        files = generate_variants(LIBRARY, folder, ns.files)
        kib = sum(f.stat().st_size for f in files) / 1024
        cold, code, last = time_cli(["check", str(folder)], ns.repeat)
        cold_ns, _, _ = time_cli(["check", "--no-scenarios", "--quiet", str(folder)], ns.repeat)
        imports, _, _ = time_cli(["--help"], ns.repeat)
        _check(folder)  # warm-up: imports and caches, so the in-process numbers measure the work
        parse = time_in_process(lambda: _parse_all(files), ns.repeat)
        load = time_in_process(lambda: _load(folder), ns.repeat)
        loaded = _load(folder)
        extra = time_in_process(lambda: _scenarios_and_estimates(loaded), ns.repeat)
        met = min(cold[0]) < GOAL_SECONDS
        cpu_met = min(cold[1]) < GOAL_SECONDS
        hints = [
            f"By CPU time: parsing (YAML with positions) is {min(parse[1]) / min(load[1]):.0%} of loading; "
            f"scenarios and estimates add {min(extra[1]):.2f} s; "
            f"interpreter start-up and CLI imports cost {min(imports[1]):.2f} s.",
            f"By CPU time (≈ wall time on an idle machine, the check is single-threaded) the cold check "
            f"{'meets' if cpu_met else 'misses'} the goal.",
        ]
        profile = _profile(lambda: _check(folder)) if (ns.profile or not (met and cpu_met)) else ""

    results: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d"),
        # Others share this machine: the load average tells how noisy the numbers are.
        "machine": f"Python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}, "
        f"load average {load_at_start:.1f} at start",
        "files": len(files),
        "kib": kib,
        "sources": len(list(LIBRARY.glob("*.yaml"))),
        "repeat": ns.repeat,
        "met": met,
        "code": code,
        "last": last,
        "profile": profile,
        "hints": hints,
        "rows": [
            ("cold `madoguchi check DIR` (scenarios + estimates)", _fmt(cold)),
            ("cold `madoguchi check --no-scenarios --quiet DIR`", _fmt(cold_ns)),
            ("cold `madoguchi --help` (interpreter start-up + CLI import)", _fmt(imports)),
            (f"in process: parse only ({len(files)} files, YAML with positions)", _fmt(parse)),
            ("in process: load only (parse + shape + meaning checks)", _fmt(load)),
            ("in process: scenarios + estimates of the loaded library", _fmt(extra)),
        ],
    }
    section = render_section(results)
    print(section)
    if ns.write:
        write_section(section)
        print(f"\nwrote {DOC.relative_to(ROOT)}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
