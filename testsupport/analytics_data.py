"""A Madoguchi SQLite file filled with realistic synthetic use, for the analytics tests and bench/bench_report.py.

Real code paths where cheap: the migrations (``server.storage.schema.migrate``), the shipped library published
as the server does at start (``server.catalog.publish_library``), telemetry rows as a filing makes them
(``server.telemetry.telemetry_row`` + ``insert_telemetry``), form sessions as ``POST /api/telemetry/sessions``
stores them (``server.form_sessions.form_session_row`` + ``upsert_form_session``). Submissions and visits are
inserted with SQL so that their timestamps can be in the past (the storage functions stamp "now").

Every generated fact is also kept in :class:`Truth`, so a test computes the expected figures in plain Python
from what was generated, independently of the SQL under test.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import sqlite3
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["PERSONAL", "PROCEDURES", "QUEUE_CONFIG", "QueueTruth", "Truth", "fill_database", "fill_queue"]

# Procedures of the shipped library used: (id, share of the submissions).
PROCEDURES = (("juminhyo-copy", 0.6), ("inkan-toroku", 0.25), ("jido-teate", 0.15))

# Personal data the database holds (answers, account ids, names of people at the counter, clerks): none of it may
# reach the analytics dataset, the report or the API.
PERSONAL = ("窓口花子", "acct-private-", "来庁太郎", "stf_clerk_private", "予約花子", "090-5555-", "ZZQ",
            "stf_desk_private")


@dataclass
class Truth:
    """What was generated, counted in Python (keys: (procedure_id, version))."""

    versions: dict[str, str] = field(default_factory=dict)  # procedure id -> version used
    completed: Counter[tuple[str, str]] = field(default_factory=Counter)
    left: Counter[tuple[str, str]] = field(default_factory=Counter)
    submissions: Counter[tuple[str, str]] = field(default_factory=Counter)
    durations: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    views: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    exits: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    errors: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    by_weekday_hour: Counter[tuple[int, int]] = field(default_factory=Counter)  # JST isoweekday, hour
    step_seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    visits: int = 0


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="seconds")


def _fields_of(conn: sqlite3.Connection, pid: str) -> tuple[str, list[str], str]:
    """The latest stored version of ``pid``, its field paths in the definition's order, its department."""
    import msgspec

    from madoguchi.analytics.dataset import definition_fields
    from procedure_definitions.model import Procedure

    rows = conn.execute("SELECT version, definition, department FROM procedure_versions WHERE procedure_id = ? AND"
                        " retired_at IS NULL", (pid,)).fetchall()
    if not rows:
        raise LookupError(f"{pid} is not in the shipped library")
    version, definition, department = max(rows, key=lambda r: tuple(int(p) if p.isdigit() else 0 for p in r[0].split(".")))
    proc = msgspec.json.decode(definition, type=Procedure)
    return version, [p for p, _ in definition_fields(proc)], department


def _when(rng: random.Random, now: dt.datetime) -> dt.datetime:
    """A moment in the last 8 weeks, mostly on weekday office hours (JST), some evenings and weekends."""
    jst = dt.timezone(dt.timedelta(hours=9))
    day = (now.astimezone(jst) - dt.timedelta(days=rng.randrange(56))).date()
    hour = rng.choices(range(24), weights=[1, 1, 1, 1, 1, 2, 4, 8, 14, 20, 22, 18, 15, 18, 20, 18, 14, 10, 9, 9,
                                           8, 6, 3, 2])[0]
    if day.isoweekday() >= 6 and rng.random() < 0.6:  # quieter weekends
        day -= dt.timedelta(days=2)
    return dt.datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=jst)


