"""``madoguchi handoff set | remove | status | retry``: a city's IT configures and watches the hand-off to the
departments' core systems (docs/handoff.md). Whoever can write the database file can run these (the same
trust as ``madoguchi staff``); every change is in the audit trail (actor ``cli``), the secret never is."""

from __future__ import annotations

import argparse
import sqlite3
import sys

from server.audit import append_audit
from server.commands import _open_db
from server.display import jst
from server.handoff import new_secret, secret_key, url_problem
from server.storage.handoff import (
    DEFAULT_ON_STATUS,
    department_counts,
    get_target,
    list_outbox,
    list_targets,
    remove_target,
    retry_row,
    set_target,
)
from server.storage.submissions import STATUSES

__all__ = ["handoff_remove", "handoff_retry", "handoff_set", "handoff_status"]

def _when(stamp: str | None) -> str:
    """A stored UTC time in the status listing: JST to the second (server.display.jst), ``-`` for none."""
    return f"{jst(stamp, seconds=True)} JST" if stamp else "-"


def handoff_set(ns: argparse.Namespace) -> int:
    problem = url_problem(ns.url)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if ns.on is not None and ns.on not in STATUSES:
        print(f"error: --on must be one of {', '.join(STATUSES)}", file=sys.stderr)
        return 2
    given = None
    if ns.secret_file:
        try:
            with open(ns.secret_file, encoding="utf-8") as f:
                given = f.read().strip()
        except OSError as e:
            print(f"error: cannot read the secret file: {e.strerror}", file=sys.stderr)
            return 2
        if secret_key(given) is None:  # never echoed: a wrong paste may still be someone's secret
            print("error: the secret must be whsec_ followed by base64 of 24 to 64 bytes", file=sys.stderr)
            return 2
    db = _open_db(ns.db, must_exist=False)
    if db is None:
        return 2
    try:
        old = db.read_sync(lambda c: get_target(c, ns.department))
        made = given is None and (old is None or ns.new_secret)
        on = ns.on or (old.on_status if old else DEFAULT_ON_STATUS)  # a re-set keeps what was chosen
        secret = given or (new_secret() if made else old.secret if old else "")
        known = db.read_sync(lambda c: c.execute("SELECT 1 FROM procedure_versions WHERE department = ? LIMIT 1",
                                                 (ns.department,)).fetchone())

        def job(c: sqlite3.Connection) -> None:
            set_target(c, ns.department, ns.url, secret, on)
            append_audit(c, actor="cli", action="handoff.target_set", subject=f"department:{ns.department}",
                         details={"url": ns.url, "on_status": on,
                                  "secret": "new" if made or given else "kept"})

        db.write_sync(job)
    finally:
        db.close()
    if not known:
        print(f"warning: no published procedure names department {ns.department!r} (yet)", file=sys.stderr)
    print(f"department {ns.department}: hand-off at {on} to {ns.url}")
    if made:
        # Shown this once, for the core-system team: status never shows it again.
        print("signing secret (give it to the core system's team; it is not shown again):")
        print(secret)
    return 0


def handoff_remove(ns: argparse.Namespace) -> int:
    db = _open_db(ns.db)
    if db is None:
        return 2
    try:
        def job(c: sqlite3.Connection) -> bool:
            gone = remove_target(c, ns.department)
            if gone:
                append_audit(c, actor="cli", action="handoff.target_removed",
                             subject=f"department:{ns.department}", details={})
            return gone

        gone = db.write_sync(job)
    finally:
        db.close()
    if not gone:
        print(f"error: department {ns.department!r} has no hand-off target", file=sys.stderr)
        return 1
    print(f"department {ns.department}: no hand-off any more (pending rows wait for a new target)")
    return 0


def handoff_status(ns: argparse.Namespace) -> int:
    db = _open_db(ns.db)
    if db is None:
        return 2
    states = ("pending", "failed", "delivered") if ns.all else ("pending", "failed")
    try:
        targets, counts, rows = db.read_sync(lambda c: (
            {t.department: t for t in list_targets(c)}, department_counts(c),
            list_outbox(c, states=states, department=ns.department, limit=ns.limit)))
    finally:
        db.close()
    print("department\thand-off at\turl\tsecret\tpending\tdelivered\tfailed")
    for dept, n in counts.items():
        if ns.department and dept != ns.department:
            continue
        t = targets.get(dept)
        print("\t".join([dept, t.on_status if t else "-", t.url if t else "(no target)",
                         "set" if t and t.secret else "-", str(n["pending"]), str(n["delivered"]), str(n["failed"])]))
    if rows:
        print()
        print("id\tstate\tdepartment\tapplication\tevent\tattempts\tstatus changed\tlast attempt\tnext attempt\tlast error")
        for r in rows:
            print("\t".join([str(r.id), r.state, r.department, r.submission_id, r.event, str(r.attempts),
                             _when(r.created_at), _when(r.last_attempt_at),
                             _when(r.next_attempt_at) if r.state == "pending" else "-", r.last_error or "-"]))
    return 1 if any(n["failed"] for n in counts.values()) else 0


def handoff_retry(ns: argparse.Namespace) -> int:
    db = _open_db(ns.db)
    if db is None:
        return 2
    try:
        before = db.write_sync(lambda c: retry_row(c, ns.id, actor="cli", via="cli"))
    finally:
        db.close()
    if before is None:
        print(f"error: no hand-off row {ns.id}", file=sys.stderr)
        return 1
    if before == "delivered":
        print(f"hand-off {ns.id} was delivered already: nothing to retry")
        return 0
    print(f"hand-off {ns.id}: pending, sent at the server's next round")
    return 0
