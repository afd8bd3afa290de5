"""What the city may disclose about the people of a household: the one rule, used by every path.

A resident's profile (their own, or read by staff filing on their behalf) lists the people of their
household (and the movers of an incoming 転出証明書情報) so that a form can be prefilled from them. Two
limits apply, decided here only:

* **Per person.** Someone under a disclosure restriction (住民基本台帳事務における支援措置 for victims of
  domestic violence, stalking or abuse, or another 閲覧制限) is never disclosed to anyone but themselves:
  they are left out of everybody else's list as if absent, and their name is not given as the head's, as
  one of the married couple's, nor as the 筆頭者 of anyone's 本籍 (:func:`disclosed_head_name`).
* **Per attribute.** Of another person only ``MEMBER_ATTRIBUTES`` are disclosed (resident code, name, kana,
  birth date, sex, relationship to the head): never their My Number, phone, email or address. Their 本籍 and
  筆頭者 only to a member of the same registry household (:func:`disclosed_household`): 住民基本台帳法第12条
  lets 本人又は同一の世帯に属する者 obtain a 住民票の写し with them; never for the movers of a transfer.

What the profile infers from the people (``has_child_under_18``) is inferred from the disclosed entries only
(:func:`has_child_under_18`): a restricted child is not told by a 「はい」 either.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from procedure_definitions.expressions import EvalError
from procedure_definitions.expressions.dates import parse_date
from procedure_definitions.model import MEMBER_ATTRIBUTES
from procedure_definitions.namefold import search_key

__all__ = [
    "Couple",
    "HouseholdPerson",
    "Person",
    "disclosed_head_name",
    "disclosed_household",
    "disclosed_people",
    "has_child_under_18",
    "high_school_age_end",
    "household_head",
    "married_couple",
    "may_disclose",
    "member_entry",
]


class Person(Protocol):
    """A registry record or a mover of a transfer certificate: the attributes a member entry is made of."""

    family: str
    given: str
    family_kana: str | None
    given_kana: str | None
    birth_date: str | None
    sex: str | None
    relationship_to_head: str | None
    disclosure_restricted: bool


class HouseholdPerson(Person, Protocol):
    """A registry record of the viewer's own household: also the 本籍 and its 筆頭者 of the 住民票."""

    id: str  # the resident code
    honseki: str | None
    honseki_head: dict[str, str] | None


H = TypeVar("H", bound=HouseholdPerson)
Couple = tuple[H | None, H | None]  # (husband, wife), as :func:`married_couple` returns them


def may_disclose(person_id: str, person: Person, viewer_id: str) -> bool:
    """Whether ``person`` may be shown to the resident ``viewer_id`` (themselves always)."""
    return person_id == viewer_id or not person.disclosure_restricted


def household_head(household: Sequence[H], viewer_id: str) -> H | None:
    """The household's head (世帯主) as named to ``viewer_id``: None when absent or not disclosable to them."""
    head = next((m for m in household if m.relationship_to_head == "世帯主"), None)
    return head if head is not None and may_disclose(head.id, head, viewer_id) else None


def married_couple(household: Sequence[H], viewer_id: str) -> Couple[H]:
    """(husband, wife) of the household's married couple: the head and the member recorded as the head's
    妻 or 夫 (the 住民票's 続柄; 妻（未届） and other forms are not a marriage the 戸籍 knows). Either is None
    when absent or not disclosable to ``viewer_id``."""
    head = next((m for m in household if m.relationship_to_head == "世帯主"), None)
    spouse = next((m for m in household if m.relationship_to_head in ("妻", "夫")), None)
    if head is None or spouse is None:
        return None, None
    husband, wife = (head, spouse) if spouse.relationship_to_head == "妻" else (spouse, head)
    return ((husband if may_disclose(husband.id, husband, viewer_id) else None),
            (wife if may_disclose(wife.id, wife, viewer_id) else None))


def disclosed_head_name(name: dict[str, str] | None, household: Iterable[HouseholdPerson],
                        viewer_id: str) -> dict[str, str] | None:
    """A 筆頭者 (the head of the 戸籍 a 住民票 records with the 本籍) as named to ``viewer_id``: None when it
    names a member of ``household`` (the viewer's registry household) who may not be disclosed to them: the
    name alone would tell the restricted person is there. Names compare by their search key (髙橋 is 高橋),
    so a variant spelling does not let the name through; the name shown stays as recorded."""
    if name is None:
        return None
    key = search_key(name.get("family", "") + name.get("given", ""))
    hidden = any(search_key(m.family + m.given) == key for m in household if not may_disclose(m.id, m, viewer_id))
    return None if hidden else name


