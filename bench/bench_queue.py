"""The queue under a city morning's load: 2,000 bookings and 1,000 walk-ins over 4 hours at 20 booths, at 60×.

    python3 -m bench.bench_queue [--write] [--scale 0.1] [--speed 60] [--seed 15] [--boards 2] [--stalls FILE]

Set-up, before the server starts (fast, no HTTP): a fresh SQLite file gets the schema, the booking rules of one
place with 20 booths (``booking_config``, checked by the same ``read_config`` as ``madoguchi booking set``; open
every day, no holidays, so the bench runs on any day) and the 2,000 bookings for today (JST) through the booking
store's own writers (``create_hold_in`` + ``create_booking_in``, the clock set to yesterday: the booking
window starts tomorrow). 2,000 five-minute bookings in 4 hours are more than the calendar lets 20 booths take
(20 at a time × 48 cells = 960): the set-up books them with a copy of the rules that lifts ``booking_booths``; the
server runs the 20-booth rules.

The server is ``madoguchi serve`` in its own process (bench/queue_server.py: the production ``serve`` with the
queue's clock at ``--speed``; one process, no validation workers). The day starts (the clock moves) once the
clients are ready. :mod:`bench.queue_sim` then plays the morning over HTTP: a paired lobby kiosk (paired through
``POST /console/kiosks`` as the desk does) checks the bookings in at their arrival (most a few minutes early,
some late, 5 % never) and draws the walk-ins' tickets; 20 booth clients (counter staff sessions) call the next
ticket, recall and mark missed those who are away, serve for a sampled time and finish; up to 200 phones follow
tickets from issue to end (half on ``/api/tickets/{token}/events``, half long-polling ``GET /api/tickets/{token}?wait=25``
with ``If-None-Match`` as the app does without an event stream); lobby boards hold ``/api/queue/{place}/board/events``; a prober asks
``GET /healthz`` every 250 ms (the baseline: the same server's cheapest answer under the same load). Each phone,
board and the prober has its own HTTP client and connection, as devices do: one shared pool of hundreds of
connections costs httpx O(n) per request under a lock, and once held the bench's own requests back by seconds.

Delays are from the moment a booth SENDS its call (or recall) request to the first board event / phone view that
shows that call (its number and ``called_at``), on one monotonic clock in the bench process. The server's CPU is
``utime + stime`` of its process (/proc) from the day's start to the end. ``--write`` puts the results into
docs/benchmarks.md between the ``<!-- queue-bench -->`` markers. For diagnosis: ``--profile FILE`` (cProfile of the
server's event loop), ``--stalls FILE`` (where the server's event loop stood whenever it stalled over 200 ms, and
each kind of database read's pool wait and run time), ``--scale 0.25`` (a quarter of the morning). A benchmark, not a test (the smoke test
tests/test_bench_queue_smoke.py runs it tiny, checking that it completes without errors).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a path: this checkout first on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import msgspec

from bench.bench_resident import write_doc
from bench.bench_server import cpu_seconds
from bench.queue_sim import Driver, Morning, Tally, Visitor, pct, plan
from procedure_definitions.japan import JST
from server.booking.config import WEEKDAYS
from testsupport.servers import ServerProcess

__all__ = ["MARK", "PLACE", "Result", "config_text", "main", "prepare", "render", "run"]

MARK = "<!-- queue-bench -->"
PLACE = "bench"
GOAL_S = 1.0  # every update on the board and the phones within 1 s at p99 (the goal)


def config_text(m: Morning) -> str:
    """The booking rules of the benchmark's place (YAML, as ``madoguchi booking set`` takes it)."""
    h, mi = (int(x) for x in m.opens.split(":"))
    hours = f'["{h:02d}:{mi:02d}", "17:15"]'
    booths = ", ".join(f'"{n}"' for n in range(1, m.booths + 1))
    week = "\n".join(f"      {d}: {hours}" for d in WEEKDAYS)
    return (f"# bench/bench_queue.py: one place, {m.booths} booths, open every day\n"
            f"slot_minutes: {m.slot_minutes}\ndefault_counter_minutes: {m.slot_minutes}\nholidays: false\nclosed: []\n"
            f"places:\n  - id: {PLACE}\n    name: {{ja: ベンチ市役所 市民課窓口, en: Bench City Hall}}\n"
            f"    booths: [{booths}]\n    booking_booths: {m.booths}\n    hours:\n{week}\n")


