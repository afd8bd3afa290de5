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
from sync.shapes import (
    LONG_TEXT,
    SHORT_TEXT,
    Shape,
    append_list,
    json_object,
    month_or_date,
    person_name,
    set_list,
    text,
)

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

# What each known field of a shared record holds (docs/sync.md, "Model"). A value of another shape would be
# stored and then be out of reach of later edits (a set with id-less elements, a log that is a string), so a
# mutation carrying one is rejected. Drafts hold free-form answers: only their ``madoguchi`` object is shaped. ``department`` decides who
# sees the record (a department id or nothing); ``assignees`` entries that are not strings name nobody.
_short, _long = text(SHORT_TEXT), text(LONG_TEXT)
_LOGS: dict[str, Shape] = {"notes": append_list, "contact_log": append_list, "department": _short}
_IDENTITY_SHAPES: dict[str, Shape] = {"name": person_name, "name_kana": person_name, "birth_date": month_or_date,
                                      "my_number": _short, "resident_code": _short}

SCHEMAS: dict[str, RecordSchema] = {
    # A draft's answers are free-form; only the PWA's reserved ``madoguchi`` object (title, kind, links) has
    # a shape, so a device reading it back always finds an object.
    DRAFT: RecordSchema(default="auto", shapes={"madoguchi": json_object}),
    "household": RecordSchema(policies={**_IDENTITY, "head_name": "review", "members": "set",
                                        "notes": "append", "contact_log": "append"}, default="auto",
                              shapes={**_IDENTITY_SHAPES, **_LOGS, "head_name": person_name, "members": set_list,
                                      "household_id": _short, "address": _long, "address_notes": _long}),
    "resident": RecordSchema(policies={**_IDENTITY, "notes": "append", "contact_log": "append"},
                             default="auto",
                             shapes={**_IDENTITY_SHAPES, **_LOGS, "household_id": _short, "relationship": _short,
                                     "phone": _short}),
    "case": RecordSchema(policies={"status": "command", "assignee": "command", "notes": "append",
                                   "contact_log": "append", "visits": "set"}, default="auto",
                         shapes={**_LOGS, "visits": set_list}),
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
