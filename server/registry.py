"""The resident registry (住民記録) adapter.

Handlers use the :class:`Registry` protocol only; :class:`SQLiteRegistry` keeps records in the server's
own SQLite file (demo, small towns). The municipality's core system (基幹系) will be another
implementation. Names are stored byte for byte: never NFC/NFKC-normalized (IVS/MJ characters matter).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any, Protocol

import msgspec

from procedure_definitions.model import PROFILE_ATTRIBUTES

__all__ = [
    "Registry",
    "ResidentRecord",
    "SQLiteRegistry",
    "bound_resident_id",
    "profile_from_record",
    "search_text",
]


class ResidentRecord(msgspec.Struct, kw_only=True):
    id: str
    family: str
    given: str
    household_id: str | None = None
    family_kana: str | None = None
    given_kana: str | None = None
    birth_date: str | None = None  # ISO; partial dates ("1950-03", "1950") exist in the registry
    sex: str | None = None  # "male" | "female"
    postal_code: str | None = None
    prefecture: str | None = None
    city: str | None = None
    town: str | None = None
    block: str | None = None
    building: str | None = None
    phone: str | None = None
    email: str | None = None
    relationship_to_head: str | None = None  # 続柄: 世帯主, 妻, 子, ...
    nationality: str | None = None
    my_number: str | None = None
    previous_address: dict[str, str] | None = None


class Registry(Protocol):
    async def get(self, resident_id: str) -> ResidentRecord | None: ...
    async def find(self, family: str, given: str, birth_date: str | None = None) -> list[ResidentRecord]: ...
    async def household(self, household_id: str) -> list[ResidentRecord]: ...


def _address(r: ResidentRecord) -> dict[str, str] | None:
    if not (r.prefecture or r.city or r.town):
        return None
    addr = {"postal_code": r.postal_code or "", "prefecture": r.prefecture or "", "city": r.city or "",
            "town": r.town or "", "block": r.block or ""}
    if r.building:
        addr["building"] = r.building
    return addr


def profile_from_record(r: ResidentRecord, household: list[ResidentRecord]) -> dict[str, Any]:
    """Map a record to the prefill attributes of ``PROFILE_ATTRIBUTES`` (absent values left out)."""
    head = next((m for m in household if m.relationship_to_head == "世帯主"), None)
    members = [
        {
            "name": {"family": m.family, "given": m.given},
            "name_kana": {"family": m.family_kana or "", "given": m.given_kana or ""},
            "birth_date": m.birth_date,
            "sex": m.sex,
            "relationship_to_head": m.relationship_to_head,
        }
        for m in household
    ]
    profile: dict[str, Any] = {
        "name": {"family": r.family, "given": r.given},
        "name_kana": {"family": r.family_kana, "given": r.given_kana} if r.family_kana else None,
        "birth_date": r.birth_date,
        "sex": r.sex,
        "postal_code": r.postal_code,
        "address": _address(r),
        "phone": r.phone,
        "email": r.email,
        "household_head_name": {"family": head.family, "given": head.given} if head else None,
        "relationship_to_head": r.relationship_to_head,
        "nationality": r.nationality,
        "resident_code": r.id,
        "my_number": r.my_number,
        "household_members": members or None,
        "previous_address": r.previous_address,
    }
    return {k: v for k, v in profile.items() if v is not None and k in PROFILE_ATTRIBUTES}


def _row_to_record(row: sqlite3.Row | tuple[Any, ...]) -> ResidentRecord:
    return msgspec.json.decode(row[0], type=ResidentRecord)


def search_text(q: str | None) -> str | None:
    """The registry search box's one rule (API and console): the text searched, or ``None`` when nothing but
    spaces is left — an empty prefix matches every resident, so it is never searched."""
    text = (q or "").strip()
    return text or None


class SQLiteRegistry:
    """Registry over the ``residents`` table; ``db`` is a :class:`server.storage.db.Database`. Reads are
    awaitable (the reader pool): handlers call them on the event loop."""

    def __init__(self, db: Any) -> None:
        self.db = db

    async def get(self, resident_id: str) -> ResidentRecord | None:
        row = await self.db.read(lambda c: c.execute("SELECT record FROM residents WHERE id = ?",
                                                    (resident_id,)).fetchone())
        return _row_to_record(row) if row else None

    async def find(self, family: str, given: str, birth_date: str | None = None) -> list[ResidentRecord]:
        sql = "SELECT record FROM residents WHERE family = ? AND given = ?"
        args: list[Any] = [family, given]
        if birth_date:
            sql += " AND birth_date = ?"
            args.append(birth_date)
        rows = await self.db.read(lambda c: c.execute(sql + " ORDER BY id LIMIT 50", args).fetchall())
        return [_row_to_record(r) for r in rows]

    async def search(self, text: str, limit: int = 50) -> list[ResidentRecord]:
        """Counter search box: prefix match on family name, given name, kana or id."""
        like = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = await self.db.read(lambda c: c.execute(
            "SELECT record FROM residents WHERE family LIKE ?1 ESCAPE '\\' OR given LIKE ?1 ESCAPE '\\'"
            " OR id LIKE ?1 ESCAPE '\\' OR json_extract(record, '$.family_kana') LIKE ?1 ESCAPE '\\'"
            " ORDER BY id LIMIT ?2", (like, limit)).fetchall())
        return [_row_to_record(r) for r in rows]

    async def household(self, household_id: str) -> list[ResidentRecord]:
        rows = await self.db.read(lambda c: c.execute(
            "SELECT record FROM residents WHERE household_id = ? ORDER BY id", (household_id,)).fetchall())
        return [_row_to_record(r) for r in rows]

    async def profile(self, resident_id: str) -> dict[str, Any]:
        r = await self.get(resident_id)
        if r is None:
            return {}
        return profile_from_record(r, await self.household(r.household_id) if r.household_id else [r])

    @staticmethod
    def upsert(conn: sqlite3.Connection, records: list[ResidentRecord]) -> int:
        """Insert or replace records; call inside a write job."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        for r in records:
            conn.execute(
                "INSERT INTO residents (id, household_id, record, family, given, birth_date, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET household_id = excluded.household_id,"
                " record = excluded.record, family = excluded.family, given = excluded.given,"
                " birth_date = excluded.birth_date, updated_at = excluded.updated_at",
                (r.id, r.household_id, msgspec.json.encode(r).decode(), r.family, r.given, r.birth_date, now),
            )
        return len(records)


def bound_resident_id(conn: sqlite3.Connection, account_id: str) -> str | None:
    row = conn.execute("SELECT resident_id FROM identity_bindings WHERE account_id = ?", (account_id,)).fetchone()
    return row[0] if row else None
