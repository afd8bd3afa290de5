"""Hybrid logical clock (Kulkarni et al. 2014) for display and audit only.

An HLC timestamp is ``(wall_ms, counter, node)``: it tracks physical time when clocks are sane and still
orders causally related events when they are not. It never decides a merge: the server applies mutations
in receipt order. A device whose clock runs a year ahead would drag every clock that merges its stamps
forward, so :meth:`HLC.receive` refuses to adopt a remote stamp more than ``max_drift_ms`` ahead of local
physical time and reports it instead (the server flags such mutations ``clock_ahead``).

Text form: ``"{wall_ms:013d}-{counter:04x}-{node}"``, which sorts lexicographically in HLC order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_DRIFT_MS", "HLC", "Timestamp", "drift_ms", "parse"]

DEFAULT_MAX_DRIFT_MS = 5 * 60 * 1000  # five minutes: phones on network time are well within it


@dataclass(frozen=True, order=True)
class Timestamp:
    wall_ms: int
    counter: int
    node: str

    def __str__(self) -> str:
        return f"{self.wall_ms:013d}-{self.counter:04x}-{self.node}"


def parse(text: str) -> Timestamp:
    """Parse the text form; raises ValueError on anything else."""
    wall, sep1, rest = text.partition("-")
    counter, sep2, node = rest.partition("-")
    if not (sep1 and sep2 and wall.isdigit() and node):
        raise ValueError(f"not an HLC timestamp: {text!r}")
    return Timestamp(int(wall), int(counter, 16), node)


def drift_ms(stamp: str | Timestamp, now_ms: int) -> int | None:
    """How far ``stamp`` is ahead of ``now_ms`` (negative: behind); None when unparseable."""
    try:
        ts = parse(stamp) if isinstance(stamp, str) else stamp
    except ValueError:
        return None
    return ts.wall_ms - now_ms


class HLC:
    def __init__(self, node: str, *, clock: Callable[[], int] | None = None,
                 max_drift_ms: int = DEFAULT_MAX_DRIFT_MS) -> None:
        self.node = node
        self._clock = clock or (lambda: time.time_ns() // 1_000_000)
        self.max_drift_ms = max_drift_ms
        self.last = Timestamp(0, 0, node)

    def now(self) -> Timestamp:
        """Stamp a local event (send)."""
        pt = self._clock()
        if pt > self.last.wall_ms:
            self.last = Timestamp(pt, 0, self.node)
        else:
            self.last = Timestamp(self.last.wall_ms, self.last.counter + 1, self.node)
        return self.last

    def receive(self, remote: Timestamp | str) -> tuple[Timestamp, bool]:
        """Merge a remote stamp (receive). Returns (new local stamp, flagged): a remote stamp more than
        ``max_drift_ms`` ahead of our physical clock is not adopted, only flagged."""
        r = parse(remote) if isinstance(remote, str) else remote
        pt = self._clock()
        if r.wall_ms - pt > self.max_drift_ms:
            return self.now(), True
        wall = max(self.last.wall_ms, r.wall_ms, pt)
        if wall == self.last.wall_ms == r.wall_ms:
            counter = max(self.last.counter, r.counter) + 1
        elif wall == self.last.wall_ms:
            counter = self.last.counter + 1
        elif wall == r.wall_ms:
            counter = r.counter + 1
        else:
            counter = 0
        self.last = Timestamp(wall, counter, self.node)
        return self.last, False
