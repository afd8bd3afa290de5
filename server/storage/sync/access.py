"""Who may see which sync record: the check on one record (:func:`can_access`) and its SQL forms for pulls
and conflicts.

Drafts are their owner's. Shared records follow the department rule of the whole server
(:func:`server.auth.roles.department_filter`: counter and admin every department, reviewers their own,
configurators and residents none), except for outreach workers, who see the records assigned to them (or
that they created) rather than every department's."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from server.auth.roles import can_access_department, department_filter
from server.storage.sync.records import Row
from sync.records import DRAFT, Principal

__all__ = ["assigned_clause", "assigned_residents", "can_access", "change_scope", "conflict_scope", "visible"]


def can_access(p: Principal, record_type: str, *, owner: str | None, department: str | None,
               assignees: Iterable[str] = ()) -> bool:
    """Whether ``p`` may see one record of ``record_type`` (the rule the SQL forms below express)."""
    if record_type == DRAFT:
        return owner == p.id
    if p.role == "outreach":  # by assignment, not by department
        return p.id in set(assignees) or owner == p.id
    return can_access_department(p, department)


def _own_department_only(p: Principal) -> bool | None:
    """None: every department; True: only ``p.department``; False: none (the SQL forms bind one department)."""
    allowed = department_filter(p)
    if allowed is None:
        return None
    if allowed and allowed != (p.department,):
        raise ValueError(f"the sync store's queries bind one department, the rule gave {allowed}")
    return bool(allowed)


# Outreach workers see the households of the residents assigned to them (core table outreach_assignments)
# and every member of those households. Derived at query time: removing an assignment removes the access.
def _assigned_households(me: str) -> str:
    return ("SELECT rr.household_id FROM outreach_assignments oa JOIN residents rr ON rr.id = oa.resident_id"
            f" WHERE oa.account_id = {me} AND rr.household_id IS NOT NULL")


def assigned_residents(me: str) -> str:
    """A condition on ``m`` (a residents row); ``me`` appears twice."""
    return (f"m.household_id IN ({_assigned_households(me)})"
            f" OR m.id IN (SELECT oa2.resident_id FROM outreach_assignments oa2 WHERE oa2.account_id = {me})")


def assigned_clause(type_col: str, id_col: str, me: str) -> str:
    """A condition on a (type, id) pair; ``me`` appears three times."""
    return (f"(({type_col} = 'household' AND {id_col} IN ({_assigned_households(me)}))"
            f" OR ({type_col} = 'resident' AND {id_col} IN (SELECT m.id FROM residents m"
            f" WHERE {assigned_residents(me)})))")


def change_scope(p: Principal) -> str:
    """A condition on ``r`` (a sync_records row) for the records ``p`` pulls; named parameters ``:me`` and
    ``:dept``."""
    where = "(r.type = 'draft' AND r.owner = :me)"
    if p.role == "outreach":
        return where + (" OR (r.type <> 'draft' AND EXISTS (SELECT 1 FROM sync_access a WHERE a.account_id = :me"
                        f" AND a.type = r.type AND a.id = r.id)) OR {assigned_clause('r.type', 'r.id', ':me')}")
    own = _own_department_only(p)
    if own is None:
        where += " OR r.type <> 'draft'"
    elif own:
        where += " OR (r.type <> 'draft' AND r.department = :dept)"
    return where


def conflict_scope(p: Principal) -> tuple[str, list[Any]]:
    """A condition on a sync_conflicts row for the conflicts ``p`` sees, with its parameters."""
    if p.role == "outreach":
        return ("(account_id = ? OR EXISTS (SELECT 1 FROM sync_access a WHERE a.account_id = ?"
                " AND a.type = sync_conflicts.type AND a.id = sync_conflicts.record_id) OR "
                f"{assigned_clause('sync_conflicts.type', 'sync_conflicts.record_id', '?')})"), [p.id] * 5
    own = _own_department_only(p)
    if own is None:  # every shared record's conflicts; a draft's only to its owner (as in pulls)
        return f"(type <> '{DRAFT}' OR account_id = ?)", [p.id]
    if own:  # drafts have no department: only the reader's own match
        return "(department = ? OR account_id = ?)", [p.department, p.id]
    return "account_id = ?", [p.id]  # residents, configurators: the conflicts of their own mutations (drafts)


def visible(conn: sqlite3.Connection, p: Principal, rtype: str, rid: str, row: Row) -> bool:
    assignees: Iterable[str] = ()
    if p.role == "outreach" and rtype != DRAFT:
        assignees = [r[0] for r in conn.execute(
            "SELECT account_id FROM sync_access WHERE type = ? AND id = ? AND account_id = ?", (rtype, rid, p.id))]
        if not assignees and conn.execute(
                f"SELECT 1 FROM (SELECT ? AS t, ? AS i) x WHERE {assigned_clause('x.t', 'x.i', '?')}",
                (rtype, rid, p.id, p.id, p.id)).fetchone():
            assignees = [p.id]
    return can_access(p, rtype, owner=row.owner, department=row.department, assignees=assignees)
