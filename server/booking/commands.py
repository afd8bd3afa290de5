"""``madoguchi booking set FILE.yaml | show``: the city's IT stores the booking rules (docs/booking.md
"Configuration"). Whoever can write the database file can run these (the same trust as ``madoguchi handoff``);
a change is in the audit trail (actor ``cli``)."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from server.audit import append_audit
from server.booking.config_file import config_warnings, config_yaml, read_config
from server.booking.store import put_config_in
from server.commands import _open_db

__all__ = ["booking_set", "booking_show", "library_departments_in"]


def library_departments_in(conn: sqlite3.Connection) -> set[str]:
    """The department ids of the published library (``procedure_versions``, not retired); empty before the first
    ``serve`` published one."""
    rows = conn.execute("SELECT DISTINCT department FROM procedure_versions"
                        " WHERE retired_at IS NULL AND department IS NOT NULL").fetchall()
    return {str(r[0]) for r in rows}


def _departments(db_path: str) -> set[str]:
    """The department ids a place's caps may name: the database's published library, or the shipped library's
    while there is none (rules stored before the first ``serve``; a refused file creates no database)."""
    known: set[str] = set()
    if Path(db_path).exists():
        db = _open_db(db_path)
        if db is not None:
            try:
                known = db.read_sync(library_departments_in)
            finally:
                db.close()
    if known:
        return known
    from procedure_definitions.library import load_library

    return {p.department.id for versions in load_library().procedures.values() for p in versions.values()}


def booking_set(ns: argparse.Namespace) -> int:
    try:
        with open(ns.file, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        print(f"{ns.file}:1:1: BK001 cannot read the file: {getattr(e, 'strerror', None) or e}", file=sys.stderr)
        return 1
    cfg, problems = read_config(text, ns.file, _departments(ns.db))
    if cfg is None:
        for p in problems:
            print(p.format(), file=sys.stderr)
        print(f"{len(problems)} problem(s): nothing stored", file=sys.stderr)
        return 1
    db = _open_db(ns.db, must_exist=False)
    if db is None:
        return 2
    try:
        def write(c: sqlite3.Connection) -> None:
            put_config_in(c, text, cfg, "cli")
            append_audit(c, actor="cli", action="booking.config_set", subject="booking_config",
                         details={"places": [p.id for p in cfg.places]})

        db.write_sync(write)
    finally:
        db.close()
    print(f"booking rules stored: {len(cfg.places)} place(s) ({', '.join(p.id for p in cfg.places)})")
    for w in config_warnings(text, cfg, ns.file):  # stored all the same: likely not meant, never wrong
        print(w.format(), file=sys.stderr)
    return 0


def booking_show(ns: argparse.Namespace) -> int:
    db = _open_db(ns.db, must_exist=False)
    if db is None:
        return 2
    try:
        row = db.read_sync(lambda c: c.execute("SELECT source FROM booking_config WHERE id = 1").fetchone())
    finally:
        db.close()
    if row is None:
        sys.stdout.write("# nothing set: the default rules (madoguchi booking set FILE.yaml to change them)\n")
        sys.stdout.write(config_yaml())
    else:
        sys.stdout.write(row[0] if row[0].endswith("\n") else row[0] + "\n")
    return 0
