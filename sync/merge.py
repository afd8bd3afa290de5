"""Three-way, per-field merge of a mutation into the server's current record (pure functions).

The server is authoritative and processes mutations one at a time in receipt order. For each field a
mutation carries ``{base, new}``: the value the user saw and the value they want. With the record's
history since ``base_version`` this is enough to decide, field by field and by the field's policy:

``auto``    server == base → take mine; otherwise a clash: mine is applied (receipt order), the
            overwritten server value is kept in a conflict record and the record is flagged.
``review``  server == base → take mine; otherwise the server value stays and a review task holds
            base / server / mine for a person to decide.
``append``  lists of immutable entries: entries in ``new`` that are not in ``base`` are appended to
            whatever the server has. Never a conflict.
``set``     repeat groups whose elements carry a stable ``id``: add/upsert and remove by element id;
            removals leave tombstones; a concurrent add or edit beats a removal (add wins).
``command`` the field (e.g. ``status``) may only change through a command (:mod:`sync.commands`).

Two rules keep a device from conflicting with itself:

* **Self-lineage**: a stale base is not a clash when every version that changed the field since
  ``base_version`` came from the same ``client_id`` (e.g. the first edit's acknowledgement was lost and
  the device edited again from its older base). One foreign version in between makes it a clash.
* **Supersession**: when a version that changed the field came from the same client with a *higher*
  ``client_seq``, this (older, reordered) mutation's value for that field is dropped: the device's later
  intent already won. Reordered delivery therefore ends in the same state as in-order delivery.

Client clocks play no part in any decision.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from sync.messages import ConflictInfo, FieldChange, SetOps
from sync.shapes import Shape, element_problem

__all__ = [
    "POLICIES",
    "DeleteResult",
    "HistoryEntry",
    "MergeResult",
    "Policy",
    "RecordSchema",
    "RecordState",
    "merge_delete",
    "merge_patch",
    "same",
    "schema_from_procedure",
    "shape_problem",
]

Policy = Literal["auto", "review", "append", "set", "command"]
POLICIES: tuple[str, ...] = ("auto", "review", "append", "set", "command")
DELETED_FIELD = "_deleted"  # pseudo-field recorded in history for delete / undelete

_canon = msgspec.json.Encoder(order="sorted")


def same(a: Any, b: Any) -> bool:
    """JSON equality without coercion (``1 != True``); missing, null and "" are all "no answer"."""
    if a in (None, "") and b in (None, ""):
        return True
    return _canon.encode(a) == _canon.encode(b)


@dataclass(frozen=True)
class RecordSchema:
    """Merge policy per field of one record type; fields not listed get ``default``. ``shapes``: what a
    known field's value must look like (:mod:`sync.shapes`); fields without one take any JSON value."""

    policies: Mapping[str, Policy] = field(default_factory=dict)
    default: Policy = "auto"
    shapes: Mapping[str, Shape] = field(default_factory=dict)

    def policy(self, name: str) -> Policy:
        return self.policies.get(name, self.default)

    def value_problem(self, name: str, value: Any) -> str | None:
        """Why ``value`` cannot be stored in field ``name`` (a message naming the field), or None. The one
        rule for pushed changes and for a person's custom conflict resolution."""
        check = self.shapes.get(name)
        problem = check(value) if check is not None else None
        return None if problem is None else f"{name}: expected {problem}"

    def element_problem(self, name: str, element: Any) -> str | None:
        """Why ``element`` cannot be one element of the set field ``name``, or None."""
        if name not in self.shapes:
            return None
        problem = element_problem(element)
        return None if problem is None else f"{name}: elements must be {problem}"


def shape_problem(schema: RecordSchema, changes: Mapping[str, FieldChange],
                  set_ops: Mapping[str, SetOps] | None) -> str | None:
    """The first shape a mutation's ``changes``/``set_ops`` violate (fields in name order), or None. Only the
    wanted values are checked: ``base`` is what the user saw, whatever it was; of an ``append`` or ``set``
    list only the entries the user adds or edits (one stored before these rules does not block the next entry)."""
    for name in sorted(changes):
        new = changes[name].new
        if isinstance(new, list) and schema.policy(name) in ("append", "set"):
            seen = {_canon.encode(e) for e in _as_list(changes[name].base)}
            new = [e for e in new if _canon.encode(e) not in seen]
        if (problem := schema.value_problem(name, new)) is not None:
            return problem
    for name in sorted(set_ops or {}):
        if name in schema.shapes and schema.policy(name) != "set":
            return f"{name}: not a set field (send changes, not set_ops)"
        for element in (set_ops or {})[name].add:
            if (problem := schema.element_problem(name, element)) is not None:
                return problem
    return None


