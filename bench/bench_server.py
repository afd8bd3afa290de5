"""Benchmark: validated, durably committed submissions per second through the real HTTP stack.

Usage (from the repository root): ``python3 -m bench.bench_server [--duration 15] [--connections 50] [--big 1000000] [--write]``

Side by side in the same run, under the same load generator (``wrk``, Debian package ``wrk``, with a Lua
script that gives every request a fresh idempotency key):

1. **bare**: a tiny Litestar app (below, ``--bare-app``) that only decodes the same JSON body into the same
   msgspec Struct and echoes it — one uvicorn worker, no access log;
2. **madoguchi**: ``madoguchi serve`` as a subprocess (one uvicorn worker) on a SQLite file holding 10,000
   submissions; a resident session is created in the file with ``testsupport.sessions.login_as`` before the
   start. Each request passes CSRF + session checks, is validated against ``juminhyo-copy`` 1.1.0 with the
   procedure's own rules, and answers 201 only after COMMIT with ``synchronous=FULL`` (group commit);
3. the same after bulk-inserting rows directly into the file up to ``--big`` stored submissions (default 1M),
   to see whether latency grows with the table.

Rows are counted before and after each run: every 201 must be one new row. With ``--write`` the results replace
the section between the ``<!-- server-bench -->`` markers of docs/benchmarks.md. The machine is shared: the
load average is reported and both sides always run in the same invocation.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

# Run as a path too (python3 bench/bench_x.py): the project root goes first on sys.path, before the
# project imports, so this checkout (not an installed copy) is what runs.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testsupport.servers import ROOT, ServerProcess

__all__ = ["bare_app", "main", "median_run", "parse_wrk"]

DOC = ROOT / "docs" / "benchmarks.md"
MARK = "<!-- server-bench -->"
PROC_ID, PROC_VERSION = "juminhyo-copy", "1.1.0"

LUA = r"""
-- Every request gets a fresh, valid UUID as its idempotency key: thread id + counter. With a sessions file
-- (lines "cookie<TAB>csrf token"), requests take turns over those sessions: many residents, not one.
local counter = 0
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  prefix = args[1]
  before = args[2]
  after = args[3]
  sessions = {}
  if args[4] ~= nil and args[4] ~= "" then
    for line in io.lines(args[4]) do
      local cookie, csrf = line:match("([^\t]+)\t([^\t]+)")
      table.insert(sessions, {["Cookie"] = cookie, ["X-CSRF-Token"] = csrf, ["Content-Type"] = "application/json"})
    end
  end