def member_entry(person_id: str, p: Person, *, household: HouseholdPerson | None = None,
                 spouse: HouseholdPerson | None = None, head_name: dict[str, str] | None = None) -> dict[str, Any]:
    """The disclosed attributes of one person (absent values left out), keyed as ``MEMBER_ATTRIBUTES``.
    ``household``: the same person as a member of the viewer's registry household: ``same_household`` (true
    by definition for them) and the 本籍/筆頭者 of their 住民票 (a 住民票の写し the viewer may obtain, 住基法第12条);
    None for transfer movers. ``spouse``: the other one of the household's married couple when this person is
    one of it and the viewer may see both (``has_spouse``, ``spouse_birth_date``: only restate the 続柄 and the
    birth date listed; never false). ``head_name``: the 筆頭者 of ``household``'s 本籍 as
    :func:`disclosed_head_name` lets the viewer see it (the caller knows the viewer)."""
    entry: dict[str, Any] = {
        "member_id": person_id,
        "name": {"family": p.family, "given": p.given},
        "name_kana": {"family": p.family_kana or "", "given": p.given_kana or ""}
        if (p.family_kana or p.given_kana) else None,
        "birth_date": p.birth_date,
        "sex": p.sex,
        "relationship_to_head": p.relationship_to_head,
        "same_household": True if household is not None else None,
        "honseki": household.honseki if household is not None else None,
        "honseki_head_name": head_name if household is not None else None,
        "has_spouse": True if spouse is not None else None,
        "spouse_birth_date": spouse.birth_date if spouse is not None else None,
    }
    return {k: v for k, v in entry.items() if v is not None and k in MEMBER_ATTRIBUTES}


def disclosed_people(viewer_id: str, people: Iterable[tuple[str, Person]]) -> list[dict[str, Any]]:
    """The member entries of ``people`` (not of the viewer's household: transfer movers) that ``viewer_id``
    may see, in the given order."""
    return [member_entry(pid, p) for pid, p in people if may_disclose(pid, p, viewer_id)]


def disclosed_household(viewer_id: str, members: Sequence[H], couple: Couple[H]) -> list[dict[str, Any]]:
    """The member entries of the viewer's own registry household (``members``: their records, keyed by the
    resident code ``id``) that ``viewer_id`` may see, in the given order. ``couple``: what
    :func:`married_couple` returns for them (the caller uses it too: computed once)."""
    husband, wife = couple
    other = {husband.id: wife, wife.id: husband} if husband is not None and wife is not None else {}
    return [member_entry(m.id, m, household=m, spouse=other.get(m.id),
                         head_name=disclosed_head_name(m.honseki_head, members, viewer_id))
            for m in members if may_disclose(m.id, m, viewer_id)]


def high_school_age_end(birth_date: str) -> dt.date | None:
    """The last day of someone's 高校生年代 as 児童手当 defines it (児童手当法第4条 「18歳に達する日以後の最初の3月31日」):
    the first 31 March on or after the day they reach 18, which is the day before their 18th birthday (年齢計算ニ関スル
    法律; born 29 February: 28 February). Born 1 April 2008: 31 March 2026; born 2 April 2008: 31 March 2027.
    A partial birth date (「1950-03」, 「1950」: 日不詳) counts from its earliest possible day, so the person is
    of that age whatever the missing part is. None when the date is unreadable."""
    try:  # read as every date of a definition is (ISO, partial allowed, a real day)
        parsed = parse_date(birth_date, "birth_date")
        if parsed is None:
            return None
        y, m, d = parsed[0], parsed[1] or 1, parsed[2] or 1
        # The 18th birthday (29 February in a common year: 1 March, as age() counts), then the day before it.
        reached = (dt.date(y + 18, 3, 1) if (m, d) == (2, 29) and not calendar.isleap(y + 18)
                   else dt.date(y + 18, m, d)) - dt.timedelta(days=1)
    except (EvalError, ValueError):  # ValueError: beyond the calendar (year 9999)
        return None
    end = dt.date(reached.year, 3, 31)
    return end if reached <= end else dt.date(reached.year + 1, 3, 31)


def has_child_under_18(viewer_id: str, people: Iterable[Mapping[str, object]], today: str) -> bool | None:
    """``has_child_under_18`` of a profile: true when someone other than the viewer among ``people`` (member
    entries already disclosed to them: household members, transfer movers) was born on or before ``today``
    (ISO, JST) and is within their 高校生年代 (:func:`high_school_age_end`); None otherwise, never false (a
    child may live elsewhere: only the resident can say no)."""
    on = dt.date.fromisoformat(today)
    for p in people:
        born = p.get("birth_date")
        if p.get("member_id") == viewer_id or not isinstance(born, str):
            continue
        end = high_school_age_end(born)
        if end is not None and born[:10] <= today and on <= end:
            return True
    return None