@dataclass
class RecordState:
    version: int
    data: dict[str, Any]
    deleted: bool = False
    # per set field: {"el": {id: [version, client_id, client_seq]}, "tomb": {id: [...]}}
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoryEntry:
    """One stored version: who produced it and which fields it changed."""

    version: int
    client_id: str | None
    client_seq: int | None
    fields: frozenset[str]


@dataclass
class MergeResult:
    status: Literal["applied", "merged", "conflict", "rejected"]
    data: dict[str, Any]
    meta: dict[str, Any]
    deleted: bool
    changed: set[str]  # fields whose value changed (empty: no new version)
    conflicts: list[ConflictInfo]
    superseded: list[str] = field(default_factory=list)
    reason: str | None = None


@dataclass
class DeleteResult:
    status: Literal["applied", "merged", "conflict"]
    deleted: bool
    conflicts: list[ConflictInfo]


def _key(entry: Any) -> str:
    if isinstance(entry, dict) and "id" in entry:
        return "id:" + str(entry["id"])
    return "v:" + _canon.encode(entry).decode()


def _as_list(v: Any) -> list[Any]:
    if v is None or v == "":
        return []
    return list(v) if isinstance(v, list) else [v]


def _since(history: Sequence[HistoryEntry], base_version: int | None, name: str) -> list[HistoryEntry]:
    b = base_version or 0
    return [h for h in history if h.version > b and name in h.fields]


def _superseded(entries: Sequence[HistoryEntry], client_id: str, client_seq: int) -> bool:
    return any(h.client_id == client_id and (h.client_seq or 0) > client_seq for h in entries)


def _self_lineage(entries: Sequence[HistoryEntry], client_id: str) -> bool:
    return bool(entries) and all(h.client_id == client_id for h in entries)


class _Ctx:
    def __init__(self, state: RecordState | None, base_version: int | None, client_id: str, client_seq: int,
                 history: Sequence[HistoryEntry], new_version: int) -> None:
        self.data: dict[str, Any] = copy.deepcopy(state.data) if state else {}
        self.meta: dict[str, Any] = copy.deepcopy(state.meta) if state else {}
        self.base_version = base_version
        self.client_id = client_id
        self.client_seq = client_seq
        self.history = history
        self.new_version = new_version
        self.changed: set[str] = set()
        self.conflicts: list[ConflictInfo] = []
        self.superseded: list[str] = []
        self.creating = state is None  # nothing to merge against: every value is taken as sent

    def set(self, name: str, value: Any) -> None:
        if not same(self.data.get(name), value) or (name not in self.data and value is not None):
            self.changed.add(name)
        self.data[name] = value


def _merge_scalar(ctx: _Ctx, name: str, ch: FieldChange, policy: Policy) -> None:
    server = ctx.data.get(name)
    if same(server, ch.new):
        return  # already what I want: convergent, nothing to do
    since = _since(ctx.history, ctx.base_version, name)
    if _superseded(since, ctx.client_id, ctx.client_seq):
        ctx.superseded.append(name)
        return
    if ctx.creating or same(server, ch.base) or _self_lineage(since, ctx.client_id):
        ctx.set(name, ch.new)
        return
    if policy == "review":
        ctx.conflicts.append(ConflictInfo(field=name, base=ch.base, server=server, mine=ch.new,
                                          policy="review", outcome="server_kept"))
        return
    ctx.conflicts.append(ConflictInfo(field=name, base=ch.base, server=server, mine=ch.new,
                                      policy="auto", outcome="mine_applied"))
    ctx.set(name, ch.new)