def fill_database(path: str | Path, *, submissions: int = 400, visits: int = 40, seed: int = 14) -> Truth:
    """Create (or extend) a Madoguchi database at ``path`` with ``submissions`` filed applications (with their
    telemetry and form sessions), about a third as many forms left unfinished, and ``visits`` counter visits."""
    from server.catalog import load_library, publish_library
    from server.form_sessions import FormSessionIn, form_session_row, upsert_form_session
    from server.storage.schema import migrate
    from server.telemetry import TelemetryIn, insert_telemetry, telemetry_row

    rng = random.Random(seed)
    truth = Truth()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    migrate(conn)
    conn.execute("BEGIN")
    publish_library(conn, load_library(None))
    procs = {pid: _fields_of(conn, pid) for pid, _ in PROCEDURES}
    truth.versions = {pid: v for pid, (v, _, _) in procs.items()}
    weights = [w for _, w in PROCEDURES]
    subs: list[tuple[Any, ...]] = []
    sessions: list[tuple[Any, ...]] = []
    telemetry: list[tuple[Any, ...]] = []
    filed: list[tuple[str, str, str, dt.datetime]] = []

    def session_row(pid: str, version: str, channel: Literal["resident", "staff"], start: dt.datetime,
                    end: dt.datetime, outcome: Literal["submitted", "left"],
                    viewed: list[str], last: str | None, errors: dict[str, int]) -> tuple[Any, ...]:
        key = (pid, version)
        for p in viewed:
            truth.views[(*key, p)] += 1
        for p, n in errors.items():
            truth.errors[(*key, p)] += n
        if outcome == "left" and last is not None:
            truth.exits[(*key, last)] += 1
        return form_session_row(FormSessionIn(
            session=uuid.UUID(int=rng.getrandbits(128)).hex, procedure_id=pid, procedure_version=version,
            channel=channel, outcome=outcome, started_at=_iso(start), ended_at=_iso(end), viewed=viewed,
            last_field=last, errors=errors))

    for year_seq in range(1, submissions + 1):
        pid = rng.choices([p for p, _ in PROCEDURES], weights)[0]
        version, paths, dept = procs[pid]
        key = (pid, version)
        sent = _when(rng, now)
        staff = rng.random() < 0.2
        seconds = max(15.0, rng.lognormvariate(3.9, 0.45))  # median ≈ 49 s, a long tail past 60
        opened = sent - dt.timedelta(seconds=seconds)
        sid = str(uuid.UUID(int=rng.getrandbits(128)))
        subs.append((sid, f"R{sent.year}-{year_seq:07d}", pid, version, dept,
                     "received", '{"applicant_name": "窓口花子"}', hashlib.sha256(sid.encode()).hexdigest(), "[]",
                     f"acct-private-{sid[:8]}", "demo-resident" if staff else None, _iso(sent), _iso(sent)))
        truth.submissions[key] += 1
        jst = sent.astimezone(dt.timezone(dt.timedelta(hours=9)))
        truth.by_weekday_hour[(jst.isoweekday(), jst.hour)] += 1
        filed.append((sid, pid, dept, sent))
        # The telemetry row a filing stores (its duration from opened/acknowledged), one in 20 from an old app
        # that sent none.
        if rng.random() >= 0.05:
            row = telemetry_row(TelemetryIn(procedure_id=pid, procedure_version=version, opened_at=_iso(opened),
                                            acknowledged_at=_iso(sent), fields_typed=rng.randrange(6),
                                            fields_prefilled=rng.randrange(8)))
            telemetry.append(row)
            truth.completed[key] += 1
            truth.durations[key].append(row[6])
        shown = [p for p in paths if rng.random() < 0.85] or paths[:1]  # branching hides some
        errors = {p: rng.randrange(1, 3) for p in shown if rng.random() < 0.04}
        sessions.append(session_row(pid, version, "staff" if staff else "resident", opened, sent, "submitted",
                                    shown, None, errors))
        # About one form left for every three sent: stopped at some field, more often late in long forms.
        if rng.random() < 0.35:
            start = _when(rng, now)
            upto = max(1, int(len(paths) * rng.betavariate(2, 2)))
            shown = [p for p in paths[:upto] if rng.random() < 0.9] or paths[:1]
            errors = {p: 1 for p in shown if rng.random() < 0.1}
            sessions.append(session_row(pid, version, "resident", start,
                                        start + dt.timedelta(seconds=rng.randrange(5, 300)), "left", shown,
                                        shown[-1], errors))
            truth.left[key] += 1
    conn.executemany("INSERT INTO submissions (id, receipt_number, procedure_id, procedure_version, department,"
                     " status, answers, body_hash, flags, account_id, on_behalf_of, received_at, updated_at)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", subs)
    for row in telemetry:
        insert_telemetry(conn, row)
    for row in sessions:
        upsert_form_session(conn, row)
    _visits(conn, rng, truth, filed[: visits * 2], visits, now)
    conn.execute("COMMIT")
    conn.close()
    return truth


