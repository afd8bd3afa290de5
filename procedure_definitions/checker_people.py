"""Checks on people taken from the profile: groups of people (``prefill_map``, ``pick``), person fields
(``type: person``, ``fills``) and ``pick_self`` (docs/procedure-format.md, "Household prefill").

A mixin of the checker (procedure_definitions.checker): it reports through the checker's ``report``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import did_you_mean
from .model import MEMBER_ATTRIBUTES, PROFILE_GROUPS, FieldBase, GroupField, PersonField
from .yamlpos import KeyPath

__all__ = ["PREFILL_COMPAT", "PeopleChecks", "field_tag"]

# Which field types may be prefilled from a profile (or member) attribute of a given type.
PREFILL_COMPAT: dict[str, set[str]] = {
    "text": {"text", "longtext", "choice"},
    "choice": {"choice", "text"},
    "date": {"date", "wareki"},
    "kana": {"kana"},
    "name": {"name"},
    "address": {"address"},
    "postal_code": {"postal_code"},
    "phone": {"phone"},
    "email": {"email"},
    "my_number": {"my_number"},
    "group": {"group", "person"},  # a list of people: a repeat group of them, or one person picked
}


def field_tag(f: FieldBase) -> str:
    return str(f.__struct_config__.tag)


class PeopleChecks:
    """``prefill_map``/``pick``/``pick_self`` on any field, and the person fields of a procedure."""

    def report(self, code: str, path: KeyPath, *, at_key: bool = False, **kw: Any) -> None:
        raise NotImplementedError  # the checker's

    def prefill_map(self, f: FieldBase, fpath: KeyPath) -> None:
        """``prefill_map`` and ``pick``: only on a group prefilled from a list of people; every key an item
        field, every value a member attribute whose value type the item field can hold. ``pick_self: false``
        only on a person field or a ``pick: true`` group (the lists the filer could be offered in)."""
        groups = ", ".join(sorted(PROFILE_GROUPS))
        if not f.pick_self and not isinstance(f, PersonField) and not (isinstance(f, GroupField) and f.pick):
            self.report("PD222", fpath + ("pick_self",), at_key=True, field=f.id,
                        what=f"a {field_tag(f)} field" if not isinstance(f, GroupField) else "a group without pick: true")
        for key, used in (("prefill_map", f.prefill_map is not None), ("pick", f.pick)):
            if not used:
                continue
            if not isinstance(f, GroupField):
                self.report("PD214", fpath + (key,), at_key=True, key=key, groups=groups, field=f.id,
                            what=f"a {field_tag(f)} field")
                return
            if f.prefill not in PROFILE_GROUPS:
                self.report("PD214", fpath + (key,), at_key=True, key=key, groups=groups, field=f.id,
                            what=f"prefilled from '{f.prefill}'" if f.prefill else "not prefilled")
                return
        if isinstance(f, PersonField) and f.prefill is None:
            self.report("PD218", fpath + ("id",), field=f.id, groups=groups)
        if not isinstance(f, GroupField) or f.prefill_map is None:
            return
        self.person_map(f.prefill_map, {c.id: c for c in f.fields}, fpath + ("prefill_map",), f.id, "prefill_map")

    def person_map(self, mapping: dict[str, str], items: Mapping[str, FieldBase], path: KeyPath, owner: str,
                   key: str) -> None:
        """A field id -> member attribute map (a group's ``prefill_map``, a person field's ``fills``, a life
        event person's ``map``)."""
        for item_id, attr in mapping.items():
            at = path + (item_id,)
            target = items.get(item_id)
            if target is None:
                self.report("PD202", at, at_key=True, name=item_id, key=f"{key} of '{owner}'",
                            hint=did_you_mean(item_id, items))
                continue
            attr_type = MEMBER_ATTRIBUTES.get(attr)
            if attr_type is None:
                self.report("PD215", at, key=key, field=owner, item=item_id, name=attr,
                            hint=did_you_mean(attr, MEMBER_ATTRIBUTES))
                continue
            tag = field_tag(target)
            if tag not in PREFILL_COMPAT.get(attr_type, {attr_type}):
                self.report("PD216", at, key=key, field=owner, item=item_id, name=attr, attr_type=attr_type,
                            field_type=tag)

    def person_fields(self, located: list[tuple[FieldBase, KeyPath, GroupField | None]]) -> None:
        """Each person field fills plain (top-level) fields, each filled by one person field only."""
        top = {f.id: f for f, _, g in located if g is None}
        inner = {f.id: g for f, _, g in located if g is not None}
        where = {f.id: _place(fpath) for f, fpath, g in located if g is None}
        filled_by: dict[str, str] = {}
        for f, fpath, _ in located:
            if not isinstance(f, PersonField) or f.prefill not in PROFILE_GROUPS:
                continue
            if f.fills is None:
                continue  # PD219, reported by the checker's prefill
            path = fpath + ("fills",)
            for target in f.fills:
                group = inner.get(target)
                if group is not None:
                    self.report("PD220", path + (target,), at_key=True, field=f.id, item=target, group=group.id)
                elif target in filled_by and target in top:
                    self.report("PD221", path + (target,), at_key=True, item=target, field=f.id,
                                other=filled_by[target])
                elif target in top and not _follows(where[target], where[f.id]):
                    # The PWA shows a person's values on the person field's own line: the fields after it on its
                    # screen (render.js); one elsewhere would stay empty while the time model counts it picked.
                    self.report("PD225", path + (target,), at_key=True, item=target, field=f.id)
                filled_by.setdefault(target, f.id)
            self.person_map({k: v for k, v in f.fills.items() if k not in inner}, top, path, f.id, "fills")


def _place(fpath: KeyPath) -> tuple[tuple[object, ...], int]:
    """(the screen, the position on it) of a top-level field: its section, or a life event's shared fields."""
    if fpath[0] == "sections":
        return (fpath[0], fpath[1]), int(fpath[3])
    return (fpath[0],), int(fpath[1])


def _follows(target: tuple[tuple[object, ...], int], person: tuple[tuple[object, ...], int]) -> bool:
    return target[0] == person[0] and target[1] > person[1]
