"""Where a bench server's event loop stood when it stalled, and how long its database reads waited (the queue load
bench's ``--stalls FILE``: bench/queue_server.py). Diagnosis only: it wraps ``Database.read`` in the bench's server
process, never in production.

A thread posts a callback to the loop every 20 ms; while the last one has not run for 200 ms the loop is stalled,
and the thread samples the main thread's stack. The report (written every 5 s: the process may end by its signal)
lists the stalls, each kind of read's pool wait and run time, and the stacks seen most.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.queue_sim import pct

__all__ = ["StallWatch"]


class StallWatch:
    def __init__(self, out: Path, *, every: float = 0.02, stall: float = 0.2) -> None:
        self.out, self.every, self.stall = out, every, stall
        self.loop: asyncio.AbstractEventLoop | None = None  # the server's, once it runs (see ``server_class``)
        self.beat = time.monotonic()  # when the loop last ran our callback
        self.stalls: list[float] = []
        self.stacks: collections.Counter[str] = collections.Counter()
        self.waits: dict[str, list[float]] = collections.defaultdict(list)  # read function → pool waits (s)
        self.runs: dict[str, list[float]] = collections.defaultdict(list)  # read function → run times (s)

    def install(self) -> None:
        """Hook the server class (to learn its loop) and ``Database.read``; start the watching thread."""
        import server.commands as commands
        from server.storage.db import Database

        base, watch = commands._server_class, self

        def server_class() -> Any:
            class Watched(base()):  # type: ignore[misc]
                async def serve(self, sockets: Any = None) -> None:
                    watch.loop = asyncio.get_running_loop()
                    await super().serve(sockets)

            return Watched

        commands._server_class = server_class
        Database.read = self._timed(Database.read)  # type: ignore[method-assign]
        threading.Thread(target=self._watch, name="stall-watch", daemon=True).start()

    def _timed(self, read: Callable[..., Any]) -> Callable[..., Any]:
        async def timed_read(db: Any, fn: Callable[[Any], Any]) -> Any:
            name = getattr(fn, "__qualname__", repr(fn))
            asked = time.monotonic()

            def run(c: Any) -> Any:
                began = time.monotonic()
                self.waits[name].append(began - asked)
                try:
                    return fn(c)
                finally:
                    self.runs[name].append(time.monotonic() - began)

            return await read(db, run)

        return timed_read

    def _tick(self) -> None:
        self.beat = time.monotonic()

    def _watch(self) -> None:
        main = threading.main_thread().ident or 0
        started, written = 0.0, time.monotonic()
        while True:
            time.sleep(self.every)
            if time.monotonic() - written > 5:
                written = time.monotonic()
                self.out.write_text(self.report(), encoding="utf-8")
            if self.loop is None:
                self.beat = time.monotonic()
                continue
            with contextlib.suppress(RuntimeError):  # the loop has closed
                self.loop.call_soon_threadsafe(self._tick)
            if time.monotonic() - self.beat > self.stall:
                started = started or self.beat
                frame = sys._current_frames().get(main)
                if frame is not None:
                    self.stacks["".join(traceback.format_stack(frame)[-12:])] += 1
            elif started:
                self.stalls.append(time.monotonic() - started)
                started = 0.0

    def report(self) -> str:
        def ms(xs: list[float]) -> str:
            return "/".join(f"{pct(xs, q) * 1000:.1f}" for q in (50, 99, 100))

        lines = [f"stalls over {self.stall * 1000:.0f} ms: {len(self.stalls)}; longest "
                 f"{max(self.stalls, default=0) * 1000:.0f} ms; total {sum(self.stalls):.1f} s", "",
                 "reads: n, pool wait p50/p99/max ms, run p50/p99/max ms"]
        for name in sorted(self.waits, key=lambda n: -len(self.waits[n])):
            waits, runs = list(self.waits[name]), list(self.runs[name])
            lines.append(f"  {name}: {len(waits)}, {ms(waits)}, {ms(runs)}")
        lines.append("")
        for stack, n in self.stacks.most_common(40):
            lines += [f"--- {n} samples ({n * self.every * 1000:.0f} ms)", stack]
        return "\n".join(lines)