def _visits(conn: sqlite3.Connection, rng: random.Random, truth: Truth,
            filed: list[tuple[str, str, str, dt.datetime]], n: int, now: dt.datetime) -> None:
    """Counter visits: 受付, an interview for most, then each department's part taken, confirmed (or its 持ち物
    ticked), reviewed and issued, with minutes between steps."""
    jst = dt.timezone(dt.timedelta(hours=9))
    seq_by_day: Counter[str] = Counter()
    for i in range(n):
        vid = str(uuid.UUID(int=rng.getrandbits(128)))
        t0 = (now - dt.timedelta(days=rng.randrange(30), minutes=rng.randrange(600))).replace(microsecond=0)
        day = t0.astimezone(jst).date().isoformat()
        seq_by_day[day] += 1
        conn.execute("INSERT INTO visits (id, number, day, seq, person_family, status, opened_by, opened_at,"
                     " closed_at, body_hash) VALUES (?, ?, ?, ?, ?, 'closed', 'stf_clerk_private', ?, ?, ?)",
                     (vid, f"A-{seq_by_day[day]:03d}", day, seq_by_day[day], "来庁太郎", _iso(t0), None, "x"))
        events: list[tuple[str | None, str, dt.datetime]] = [(None, "reception", t0)]
        t = t0 + dt.timedelta(seconds=rng.randrange(60, 900))
        interviewed = rng.random() < 0.8
        if interviewed:
            truth.step_seconds["reception"].append((t - t0).total_seconds())
            events.append((None, "interview_started", t))
            t2 = t + dt.timedelta(seconds=rng.randrange(120, 1200))
            events.append((None, "interview_finished", t2))
            truth.step_seconds["interview"].append((t2 - t).total_seconds())
            t = t2
        mine = filed[2 * i: 2 * i + 2] if i * 2 < len(filed) else []
        for dept in sorted({d for _, _, d, _ in mine}) or ["shimin"]:
            conn.execute("INSERT INTO visit_parts (visit_id, department, state, taken_by, updated_at)"
                         " VALUES (?, ?, 'done', 'stf_clerk_private', ?)", (vid, dept, _iso(t)))
            taken = t + dt.timedelta(seconds=rng.randrange(30, 600))
            if not interviewed and not any(s == "taken" for _, s, _ in events):  # 受付 ends at the first 担当
                truth.step_seconds["reception"].append((taken - t0).total_seconds())
            events.append((dept, "taken", taken))
            confirm = taken + dt.timedelta(seconds=rng.randrange(60, 400))
            subs_here = [sid for sid, _, d, _ in mine if d == dept]
            for sid in subs_here:
                conn.execute("INSERT INTO visit_submissions (submission_id, visit_id, department, attached_by,"
                             " attached_at) VALUES (?, ?, ?, 'stf_clerk_private', ?)", (sid, vid, dept, _iso(t)))
            if subs_here and rng.random() < 0.5:  # 持ち物 ticked instead of a 確認 step
                conn.execute("INSERT INTO visit_documents (submission_id, document_id, visit_id, seen_by, seen_at)"
                             " VALUES (?, 'id-card', ?, 'stf_clerk_private', ?)", (subs_here[0], vid, _iso(confirm)))
            else:
                events.append((dept, "confirmed", confirm))
            review = confirm + dt.timedelta(seconds=rng.randrange(60, 900))
            issue = review + dt.timedelta(seconds=rng.randrange(30, 600))
            events += [(dept, "reviewed", review), (dept, "issued", issue), (dept, "completed", issue)]
            truth.step_seconds["confirm"].append((confirm - taken).total_seconds())
            truth.step_seconds["review"].append((review - confirm).total_seconds())
            truth.step_seconds["issue"].append((issue - review).total_seconds())
            t = issue
        events.append((None, "closed", t))
        conn.executemany("INSERT INTO visit_events (visit_id, department, step, at, by, booth)"
                         " VALUES (?, ?, ?, ?, 'stf_clerk_private', NULL)", [(vid, d, s, _iso(at)) for d, s, at in events])
        conn.execute("UPDATE visits SET closed_at = ? WHERE id = ?", (_iso(t), vid))
        truth.visits += 1


