"""What the console shows instead of ids: procedure titles, residents' and staff members' names.

The texts themselves come from ``server.display`` (the one place for readable values); this module only
reads what those texts need (accounts, the visits, the registry) in as few reads as the page allows. Every name read
here is read for a page whose read of personal data the caller audits (``console.queue``,
``submission.read``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from procedure_definitions.library import latest_version
from server.display import arrival_name, name_text
from server.storage.visits import people_of_submissions

__all__ = ["account_names", "actor_text", "comment_mark", "department_names", "procedure_departments",
           "procedure_titles", "resident_names"]

_SYSTEM = "システム"


def procedure_titles(procedures: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """``{procedure_id: Japanese title}`` of the library's latest version of each procedure."""
    out: dict[str, str] = {}
    for pid, versions in procedures.items():
        if versions:
            out[pid] = versions[latest_version(dict(versions))].title.ja
    return out


def department_names(procedures: Mapping[str, Mapping[str, Any]], lang: str = "ja") -> dict[str, str]:
    """``{department id: its name}`` as the library's procedures name their departments: Japanese, or with
    ``lang="en"`` English where the library gives it (else Japanese)."""
    return {p.department.id: (lang == "en" and p.department.name.en) or p.department.name.ja
            for versions in procedures.values() for p in versions.values()}


def procedure_departments(procedures: Mapping[str, Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """``{procedure_id: the departments its versions belong to}``: which procedures a department's staff are
    offered (a filter, an export), by ``server.auth.roles.can_access_department`` on any of them."""
    return {pid: frozenset(p.department.id for p in versions.values()) for pid, versions in procedures.items()}


async def account_names(db: Any, ids: Iterable[str | None]) -> dict[str, tuple[str, str, str | None]]:
    """``{account id: (display name, role, bound resident id)}`` for the ids given (disabled ones too: a
    history keeps naming who acted)."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}

    def q(c: sqlite3.Connection) -> dict[str, tuple[str, str, str | None]]:
        marks = ", ".join("?" * len(wanted))
        rows = c.execute(f"SELECT a.id, a.display_name, a.role, b.resident_id FROM accounts a LEFT JOIN"
                         f" identity_bindings b ON b.account_id = a.id WHERE a.id IN ({marks})", wanted).fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    return dict(await db.read(q))


def actor_text(actor: str | None, names: Mapping[str, tuple[str, str, str | None]],
               role_labels: Mapping[str, str], *, filer: str | None) -> str:
    """Who made a history entry, in words: 「審査 花子（審査）」 for staff, 「申請者（山田 花子）」 for the filer."""
    if actor is None:
        return _SYSTEM
    name, role, _ = names.get(actor, ("", "", None))
    if actor == filer and role == "resident":
        return f"申請者（{name}）" if name else "申請者"
    if not name:
        return "退職・削除された職員" if role != "resident" else "住民"
    return f"{name}（{role_labels.get(role, role)}）"


def comment_mark(entry: Any, names: Mapping[str, tuple[str, str, str | None]]) -> str:
    """How a history comment is marked: 「申請者から」 (a resident's own words), 「申請者へ」 (staff wrote it for
    the resident: the PWA shows it) or 「内部メモ」 (staff only)."""
    if entry.actor is not None and names.get(entry.actor, ("", "", None))[1] == "resident":
        return "申請者から"
    return "申請者へ" if entry.visible_to_resident else "内部メモ"


async def resident_names(svc: Any, rows: Iterable[Any], *,
                         accounts: Mapping[str, tuple[str, str, str | None]] | None = None) -> dict[str, str]:
    """``{submission id: the name of the person it is for}``, byte for byte, never a staff member's:

    * filed for a registry resident (``on_behalf_of``): their registry name;
    * filed by a resident: the registry name of the record their account is bound to, else their display name;
    * filed by staff for nobody in the registry (a new arrival at the counter): the visit's registry resident
      when the visit that holds it has one; else the applicant's name the answers give (what the resident
      signs), else the visit's person as typed at reception (``server.display.arrival_name``), else "" (the
      clerk is not the resident).

    One accounts read, one visits read and one registry read for the whole page; ``accounts`` (from
    :func:`account_names`, covering the filers) spares the first when the page has read them already."""
    rows = list(rows)
    if accounts is None:
        accounts = await account_names(svc.db, (r.account_id for r in rows if not r.on_behalf_of))

    def filer(r: Any) -> tuple[str, str, str | None]:
        return accounts.get(r.account_id or "", ("", "", None))

    by_staff = [r.id for r in rows if not r.on_behalf_of and filer(r)[1] != "resident"]
    visits = await svc.db.read(lambda c: people_of_submissions(c, by_staff)) if by_staff else {}
    whom = {r.id: r.on_behalf_of or (visits.get(r.id, (None, None))[0] if r.id in visits else filer(r)[2])
            for r in rows}
    records = await svc.registry.get_many(w for w in whom.values() if w)
    names = {i: name_text({"family": rec.family, "given": rec.given}) for i, rec in records.items()}
    out: dict[str, str] = {}
    for r in rows:
        name = names.get(whom[r.id] or "")
        if name or r.on_behalf_of:
            out[r.id] = name or ""
        elif filer(r)[1] == "resident":
            out[r.id] = filer(r)[0]
        else:
            person = visits.get(r.id, (None, None))[1]
            proc, _ = await svc.catalog.get(r.procedure_id, r.procedure_version)  # cached per version
            out[r.id] = arrival_name({"family": person.family, "given": person.given} if person else None,
                                     [(proc, r.answers)] if proc is not None else [])
    return out
