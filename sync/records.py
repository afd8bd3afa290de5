"""Which record types sync, how their fields merge, and who may see them (pure rules).

* ``draft``: a resident's (or staff member's) unfinished application; one owner, several devices; every
  field ``auto`` (the form shows the clash). Data: ``procedure_id``, ``procedure_version`` and the answers.
* shared records, edited by staff online and offline: ``household``, ``resident``, ``case``. Identity
  fields are ``review``; notes and contact logs ``append``; members ``set``; case status ``command``.
* ``submission``: create-only, through ``submission.create`` (not pulled).

Visibility (decided by the server, ``server/storage/sync/access.py``, with the server's one department rule):
drafts only to their owner; shared records to counter staff and admins, to reviewers of the record's
``department``, and to outreach workers listed in its ``assignees`` (the creator is added).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sync.merge import Policy, RecordSchema

__all__ = [
    "DRAFT",
    "SCHEMAS",
    "Principal",
    "assignees_of",
    "schema_for",
]

DRAFT = "draft"

_IDENTITY: dict[str, Policy] = {"name": "review", "name_kana": "review", "birth_date": "review", "my_number": "review",
             "resident_code": "review"}

SCHEMAS: dict[str, RecordSchema] = {
    DRAFT: RecordSchema(default="auto"),
    "household": RecordSchema(policies={**_IDENTITY, "head_name": "review", "members": "set",
                                        "notes": "append", "contact_log": "append"}, default="auto"),
    "resident": RecordSchema(policies={**_IDENTITY, "notes": "append", "contact_log": "append"},
                             default="auto"),
    "case": RecordSchema(policies={"status": "command", "assignee": "command", "notes": "append",
                                   "contact_log": "append", "visits": "set"}, default="auto"),
}


@dataclass(frozen=True)
class Principal:
    id: str
    role: str
    department: str | None = None


def schema_for(record_type: str) -> RecordSchema | None:
    return SCHEMAS.get(record_type)


def assignees_of(data: dict[str, Any], creator: str | None) -> set[str]:
    """The accounts a shared record is assigned to: the strings of its ``assignees`` list, its ``assignee``,
    and its creator. Device data: anything else (``true``, a number, a string, an object) names nobody."""
    listed = data.get("assignees")
    out = {a for a in listed if isinstance(a, str)} if isinstance(listed, list) else set()
    if isinstance(data.get("assignee"), str):
        out.add(data["assignee"])
    if creator:
        out.add(creator)
    return out