# The booking rules of the queue data (stored as `madoguchi booking set` stores them): the main counter and a
# branch, open on weekdays.
QUEUE_CONFIG: dict[str, Any] = {"places": [
    {"id": "honcho", "name": {"ja": "本庁舎"}, "booths": ["1", "2", "3", "4", "5", "6"], "booking_booths": 4,
     "hours": {d: ["08:30", "17:15"] for d in ("mon", "tue", "wed", "thu", "fri")}},
    {"id": "shisho", "name": {"ja": "北支所"}, "booths": ["1", "2"], "booking_booths": 1,
     "hours": {d: ["09:00", "16:00"] for d in ("mon", "tue", "wed", "thu", "fri")}},
]}
_BOOKING_CODE = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


@dataclass
class QueueTruth:
    """What :func:`fill_queue` generated, counted in Python. Times are JST."""

    today: dt.date = dt.date(2000, 1, 1)  # the JST day the data ends before (bookings from tomorrow are still open)
    # (kind, JST hour the wait starts, ISO weekday, minutes waited): walk-ins from drawing the ticket, bookings
    # from the later of arriving and their time, to the first call
    waits: list[tuple[str, int, int, float]] = field(default_factory=list)
    no_show: Counter[str] = field(default_factory=Counter)  # place -> bookings not come
    due: Counter[str] = field(default_factory=Counter)  # place -> bookings come or not come (not cancelled)
    booked_minutes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (place, day) -> minutes booked
    arrivals: Counter[tuple[str, str, int]] = field(default_factory=Counter)  # (place, day, JST hour) -> tickets
    open_days: set[tuple[str, str]] = field(default_factory=set)  # (place, day) with any ticket
    upcoming: Counter[tuple[str, str, int]] = field(default_factory=Counter)  # (place, day, hour) -> booked ahead


