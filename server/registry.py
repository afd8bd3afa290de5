"""The resident registry (住民記録) adapter.

Handlers use the :class:`Registry` protocol only; :class:`SQLiteRegistry` keeps records in the server's
own SQLite file (demo, small towns). The municipality's core system (基幹系) will be another
implementation. Names are stored byte for byte: never NFC/NFKC-normalized (IVS/MJ characters matter).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import msgspec

from procedure_definitions.expressions.dates import japan_today
from procedure_definitions.japan import parse_wareki_partial
from procedure_definitions.model import PROFILE_ATTRIBUTES
from procedure_definitions.namefold import search_key
from server.disclosure import (
    disclosed_head_name,
    disclosed_household,
    disclosed_people,
    has_child_under_18,
    household_head,
    married_couple,
    member_entry,
)
from server.registry_search import Condition, matching_ids, write_keys
from server.storage.submission_search import rekey_submissions
from server.transfer import MovingService, TransferCertificate, TransferMover

__all__ = [
    "Registry",
    "ResidentRecord",
    "SQLiteRegistry",
    "bound_resident_id",
    "import_transfers",
    "profile_from_record",
    "profile_sources",
    "transfer_profile",
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
    # 住民となった年月日 (ISO; on every 住民票): when the person became a resident of this city (moved in, or born).
    resident_since: str | None = None
    # 本籍 and its 筆頭者 {family, given}: on the 住民票 of Japanese nationals (住民基本台帳法第7条第5号).
    honseki: str | None = None
    honseki_head: dict[str, str] | None = None
    # 支援措置 (DV, stalking, abuse) or another 閲覧制限: never disclosed to others (server.disclosure).
    disclosure_restricted: bool = False
    # The incoming 転出証明書情報 imported for this (provisional) record: prefills 転入 (server.transfer).
    transfer_in: TransferCertificate | None = None


class Registry(Protocol):
    async def get(self, resident_id: str) -> ResidentRecord | None: ...
    async def get_many(self, resident_ids: Iterable[str]) -> dict[str, ResidentRecord]: ...
    async def find(self, family: str, given: str, birth_date: str | None = None) -> list[ResidentRecord]: ...
    async def household(self, household_id: str) -> list[ResidentRecord]: ...
    async def search(self, conds: Sequence[Condition], limit: int = 50) -> list[ResidentRecord]: ...


def _address(r: ResidentRecord) -> dict[str, str] | None:
    if not (r.prefecture or r.city or r.town):
        return None
    addr = {"postal_code": r.postal_code or "", "prefecture": r.prefecture or "", "city": r.city or "",
            "town": r.town or "", "block": r.block or ""}
    if r.building:
        addr["building"] = r.building
    return addr


def _name(r: ResidentRecord | None) -> dict[str, str] | None:
    return {"family": r.family, "given": r.given} if r is not None else None


def _moved_in_this_year(resident_since: str | None, today: str) -> bool | None:
    """Whether someone who became a resident on ``resident_since`` did so after 1 January of ``today``'s year
    (they were not a resident of the city on that 1 January, the day 住民税 and income certificates are tied
    to); None when the date is unknown or not a full ISO date."""
    try:
        since = dt.date.fromisoformat(resident_since or "")
    except ValueError:
        return None
    return since > dt.date(int(today[:4]), 1, 1)


def profile_from_record(r: ResidentRecord, household: list[ResidentRecord], *,
                        today: str | None = None) -> dict[str, Any]:
    """Map a record to the prefill attributes of ``PROFILE_ATTRIBUTES`` (absent values left out). The other
    people (household, movers of an incoming transfer) are listed as ``server.disclosure`` allows. ``today``
    (ISO, default: today in JST) decides ``moved_in_this_year`` and ``has_child_under_18``."""
    head = household_head(household, r.id)
    couple = married_couple(household, r.id)
    husband, wife = couple
    # The filer's own spouse: the other one of the couple (児童手当's 配偶者), only if the filer is one of them.
    spouse = (wife if husband is not None and husband.id == r.id
              else husband if wife is not None and wife.id == r.id else None)
    transfer = r.transfer_in
    previous = transfer.previous_address if transfer else r.previous_address
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
        "husband_name": {"family": husband.family, "given": husband.given} if husband else None,
        "husband_birth_date": husband.birth_date if husband else None,
        "wife_name": {"family": wife.family, "given": wife.given} if wife else None,
        "wife_birth_date": wife.birth_date if wife else None,
        "spouse_name": _name(spouse),
        # 児童手当's 配偶者の有無, by the same rule: yes when the registry shows the spouse; never no (absent).
        "has_spouse": True if spouse else None,
        "moved_in_this_year": _moved_in_this_year(r.resident_since, today or japan_today()),
        "nationality": r.nationality,
        "resident_code": r.id,
        "my_number": r.my_number,
        "household_members": disclosed_household(r.id, household, couple) or None,
        "previous_address": previous,
        "previous_postal_code": (previous or {}).get("postal_code") or None,
        "honseki": r.honseki,
        "honseki_head_name": disclosed_head_name(r.honseki_head, household, r.id),
        "transfer_movers": disclosed_people(r.id, [(m.member_id, m) for m in transfer.movers]) or None
        if transfer else None,
    }
    # From the people just disclosed (never from a restricted one): the 転入 family's child on the certificate too.
    profile["has_child_under_18"] = has_child_under_18(
        r.id, [*(profile["household_members"] or []), *(profile["transfer_movers"] or [])], today or japan_today())
    return {k: v for k, v in profile.items() if v is not None and k in PROFILE_ATTRIBUTES}


def transfer_profile(cert: TransferCertificate, mover: TransferMover, *, today: str | None = None) -> dict[str, Any]:
    """The prefill profile of a person the registry does not hold yet, matched to ``mover`` of an imported
    certificate (:meth:`SQLiteRegistry.transfer_matches`): their own attributes as the certificate gives them,
    the previous address and the movers (as ``server.disclosure`` lets the mover see them), and whether one of
    those movers is a child (``has_child_under_18`` on ``today``, ISO, default today in JST)."""
    me = member_entry(mover.member_id, mover)
    previous = cert.previous_address
    profile: dict[str, Any] = {
        **{k: me.get(k) for k in ("name", "name_kana", "birth_date", "sex")},
        "previous_address": previous,
        "previous_postal_code": (previous or {}).get("postal_code") or None,
        "transfer_movers": disclosed_people(mover.member_id, [(m.member_id, m) for m in cert.movers]) or None,
    }
    profile["has_child_under_18"] = has_child_under_18(mover.member_id, profile["transfer_movers"] or [],
                                                       today or japan_today())
    return {k: v for k, v in profile.items() if v is not None and k in PROFILE_ATTRIBUTES}


# Profile attributes that an imported 転出証明書情報 supplies (the rest come from the registry record).
_FROM_TRANSFER = ("previous_address", "previous_postal_code", "transfer_movers")


def profile_sources(r: ResidentRecord, profile: dict[str, Any]) -> dict[str, str]:
    """Where each attribute of ``profile`` came from: ``registry`` or ``transfer`` (shown to the resident)."""
    return {k: "transfer" if r.transfer_in is not None and k in _FROM_TRANSFER else "registry" for k in profile}


_IN_CHUNK = 500  # ids per ``IN (...)``: well under SQLite's host-parameter limit (999 on old builds)


def _row_to_record(row: sqlite3.Row | tuple[Any, ...]) -> ResidentRecord:
    return msgspec.json.decode(row[0], type=ResidentRecord)


class SQLiteRegistry:
    """Registry over the ``residents`` table; ``db`` is a :class:`server.storage.db.Database`. Reads are
    awaitable (the reader pool): handlers call them on the event loop."""

    def __init__(self, db: Any) -> None:
        self.db = db

    async def get(self, resident_id: str) -> ResidentRecord | None:
        row = await self.db.read(lambda c: c.execute("SELECT record FROM residents WHERE id = ?",
                                                    (resident_id,)).fetchone())
        return _row_to_record(row) if row else None

    async def get_many(self, resident_ids: Iterable[str]) -> dict[str, ResidentRecord]:
        """``{id: record}`` of the ids that exist, in one read (a page naming many residents: the queue)."""
        wanted = sorted(set(resident_ids))
        if not wanted:
            return {}

        def job(c: sqlite3.Connection) -> dict[str, ResidentRecord]:
            out: dict[str, ResidentRecord] = {}
            for start in range(0, len(wanted), _IN_CHUNK):  # SQLite caps host parameters per statement
                part = wanted[start:start + _IN_CHUNK]
                out.update((r[0], _row_to_record((r[1],))) for r in c.execute(
                    f"SELECT id, record FROM residents WHERE id IN ({', '.join('?' * len(part))})", part))
            return out

        return dict(await self.db.read(job))

    async def find(self, family: str, given: str, birth_date: str | None = None) -> list[ResidentRecord]:
        sql = "SELECT record FROM residents WHERE family = ? AND given = ?"
        args: list[Any] = [family, given]
        if birth_date:
            sql += " AND birth_date = ?"
            args.append(birth_date)
        rows = await self.db.read(lambda c: c.execute(sql + " ORDER BY id LIMIT 50", args).fetchall())
        return [_row_to_record(r) for r in rows]

    async def search(self, conds: Sequence[Condition], limit: int = 50) -> list[ResidentRecord]:
        """Counter search (``server.registry_search.parse_search`` makes ``conds``): the residents every
        condition matches, in id order, at most ``limit``."""

        def job(c: sqlite3.Connection) -> list[ResidentRecord]:
            ids = matching_ids(c, conds, limit)
            rows = {r[0]: r[1] for r in c.execute(
                f"SELECT id, record FROM residents WHERE id IN ({', '.join('?' * len(ids))})", ids)}
            return [_row_to_record((rows[i],)) for i in ids]

        return await self.db.read(job)

    async def transfer_matches(self, family: str, given: str, birth_date: str | None
                               ) -> list[tuple[TransferCertificate, TransferMover]]:
        """The movers of the imported 転出証明書情報 who are this person: the name compared by the one fold
        (``procedure_definitions.namefold.search_key``: 髙/高, kana, spaces), the birth date exactly as a date
        (read by ``parse_wareki_partial``: 和暦 or ISO; none or unreadable: no match). A person who came before being identified (a new person at the counter).
        The name typed at reception may be the kanji or the reading (スズキ, すずき, ｽｽﾞｷ: the certificate's
        ``family_kana``/``given_kana``), see :func:`_same_name`."""
        try:  # as typed at the counter: 平成2年4月1日, 1990-04-01 (one reader of dates); unreadable: no match
            iso = parse_wareki_partial(birth_date) if birth_date else None
        except ValueError:
            iso = None
        if iso is None:
            return []
        rows = await self.db.read(lambda c: c.execute(
            "SELECT record FROM residents WHERE json_extract(record, '$.transfer_in') IS NOT NULL ORDER BY id"
        ).fetchall())
        out: dict[tuple[str, str], tuple[TransferCertificate, TransferMover]] = {}
        for row in rows:
            cert = _row_to_record(row).transfer_in
            assert cert is not None
            out.update(((cert.certificate_id, m.member_id), (cert, m)) for m in cert.movers
                       if m.birth_date == iso and _same_name(family, given, m))
        return list(out.values())

    async def household(self, household_id: str) -> list[ResidentRecord]:
        rows = await self.db.read(lambda c: c.execute(
            "SELECT record FROM residents WHERE household_id = ? ORDER BY id", (household_id,)).fetchall())
        return [_row_to_record(r) for r in rows]

    async def profile(self, resident_id: str, record: ResidentRecord | None = None) -> dict[str, Any]:
        """The prefill profile of a resident (empty for an unknown id) in one read; ``record``: their record,
        when the caller has just read it (only the household is read then)."""
        return (await self.profile_with_sources(resident_id, record))[0]

    async def profile_with_sources(self, resident_id: str, record: ResidentRecord | None = None
                                   ) -> tuple[dict[str, Any], dict[str, str]]:
        """The prefill profile of a resident and where each attribute came from (empty for an unknown id)."""

        def job(c: sqlite3.Connection) -> tuple[ResidentRecord | None, list[ResidentRecord]]:
            r = record
            if r is None:
                row = c.execute("SELECT record FROM residents WHERE id = ?", (resident_id,)).fetchone()
                r = _row_to_record(row) if row else None
            if r is None or not r.household_id:
                return r, [r] if r else []
            return r, [_row_to_record(x) for x in c.execute(
                "SELECT record FROM residents WHERE household_id = ? ORDER BY id", (r.household_id,))]

        r, household = await self.db.read(job)
        if r is None:
            return {}, {}
        profile = profile_from_record(r, household)
        return profile, profile_sources(r, profile)

    @staticmethod
    def upsert(conn: sqlite3.Connection, records: list[ResidentRecord]) -> int:
        """Insert or replace records; call inside a write job."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        # The search keys in the same transaction: a record is never stored without them.
        write_keys(conn, [msgspec.structs.asdict(r) for r in records])
        renamed = _renamed(conn, records)
        for r in records:
            conn.execute(
                "INSERT INTO residents (id, household_id, record, family, given, birth_date, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET household_id = excluded.household_id,"
                " record = excluded.record, family = excluded.family, given = excluded.given,"
                " birth_date = excluded.birth_date, updated_at = excluded.updated_at",
                (r.id, r.household_id, msgspec.json.encode(r).decode(), r.family, r.given, r.birth_date, now),
            )
        if renamed:  # the console queue finds their applications by the name they have now
            rekey_submissions(conn, resident_ids=renamed)
        return len(records)


