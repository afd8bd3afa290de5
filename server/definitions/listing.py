"""``madoguchi list``: what is published, read from the server's database (or its API), else a folder.

Which source: ``--path DIR`` a library folder (as ``madoguchi check`` reads it); ``--db PATH`` the server's
SQLite file, opened read-only (the server may be running); ``--server URL`` a running server's
``GET /api/procedures``; with none of them, ``./madoguchi.db`` when it exists (the file ``madoguchi serve``
uses by default), else the shipped library. A version published in the console is listed as soon as it is
published: the table is the truth, no restart.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import urllib.request
from pathlib import Path
from typing import Any

from procedure_definitions.versions import version_key

__all__ = ["list_command", "published_rows"]

DEFAULT_DB = "madoguchi.db"


def published_rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT procedure_id, version, kind, title, department, retired_at, origin, live_from, closes_at"
        " FROM procedure_versions").fetchall()
    rows.sort(key=lambda r: (r[2] != "procedure", r[0], version_key(r[1])))
    return [{"id": r[0], "version": r[1], "kind": r[2], "title": r[3], "department": r[4],
             "retired": r[5] is not None, "origin": r[6], "live_from": r[7], "closes_at": r[8]} for r in rows]


def _from_db(path: str) -> list[dict[str, Any]] | None:
    if not Path(path).is_file():
        sys.stderr.write(f"madoguchi list: no database at {path}\n")
        return None
    try:
        conn = sqlite3.connect(f"file:{Path(path).resolve().as_posix()}?mode=ro", uri=True)
        try:
            return published_rows(conn)
        finally:
            conn.close()
    except sqlite3.Error as e:
        sys.stderr.write(f"madoguchi list: {path} is not a Madoguchi database ({e})\n")
        return None


def _from_server(url: str) -> list[dict[str, Any]] | None:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/api/procedures", timeout=30) as r:
            rows = json.loads(r.read())
    except (OSError, ValueError) as e:
        sys.stderr.write(f"madoguchi list: cannot read {url}/api/procedures: {e}\n")
        return None
    return [{"id": r["id"], "version": r["version"], "kind": r["kind"], "title": r["title"],
             "department": r.get("department"), "retired": r.get("retired", False), "origin": r.get("origin"),
             "live_from": r.get("live_from"), "closes_at": r.get("closes_at")} for r in rows]


def list_command(ns: argparse.Namespace) -> int:
    db = getattr(ns, "db", None)
    server = getattr(ns, "server", None)
    if ns.path or (db is None and server is None and not Path(DEFAULT_DB).is_file()):
        from procedure_definitions.commands import list_definitions

        return list_definitions(ns)
    rows = _from_server(server) if server else _from_db(db or DEFAULT_DB)
    if rows is None:
        return 2
    if ns.json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
    else:
        for r in rows:
            state = " (retired)" if r["retired"] else (f" (from {r['live_from']})" if r["live_from"] else "")
            sys.stdout.write(f"{r['kind']:<10} {r['id']:<24} {r['version']:<8} {r['title']}{state}\n")
    return 0
