"""How long a booking is (docs/booking.md "Booking length"): from the procedures booked, each definition's
``counter_minutes`` (else the city's ``default_counter_minutes``), times the people served, rounded up to the
calendar's grid and capped. Pure: the library is passed in (``server.catalog``'s live library).

A life event books its own ``counter_minutes`` when it declares them, else the sum over the procedures it
always includes (those without ``include_if``: the others depend on answers not given yet). The departments a
booking needs (the capacity per department) are those procedures' departments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol

import msgspec

from procedure_definitions.model import LifeEvent, Procedure
from server.booking.config import BookingConfig
from server.problems import Problem

__all__ = ["Booked", "LibraryLike", "UnknownChoice", "booking_minutes", "choice_length", "length_of",
           "procedure_minutes", "resolve"]


class LibraryLike(Protocol):
    @property
    def procedures(self) -> Mapping[str, Mapping[str, Procedure]]: ...

    @property
    def life_events(self) -> Mapping[str, Mapping[str, LifeEvent]]: ...

    # The newest version of one id: procedure_definitions.library.Library's own (the live library is one).
    def latest(self, id: str) -> Procedure | None: ...

    def latest_event(self, id: str) -> LifeEvent | None: ...


class UnknownChoice(ValueError):
    """A procedure or life event id the live library does not have (the API answers 400)."""

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"unknown {kind} {ident!r}")
        self.kind, self.ident = kind, ident


class Booked(msgspec.Struct, frozen=True):
    """What a booking is for, resolved: the procedures (ids, in order), their departments, the event."""

    procedures: list[str]
    departments: list[str]
    event: str | None
    minutes_each: int  # one person's minutes, before party, rounding and cap


def procedure_minutes(cfg: BookingConfig, proc: Procedure) -> int:
    """One person's minutes at the counter for ``proc``: its ``counter_minutes``, else the city's default."""
    return proc.counter_minutes if proc.counter_minutes is not None else cfg.default_counter_minutes


def resolve(cfg: BookingConfig, library: LibraryLike, procedures: Sequence[str], event: str | None) -> Booked:
    """The booking's procedures, departments and one person's minutes; :class:`UnknownChoice` for an id the
    library lacks, ValueError when nothing is chosen."""
    if event is not None:
        ev = library.latest_event(event)
        if ev is None:
            raise UnknownChoice("life event", event)
        always = [lp.procedure for lp in ev.procedures if lp.include_if is None]
        procs = [p for p in (library.latest(pid) for pid in always) if p is not None]
        # Departments: of the procedures always included; an event of conditional ones only: all of them.
        dept_procs = procs or [p for p in (library.latest(lp.procedure) for lp in ev.procedures)
                               if p is not None]
        each = ev.counter_minutes if ev.counter_minutes is not None else sum(procedure_minutes(cfg, p) for p in procs)
        return Booked(procedures=[p.id for p in procs], departments=_departments(dept_procs), event=event,
                      minutes_each=each or cfg.default_counter_minutes)
    if not procedures:
        raise ValueError("choose a life event or at least one procedure")
    chosen: list[Procedure] = []
    for pid in dict.fromkeys(procedures):  # a procedure named twice is booked once
        proc = library.latest(pid)
        if proc is None:
            raise UnknownChoice("procedure", pid)
        chosen.append(proc)
    return Booked(procedures=[p.id for p in chosen], departments=_departments(chosen), event=None,
                  minutes_each=sum(procedure_minutes(cfg, p) for p in chosen))


def _departments(procs: Sequence[Procedure]) -> list[str]:
    return list(dict.fromkeys(p.department.id for p in procs))


def booking_minutes(cfg: BookingConfig, library: LibraryLike, procedures: Sequence[str], event: str | None,
                    party: int) -> int:
    """The booking's length in minutes: one person's minutes × ``party``, rounded UP to ``cfg.slot_minutes``,
    at most ``cfg.max_booking_minutes`` (and never less than one slot)."""
    return length_of(cfg, resolve(cfg, library, procedures, event).minutes_each, party)


def length_of(cfg: BookingConfig, minutes_each: int, party: int) -> int:
    """``minutes_each × party`` on the grid, capped (the rule of :func:`booking_minutes`)."""
    step = cfg.slot_minutes
    total = max(1, minutes_each) * max(1, party)
    rounded = math.ceil(total / step) * step
    cap = max(step, cfg.max_booking_minutes // step * step)  # the cap on the grid too: a booking ends on a cell
    return min(rounded, cap)


def choice_length(cfg: BookingConfig, library: LibraryLike, procedures: Sequence[str], event: str | None,
                  party: int) -> tuple[int, list[str], list[str]]:
    """(minutes, procedure ids, departments) of what a caller chose: the one check of the API's slots and holds
    and the desk's 電話予約. 400 problems: ``bad-party`` (not 1 … ``cfg.max_party``), ``unknown-procedure`` /
    ``unknown-life-event`` (not in the live library), ``nothing-chosen``."""
    if not 1 <= party <= cfg.max_party:
        raise Problem(400, "bad-party", f"party must be 1 to {cfg.max_party}",
                      errors=[{"path": "party", "code": "invalid", "message": str(party)}])
    try:
        booked = resolve(cfg, library, procedures, event)
    except UnknownChoice as e:
        key = "event" if e.kind == "life event" else "procedures"
        raise Problem(400, f"unknown-{e.kind.replace(' ', '-')}", str(e),
                      errors=[{"path": key, "code": "unknown", "message": e.ident[:100]}]) from None
    except ValueError as e:
        raise Problem(400, "nothing-chosen", str(e)) from None
    return length_of(cfg, booked.minutes_each, party), booked.procedures, booked.departments
