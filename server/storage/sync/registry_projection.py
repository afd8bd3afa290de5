"""The registry projected into sync: an outreach worker's assigned households (and every member of them)
become shared sync records, created once from the core ``residents`` table."""

from __future__ import annotations

import sqlite3
from typing import Any

from server.audit import append_audit
from server.storage.sync.access import assigned_residents
from server.storage.sync.records import Row, decoder, load, write_version
from sync.records import Principal

__all__ = ["materialize_assigned_in", "missing_assigned", "registry_owns"]


def registry_owns(conn: sqlite3.Connection, rtype: str, rid: str) -> bool:
    """Whether ``rid`` is a registry resident or household id and ``rtype`` a registry type: such records come
    only from this projection (on an assignment), never from a device, so a client cannot plant a record that
    the registry's would be. Either id for either type: a ``resident`` named like a registry household (or the
    reverse) would be taken for it wherever ids are shown or looked up by id alone."""
    if rtype not in ("resident", "household"):
        return False
    return conn.execute("SELECT 1 FROM residents WHERE id = ? OR household_id = ? LIMIT 1",
                        (rid, rid)).fetchone() is not None


def missing_assigned(conn: sqlite3.Connection, p: Principal) -> bool:
    """Whether a household or resident assigned to this outreach worker has no sync record yet."""
    if p.role != "outreach":
        return False
    row = conn.execute(
        f"SELECT EXISTS (SELECT 1 FROM residents m WHERE ({assigned_residents('?')})"
        " AND (NOT EXISTS (SELECT 1 FROM sync_records s WHERE s.type = 'resident' AND s.id = m.id)"
        " OR (m.household_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sync_records s"
        " WHERE s.type = 'household' AND s.id = m.household_id))))", (p.id, p.id)).fetchone()
    return bool(row[0])


def materialize_assigned_in(conn: sqlite3.Connection, p: Principal, *, audit: bool = True) -> int:
    """Create the sync records of the households (and their members) assigned to ``p`` from the registry,
    once: from then on they are shared records edited through the protocol (version 1 comes from
    ``client_id`` ``registry``). Returns how many records were created."""
    rows = conn.execute(f"SELECT m.id, m.household_id, m.record FROM residents m WHERE {assigned_residents('?')}"
                        " ORDER BY m.id", (p.id, p.id)).fetchall()
    people = [(rid, hid, decoder.decode(rec)) for rid, hid, rec in rows]
    created = 0
    households: dict[str, list[dict[str, Any]]] = {}
    for rid, hid, rec in people:
        if hid:
            households.setdefault(hid, []).append({"id": rid, **rec})
        if load(conn, "resident", rid) is None:
            write_version(conn, p, None, "resident", rid, Row(0, {}, {}, False, None, None),
                          _resident_data(rec), {}, False, {"_created"}, client_id="registry")
            created += 1
    for hid, members in households.items():
        if load(conn, "household", hid) is None:
            # Every member of the household, not only the assigned ones: a visit is to the household.
            everyone = [{"id": r[0], **decoder.decode(r[1])} for r in conn.execute(
                "SELECT id, record FROM residents WHERE household_id = ? ORDER BY id", (hid,))] or members
            write_version(conn, p, None, "household", hid, Row(0, {}, {}, False, None, None),
                          _household_data(hid, everyone), {}, False, {"_created"}, client_id="registry")
            created += 1
            for member in everyone:
                if load(conn, "resident", member["id"]) is None:
                    write_version(conn, p, None, "resident", member["id"], Row(0, {}, {}, False, None, None),
                                  _resident_data(member), {}, False, {"_created"}, client_id="registry")
                    created += 1
    if created and audit:
        append_audit(conn, actor=p.id, action="sync.materialize", subject=None,
                     details={"records": created, "source": "registry"})
    return created


def _name(family: Any, given: Any) -> dict[str, str] | None:
    if not family and not given:
        return None
    return {"family": family or "", "given": given or ""}


def _resident_data(rec: dict[str, Any]) -> dict[str, Any]:
    """A resident's shared record from the registry: what a home visit needs (no My Number)."""
    out = {"household_id": rec.get("household_id"), "name": _name(rec.get("family"), rec.get("given")),
           "name_kana": _name(rec.get("family_kana"), rec.get("given_kana")), "birth_date": rec.get("birth_date"),
           "relationship": rec.get("relationship_to_head"), "phone": rec.get("phone")}
    return {k: v for k, v in out.items() if v not in (None, "")}


def _household_data(hid: str, members: list[dict[str, Any]]) -> dict[str, Any]:
    head = next((m for m in members if m.get("relationship_to_head") == "世帯主"), members[0] if members else {})
    address = "".join(str(head.get(k) or "") for k in ("prefecture", "city", "town", "block"))
    if head.get("building"):
        address += " " + str(head["building"])
    out = {"household_id": hid, "head_name": _name(head.get("family"), head.get("given")), "address": address,
           "contact_log": [], "members": [{"id": m["id"], "relationship": m.get("relationship_to_head") or ""}
                                          for m in members]}
    return {k: v for k, v in out.items() if v not in (None, "")}