def import_transfers(conn: sqlite3.Connection, service: MovingService, resident_ids: list[str]) -> int:
    """Fetch the 転出証明書情報 of ``resident_ids`` from the moving service and keep each in the record it
    names (call inside a write job). Returns how many were imported; a certificate for an id not in the
    registry is skipped (the counter makes the record first)."""
    records = []
    for cert in service.certificates(resident_ids):
        row = conn.execute("SELECT record FROM residents WHERE id = ?", (cert.resident_id,)).fetchone()
        if row is None:
            continue
        rec = _row_to_record(row)
        rec.transfer_in = cert
        records.append(rec)
    return SQLiteRegistry.upsert(conn, records)


def _renamed(conn: sqlite3.Connection, records: Sequence[ResidentRecord]) -> list[str]:
    """The ids of ``records`` already stored under another name or kana (a new record has no application)."""
    out: list[str] = []
    for i in range(0, len(records), 500):
        some = {r.id: r for r in records[i:i + 500]}
        rows = conn.execute(
            "SELECT id, family, given, json_extract(record, '$.family_kana'), json_extract(record, '$.given_kana')"
            f" FROM residents WHERE id IN ({', '.join('?' * len(some))})", list(some))
        out += [row[0] for row in rows if tuple(row[1:]) != (
            (r := some[row[0]]).family, r.given, r.family_kana, r.given_kana)]
    return out


def _same_name(family: str, given: str, mover: TransferMover) -> bool:
    """Whether a name typed at the counter is the mover's, by the one fold: 「姓名」 as one (a space typed in
    either part does not matter) against the kanji or the kana reading, or each part against either (鈴木
    だいすけ: the family name in kanji, the given name as heard)."""
    whole = search_key(family + given)
    if whole in (search_key(mover.family + mover.given),
                 search_key((mover.family_kana or "") + (mover.given_kana or ""))):
        return bool(whole)

    def one(typed: str, *written: str | None) -> bool:
        key = search_key(typed)
        return bool(key) and any(w and search_key(w) == key for w in written)

    return one(family, mover.family, mover.family_kana) and one(given, mover.given, mover.given_kana)


def bound_resident_id(conn: sqlite3.Connection, account_id: str) -> str | None:
    row = conn.execute("SELECT resident_id FROM identity_bindings WHERE account_id = ?", (account_id,)).fetchone()
    return row[0] if row else None
