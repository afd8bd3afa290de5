"""``madoguchi serve --demo``: a small fictional registry and one staff account per role.

Every person here is fictional. The data exercises what real registries contain: an IVS variant
(葛 + U+E0100, the 葛城 of Katsuragi), 髙 (the "ladder" 高, outside JIS X 0208 level 1), a foreign
resident with a single-part name, a partial birth date, and multi-person households.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

from server.audit import append_audit
from server.registry import ResidentRecord, SQLiteRegistry, import_transfers
from server.transfer import InMemoryMovingService, TransferCertificate, TransferMover

__all__ = ["DEMO_RESIDENTS", "DEMO_STAFF", "DEMO_TRANSFERS", "DemoLogin", "DemoRefused", "check_database", "check_origin", "leave_demo",
           "seed_demo"]

_IVS_KATSURA = "葛\U000e0100"  # 葛 with variation selector 17 (MJ glyph with 匕 instead of 人)

# 本籍 and 筆頭者 of the 山田 household (prefill of 婚姻届, 出生届: PROFILE_ATTRIBUTES honseki*).
_YAMADA_HONSEKI: dict[str, Any] = {"honseki": "東京都千代田区千代田1番", "honseki_head": {"family": "山田", "given": "太郎"}}

_ADDR: dict[str, Any] = {"postal_code": "1000001", "prefecture": "東京都", "city": "千代田区", "town": "千代田"}

DEMO_RESIDENTS: list[ResidentRecord] = [
    ResidentRecord(id="R0001", household_id="H001", family="山田", given="太郎", family_kana="ヤマダ",
                   given_kana="タロウ", birth_date="1980-04-12", sex="male", relationship_to_head="世帯主",
                   nationality="日本", phone="090-1234-5678", email="taro@example.jp", my_number="123456789018",
                   **_YAMADA_HONSEKI, resident_since="2014-04-01", block="1-1-1", building="千代田ハイツ101", **_ADDR),
    ResidentRecord(id="R0002", household_id="H001", family="山田", given="花子", family_kana="ヤマダ",
                   given_kana="ハナコ", birth_date="1982-09-30", sex="female", relationship_to_head="妻",
                   nationality="日本", **_YAMADA_HONSEKI, resident_since="2014-04-01",
                   block="1-1-1", building="千代田ハイツ101", **_ADDR),
    ResidentRecord(id="R0003", household_id="H001", family="山田", given="一郎", family_kana="ヤマダ",
                   given_kana="イチロウ", birth_date="2015-06-01", sex="male", relationship_to_head="子",
                   nationality="日本", **_YAMADA_HONSEKI, resident_since="2015-06-01",
                   block="1-1-1", building="千代田ハイツ101", **_ADDR),
    ResidentRecord(id="R0004", household_id="H002", family=_IVS_KATSURA + "城", given="美咲",
                   family_kana="カツラギ", given_kana="ミサキ", birth_date="1990-01-15", sex="female",
                   relationship_to_head="世帯主", nationality="日本", postal_code="1020083", prefecture="東京都",
                   city="千代田区", town="麹町", block="3-2-1"),
    ResidentRecord(id="R0005", household_id="H003", family="髙橋", given="健一", family_kana="タカハシ",
                   given_kana="ケンイチ", birth_date="1948-11-03", sex="male", relationship_to_head="世帯主",
                   nationality="日本", phone="03-1234-5678", postal_code="1010021", prefecture="東京都",
                   city="千代田区", town="外神田", block="4-5-6",
                   previous_address={"postal_code": "2310023", "prefecture": "神奈川県", "city": "横浜市中区",
                                     "town": "山下町", "block": "1"}),
    ResidentRecord(id="R0006", household_id="H003", family="髙橋", given="幸子", family_kana="タカハシ",
                   given_kana="サチコ", birth_date="1950-03", sex="female", relationship_to_head="妻",
                   nationality="日本", postal_code="1010021", prefecture="東京都", city="千代田区", town="外神田",
                   block="4-5-6"),
    ResidentRecord(id="R0007", household_id="H004", family="NGUYEN", given="VAN AN", family_kana="グエン",
                   given_kana="ヴァン アン", birth_date="1996-07-21", sex="male", relationship_to_head="世帯主",
                   nationality="ベトナム", phone="080-9876-5432", postal_code="1010047", prefecture="東京都",
                   city="千代田区", town="内神田", block="2-3-4", building="内神田荘203"),
    ResidentRecord(id="R0008", household_id="H005", family="佐藤", given="𠮷子", family_kana="サトウ",
                   given_kana="ヨシコ", birth_date="1975-02-28", sex="female", relationship_to_head="世帯主",
                   nationality="日本", email="yoshiko@example.jp", postal_code="1000005", prefecture="東京都",
                   city="千代田区", town="丸の内", block="1-9-1"),
    ResidentRecord(id="R0009", household_id="H005", family="佐藤", given="陽翔", family_kana="サトウ",
                   given_kana="ハルト", birth_date="2024-12-24", sex="male", relationship_to_head="子",
                   nationality="日本", postal_code="1000005", prefecture="東京都", city="千代田区", town="丸の内",
                   block="1-9-1"),
    ResidentRecord(id="R0010", household_id="H006", family="渡邊", given="茂", family_kana="ワタナベ",
                   given_kana="シゲル", birth_date="1939-08-15", sex="male", relationship_to_head="世帯主",
                   nationality="日本", phone="03-3333-4444", postal_code="1010065", prefecture="東京都",
                   city="千代田区", town="西神田", block="2-1-1"),
    # Moving in (転入): the provisional records the counter made from the 転出証明書情報 below.
    ResidentRecord(id="R0011", household_id="H007", family="鈴木", given="大輔", family_kana="スズキ",
                   given_kana="ダイスケ", birth_date="1988-05-20", sex="male", relationship_to_head="世帯主",
                   nationality="日本", phone="080-1111-2222", postal_code="1010051", prefecture="東京都",
                   city="千代田区", town="神田神保町", block="1-5"),
    ResidentRecord(id="R0012", household_id="H007", family="鈴木", given="𠮷乃", family_kana="スズキ",
                   given_kana="ヨシノ", birth_date="2019-10-02", sex="female", relationship_to_head="子",
                   nationality="日本", postal_code="1010051", prefecture="東京都", city="千代田区",
                   town="神田神保町", block="1-5"),
    # Katsuragi's child (an IVS name too), and a household where one person is under 支援措置 (DV).
    ResidentRecord(id="R0013", household_id="H002", family=_IVS_KATSURA + "城", given="陽菜",
                   family_kana="カツラギ", given_kana="ヒナ", birth_date="2018-03-03", sex="female",
                   relationship_to_head="子", nationality="日本", postal_code="1020083", prefecture="東京都",
                   city="千代田区", town="麹町", block="3-2-1"),
    ResidentRecord(id="R0014", household_id="H008", family="小林", given="直樹", family_kana="コバヤシ",
                   given_kana="ナオキ", birth_date="1970-12-01", sex="male", relationship_to_head="世帯主",
                   nationality="日本", postal_code="1010054", prefecture="東京都", city="千代田区",
                   town="神田錦町", block="3-3"),
    ResidentRecord(id="R0015", household_id="H008", family="小林", given="由美", family_kana="コバヤシ",
                   given_kana="ユミ", birth_date="1972-04-04", sex="female", relationship_to_head="妻",
                   nationality="日本", postal_code="1010054", prefecture="東京都", city="千代田区",
                   town="神田錦町", block="3-3", disclosure_restricted=True),
]

# What the (mocked) national moving service holds for the family moving in from Osaka.
DEMO_TRANSFERS: list[TransferCertificate] = [
    TransferCertificate(
        certificate_id="T-2026-0001", resident_id="R0011", moving_date="2026-03-28",
        previous_address={"postal_code": "5300001", "prefecture": "大阪府", "city": "大阪市北区", "town": "梅田",
                          "block": "1-2-3"},
        movers=[
            TransferMover(member_id="R0011", family="鈴木", given="大輔", family_kana="スズキ", given_kana="ダイスケ",
                          birth_date="1988-05-20", sex="male", relationship_to_head="世帯主"),
            TransferMover(member_id="R0012", family="鈴木", given="𠮷乃", family_kana="スズキ", given_kana="ヨシノ",
                          birth_date="2019-10-02", sex="female", relationship_to_head="子"),
        ]),
]

# (display name, role, department)
DEMO_STAFF: list[tuple[str, str, str | None]] = [
    ("窓口 一郎（デモ）", "counter", None),
    ("訪問 花子（デモ）", "outreach", None),
    ("審査 次郎（デモ・市民課）", "reviewer", "shimin"),
    ("設定 三郎（デモ）", "configurator", None),
    ("管理 四郎（デモ）", "admin", None),
]


class DemoRefused(Exception):
    """``--demo`` must not run here; the message is one line for the operator."""


# The audit trail says whether a database was made by --demo: every seeding appends ``demo.seed`` (earlier
# versions left only ``staff.invite`` entries by the actor ``demo``). Hash-chained, so it cannot quietly go.
# Each query repeats the ``audit_log_demo`` index's condition, which lets SQLite read that small index alone.
_DEMO_ENTRIES = "action IN ('demo.seed', 'demo.left', 'staff.invite')"
_MARKED = (f"SELECT 1 FROM audit_log WHERE {_DEMO_ENTRIES}"
           " AND (action = 'demo.seed' OR (actor = 'demo' AND action = 'staff.invite')) LIMIT 1")


# A database stays a demo one only while everything in it was made in demo mode. The first start without --demo
# or CLI staff change (``madoguchi staff ...``) appends ``demo.left``, after which --demo refuses it: accounts
# made from then on (residents registering on a plain server, invited staff) are real, and one entry is enough
# to say so whatever was made later (a row count could not tell demo accounts from real ones).
_LEFT = f"SELECT at, details FROM audit_log WHERE {_DEMO_ENTRIES} AND action = 'demo.left' ORDER BY id LIMIT 1"


def leave_demo(conn: sqlite3.Connection, via: str, *, actor: str | None) -> None:
    """Record, once, that a demo database is now used outside demo mode (``via``: what did it). Nothing
    happens on a database --demo never made (it refuses those anyway when they hold data)."""
    try:
        if not conn.execute(_MARKED).fetchone() or conn.execute(_LEFT).fetchone():
            return
    except sqlite3.OperationalError:  # no audit table yet: not a demo database
        return
    append_audit(conn, actor=actor, action="demo.left", subject=None, details={"via": via})


def check_origin(origin: str) -> None:
    """The demo prints staff enrollment links for whoever sits at the terminal and seeds fictional people:
    never on a public https origin, where it would look like (or be) a real service."""
    if origin.strip().lower().startswith("https:"):
        raise DemoRefused(f"--demo refuses to run on an https origin ({origin}): it is for trying Madoguchi on"
                          " http://localhost, not for a public server")


def _count(conn: sqlite3.Connection, sql: str) -> int:
    try:
        return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # an older or empty file without the table
        return 0


def _foreign_data(conn: sqlite3.Connection) -> str | None:
    """Why this database is not a demo one (accounts or registry records --demo did not make), or None."""
    try:
        left = conn.execute(_LEFT).fetchone()
        if left:
            via = json.loads(left[1]).get("via", "?") if left[1] else "?"
            return (f"data made without --demo (it has been used without --demo since {left[0]}, first by {via}):"
                    " use a new --db file for the demo")
        if conn.execute(_MARKED).fetchone():
            return None  # made by --demo: every account in it was made while it served the demo
    except sqlite3.OperationalError:
        pass
    accounts = _count(conn, "SELECT count(*) FROM accounts")
    residents = _count(conn, "SELECT count(*) FROM residents")
    if not accounts and not residents:
        return None
    return (f"{accounts} account(s) and {residents} registry record(s) that --demo did not create: use a new"
            " --db file for the demo")


def check_database(path: str) -> None:
    """Refuse a database holding non-demo accounts or registry records, before anything writes to it (the
    server's start migrates and publishes). A missing file is a new, empty one."""
    if not Path(path).exists():
        return
    conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, timeout=30)
    try:
        reason = _foreign_data(conn)
    finally:
        conn.close()
    if reason:
        raise DemoRefused(f"--demo refuses the database {path}: it holds {reason}")


