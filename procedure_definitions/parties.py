"""Two-person procedures: which part of a procedure each person fills (``parties`` / ``Section.party``).

A procedure with ``parties`` is filed in parts when a resident files it: the first filer answers the
sections without ``party``; each party answers its own sections later, from their own account. Each part is
validated on its own (``part_of``), and the whole once every part is in. Staff filing at the counter fill
every section at once (both people are there), so parts do not apply to them. ``partOf`` in
pwa/js/parties.js is the same rule on the device.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .model import Procedure

__all__ = ["FIRST_FILER", "part_field_ids", "part_of", "party_ids", "section_party"]

FIRST_FILER = ""  # the part of the person who starts the procedure (sections without ``party``)
_PARTS: dict[tuple[str, str, str], Procedure] = {}


def party_ids(proc: Procedure) -> list[str]:
    return [p.id for p in proc.parties]


def section_party(section: Any) -> str:
    """The part a section belongs to (``FIRST_FILER`` or a party id)."""
    return getattr(section, "party", None) or FIRST_FILER


def part_field_ids(proc: Procedure, party: str) -> set[str]:
    """Top-level field ids of ``party``'s part (groups' own fields travel inside their group's value)."""
    return {f.id for s in proc.sections if section_party(s) == party for f in s.fields}


def part_of(proc: Procedure, party: str) -> Procedure:
    """The procedure restricted to one part, validated on its own: only that part's sections, no documents
    (they are the whole filing's). Its version is tagged with the part, so the validation workers and the
    compiled-form cache (both keyed by id and version) never mix it up with the whole procedure."""
    key = (proc.id, proc.version, party)
    part = _PARTS.get(key)
    if part is None:
        part = _PARTS[key] = msgspec.structs.replace(
            proc, version=f"{proc.version}+part.{party or 'filer'}", documents=[], scenarios=[], fee=None,
            sections=[s for s in proc.sections if section_party(s) == party])
    return part
