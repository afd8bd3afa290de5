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
import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path

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
        from bench.stall_watch import StallWatch

        StallWatch(ns.stalls).install()
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


if __name__ == "__main__":
    sys.exit(main())