def prepare(db: Path, m: Morning, day: dt.date) -> list[Visitor]:
    """Schema, rules and the morning's bookings in ``db`` (before the server starts); the visitors, with codes."""
    from server.booking.clock import set_clock
    from server.booking.config_file import read_config
    from server.booking.store import create_booking_in, create_hold_in, put_config_in
    from server.storage.db import Database
    from testsupport.sessions import prepare_db

    prepare_db(str(db))
    text = config_text(m)
    cfg, problems = read_config(text, "bench-queue.yaml")
    if cfg is None:
        raise RuntimeError("; ".join(p.format() for p in problems))
    place = cfg.places[0]
    roomy = msgspec.structs.replace(cfg, places=[msgspec.structs.replace(place, booking_booths=max(1, m.bookings))])
    visitors = plan(m)
    eve = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(12, 0), JST).astimezone(dt.UTC)

    def job(c: Any) -> None:
        put_config_in(c, text, cfg, "bench")
        for i, v in enumerate(x for x in visitors if x.kind == "booking"):
            holder = f"bench:{i}"
            assert v.slot is not None and v.procedure is not None
            hold = create_hold_in(c, roomy, place=PLACE, day=day.isoformat(), start=v.slot, minutes=m.slot_minutes,
                                  procedures=[v.procedure], departments=v.departments, event=None, party=1,
                                  holder=holder)
            phone = f"090-{i // 10000:04d}-{i % 10000:04d}"  # one person, one phone: the store caps per number
            rec, _token, _again = create_booking_in(c, roomy, hold_id=hold.id, holder=holder, account_id=None,
                                                    booked_by=None, name=f"予約 {i + 1:04d}", phone=phone, people=[],
                                                    lang="ja")
            v.code = rec.code

    set_clock(lambda: eve)
    try:
        with Database.open(db) as database:
            database.write_sync(job)
    finally:
        set_clock(None)
    return visitors


def _settle(pid: int, limit: float = 15.0) -> None:
    """Wait until the server's start-up work (imports, the printing warm-up thread) is over."""
    deadline = time.monotonic() + limit
    last = cpu_seconds(pid)[0]
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(pid)[0]
        if now - last < 0.05:
            return
        last = now


def _pair_kiosk(server: ServerProcess) -> dict[str, Any]:
    """A lobby kiosk of the place, paired the way the desk pairs one (``POST /console/kiosks``)."""
    from server.auth.middleware import CSRF_COOKIE
    from server.tickets.kiosk_auth import KIOSK_COOKIE

    desk = server.login_as("counter", display_name="受付係")
    r = httpx.post(f"{server.url}/console/kiosks", data={"place": PLACE, "name": "ロビー受付機"},
                   cookies=desk["cookies"], headers=desk["headers"], follow_redirects=False)
    token = r.cookies.get(KIOSK_COOKIE)
    if r.status_code != 303 or not token:
        raise RuntimeError(f"kiosk pairing failed: {r.status_code} {r.text[:300]}")
    csrf = secrets.token_urlsafe(32)
    return {"cookies": {KIOSK_COOKIE: token, CSRF_COOKIE: csrf}, "headers": {"X-CSRF-Token": csrf}}