end
function request()
  counter = counter + 1
  local id = string.format("%s-4%03x-8%03x-%012x", prefix, tid, 0, counter)
  local headers = nil
  if #sessions > 0 then
    headers = sessions[(counter + tid) % #sessions + 1]
  end
  return wrk.format("POST", nil, headers, before .. id .. after)
end
"""


# -- the bare endpoint -------------------------------------------------------------------------------------
def bare_app() -> Any:
    """Decode the same body into the same Struct as the real endpoint and echo it: the HTTP stack's ceiling."""
    from litestar import Litestar, post

    from server.submissions import SubmissionIn

    @post("/echo", status_code=201, sync_to_thread=False)
    def echo(data: SubmissionIn) -> SubmissionIn:
        return data

    return Litestar(route_handlers=[echo], debug=False, signature_namespace={"SubmissionIn": SubmissionIn})


def _serve_bare(port: int) -> None:
    import uvicorn

    uvicorn.run(bare_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _serve_diag(port: int, db_path: str) -> None:
    """Diagnostic only: the real app with form validation stubbed out, to show what validation costs."""
    import uvicorn

    import server.validation
    from server.app import create_app
    from server.settings import Settings

    def no_validation(proc: Any, answers: Any, filer: str = "resident") -> list[Any]:
        return []

    server.validation.validate_answers = no_validation
    app = create_app(Settings(db_path=db_path, origin=f"http://localhost:{port}", build_result=_NoBuild(),
                              validation_workers=0))
    gc.collect()
    gc.freeze()  # as `madoguchi serve` does
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- helpers -----------------------------------------------------------------------------------------------
def pid(srv: ServerProcess) -> int:
    assert srv.proc is not None, "server not started"
    return srv.proc.pid


def parse_wrk(text: str) -> dict[str, float]:
    """Requests/s, p50/p99 latency (ms), request and error counts from ``wrk --latency`` output."""
    def ms(v: str, unit: str) -> float:
        return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    out: dict[str, float] = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["rps"] = float(m.group(1)) if m else 0.0
    for pct in ("50", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        out[f"p{pct}"] = ms(m.group(1), m.group(2)) if m else float("nan")
    m = re.search(r"(\d+) requests in", text)
    out["requests"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non2xx"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = float(sum(int(x) for x in m.groups())) if m else 0.0
    return out


def run_wrk(url: str, body: dict[str, Any], headers: dict[str, str], *, duration: int, connections: int,
            threads: int, workdir: Path, sessions: Path | None = None) -> dict[str, float]:
    script = workdir / "post.lua"
    script.write_text(LUA, encoding="utf-8")
    encoded = json.dumps({**body, "id": "@@ID@@"}, ensure_ascii=False, separators=(",", ":"))
    before, after = encoded.split("@@ID@@")
    prefix = uuid.uuid4().hex[:8] + "-" + uuid.uuid4().hex[:4]
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency", "--timeout", "10s",
           "-s", str(script), "-H", "Content-Type: application/json"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    cmd += [url, "--", prefix, before, after, str(sessions or "")]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    out = parse_wrk(res.stdout)
    out["raw"] = res.stdout  # type: ignore[assignment]
    return out


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(CPU s of the process, CPU s of its live children) from /proc: robust to other load on the machine."""
    tick = os.sysconf("SC_CLK_TCK")

    def one(p: int) -> float:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    try:
        kids = [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        kids = []
    return one(pid), sum(one(k) for k in kids)


def count_rows(db_path: Path) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return int(conn.execute("SELECT count(*) FROM submissions").fetchone()[0])
    finally:
        conn.close()


def prepare_db(db_path: Path, residents: int) -> list[dict[str, Any]]:
    """Schema + published library + one signed-in resident per connection, before the server starts."""
    from server.app import open_services
    from server.settings import Settings
    from testsupport.sessions import login_as

    svc = open_services(Settings(db_path=str(db_path), build_result=_NoBuild()))
    try:
        return [login_as(svc.db, "resident", display_name=f"ベンチ 住民{i}") for i in range(residents)]
    finally:
        svc.db.close()


class _NoBuild:
    files: dict[str, bytes] = {"index.html": b""}  # noqa: RUF012


def bulk_insert(db_path: Path, target: int, account_id: str, answers: dict[str, Any]) -> float:
    """Insert synthetic received submissions (+ their first history entry) until ``target`` rows exist."""
    from server.storage.submissions import body_hash

    t0 = time.perf_counter()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")  # bulk load only: the benchmarked server uses FULL
    have = int(conn.execute("SELECT count(*) FROM submissions").fetchone()[0])
    year = dt.datetime.now(dt.timezone(dt.timedelta(hours=9))).year - 1  # last year's numbers: no clash
    answers_json = json.dumps(answers, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    digest = body_hash(PROC_ID, PROC_VERSION, answers, None)
    start_n = int((conn.execute("SELECT last FROM receipt_counters WHERE year = ?", (year,)).fetchone() or [0])[0])
    batch = 50_000
    n = start_n
    base = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    while have < target:
        k = min(batch, target - have)
        rows, events = [], []
        for _ in range(k):
            n += 1
            sid = str(uuid.uuid4())
            at = (base + dt.timedelta(seconds=n % 31_000_000)).isoformat(timespec="milliseconds")
            number = f"{year}-{n:06d}"
            rows.append((sid, number, PROC_ID, PROC_VERSION, "shimin", answers_json, digest, account_id, at, at,
                         number + " 山田 太郎"))
            events.append((sid, at, account_id))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO submissions (id, receipt_number, procedure_id, procedure_version, department, status,"
            " answers, body_hash, flags, account_id, on_behalf_of, received_at, updated_at, search_text)"
            " VALUES (?, ?, ?, ?, ?, 'received', ?, ?, '[]', ?, NULL, ?, ?, ?)", rows)
        conn.executemany("INSERT INTO submission_events (submission_id, at, actor, from_status, to_status)"
                         " VALUES (?, ?, ?, NULL, 'received')", events)
        conn.execute("INSERT INTO receipt_counters (year, last) VALUES (?, ?) ON CONFLICT(year) DO UPDATE"
                     " SET last = excluded.last", (year, n))
        conn.execute("COMMIT")
        have += k
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return time.perf_counter() - t0


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median requests/s (its latencies and CPU belong together)."""
    ordered = sorted(runs, key=lambda r: r["rps"])
    return dict(ordered[len(ordered) // 2])


def scenario_answers() -> dict[str, Any]:
    from procedure_definitions.library import load_library

    proc = load_library().get(PROC_ID, PROC_VERSION)
    assert proc is not None
    return dict(next(s for s in proc.scenarios if s.expect.valid).answers)


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# -- the run -----------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2, help="wrk threads")
    ap.add_argument("--small", type=int, default=10_000, help="stored submissions for the main run")
    ap.add_argument("--big", type=int, default=1_000_000, help="stored submissions for the size run (0: skip)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating bare/madoguchi rounds (medians reported)")
    ap.add_argument("--write", action="store_true", help="write the section of docs/benchmarks.md")
    ap.add_argument("--no-diagnostic", action="store_true", help="skip the run with validation stubbed out")
    ap.add_argument("--bare-app", type=int, metavar="PORT", help=argparse.SUPPRESS)
    ap.add_argument("--diag-app", nargs=2, metavar=("PORT", "DB"), help=argparse.SUPPRESS)
    ns = ap.parse_args(argv)
    if ns.bare_app:
        _serve_bare(ns.bare_app)
        return 0
    if ns.diag_app:
        _serve_diag(int(ns.diag_app[0]), ns.diag_app[1])
        return 0
    if not shutil.which("wrk"):
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2

    load_start = load_average()
    answers = scenario_answers()
    body = {"procedure_id": PROC_ID, "procedure_version": PROC_VERSION, "answers": answers}
    results: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="madoguchi-bench-") as tmp_s:
        tmp = Path(tmp_s)
        db_path = tmp / "bench.db"
        residents = prepare_db(db_path, ns.connections)
        sessions = tmp / "sessions.tsv"
        sessions.write_text("".join(
            "; ".join(f"{k}={v}" for k, v in r["cookies"].items()) + "\t" + r["headers"]["X-CSRF-Token"] + "\n"
            for r in residents), encoding="utf-8")
        print(f"bulk insert {ns.small} rows ...", flush=True)
        bulk_insert(db_path, ns.small, residents[0]["account_id"], answers)

        def measure(label: str, url: str, pid: int, with_sessions: bool) -> dict[str, float]:
            time.sleep(1)  # requests in flight when wrk stopped finish before we count
            before = count_rows(db_path)
            cpu0 = cpu_seconds(pid)
            r = run_wrk(url, body, {}, duration=ns.duration, connections=ns.connections, threads=ns.threads,
                        workdir=tmp, sessions=sessions if with_sessions else None)
            time.sleep(1)
            cpu1 = cpu_seconds(pid)
            done = max(1.0, r["requests"])
            r["cpu_ms"] = (cpu1[0] - cpu0[0]) / done * 1000  # server process, per request
            r["worker_cpu_ms"] = (cpu1[1] - cpu0[1]) / done * 1000  # validation workers, per request
            r["rows_added"] = count_rows(db_path) - before
            r["stored"] = before
            print(f"{label}: {r['rps']:.0f} req/s, p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, "
                  f"non-2xx {r['non2xx']:.0f}, socket errors {r['socket_errors']:.0f}, CPU/request "
                  f"{r['cpu_ms']:.2f} ms + workers {r['worker_cpu_ms']:.2f} ms", flush=True)
            return r

        def check_rows(label: str, r: dict[str, float], log: Path) -> None:
            ok = r["requests"] - r["non2xx"]
            # wrk counts responses received within the duration; up to one request per connection is still in
            # flight when it stops and is committed afterwards.
            if not ok <= r["rows_added"] <= ok + ns.connections:
                notes.append(f"{label}: {r['rows_added']:.0f} rows added for {ok:.0f} successful responses")
            if r["non2xx"]:
                notes.append(f"{label}: {r['non2xx']:.0f} non-2xx responses; server log tail: "
                             + log.read_text(errors="replace")[-500:])

        def start(label: str, cmd: list[str] | None = None, env: dict[str, str] | None = None,
                  health: str = "/healthz") -> ServerProcess:
            srv = ServerProcess(db_path, argv=cmd, env=env, health=health, log=tmp / f"{label}.log", cwd=tmp,
                                timeout=120)
            srv.start()
            return srv

        def rounds(label: str, srv: ServerProcess, url: str, n: int, with_sessions: bool = True) -> None:
            runs = []
            for i in range(n):
                r = measure(f"{label} #{i + 1}", url, pid(srv), with_sessions)
                check_rows(label, r, srv.log)
                runs.append(r)
            results[label] = median_run(runs)
            results[label]["rounds"] = runs  # type: ignore[assignment]

        # 1. + 2. the bare endpoint and the real server at --small stored submissions, in alternating rounds
        # (the machine is shared: each pair of rounds sees the same weather).
        bare = start("bare", [sys.executable, "-m", "bench.bench_server", "--bare-app", "{port}"], health="/")
        real = start("madoguchi@small")
        bare_url, real_url = bare.url, real.url
        try:
            for url in (bare_url + "/echo", real_url + "/api/submissions"):  # warm-up
                run_wrk(url, body, {}, duration=3, connections=ns.connections, threads=ns.threads, workdir=tmp,
                        sessions=sessions)
            pairs: list[tuple[dict[str, float], dict[str, float]]] = []
            for i in range(ns.rounds):
                b = measure(f"bare #{i + 1}", bare_url + "/echo", pid(bare), False)
                m = measure(f"madoguchi@small #{i + 1}", real_url + "/api/submissions", pid(real), True)
                check_rows("madoguchi@small", m, real.log)
                pairs.append((b, m))
            results["bare"] = median_run([b for b, _ in pairs])
            results["madoguchi@small"] = median_run([m for _, m in pairs])
            results["pairs"] = pairs  # type: ignore[assignment]
        finally:
            bare.stop()
            real.stop()

        if not ns.no_diagnostic:
            for label, cmd, env in (
                ("inline", None, {"MADOGUCHI_VALIDATION_WORKERS": "0"}),
                ("diagnostic", [sys.executable, "-m", "bench.bench_server", "--diag-app", "{port}", str(db_path)],
                 None),
            ):
                srv = start(label, cmd, env)
                try:
                    run_wrk(srv.url + "/api/submissions", body, {}, duration=3, connections=ns.connections,
                            threads=ns.threads, workdir=tmp, sessions=sessions)
                    rounds(label, srv, srv.url + "/api/submissions", 1)
                finally:
                    srv.stop()
        if ns.big:
            print(f"bulk insert up to {ns.big} rows ...", flush=True)
            secs = bulk_insert(db_path, ns.big, residents[0]["account_id"], answers)
            print(f"  {secs:.0f} s", flush=True)
            srv = start("madoguchi@big")
            try:
                run_wrk(srv.url + "/api/submissions", body, {}, duration=3, connections=ns.connections,
                        threads=ns.threads, workdir=tmp, sessions=sessions)
                rounds("madoguchi@big", srv, srv.url + "/api/submissions", ns.rounds)
            finally:
                srv.stop()
        db_size = db_path.stat().st_size

    load_end = load_average()
    section = render(results, ns, load_start, load_end, db_size, notes)
    print(section)
    if ns.write:
        text = DOC.read_text(encoding="utf-8")
        block = f"{MARK}\n{section}\n{MARK}"
        if MARK in text:
            text = re.sub(re.escape(MARK) + r".*?" + re.escape(MARK), lambda _: block, text, flags=re.S)
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        DOC.write_text(text, encoding="utf-8")
    return 0


def render(results: dict[str, Any], ns: argparse.Namespace, load_start: str, load_end: str,
           db_size: int, notes: list[str]) -> str:
    bare, small = results["bare"], results["madoguchi@small"]
    big, diag, inline = results.get("madoguchi@big"), results.get("diagnostic"), results.get("inline")
    pairs: list[tuple[dict[str, float], dict[str, float]]] = results["pairs"]
    ratios = sorted(m["rps"] / b["rps"] for b, m in pairs if b["rps"])
    ratio = ratios[len(ratios) // 2] if ratios else 0.0

    def row(name: str, r: dict[str, float], stored: str, bold: bool = False) -> str:
        rps = f"**{r['rps']:.0f}**" if bold else f"{r['rps']:.0f}"
        cpu = f"{r['cpu_ms']:.2f}" + (f" + {r['worker_cpu_ms']:.2f}" if r["worker_cpu_ms"] else "")
        return f"| {name} | {stored} | {rps} | {r['p50']:.1f} | {r['p99']:.1f} | {cpu} | {r['non2xx']:.0f} |"

    lines = [
        "## Server: validated submissions per second (`bench/bench_server.py`)",
        "",
        f"`python3 -m bench.bench_server --write` ({dt.date.today().isoformat()}; Python "
        f"{platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}, uvicorn with uvloop + httptools; "
        f"load average {load_start} at start, {load_end} at the end). The machine is shared and its speed drifts "
        "by ±30% within minutes, so the bare endpoint and `madoguchi serve` run side by side in "
        f"{ns.rounds} alternating rounds; the table shows each one's median round and the ratio is the median of "
        "the per-round ratios.",
        f"Load: `wrk -t{ns.threads} -c{ns.connections} -d{ns.duration}s --latency` on the same machine, every "
        "request a fresh idempotency key (Lua script), the valid scenario of `juminhyo-copy` 1.1.0 as answers, "
        f"{ns.connections} signed-in residents taking turns (one session per connection, not one shared session); "
        "one uvicorn worker per server (`madoguchi serve` adds cores - 1 = 1 form-validation process, see "
        "server/validation.py); 3 s warm-up before the rounds. CPU ms/request is read from /proc for the server "
        "process and its validation workers over each run.",
        "",
        "| endpoint | stored submissions at start | req/s | p50 ms | p99 ms | CPU ms/request (server + validation workers) | non-2xx |",
        "|---|---|---|---|---|---|---|",
        row("bare Litestar: decode the same JSON into the same Struct, echo it", bare, "-"),
        row("`madoguchi serve`: `POST /api/submissions` (session, CSRF, validation, FULL-sync group commit)",
            small, f"{small['stored']:,.0f}", bold=True),
    ]
    if inline:
        lines.append(row("`madoguchi serve` with validation in process (`MADOGUCHI_VALIDATION_WORKERS=0`)",
                         inline, f"{inline['stored']:,.0f}"))
    if diag:
        lines.append(row("diagnostic: the same server with form validation stubbed out (not a product setting)",
                         diag, f"{diag['stored']:,.0f}"))
    if big:
        lines.append(row("`madoguchi serve`, large table", big, f"{big['stored']:,.0f}"))
    per_round = ", ".join(f"{m['rps']:.0f}/{b['rps']:.0f}" for b, m in pairs)
    lines += [
        "",
        f"- Ratio to the bare endpoint: **{ratio:.2f}** (goal >= 0.5): {'met' if ratio >= 0.5 else 'missed'}; "
        f"per round (madoguchi/bare req/s): {per_round}; submissions/s (goal >= 1,500): "
        f"{'met' if small['rps'] >= 1500 else 'missed'}.",
        f"- Durable: every 201 is a row committed with `synchronous=FULL` before the answer "
        f"({small['rows_added']:.0f} rows added in the median round).",
    ]
    if diag and inline:
        share = 1 - inline["rps"] / diag["rps"] if diag["rps"] else float("nan")
        lines.append(f"- Form validation in process (`procedure_definitions.forms.validate_answers`) costs "
                     f"{share:.0%} of the throughput: {inline['rps']:.0f} req/s with it, {diag['rps']:.0f} without; "
                     f"in its worker process it costs the server {small['cpu_ms']:.2f} ms instead of "
                     f"{inline['cpu_ms']:.2f} ms of CPU per submission.")
    if big:
        change = (big["p50"] - small["p50"]) / small["p50"] * 100 if small["p50"] else float("nan")
        lines.append(f"- p50 from {small['stored']:,.0f} to {big['stored']:,.0f} stored submissions: "
                     f"{small['p50']:.1f} → {big['p50']:.1f} ms ({change:+.0f}%; goal: within 20%); "
                     f"database file {db_size / 1e9:.2f} GB. Lookups are by primary key and the receipt counter "
                     "is one row per year, so the table size does not enter the request path.")
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
