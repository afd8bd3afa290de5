"""``madoguchi serve`` with the queue's clock running fast, for the queue load bench (bench/bench_queue.py).

    python3 -m bench.queue_server --db FILE --port N --start 2026-12-07T08:15:00+09:00 --speed 60 --anchor-file F

The server is the production one (``server.commands.serve``: the same app, uvicorn settings and shutdown); only
``server.booking.clock`` is swapped by ``set_clock`` before it starts, as that module's contract allows. The
simulated day stands still at ``--start`` until the bench writes the wall time (``time.time()``) at which the
day begins into ``--anchor-file`` (the bench first waits for the server to answer and for its set-up); from
then on the clock reads ``start + (time.time() - anchor) × speed``. Both processes compute the same mapping
from the same wall clock, so the bench schedules arrivals in simulated time without asking the server.
Production code reads no speed setting: only this bench entry does.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a path: this checkout first on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

__all__ = ["main", "sim_clock"]


def sim_clock(start: dt.datetime, speed: float, anchor_file: Path) -> Callable[[], dt.datetime]:
    """A clock standing at ``start`` until ``anchor_file`` holds a wall time, then running ``speed`` times fast."""
    anchor: list[float] = []

    def now() -> dt.datetime:
        if not anchor:
            try:  # until the day begins: one failed open per call (a handful while the server starts)
                anchor.append(float(anchor_file.read_text(encoding="ascii")))
            except (OSError, ValueError):
                return start
        return start + dt.timedelta(seconds=(time.time() - anchor[0]) * speed)

    return now


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--start", required=True, help="the simulated time the day starts at (aware ISO 8601)")
    ap.add_argument("--speed", type=float, default=60.0)
    ap.add_argument("--anchor-file", required=True, type=Path)
    ap.add_argument("--profile", type=Path, help="cProfile the main thread (the event loop) into this file")
    ap.add_argument("--stalls", type=Path, help="where the event loop stood when it stalled (stacks, into this file)")
    ns = ap.parse_args(argv)
    start = dt.datetime.fromisoformat(ns.start)
    if start.tzinfo is None:
        ap.error("--start needs a time zone")

    from madoguchi.cli import build_parser
    from server.booking.clock import set_clock
    from server.commands import serve

    set_clock(sim_clock(start.astimezone(dt.UTC), ns.speed, ns.anchor_file))
    # serve's own parser: every option of `madoguchi serve` with its default, however many it gains.
    args = build_parser().parse_args(["serve", "--db", str(ns.db), "--port", str(ns.port), "--host", "127.0.0.1"])
    if ns.stalls is not None:
        _watch_stalls(ns.stalls)
    if ns.profile is None:
        return serve(args)
    import cProfile
    import signal

    # uvicorn raises the stop signal again once it has shut down: with this no-op handler the process lives on
    # to write the profile.
    signal.signal(signal.SIGTERM, lambda *_: None)
    with cProfile.Profile() as prof:  # where the server's time goes under the bench's load
        code = serve(args)
    prof.dump_stats(ns.profile)
    return code


def _watch_stalls(out: Path, *, every: float = 0.02, stall: float = 0.2) -> None:
    """A thread that samples the main thread's stack while the event loop has not run a callback for ``stall``
    seconds, and writes the stacks seen (most frequent first) to ``out`` every few seconds: what blocks the loop."""
    import asyncio
    import collections
    import threading
    import traceback

    import server.commands as commands

    main = threading.main_thread().ident
    loops: list[asyncio.AbstractEventLoop] = []
    base = commands._server_class

    def server_class() -> Any:
        class Watched(base()):  # type: ignore[misc]
            async def serve(self, sockets: Any = None) -> None:
                loops.append(asyncio.get_running_loop())
                await super().serve(sockets)

        return Watched

    commands._server_class = server_class
    seen: collections.Counter[str] = collections.Counter()
    beat = [time.monotonic()]
    stalls: list[float] = []

    def watch() -> None:
        loop = None
        started = 0.0
        written = time.monotonic()
        while True:
            time.sleep(every)
            if time.monotonic() - written > 5:  # now and then: the process may end by its signal, without atexit
                written = time.monotonic()
                dump()
            if loop is None:
                loop = loops[0] if loops else None
                if loop is None:
                    continue
                beat[0] = time.monotonic()
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(lambda: beat.__setitem__(0, time.monotonic()))
            late = time.monotonic() - beat[0]
            if late > stall:
                if not started:
                    started = beat[0]
                frame = sys._current_frames().get(main or 0)
                if frame is not None:
                    seen["".join(traceback.format_stack(frame)[-12:])] += 1
            elif started:
                stalls.append(time.monotonic() - started)
                started = 0.0

    from server.storage.db import Database

    reads: dict[str, list[float]] = collections.defaultdict(list)  # fn → queue waits, then run times
    runs: dict[str, list[float]] = collections.defaultdict(list)
    original = Database.read

    async def timed_read(self: Database, fn: Any) -> Any:
        name = getattr(fn, "__qualname__", repr(fn))
        asked = time.monotonic()
        began: list[float] = []

        def run(c: Any) -> Any:
            began.append(time.monotonic())
            try:
                return fn(c)
            finally:
                runs[name].append(time.monotonic() - began[0])

        try:
            return await original(self, run)
        finally:
            if began:
                reads[name].append(began[0] - asked)

    Database.read = timed_read  # type: ignore[method-assign]

    def q(xs: list[float], p: float) -> float:
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000 if xs else 0.0

    def dump() -> None:
        lines = [f"stalls over {stall * 1000:.0f} ms: {len(stalls)}; longest {max(stalls, default=0) * 1000:.0f} ms;"
                 f" total {sum(stalls):.1f} s", "", "reads: n, pool wait p50/p99/max ms, run p50/p99/max ms"]
        for name in sorted(reads, key=lambda n: -len(reads[n])):
            w, r = list(reads[name]), list(runs[name])
            lines.append(f"  {name}: {len(w)}, {q(w, .5):.1f}/{q(w, .99):.1f}/{q(w, 1):.1f},"
                         f" {q(r, .5):.1f}/{q(r, .99):.1f}/{q(r, 1):.1f}")
        lines.append("")
        for stack, n in seen.most_common(40):
            lines += [f"--- {n} samples ({n * every * 1000:.0f} ms)", stack]
        out.write_text("\n".join(lines), encoding="utf-8")

    threading.Thread(target=watch, name="stall-watch", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