@dataclass
class Result:
    m: Morning
    tally: Tally
    cpu_s: float
    setup_s: float
    states: dict[str, int]  # the server's tickets by status at the end
    scale: float  # as asked on the command line (shown in the command)
    load: tuple[float, float]  # 1-minute load average at the start and the end
    client_cpu_s: float = 0.0  # the bench process's own CPU over the morning (it shares the machine)
    diagnosis: str = ""  # the diagnostic options the run had (" --stalls", " --profile"): they cost the server time
    delays: dict[str, list[float]] = field(default_factory=dict)  # board, sse, poll: seconds
    unseen: dict[str, int] = field(default_factory=dict)  # calls a board / a following phone never showed

    @property
    def ops(self) -> int:
        return sum(n for k, n in self.tally.ops.items() if k != "empty")

    @property
    def mean_open(self) -> float:
        return self.tally.open_integral / self.tally.wall_s if self.tally.wall_s else 0.0

    @property
    def cpu_per_1000_open(self) -> float:
        """Server CPU seconds per wall second, per 1,000 open tickets (cores busy per 1,000 tickets open)."""
        return self.cpu_s / self.tally.open_integral * 1000 if self.tally.open_integral else float("nan")


def _delays(t: Tally) -> tuple[dict[str, list[float]], dict[str, int]]:
    delays: dict[str, list[float]] = {"board": [], "sse": [], "poll": []}
    unseen = {"board": 0, "sse": 0, "poll": 0}
    for c in t.calls:
        key = (c.number, c.called_at)
        for seen in t.board_seen:
            if key in seen:
                delays["board"].append(seen[key] - c.start)
            else:
                unseen["board"] += 1
        how = t.followed.get(c.number)
        if how is not None:
            if key in t.phone_seen:
                delays[how].append(t.phone_seen[key] - c.start)
            else:
                unseen[how] += 1
    return delays, unseen