def _hm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def fill_queue(path: str | Path, *, weeks: int = 6, seed: int = 15, busy: float = 1.0) -> QueueTruth:
    """Add ``weeks`` weeks of bookings and queue events (up to yesterday, JST) and a few bookings of the next
    days to the database at ``path`` (migrated here if new), with the rules :data:`QUEUE_CONFIG`."""
    import json

    from server.storage.schema import migrate

    rng = random.Random(seed)
    jst = dt.timezone(dt.timedelta(hours=9))
    truth = QueueTruth(today=dt.datetime.now(jst).date())
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    migrate(conn)
    conn.execute("BEGIN")
    conn.execute("INSERT OR REPLACE INTO booking_config (id, source, config, set_at, set_by) VALUES (1, ?, ?, ?, ?)",
                 ("# synthetic\n", json.dumps(QUEUE_CONFIG), _iso(dt.datetime.now(dt.UTC)), "stf_desk_private"))
    bookings: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []

    def at(day: dt.date, minute: float) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(0, 0), jst) + dt.timedelta(minutes=minute)

    def event(t: dt.datetime, place: str, name: str, *, booking: str | None = None, ticket: str | None = None,
              kind: str | None = None, booth: str | None = None) -> None:
        events.append((_iso(t), place, name, booking, ticket, kind, booth, "stf_desk_private" if booth else None))

    def ticket_life(place: dict[str, Any], day: dt.date, kind: str, arrived: float, start: float,
                    booking: str | None) -> None:
        """A ticket drawn (or checked in) at ``arrived``, waiting from ``start``: called, served, finished — or
        it leaves."""
        tid = str(uuid.UUID(int=rng.getrandbits(128)))
        event(at(day, arrived), place["id"], "ticket", booking=booking, ticket=tid, kind=kind)
        truth.arrivals[(place["id"], day.isoformat(), int(arrived // 60))] += 1
        truth.open_days.add((place["id"], day.isoformat()))
        if kind == "walkin" and rng.random() < 0.05:
            event(at(day, arrived + rng.uniform(5, 40)), place["id"], "left", ticket=tid, kind=kind)
            return
        wait = rng.expovariate(1 / (4 if kind == "booking" else 14))
        called = start + wait
        booth = rng.choice(place["booths"])
        truth.waits.append((kind, int(start // 60), day.isoweekday(), wait))
        event(at(day, called), place["id"], "called", booking=booking, ticket=tid, kind=kind, booth=booth)
        if rng.random() < 0.1:  # not there at the first call: called again (the wait ends at the FIRST call)
            event(at(day, called + 2), place["id"], "recalled", booking=booking, ticket=tid, kind=kind, booth=booth)
        event(at(day, called + 3), place["id"], "served", booking=booking, ticket=tid, kind=kind, booth=booth)
        event(at(day, called + 3 + rng.uniform(5, 25)), place["id"], "finished", booking=booking, ticket=tid,
              kind=kind, booth=booth)

    last = truth.today + dt.timedelta(days=3)
    day = truth.today - dt.timedelta(days=7 * weeks)
    seq = 0
    while day <= last:
        weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()]
        for place in QUEUE_CONFIG["places"]:
            hours = place["hours"].get(weekday)
            if not hours:
                continue
            open_m, close_m = _hm(hours[0]), _hm(hours[1])
            past = day < truth.today
            # Mondays and the hour after opening are busier (what the forecast should find).
            scale = busy * (1.5 if day.weekday() == 0 else 1.0) * (1.0 if place["id"] == "honcho" else 0.4)
            for _ in range(int(rng.uniform(6, 14) * scale)):
                seq += 1
                bid = str(uuid.UUID(int=rng.getrandbits(128)))
                minutes = rng.choice((15, 30, 45))
                start_m = open_m + 15 * rng.randrange(max(1, (close_m - open_m - minutes) // 15))
                start = f"{start_m // 60:02d}:{start_m % 60:02d}"
                made = at(day, start_m) - dt.timedelta(days=rng.randrange(1, 20), minutes=rng.randrange(600))
                r = rng.random()
                status = "booked" if not past else ("cancelled" if r < 0.1 else "no_show" if r < 0.22 else "checked_in")
                code = "ZZQ" + "".join(rng.choice(_BOOKING_CODE) for _ in range(5))
                bookings.append((bid, code, place["id"], day.isoformat(), start, minutes, status,
                                 f"ip:10.0.0.{seq % 250}", "予約花子", f"090-5555-{seq:04d}",
                                 rng.choice((1, 1, 1, 2)), '["shimin"]', _iso(made), _iso(made)))
                event(made, place["id"], "booked", booking=bid, kind="booking")
                if status == "cancelled":
                    event(made + dt.timedelta(hours=5), place["id"], "cancelled", booking=bid, kind="booking")
                    continue
                truth.booked_minutes[(place["id"], day.isoformat())] += minutes
                if status == "booked":
                    truth.upcoming[(place["id"], day.isoformat(), start_m // 60)] += 1
                    continue
                truth.due[place["id"]] += 1
                if status == "no_show":
                    truth.no_show[place["id"]] += 1
                    event(at(day, close_m), place["id"], "no_show", booking=bid, kind="booking")
                    continue
                arrived = start_m + rng.uniform(-15, 8)  # most come early, some a little late
                event(at(day, arrived), place["id"], "checked_in", booking=bid, kind="booking")
                ticket_life(place, day, "booking", arrived, max(arrived, start_m), bid)
            if not past:
                continue
            for _ in range(int(rng.uniform(20, 40) * scale)):
                # Walk-ins: most in the first two hours and after lunch.
                arrived = open_m + rng.choice((rng.uniform(0, 120), rng.uniform(0, close_m - open_m - 30),
                                               rng.uniform(270, 360)))
                arrived = min(arrived, close_m - 20)
                ticket_life(place, day, "walkin", arrived, arrived, None)
        day += dt.timedelta(days=1)
    conn.executemany("INSERT INTO bookings (id, code, place, day, start, minutes, status, holder, name, phone, party,"
                     " procedures, departments, created_at, updated_at)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[\"tenkyo\"]', ?, ?, ?)", bookings)
    events.sort(key=lambda e: e[0])  # the log is written as things happen
    conn.executemany("INSERT INTO queue_events (at, place, event, booking_id, ticket_id, kind, booth, by)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", events)
    conn.execute("COMMIT")
    conn.close()
    return truth
