"""Which prefilled values a submission changed: the ``prefill_corrected`` flag and the console's list.

A resident (or staff filing for them) may correct a value prefilled from the registry or from an imported
転出証明書情報 where the procedure allows it; staff must then see that the application says something else
than the city's records. The server decides it from the answers and the resident's profile (never from
what a device claims): a top-level field whose answer differs from its ``prefill`` attribute, and a group
item taken from a person (``prefill_map``) whose mapped values differ from that person's. An item is that
person's when it agrees with them on more than half of the mapped values the person has (a person added
by hand agrees with nobody and is no correction). A person field (``type: person``) names its person: the
fields it ``fills`` whose answers differ from that person's attributes are corrections; an id that is not
one of the people offered (or with no list in the profile) names nobody the registry knows: the person
field's own path is listed (the application claims a pick the city's records do not back; nothing else is
read from it). Staff displays note a pick as from the records only when none of these paths is stored
(``server.display``). A partial
prefill (``prefill_part: family``) gave only the 氏: a changed 氏 is a correction, the typed 名 never is.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from procedure_definitions.japan import phone_digits
from procedure_definitions.model import (
    PROFILE_GROUPS,
    FieldBase,
    GroupField,
    PersonField,
    PhoneField,
    Procedure,
)

__all__ = ["CORRECTED_FLAG", "corrected_paths", "offered_people", "path_label", "person_corrections", "pick_person",
           "prefill_value", "same_answer", "same_prefill", "uses_prefill"]

CORRECTED_FLAG = "prefill_corrected"


def _clean(v: Any) -> Any:
    """``""``/``None`` parts of an object are no answer (the forms drop them); names stay byte for byte."""
    if isinstance(v, dict):
        return {k: x for k, x in v.items() if x not in ("", None)}
    return v


def _same(a: Any, b: Any) -> bool:
    return bool(_clean(a) == _clean(b))


def same_answer(f: FieldBase | None, a: Any, b: Any) -> bool:
    """Whether two answers of field ``f`` are the same value: a phone number by its digits only (03-1234-5678,
    0312345678 and ０３－１２３４－５６７８ are one number: re-entered without hyphens it is no correction), anything
    else as it is (names byte for byte). The one comparison of a prefilled value with an answer."""
    if isinstance(f, PhoneField) and isinstance(a, str) and isinstance(b, str):
        return phone_digits(a) == phone_digits(b)
    return _same(a, b)


def same_prefill(f: FieldBase, answer: Any, given: Any) -> bool:
    """Whether an answer keeps what the prefill gave: with ``prefill_part``, that part only (the rest is typed)."""
    if given is None:
        return True  # nothing was given to change
    if f.prefill_part is not None:
        return isinstance(answer, dict) and answer.get(f.prefill_part) == given[f.prefill_part]
    return same_answer(f, answer, given)


def _as_text(value: Any) -> str:
    """A scalar profile value as ``prefill_values`` keys it: yes/no as ``true``/``false`` (JSON), else its text."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def prefill_value(f: FieldBase, profile: dict[str, Any]) -> Any:
    """What the profile fills into top-level field ``f`` (None: nothing): its ``prefill`` attribute, only its
    ``prefill_part`` of it (``{"family": 氏}``; nothing when the profile's value has no such part, e.g. a kana
    reading held as one string), or the choice its ``prefill_values`` maps the value to. The twin of pwa/js/drafts.js prefillValue (tests/conformance/prefill_value.json)."""
    value = profile.get(f.prefill) if f.prefill else None
    if f.prefill_values is not None and value is not None:
        return f.prefill_values.get(_as_text(value))  # a value not listed fills nothing
    if f.prefill_part is None or value is None:
        return value
    part = value.get(f.prefill_part) if isinstance(value, dict) else None
    return {f.prefill_part: part} if isinstance(part, str) and part else None


def uses_prefill(proc: Procedure) -> bool:
    return any(f.prefill for s in proc.sections for f in s.fields)


def _item_corrections(g: GroupField, items: list[Any], people: list[dict[str, Any]]) -> list[str]:
    assert g.prefill_map is not None
    subs = {x.id: x for x in g.fields}
    out: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        best: tuple[int, list[str]] | None = None
        for person in people:
            mapped = [(fid, attr) for fid, attr in g.prefill_map.items() if attr in person]
            differ = [fid for fid, attr in mapped if not same_answer(subs.get(fid), item.get(fid), person[attr])]
            agree = len(mapped) - len(differ)
            if agree * 2 > len(mapped) and (best is None or agree > best[0]):
                best = (agree, differ)
        if best is not None:
            out.extend(f"{g.id}[{i}].{fid}" for fid in best[1])
    return out