def run(m: Morning, *, keep: Path | None = None, scale: float = 1.0, profile: Path | None = None,
        stalls: Path | None = None) -> Result:
    """One morning against a fresh server; ``keep``: a folder to keep the database and server log in; ``scale``:
    what ``m`` was scaled by (for the report); ``profile``: the server's cProfile statistics go there; ``stalls``:
    the stacks its event loop stood in when it stalled (bench/queue_server.py ``--stalls``)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    db = tmp / "queue.db"
    day = dt.datetime.now(JST).date()
    h, mi = (int(x) for x in m.opens.split(":"))
    start = dt.datetime.combine(day, dt.time(h, mi), JST) - dt.timedelta(minutes=m.lead_min)
    anchor = tmp / "anchor"
    load0 = os.getloadavg()[0]
    t = time.monotonic()
    visitors = prepare(db, m, day)
    setup_s = time.monotonic() - t
    argv = [sys.executable, "-m", "bench.queue_server", "--db", str(db), "--port", "{port}", "--start",
            start.isoformat(), "--speed", str(m.speed), "--anchor-file", str(anchor)]
    if profile is not None:
        argv += ["--profile", str(profile.resolve())]
    if stalls is not None:
        argv += ["--stalls", str(stalls.resolve())]
    server = ServerProcess(db, argv=argv, env={"MADOGUCHI_VALIDATION_WORKERS": "0"})
    server.start()
    try:
        assert server.proc is not None
        pid = server.proc.pid
        booths = [(str(n), server.login_as("counter", display_name=f"{n}番窓口")) for n in range(1, m.booths + 1)]
        kiosk = _pair_kiosk(server)
        driver = Driver(m, server.url, PLACE, visitors, kiosk, booths)
        _settle(pid)
        cpu0 = cpu_seconds(pid)[0]
        (anchor.parent / "anchor.tmp").write_text(repr(time.time()), encoding="ascii")
        t0 = time.monotonic()
        os.replace(anchor.parent / "anchor.tmp", anchor)  # the server's day starts now
        mine = time.process_time()
        tally = asyncio.run(driver.run(t0))
        cpu, mine = cpu_seconds(pid)[0] - cpu0, time.process_time() - mine
        states = {str(s): int(str(n)) for s, n in server.query("SELECT status, count(*) FROM tickets GROUP BY status")}
    finally:
        if (profile or stalls) is not None and server.proc is not None:  # time to write them before stop() kills
            server.proc.terminate()
            server.proc.wait(120)
        server.stop()
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for f in tmp.iterdir():
                shutil.copy2(f, keep / f.name)
        shutil.rmtree(tmp, ignore_errors=True)
    delays, unseen = _delays(tally)
    return Result(m=m, tally=tally, cpu_s=cpu, setup_s=setup_s, states=states, scale=scale, load=(load0, os.getloadavg()[0]),
                  client_cpu_s=mine, diagnosis=(" --profile FILE" if profile else "") + (" --stalls FILE" if stalls else ""),
                  delays=delays, unseen=unseen)


def _ms(xs: list[float], q: float) -> str:
    v = pct(xs, q)
    return "–" if v != v else f"{v * 1000:.0f}"


def render(r: Result) -> str:
    m, t = r.m, r.tally
    w = t.wall_s or 1.0
    per_s = ", ".join(f"{k} {t.ops[k] / w:.1f}" for k in ("checkin", "ticket", "call", "recall", "serve", "finish",
                                                          "missed") if t.ops[k])
    rows = [("call → board (SSE), each board", "board"), ("call → phone, event stream", "sse"),
            ("call → phone, long polling (ETag, ?wait=25)", "poll")]
    lines = [
        "## Queue (`bench/bench_queue.py`)", "",
        f"`python3 -m bench.bench_queue{'' if r.scale == 1 else f' --scale {r.scale:g}'}"
        f"{'' if m.speed == 60 else f' --speed {m.speed:g}'}{r.diagnosis} --write` "
        f"({dt.date.today().isoformat()}; Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"{platform.machine()}, load average {r.load[0]:.1f} at the start, {r.load[1]:.1f} at the end). "
        f"A city morning: {m.bookings:,} bookings (5-minute slots from {m.opens}, {m.no_show:.0%} never come, most "
        f"arrive a few minutes early, some late) and {m.walkins:,} walk-ins over {m.hours:g} h at {m.booths} booths, "
        f"simulated at {m.speed:g}× ({m.hours * 60 / m.speed * 60:.0f} s of wall time for the morning), against "
        f"`madoguchi serve` in its own process (SQLite file, one uvicorn worker). A lobby kiosk checks bookings in "
        f"and draws walk-in tickets; each booth calls 次の方を呼ぶ, serves (mean {m.service_min:g} min, log-normal) "
        f"and finishes; {m.away:.0%} are away when called (再呼出, then 不在); {m.phones} phones follow tickets "
        f"from issue to end (half on the ticket's event stream, half long-polling with ETags as the app does without one); "
        f"{m.boards} lobby boards on the board's event stream; each phone, board and the `/healthz` prober holds its "
        f"own connection, as devices do. Delays run from the moment a booth sends the call "
        f"(or recall) request to the first board event / phone view showing that call, on one clock. Set-up "
        f"(schema, rules, {m.bookings:,} bookings through the booking store's writers, before the server starts): "
        f"{r.setup_s:.1f} s. More in the module's docstring.", "",
        "| measurement | result |", "|---|---|",
        f"| morning played | {t.wall_s:.0f} s wall, to {_clock(m, t.sim_end_min)} simulated; tickets issued "
        f"{t.issued:,}, closed {t.closed:,} (server: {_states(r.states)}) |",
        f"| queue operations per second (wall) | **{r.ops / w:.1f}** ({per_s}); empty calls {t.ops['empty'] / w:.1f} |",
    ]
    for label, key in rows:
        xs = r.delays.get(key, [])
        lines.append(f"| {label}: p50 / p99 / max ms (samples; not shown) | **{_ms(xs, 50)} / {_ms(xs, 99)}** / "
                     f"{_ms(xs, 100)} ({len(xs):,}; {r.unseen.get(key, 0)}) |")
    calls = t.latency.get("call", []) + t.latency.get("recall", [])
    lines += [
        f"| the call request itself (send → response): p50 / p99 ms | {_ms(calls, 50)} / {_ms(calls, 99)} |",
        f"| check-in / walk-in ticket request: p50 / p99 ms | {_ms(t.latency.get('checkin', []), 50)} / "
        f"{_ms(t.latency.get('checkin', []), 99)} · {_ms(t.latency.get('ticket', []), 50)} / "
        f"{_ms(t.latency.get('ticket', []), 99)} |",
        f"| baseline: `GET /healthz` under the same load: p50 / p99 ms | {_ms(t.healthz, 50)} / {_ms(t.healthz, 99)} |",
        f"| server CPU (utime + stime) | {r.cpu_s:.1f} s in {w:.0f} s ({r.cpu_s / w:.0%} of one core); "
        f"{r.cpu_s / max(1, r.ops) * 1000:.1f} ms per queue operation |",
        f"| open tickets (waiting, called, serving): mean / max | {r.mean_open:.0f} / {t.open_max} |",
        f"| **server CPU per 1,000 open tickets** | **{r.cpu_per_1000_open:.2f} CPU-s per s** (cores busy per 1,000 "
        f"tickets open) |",
        f"| phone views received (event stream · poll 200 · poll 304); board events | {t.phone_events['sse']:,} · "
        f"{t.phone_events['poll-200']:,} · {t.phone_events['poll-304']:,}; {t.board_events:,} |",
        f"| the bench client's own event-loop lag: p99 / max ms; its CPU | {_ms(t.lag, 99)} / {_ms(t.lag, 100)}; "
        f"{r.client_cpu_s:.1f} s ({r.client_cpu_s / w:.0%} of one core) |",
        f"| errors | **{len(t.errors)}** |", "",
    ]
    lines.append(_verdict(r))
    if t.errors:
        lines += ["", "First errors:", "", *(f"- `{e}`" for e in t.errors[:5])]
    return "\n".join(lines)


def _clock(m: Morning, minute: float) -> str:
    h, mi = (int(x) for x in m.opens.split(":"))
    total = round(h * 60 + mi - m.lead_min + minute)
    return f"{total // 60:02d}:{total % 60:02d}"


def _states(states: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(states.items())) or "none"


def _verdict(r: Result) -> str:
    kinds = ("board", "sse", "poll")
    live = [(k, pct(r.delays.get(k, []), 99)) for k in kinds]
    met = all(v == v and v <= GOAL_S for _, v in live) and not any(r.unseen.get(k) for k in kinds)
    return (f"Goal (every update on the board and the phones within {GOAL_S:g} s at p99): "
            f"{'**met**' if met else '**not met**'} for the boards, the phones on the event stream and the "
            f"long-polling phones (p99 {live[0][1] * 1000:.0f}, {live[1][1] * 1000:.0f} and "
            f"{live[2][1] * 1000:.0f} ms; a held request is answered when the call commits, docs/queue.md "
            f"\"Live updates\").")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    ap.add_argument("--scale", type=float, default=1.0, help="people, booths and phones × this (0.1: a smoke run)")
    ap.add_argument("--speed", type=float, default=60.0, help="simulated seconds per wall second (default 60)")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--boards", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="keep the database and the server's log in this folder")
    ap.add_argument("--profile", type=Path, help="cProfile the server's event loop thread into this file")
    ap.add_argument("--stalls", type=Path, help="the server's event-loop stalls (over 200 ms) and their stacks")
    ns = ap.parse_args(argv)
    m = Morning(speed=ns.speed, seed=ns.seed, boards=ns.boards)
    if ns.scale != 1:
        m = m.scaled(ns.scale)
    r = run(m, keep=ns.keep, scale=ns.scale, profile=ns.profile, stalls=ns.stalls)
    text = render(r)
    print(text)
    if ns.write:
        write_doc(text, MARK)
    return 1 if r.tally.errors else 0


if __name__ == "__main__":
    sys.exit(main())