def _merge_append(ctx: _Ctx, name: str, ch: FieldChange) -> None:
    base_keys = {_key(e) for e in _as_list(ch.base)}
    server = _as_list(ctx.data.get(name))
    have = {_key(e) for e in server}
    added = []
    for e in _as_list(ch.new):
        k = _key(e)
        if k not in base_keys and k not in have:
            have.add(k)
            added.append(e)
    # Removing an entry from an append-only field is not a thing: entries are immutable history.
    if added:
        ctx.set(name, server + added)


def _set_meta(ctx: _Ctx, name: str) -> dict[str, dict[str, list[Any]]]:
    m = ctx.meta.setdefault(name, {})
    m.setdefault("el", {})
    m.setdefault("tomb", {})
    return m


def _foreign_since(stamp: list[Any] | None, ctx: _Ctx) -> bool:
    return stamp is not None and stamp[0] > (ctx.base_version or 0) and stamp[1] != ctx.client_id


def _later_self(stamp: list[Any] | None, ctx: _Ctx) -> bool:
    return stamp is not None and stamp[1] == ctx.client_id and (stamp[2] or 0) > ctx.client_seq


def _merge_set(ctx: _Ctx, name: str, ops: SetOps) -> None:
    meta = _set_meta(ctx, name)
    items: list[dict[str, Any]] = [e for e in _as_list(ctx.data.get(name)) if isinstance(e, dict)]
    index = {str(e.get("id")): i for i, e in enumerate(items)}
    stamp = [ctx.new_version, ctx.client_id, ctx.client_seq]
    before = copy.deepcopy(items)
    removed: set[str] = set()
    for raw_id in ops.remove:
        eid = str(raw_id)
        el = meta["el"].get(eid)
        if _later_self(el, ctx) or _later_self(meta["tomb"].get(eid), ctx):
            ctx.superseded.append(f"{name}[{eid}]")
            continue
        if eid in index and _foreign_since(el, ctx):
            # Someone added or edited this element after I looked at it: add wins, my removal is kept
            # as a flagged conflict so it is not silently lost.
            ctx.conflicts.append(ConflictInfo(field=f"{name}[{eid}]", base=None, server=items[index[eid]],
                                              mine=None, policy="set", outcome="add_wins"))
            continue
        removed.add(eid)
        meta["tomb"][eid] = stamp
        meta["el"].pop(eid, None)
    if removed:
        items = [e for e in items if str(e.get("id")) not in removed]
        index = {str(e.get("id")): i for i, e in enumerate(items)}
    for elem in ops.add:
        if not isinstance(elem, dict) or elem.get("id") in (None, ""):
            continue
        eid = str(elem["id"])
        el = meta["el"].get(eid)
        if _later_self(el, ctx) or _later_self(meta["tomb"].get(eid), ctx):
            ctx.superseded.append(f"{name}[{eid}]")
            continue
        if eid in index:
            current = items[index[eid]]
            if same(current, elem):
                continue
            if _foreign_since(el, ctx):
                ctx.conflicts.append(ConflictInfo(field=f"{name}[{eid}]", base=None, server=current, mine=elem,
                                                  policy="set", outcome="mine_applied"))
            items[index[eid]] = dict(elem)
        else:
            items.append(dict(elem))
            index[eid] = len(items) - 1
        meta["el"][eid] = stamp
        meta["tomb"].pop(eid, None)
    if not same(before, items) or (name not in ctx.data and items):
        ctx.changed.add(name)
        ctx.data[name] = items


def _set_ops_from_change(ch: FieldChange) -> SetOps:
    """A whole-list ``{base, new}`` on a set field, turned into element operations."""
    base = {str(e.get("id")): e for e in _as_list(ch.base) if isinstance(e, dict) and "id" in e}
    new = {str(e.get("id")): e for e in _as_list(ch.new) if isinstance(e, dict) and "id" in e}
    add = [e for k, e in new.items() if k not in base or not same(base[k], e)]
    remove = [k for k in base if k not in new]
    return SetOps(add=add, remove=remove)


