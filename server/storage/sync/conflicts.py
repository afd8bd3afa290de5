"""Conflicts: recorded while a push merges (one row per field), listed and read within the principal's
scope, and resolved by a person as a new record version."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import msgspec

from server.audit import append_audit
from server.auth.roles import CONFLICT_RESOLVER_ROLES
from server.storage.sync.access import conflict_scope
from server.storage.sync.errors import InvalidValue, NotFoundError, PermissionDenied, StaleConflict
from server.storage.sync.records import decoder, load, to_json, utc_now, write_version
from sync.messages import ConflictInfo, Mutation
from sync.records import DRAFT, Principal, schema_for

__all__ = ["MAX_PAGE", "ConflictPage", "ConflictRow", "get_conflict", "list_conflicts", "record_conflicts_in", "resolve_in"]


class ConflictRow(msgspec.Struct, kw_only=True):
    id: int
    mutation_id: str
    type: str
    record_id: str
    field: str
    policy: str
    outcome: str
    base: Any = None
    server: Any = None
    mine: Any = None
    status: str = "open"
    account_id: str | None = None
    client_id: str | None = None
    department: str | None = None
    record_version: int | None = None
    created_at: str = ""
    resolved_by: str | None = None
    resolved_at: str | None = None
    choice: str | None = None
    resolved_value: Any = None
    current: Any = None  # the field's value now (filled by get/list for the console)
    record_label: str | None = None  # who/what the record is, for people: a name, else None


_CONFLICT_COLS = ("id, mutation_id, type, record_id, field, policy, outcome, base, server, mine, status,"
                  " account_id, client_id, department, record_version, created_at, resolved_by, resolved_at,"
                  " choice, resolved_value")


def _conflict(row: Sequence[Any]) -> ConflictRow:
    def d(x: Any) -> Any:
        return None if x is None else decoder.decode(x)

    return ConflictRow(id=row[0], mutation_id=row[1], type=row[2], record_id=row[3], field=row[4],
                       policy=row[5], outcome=row[6], base=d(row[7]), server=d(row[8]), mine=d(row[9]),
                       status=row[10], account_id=row[11], client_id=row[12], department=row[13],
                       record_version=row[14], created_at=row[15], resolved_by=row[16], resolved_at=row[17],
                       choice=row[18], resolved_value=d(row[19]))


def _split_element(field: str) -> tuple[str, str | None]:
    if field.endswith("]") and "[" in field:
        name, _, rest = field.partition("[")
        return name, rest[:-1]
    return field, None


def record_conflicts_in(conn: sqlite3.Connection, p: Principal, m: Mutation, conflicts: list[ConflictInfo],
                        department: str | None, version: int) -> list[ConflictInfo]:
    """Store the conflicts a mutation's merge reported; returns them with their ids."""
    now = utc_now()
    out = []
    for c in conflicts:
        cur = conn.execute(
            "INSERT INTO sync_conflicts (mutation_id, type, record_id, field, policy, outcome, base, server,"
            " mine, account_id, client_id, department, record_version, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (m.mutation_id, m.entity.type, m.entity.id, c.field, c.policy, c.outcome, to_json(c.base),
             to_json(c.server), to_json(c.mine), p.id, m.client_id, department, version, now))
        out.append(msgspec.structs.replace(c, conflict_id=int(cur.lastrowid or 0)))
    return out


MAX_PAGE = 1000  # conflicts per page at most


class ConflictPage(msgspec.Struct, kw_only=True):
    """One page of a conflict list, newest first. ``cursor``: pass it back for the next page (None: last)."""

    items: list[ConflictRow]
    cursor: int | None = None
    has_more: bool = False


def list_conflicts(conn: sqlite3.Connection, p: Principal, *, status: str | None = "open",
                   mine_only: bool = False, cursor: int | None = None, limit: int = 200) -> ConflictPage:
    """The conflicts ``p`` may see, newest first, after ``cursor`` (the last id of the previous page)."""
    limit = max(1, min(limit, MAX_PAGE))
    scope, args = conflict_scope(p)
    sql = f"SELECT {_CONFLICT_COLS} FROM sync_conflicts WHERE {scope}"
    if status:
        sql += " AND status = ?"
        args.append(status)
    if mine_only:
        sql += " AND account_id = ?"
        args.append(p.id)
    if cursor is not None:
        sql += " AND id < ?"
        args.append(cursor)
    sql += " ORDER BY id DESC LIMIT ?"
    args.append(limit + 1)  # one more: is there a next page?
    out = [_conflict(r) for r in conn.execute(sql, args)]
    has_more = len(out) > limit
    out = out[:limit]
    for c in out:
        c.current = _current_value(conn, c)
        c.record_label = _record_label(conn, c)
    return ConflictPage(items=out, cursor=out[-1].id if has_more else None, has_more=has_more)


def get_conflict(conn: sqlite3.Connection, p: Principal, cid: int) -> ConflictRow:
    scope, args = conflict_scope(p)
    r = conn.execute(f"SELECT {_CONFLICT_COLS} FROM sync_conflicts WHERE id = ? AND {scope}",
                     [cid, *args]).fetchone()
    if r is None:
        raise NotFoundError(cid)
    c = _conflict(r)
    c.current = _current_value(conn, c)
    c.record_label = _record_label(conn, c)
    return c


