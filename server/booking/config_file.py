"""The city's booking rules as YAML (docs/booking.md "Configuration"): ``read_config(text, file, departments)``
checks a file and answers the :class:`BookingConfig` or every problem found as located lines
``FILE:LINE:COL: BKnnn message`` (catalogue :data:`BK_CODES`, docs/errors.md); ``departments``: the library's
department ids, which a place's ``departments`` caps must name. ``config_yaml`` writes a config back as YAML
(``booking show``).

Positions come from ``procedure_definitions.yamlpos`` (the definitions' own YAML reader: no aliases bombs, no
control characters). Pure: storing is ``server.booking.store.put_config_in``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from typing import Any, Final

import msgspec

from procedure_definitions.errors import Problem, Severity, did_you_mean
from procedure_definitions.yamlpos import KeyPath, Located, YamlError, dump_yaml, read_yaml
from server.booking.config import DEFAULT_CONFIG, WEEKDAYS, BookingConfig, Place, Window
from server.booking.slots import minutes_of

__all__ = ["BK_CODES", "config_warnings", "config_yaml", "read_config"]

BK_CODES: Final[dict[str, str]] = {
    "BK001": "the file is not readable YAML",
    "BK002": "unknown key",
    "BK003": "wrong type or missing key",
    "BK004": "a number out of range",
    "BK005": "places: none, a duplicate or malformed id",
    "BK006": "a place's name has no Japanese",
    "BK007": "booths and booking booths",
    "BK008": "opening hours",
    "BK009": "a closing day",
    "BK010": "the booking window",
    "BK011": "a department cap names no department of the library",
    "BK012": "warning: bookings for the first bookable day are past the cut-off when made",
}

_PLACE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}", re.ASCII)
_MMDD = re.compile(r"\d{2}-\d{2}", re.ASCII)
_YMD = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# key -> (lowest, highest) of the whole numbers at the top level
_RANGES: Final[dict[str, tuple[int, int]]] = {
    "default_counter_minutes": (1, 240), "max_booking_minutes": (5, 480), "hold_minutes": (1, 120),
    "change_cutoff_hours": (0, 720), "max_party": (1, 20), "reminder_hour": (0, 23), "lateness_minutes": (0, 120),
    "recall_minutes": (0, 120), "max_missed": (1, 10), "near_positions": (0, 50), "due_ahead_minutes": (0, 60),
    "service_minutes": (1, 240), "max_holds": (1, 20),
    "max_open_bookings": (1, 100), "max_open_bookings_per_address": (1, 10000),
}


def _fields(struct: type[msgspec.Struct]) -> tuple[str, ...]:
    return tuple(f.encode_name for f in msgspec.structs.fields(struct))


_SHAPES: Final[dict[str, tuple[str, ...]]] = {
    "": _fields(BookingConfig), "place": _fields(Place), "window": _fields(Window)}


class _Check:
    def __init__(self, loc: Located, file: str, departments: Collection[str] | None = None) -> None:
        self.loc, self.file = loc, file
        self.departments = sorted(departments) if departments is not None else None
        self.problems: list[Problem] = []

    def report(self, code: str, path: KeyPath, message: str, *, key: bool = False,
               severity: Severity = "error") -> None:
        line, col = self.loc.pos(path, key=key)
        self.problems.append(Problem(self.file, line, col, code, message, severity))

    def unknown_keys(self, value: Any, path: KeyPath, shape: str) -> Any:
        """Reports the keys ``shape`` does not have; answers ``value`` without them (the rest is still checked,
        so one run prints every problem of the file)."""
        if not isinstance(value, dict):
            return value
        known = _SHAPES[shape]
        for k in value:
            if k not in known:
                self.report("BK002", (*path, k), f"unknown key '{k}'{did_you_mean(str(k), known)}", key=True)
        out = {k: v for k, v in value.items() if k in known}
        if shape == "" and isinstance(out.get("places"), list):
            out["places"] = [self.unknown_keys(p, ("places", i), "place") for i, p in enumerate(out["places"])]
        if shape == "" and isinstance(out.get("window"), dict):
            out["window"] = self.unknown_keys(out["window"], ("window",), "window")
        return out

    def meaning(self, cfg: BookingConfig) -> None:
        for key, (lo, hi) in _RANGES.items():
            v = getattr(cfg, key)
            if not lo <= v <= hi:
                self.report("BK004", (key,), f"{key} must be from {lo} to {hi}, not {v}")
        s = cfg.slot_minutes
        if not (5 <= s <= 120 and (60 % s == 0 or s % 60 == 0)):
            self.report("BK004", ("slot_minutes",), f"slot_minutes must divide an hour or be whole hours (5 to 120),"
                        f" not {s}")
        elif cfg.max_booking_minutes < s:
            self.report("BK004", ("max_booking_minutes",), f"max_booking_minutes ({cfg.max_booking_minutes}) is"
                        f" shorter than one slot ({s})")
        w = cfg.window
        if w.min_days < 0 or w.max_days > 366 or w.min_days > w.max_days:
            self.report("BK010", ("window",), f"window: min_days {w.min_days} and max_days {w.max_days} must"
                        " satisfy 0 <= min_days <= max_days <= 366")
        for i, day in enumerate(cfg.closed):
            self.closed_day(day, ("closed", i))
        if not cfg.places:
            self.report("BK005", ("places",), "at least one place is needed")
        seen: set[str] = set()
        for i, place in enumerate(cfg.places):
            self.place(place, ("places", i), seen)

    def closed_day(self, day: str, path: KeyPath) -> None:
        try:
            if _YMD.fullmatch(day):
                dt.date.fromisoformat(day)
                return
            if _MMDD.fullmatch(day):
                dt.date.fromisoformat(f"2028-{day}")  # a leap year: 02-29 is a day
                return
        except ValueError:
            pass
        self.report("BK009", path, f"closing day '{day}' must be MM-DD (every year) or YYYY-MM-DD (once)")

    def place(self, place: Place, path: KeyPath, seen: set[str]) -> None:
        if not _PLACE_ID.fullmatch(place.id):
            self.report("BK005", (*path, "id"), f"place id '{place.id}' must be 1 to 40 lower-case letters, digits,"
                        " - or _ (it is part of addresses)")
        elif place.id in seen:
            self.report("BK005", (*path, "id"), f"place id '{place.id}' is used twice")
        seen.add(place.id)
        if not place.name.get("ja"):
            self.report("BK006", (*path, "name"), f"place '{place.id}' has no Japanese name (name: {{ja: ...}})")
        for lang in place.name:
            if lang not in ("ja", "en", "ja-easy"):
                self.report("BK006", (*path, "name", lang), f"name language '{lang}' is not ja, en or ja-easy",
                            key=True)
        booths = place.booths
        if not booths or len(set(booths)) != len(booths) or any(not b.strip() or len(b) > 20 for b in booths):
            self.report("BK007", (*path, "booths"), "booths must be a list of distinct names (1 to 20 characters)")
        if not 1 <= place.booking_booths <= max(1, len(booths)):
            self.report("BK007", (*path, "booking_booths"), f"booking_booths must be from 1 to the number of booths"
                        f" ({len(booths)}), not {place.booking_booths}")
        for dept, cap in place.departments.items():
            if cap < 1:
                self.report("BK004", (*path, "departments", dept), f"department '{dept}' cap must be at least 1")
            if self.departments is not None and dept not in self.departments:
                # A cap on a department no procedure has would silently cap nothing.
                near = did_you_mean(dept, self.departments) or next(
                    (f" (did you mean '{d}'?)" for d in self.departments if d.startswith(dept)), "")
                self.report("BK011", (*path, "departments", dept), f"unknown department '{dept}'{near}:"
                            " the library's departments are"
                            f" {', '.join(self.departments) or '(none)'}", key=True)
        for wd, span in place.hours.items():
            at = (*path, "hours", wd)
            if wd not in WEEKDAYS:
                self.report("BK008", at, f"unknown weekday '{wd}'{did_you_mean(wd, WEEKDAYS)}: use {', '.join(WEEKDAYS)}",
                            key=True)
                continue
            self.hours(span, at)

    def hours(self, span: list[str], at: KeyPath) -> None:
        try:
            if len(span) != 2:
                raise ValueError
            open_, close = minutes_of(span[0]), minutes_of(span[1])
        except ValueError:
            self.report("BK008", at, 'hours must be ["HH:MM", "HH:MM"] (open, close; quoted)')
            return
        if open_ >= close:
            self.report("BK008", at, f"opens at {span[0]} but closes at {span[1]}: open before closing")


def _path_of(message: str) -> KeyPath:
    """msgspec's ``... - at `$.places[0].name``` as a key path."""
    m = re.search(r"at `\$(.*)`$", message)
    if not m:
        return ()
    parts: list[str | int] = []
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", m.group(1)):
        parts.append(int(index) if index else name)
    return tuple(parts)