DemoLogin = tuple[str, str, str | None]  # (display name, role, enrollment URL; None once enrolled)


def seed_demo(db: Any, origin: str) -> list[DemoLogin]:
    """Seed the fictional registry and the demo staff (idempotent, one transaction, audited as ``demo.seed``).

    Returns (name, role, URL) per demo staff account: a new enrollment URL while the account has no passkey,
    None once it has one (a restart never hands out a new way into an enrolled account). Raises
    ``DemoRefused`` on an https origin or a database with accounts or registry records --demo did not make.
    """
    check_origin(origin)
    from server.auth.invites import create_invite_in, reinvite_in

    def job(c: sqlite3.Connection) -> list[DemoLogin]:
        reason = _foreign_data(c)  # again, in the write transaction: nothing can slip in since the check
        if reason:
            raise DemoRefused(f"--demo refuses this database: it holds {reason}")
        SQLiteRegistry.upsert(c, DEMO_RESIDENTS)
        import_transfers(c, InMemoryMovingService(DEMO_TRANSFERS), [t.resident_id for t in DEMO_TRANSFERS])
        out: list[DemoLogin] = []
        for name, role, dept in DEMO_STAFF:
            row = c.execute("SELECT id, enrolled_at, disabled_at FROM accounts WHERE display_name = ? AND role = ?",
                            (name, role)).fetchone()
            url: str | None
            if row is None:
                account, url = create_invite_in(c, name, role, dept, origin, actor="demo")
                account_id = account.id
            elif row[1] is None and row[2] is None:
                account_id, url = row[0], reinvite_in(c, row[0], origin, actor="demo")
            else:
                account_id, url = row[0], None  # enrolled (or disabled): no new invite
            if role == "outreach":
                now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
                for rid in ("R0005", "R0006", "R0010"):  # elderly households visited at home
                    c.execute("INSERT OR IGNORE INTO outreach_assignments (account_id, resident_id, assigned_at)"
                              " VALUES (?, ?, ?)", (account_id, rid, now))
            out.append((name, role, url))
        append_audit(c, actor="demo", action="demo.seed", subject=None,
                     details={"origin": origin, "invited": [r for _, r, u in out if u], "enrolled": [
                         r for _, r, u in out if u is None]})
        return out

    return db.write_sync(job)