def merge_patch(
    state: RecordState | None,
    *,
    changes: Mapping[str, FieldChange],
    set_ops: Mapping[str, SetOps] | None,
    base_version: int | None,
    client_id: str,
    client_seq: int,
    schema: RecordSchema,
    history: Sequence[HistoryEntry] = (),
) -> MergeResult:
    """Merge one patch. ``history``: the record's versions newer than ``base_version`` (older ones are
    ignored). Deterministic: the same inputs give the same result."""
    set_ops = set_ops or {}
    new_version = (state.version if state else 0) + 1
    ctx = _Ctx(state, base_version, client_id, client_seq, history, new_version)
    for name in sorted(set(changes) | set(set_ops)):
        if name.startswith("_"):
            return MergeResult("rejected", ctx.data, ctx.meta, bool(state and state.deleted), set(), [],
                               reason="reserved_field")
        if schema.policy(name) == "command":
            return MergeResult("rejected", ctx.data, ctx.meta, bool(state and state.deleted), set(), [],
                               reason="command_only_field")

    if state is not None and state.deleted:
        since = _since(history, base_version, DELETED_FIELD)
        if _superseded(since, client_id, client_seq):
            # My own later delete already happened (reordered delivery): this older edit is moot.
            return MergeResult("merged", ctx.data, ctx.meta, True, set(), [],
                               superseded=sorted(set(changes) | set(set_ops)))
        if since or base_version is None or base_version < state.version:
            # The record was deleted after the user last saw it: no silent resurrection, but the edit
            # is kept in full in a conflict record for a person to restore.
            mine = {k: v.new for k, v in changes.items()}
            mine.update({k: msgspec.to_builtins(v) for k, v in set_ops.items()})
            info = ConflictInfo(field="_record", base={k: v.base for k, v in changes.items()}, server=None,
                                mine=mine, policy="review", outcome="edit_on_deleted")
            return MergeResult("conflict", ctx.data, ctx.meta, True, set(), [info])
        # base_version == current version of a deleted record: the user saw the deletion and edits anyway.
        ctx.changed.add(DELETED_FIELD)

    for name in sorted(set(changes) | set(set_ops)):
        policy = schema.policy(name)
        if name in set_ops or policy == "set":
            ops = set_ops.get(name)
            if ops is None:
                ops = _set_ops_from_change(changes[name])
            elif name in changes:
                extra = _set_ops_from_change(changes[name])
                ops = SetOps(add=ops.add + extra.add, remove=ops.remove + extra.remove)
            _merge_set(ctx, name, ops)
        elif policy == "append":
            _merge_append(ctx, name, changes[name])
        else:
            _merge_scalar(ctx, name, changes[name], policy)

    stale = state is not None and base_version is not None and base_version < state.version
    if state is not None and base_version is None:
        stale = True
    status: Literal["applied", "merged", "conflict"]
    if ctx.conflicts:
        status = "conflict"
    elif stale or ctx.superseded:
        status = "merged"
    else:
        status = "applied"
    return MergeResult(status, ctx.data, ctx.meta, False, ctx.changed, ctx.conflicts, ctx.superseded)


def merge_delete(
    state: RecordState | None,
    *,
    base_version: int | None,
    client_id: str,
    client_seq: int,
    history: Sequence[HistoryEntry] = (),
) -> DeleteResult:
    """Delete unless someone else changed the record since the user looked at it."""
    if state is None or state.deleted:
        return DeleteResult("applied", bool(state), [])
    b = base_version or 0
    since = [h for h in history if h.version > b]
    if _superseded(since, client_id, client_seq):
        return DeleteResult("merged", False, [])
    foreign = [h for h in since if h.client_id != client_id]
    if foreign:
        changed = sorted({f for h in foreign for f in h.fields})
        info = ConflictInfo(field="_deleted", base=False, server={k: state.data.get(k) for k in changed},
                            mine=True, policy="review", outcome="delete_refused")
        return DeleteResult("conflict", False, [info])
    return DeleteResult("merged" if since else "applied", True, [])


def schema_from_procedure(proc: Any) -> RecordSchema:
    """Policies of a procedure's fields (``procedure_definitions.model.default_merge``); groups are sets."""
    from procedure_definitions.model import GroupField, default_merge, procedure_fields

    policies: dict[str, Policy] = {}
    for f, parent in procedure_fields(proc):
        if parent is not None:
            continue  # fields inside a group merge as part of their element
        policies[f.id] = "set" if isinstance(f, GroupField) and f.merge is None else default_merge(f)
    return RecordSchema(policies=policies, default="auto")