def read_config(text: str, file: str = "booking.yaml", departments: Collection[str] | None = None
                ) -> tuple[BookingConfig | None, list[Problem]]:
    """The config in ``text``, or None and every problem found (sorted by position). ``departments``: the
    department ids a place's caps may name (None: not checked)."""
    try:
        loc = read_yaml(text)
    except YamlError as e:
        return None, [Problem(file, e.line, e.col, "BK001", e.message)]
    check = _Check(loc, file, departments)
    if not isinstance(loc.data, dict):
        check.report("BK003", (), "the file must be a mapping of keys (places:, slot_minutes:, ...)")
        return None, check.problems
    for path, _first, _dup in loc.duplicates:
        check.report("BK002", path, f"key '{path[-1]}' is given twice", key=True)
    data = check.unknown_keys(loc.data, (), "")
    try:
        cfg = msgspec.convert(data, BookingConfig)
    except msgspec.ValidationError as e:
        message = str(e)
        path = _path_of(message)
        hint = ' (quote times: "08:30")' if "hours" in path else ""
        check.report("BK003", path, message.split(" - at `")[0] + hint)
        return None, sorted(check.problems)
    check.meaning(cfg)
    return (None, sorted(check.problems)) if check.problems else (cfg, [])


def config_warnings(text: str, cfg: BookingConfig, file: str = "booking.yaml") -> list[Problem]:
    """What ``cfg`` (read from ``text`` by :func:`read_config`) allows but likely does not mean, located as the
    problems are; the rules are stored all the same. BK012: a cut-off longer than the window's first day
    (``window.min_days`` × 24 hours) — a booking for that day can be past the cut-off, so unchangeable by the
    resident, from the moment it is made (probe15c #2; the app warns before 予約する, but it is rarely meant)."""
    if cfg.window.min_days * 24 >= cfg.change_cutoff_hours:
        return []
    check = _Check(read_yaml(text), file)
    check.report("BK012", ("change_cutoff_hours",), f"change_cutoff_hours ({cfg.change_cutoff_hours}) is"
                 f" more than window.min_days × 24 ({cfg.window.min_days * 24}): bookings for the first bookable"
                 " days may be unchangeable by residents from the moment they are made", severity="warning")
    return check.problems


def config_yaml(cfg: BookingConfig = DEFAULT_CONFIG) -> str:
    """A config as YAML (what ``madoguchi booking show`` prints when nothing was set)."""
    return dump_yaml(msgspec.to_builtins(cfg))
