"""Sync records: the JSON codecs, a record's current row and history, and the one function that writes a
new version (pushes, conflict resolutions and the registry projection all write through it)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import msgspec

from server.storage.sync.errors import Decision
from sync.merge import HistoryEntry
from sync.messages import Mutation
from sync.records import DRAFT, Principal, assignees_of

__all__ = ["Batch", "Row", "decoder", "high_water", "history", "load", "to_json", "utc_now", "write_version"]

_enc = msgspec.json.Encoder(order="sorted")
decoder = msgspec.json.Decoder()


def to_json(v: Any) -> str:
    return _enc.encode(v).decode()


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass
class Batch:
    """The state of one pass over a push batch, handed down explicitly (the store keeps only its
    configuration, so one store serves concurrent requests): the verdicts decided before the write job,
    the batch's timestamp (every version and receipt of the batch carries it) and the records written,
    for the push's single audit entry."""

    verdicts: dict[str, Decision]
    foreign_clients: frozenset[str] = frozenset()  # client ids of the batch this account may not use
    now: str = field(default_factory=utc_now)
    writes: list[str] = field(default_factory=list)


class Row:
    __slots__ = ("data", "deleted", "department", "meta", "owner", "version")

    def __init__(self, version: int, data: dict[str, Any], meta: dict[str, Any], deleted: bool,
                 owner: str | None, department: str | None) -> None:
        self.version = version
        self.data = data
        self.meta = meta
        self.deleted = deleted
        self.owner = owner
        self.department = department


def load(conn: sqlite3.Connection, rtype: str, rid: str) -> Row | None:
    r = conn.execute("SELECT version, data, meta, deleted, owner, department FROM sync_records"
                     " WHERE type = ? AND id = ?", (rtype, rid)).fetchone()
    if r is None:
        return None
    return Row(r[0], decoder.decode(r[1]), decoder.decode(r[2]), bool(r[3]), r[4], r[5])


def history(conn: sqlite3.Connection, rtype: str, rid: str, base_version: int | None) -> list[HistoryEntry]:
    return [HistoryEntry(r[0], r[1], r[2], frozenset(decoder.decode(r[3])))
            for r in conn.execute("SELECT version, client_id, client_seq, fields FROM sync_record_versions"
                                  " WHERE type = ? AND id = ? AND version > ? ORDER BY version",
                                  (rtype, rid, base_version or 0))]


def high_water(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MAX(seq) FROM sync_changes").fetchone()
    return int(row[0] or 0)


def write_version(conn: sqlite3.Connection, p: Principal, m: Mutation | None, rtype: str, rid: str, row: Row,
                  data: dict[str, Any], meta: dict[str, Any], deleted: bool, changed: set[str],
                  *, client_id: str | None = None, batch: Batch | None = None) -> int:
    """Store a new version of a record and move it to the end of the change log; returns its seq.
    ``batch``: the push this write belongs to (with ``m``); None for console and registry writes."""
    version = row.version + 1
    now = batch.now if batch is not None else utc_now()
    data_json = to_json(data)
    cid = m.client_id if m is not None else client_id
    department = row.department
    if rtype != DRAFT and isinstance(data.get("department"), str):
        department = data["department"]
    if row.version == 0:
        conn.execute("INSERT INTO sync_records (type, id, version, data, meta, deleted, last_client, owner,"
                     " department, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (rtype, rid, version, data_json, to_json(meta), int(deleted), cid,
                      row.owner, department, now, now))
    if row.version != 0:
        conn.execute("UPDATE sync_records SET version = ?, data = ?, meta = ?, deleted = ?, last_client = ?,"
                     " department = ?, updated_at = ? WHERE type = ? AND id = ?",
                     (version, data_json, to_json(meta), int(deleted), cid, department, now, rtype, rid))
    conn.execute("INSERT INTO sync_record_versions (type, id, version, client_id, client_seq, account_id,"
                 " mutation_id, fields, data, deleted, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (rtype, rid, version, cid, m.client_seq if m else None, p.id,
                  m.mutation_id if m else None, to_json(sorted(changed)), data_json, int(deleted), now))
    if rtype != DRAFT:
        # Access rows matter for outreach workers only (others see by role or department).
        creator = (row.owner if row.version else p.id) if p.role == "outreach" or row.version else None
        if row.version == 0 or "assignees" in changed or "assignee" in changed:
            for acc in assignees_of(data, creator):
                conn.execute("INSERT OR IGNORE INTO sync_access (account_id, type, id) VALUES (?, ?, ?)",
                             (acc, rtype, rid))
        if batch is not None:
            batch.writes.append(f"{rtype}:{rid}@{version}")
    cur = conn.execute("INSERT OR REPLACE INTO sync_changes (type, id) VALUES (?, ?)", (rtype, rid))
    return int(cur.lastrowid or 0)