def offered_people(f: GroupField | PersonField, people: list[dict[str, Any]], self_id: Any) -> list[dict[str, Any]]:
    """The people a picker offers: with ``pick_self: false`` not the filer (``self_id``: the profile's own
    resident code). The twin of pwa/js/people.js offeredTo (tests/conformance/person.json)."""
    return [p for p in people if f.pick_self or p.get("member_id") != self_id]


def person_corrections(f: PersonField, answers: dict[str, Any], people: list[dict[str, Any]],
                       self_id: Any) -> list[str]:
    """The fields ``f`` fills whose answers differ from the picked person's attributes (a blank one is not
    compared: the resident chose to leave it). An id naming nobody offered names nobody: no correction.
    The twin of pwa/js/people.js personCorrected."""
    picked = answers.get(f.id)
    person = next((p for p in offered_people(f, people, self_id)
                   if isinstance(picked, str) and p.get("member_id") == picked), None)
    if person is None:
        return []
    return [fid for fid, attr in (f.fills or {}).items()
            if attr in person and answers.get(fid) not in (None, "") and not _same(answers[fid], person[attr])]


def _given(v: Any) -> bool:
    return v not in (None, "") and not (isinstance(v, dict) and not any(x not in (None, "") for x in v.values()))


def pick_person(f: PersonField, answers: dict[str, Any], people: list[dict[str, Any]], self_id: Any,
                person: dict[str, Any] | None) -> list[str]:
    """Pick ``person`` (None: 「ここにない人」) in ``f``, whose current pick is ``answers[f.id]``: each target
    still as the previous pick filled it (or blank) takes the person's value (or is cleared); a value typed or
    corrected stays. Sets ``answers[f.id]``; returns the targets changed. The twin of pwa/js/people.js
    pickPerson (the counter interview picks on the server, without JavaScript)."""
    offered = offered_people(f, people, self_id)
    before = next((p for p in offered if p.get("member_id") == answers.get(f.id)), None)
    kept = person_corrections(f, answers, people, self_id) if before else []
    changed = []
    for fid, attr in (f.fills or {}).items():
        as_filled = before is not None and attr in before and fid not in kept
        if not as_filled and _given(answers.get(fid)):
            continue  # typed or corrected: the clerk's own value stays
        if person is not None and _given(person.get(attr)):
            answers[fid] = copy.deepcopy(person[attr])
        else:
            answers.pop(fid, None)
        changed.append(fid)
    if person is None:
        answers.pop(f.id, None)
    else:
        answers[f.id] = person.get("member_id")
    return changed


def corrected_paths(proc: Procedure, answers: dict[str, Any], profile: dict[str, Any]) -> list[str]:
    """Paths of the answers that differ from what the profile prefilled, in document order."""
    out: list[str] = []
    for section in proc.sections:
        for f in section.fields:
            value = answers.get(f.id)
            if isinstance(f, PersonField) and isinstance(value, str) and value:
                offered = offered_people(f, profile.get(f.prefill or "") or [], profile.get("resident_code"))
                if not any(p.get("member_id") == value for p in offered):
                    out.append(f.id)  # a pick of nobody offered
                    continue
            if f.prefill is None or f.prefill not in profile:
                continue
            if isinstance(f, GroupField) and f.prefill in PROFILE_GROUPS:
                if f.prefill_map and isinstance(value, list):
                    out.extend(_item_corrections(f, value, profile[f.prefill]))
            elif isinstance(f, PersonField):
                out.extend(person_corrections(f, answers, profile[f.prefill], profile.get("resident_code")))
            elif value not in (None, "") and not same_prefill(f, value, prefill_value(f, profile)):
                out.append(f.id)
    return out


_STEP = re.compile(r"([^.\[]+)(?:\[(\d+)\])?")


def path_label(proc: Procedure, path: str) -> str:
    """An answer path in the words of the form, for staff: ``movers[1].mover_birth_date`` -> 「異動者 2 生年月日」
    (the path itself for a field the version does not have)."""
    fields: list[Any] = [f for s in proc.sections for f in s.fields]
    out: list[str] = []
    for step in path.split("."):
        m = _STEP.fullmatch(step)
        f = next((x for x in fields if m and x.id == m.group(1)), None)
        if f is None or m is None:
            return path
        if m.group(2) is not None and isinstance(f, GroupField):
            out.append(f"{(f.item_label or f.label).ja} {int(m.group(2)) + 1}")
            fields = list(f.fields)
        else:
            out.append(f.label.ja)
    return " ".join(out)
