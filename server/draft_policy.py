"""What a resident's synced draft may hold: never a value of a ``staff_only`` field.

Drafts are the resident's own (docs/sync.md), and a staff-only field (窓口メモ, 連絡記録, checks made at the
counter) is the counter's to fill: a resident's ``draft.patch`` naming one is refused ``staff_only_field``,
by the same rule filing uses (``procedure_definitions.forms.staff_only_ids`` of the draft's procedure
version), decided before the write job as the filing policy's verdicts are (``server.sync_routes``)."""

from __future__ import annotations

from typing import Any

from procedure_definitions.forms import staff_only_ids
from server.authz import AccountLike
from server.services import Services
from server.storage.db import Database
from server.storage.sync.errors import Verdict
from server.storage.sync.records import load
from sync.messages import Mutation
from sync.records import DRAFT

__all__ = ["STAFF_ONLY_IN_DRAFT", "draft_patch_refusal"]

STAFF_ONLY_IN_DRAFT = "窓口の職員が記入する項目は下書きに保存できません"


async def draft_patch_refusal(svc: Services, db: Database, user: AccountLike, m: Mutation) -> Verdict | None:
    """A refusal of ``m`` (a resident's ``draft.patch``) naming staff-only fields of its procedure version,
    else None. The version is the one the patch sets, else the stored draft's (its owner's only: the store
    refuses anyone else's anyway); a draft of no published version has no staff-only fields."""
    if user.role != "resident" or m.kind != "draft.patch" or m.entity.type != DRAFT:
        return None
    keys = set(m.changes) | set(m.set_ops)
    pid, ver = (m.changes[k].new if k in m.changes else None for k in ("procedure_id", "procedure_version"))
    if not (isinstance(pid, str) and isinstance(ver, str)):
        row = await db.read(lambda c: load(c, DRAFT, m.entity.id))
        data: dict[str, Any] = row.data if row is not None and row.owner == user.id else {}
        pid = pid if isinstance(pid, str) else data.get("procedure_id")
        ver = ver if isinstance(ver, str) else data.get("procedure_version")
    if not (isinstance(pid, str) and isinstance(ver, str)):
        return None
    proc = (await svc.catalog.get(pid, ver))[0]
    if proc is None:
        return None
    named = sorted(keys & staff_only_ids(proc))
    if not named:
        return None
    return Verdict("staff_only_field", STAFF_ONLY_IN_DRAFT, {"errors": [
        {"path": k, "field_id": k, "code": "staff_only", "message": STAFF_ONLY_IN_DRAFT} for k in named]})
