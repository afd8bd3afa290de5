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

__all__ = ["PERSONAL", "PROCEDURES", "Truth", "fill_database"]

# Procedures of the shipped library used: (id, share of the submissions).
PROCEDURES = (("juminhyo-copy", 0.6), ("inkan-toroku", 0.25), ("jido-teate", 0.15))

# Personal data the database holds (answers, account ids, names of people at the counter, clerks): none of it may
# reach the analytics dataset, the report or the API.
PERSONAL = ("窓口花子", "acct-private-", "来庁太郎", "stf_clerk_private")


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