def _record_label(conn: sqlite3.Connection, c: ConflictRow) -> str | None:
    row = load(conn, c.type, c.record_id)
    if row is None:
        return None
    for key in ("name", "head_name", "title"):
        v = row.data.get(key)
        if isinstance(v, dict) and ("family" in v or "given" in v):
            return " ".join(str(v.get(k) or "") for k in ("family", "given")).strip() or None
        if isinstance(v, str) and v:
            return v
    return None


def _current_value(conn: sqlite3.Connection, c: ConflictRow) -> Any:
    row = load(conn, c.type, c.record_id)
    if row is None:
        return None
    if c.field in ("_record", "_deleted"):
        return {"deleted": row.deleted, "version": row.version}
    name, eid = _split_element(c.field)
    if eid is None:
        return row.data.get(name)
    return next((e for e in row.data.get(name) or [] if isinstance(e, dict) and str(e.get("id")) == eid), None)


def _check_custom(c: ConflictRow, value: Any) -> None:
    """A person's own value meets the same shape rule as a pushed change (``RecordSchema.value_problem``)."""
    schema = schema_for(c.type)
    if schema is None or c.outcome == "delete_refused":
        return  # a refused delete's value only says delete or not: nothing is stored
    if c.outcome == "edit_on_deleted":
        fields = value if isinstance(value, dict) else {}
        problems = [schema.value_problem(k, v) for k, v in sorted(fields.items())]
    else:
        name, eid = _split_element(c.field)
        if eid is None:
            problems = [schema.value_problem(name, value)]
        elif value is not None and (isinstance(value, dict) and str(value.get("id")) != eid):
            problems = [f"{name}: the element keeps its id {eid!r}"]
        else:
            problems = [schema.element_problem(name, value)] if value is not None else []
    problem = next((p for p in problems if p is not None), None)
    if problem is not None:
        raise InvalidValue(problem)


def resolve_in(conn: sqlite3.Connection, p: Principal, cid: int, choice: str, value: Any = None) -> ConflictRow:
    """Apply a person's decision as a new record version, close the conflict and audit both."""
    if p.role not in CONFLICT_RESOLVER_ROLES:
        raise PermissionDenied("forbidden")
    c = get_conflict(conn, p, cid)
    if c.status != "open":
        raise StaleConflict(cid)
    if c.type == DRAFT and c.account_id != p.id:
        raise PermissionDenied("forbidden")
    if c.type != DRAFT and p.role == "resident":
        raise PermissionDenied("forbidden")
    if choice not in ("base", "server", "mine", "custom"):
        raise ValueError("choice must be base, server, mine or custom")
    chosen = {"base": c.base, "server": c.server, "mine": c.mine}.get(choice, value)
    if choice == "custom":
        _check_custom(c, value)
    row = load(conn, c.type, c.record_id)
    if row is None:
        raise NotFoundError(cid)
    data = dict(row.data)
    meta = dict(row.meta)
    deleted = row.deleted
    changed: set[str] = set()
    if c.outcome == "delete_refused":
        if choice in ("mine",) or (choice == "custom" and value is True):
            deleted, changed = True, {"_deleted"}
    elif c.outcome == "edit_on_deleted":
        if choice == "mine" or (choice == "custom" and isinstance(value, dict)):
            restore = chosen if isinstance(chosen, dict) else {}
            for k, v in restore.items():
                if not k.startswith("_"):
                    data[k] = v
            deleted, changed = False, {"_deleted", *restore}
    else:
        name, eid = _split_element(c.field)
        if eid is None:
            if data.get(name) != chosen:
                data[name] = chosen
                changed = {name}
        else:
            items = [e for e in data.get(name) or [] if isinstance(e, dict)]
            others = [e for e in items if str(e.get("id")) != eid]
            current = next((e for e in items if str(e.get("id")) == eid), None)
            if chosen is None and current is not None:
                data[name] = others
                changed = {name}
            elif isinstance(chosen, dict) and chosen != current:
                data[name] = [chosen if str(e.get("id")) == eid else e for e in items] if current else [
                    *items, chosen]
                changed = {name}
    seq = None
    if changed:
        seq = write_version(conn, p, None, c.type, c.record_id, row, data, meta, deleted, changed,
                            client_id=f"console:{p.id}")
    now = utc_now()
    conn.execute("UPDATE sync_conflicts SET status = 'resolved', resolved_by = ?, resolved_at = ?, choice = ?,"
                 " resolved_value = ? WHERE id = ?", (p.id, now, choice, to_json(chosen), cid))
    append_audit(conn, actor=p.id, action="sync.conflict.resolve", subject=f"{c.type}:{c.record_id}",
                 details={"conflict_id": cid, "field": c.field, "choice": choice, "outcome": c.outcome,
                          "new_version": row.version + 1 if seq else row.version})
    return get_conflict(conn, p, cid)
