"""Issue 13 point 1: finding the resident at the counter (GET /api/registry/search, server/registry_search.py).

A real server (uvicorn on loopback) on a real SQLite file holding the demo registry and a few more records:
names in kanji or kana with 異体字 folded, birth dates in 西暦 or 和暦, address text; terms narrow (AND); the
names come back byte for byte.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from server.registry import ResidentRecord, SQLiteRegistry
from tests.server.conftest import count_reads, start_server
from testsupport.servers import AppServer

IVS = "\U000e0100"
EXTRA = [
    ResidentRecord(id="X0001", family="高橋", given="一郎", family_kana="タカハシ", given_kana="イチロウ",
                   birth_date="1955-01-02", prefecture="東京都", city="千代田区", town="外神田", block="1-1"),
    ResidentRecord(id="X0002", family="山\ufa11", given="涼子", family_kana="ヤマサキ", given_kana="リョウコ",
                   birth_date="2001-07-07", prefecture="東京都", city="千代田区", town="麹町", block="2-2"),
    ResidentRecord(id="X0004", family="九段", given="花", family_kana="クダン", given_kana="ハナ", birth_date="1970",
                   prefecture="東京都", city="千代田区", town="九段南", block="一丁目2番3号"),
    ResidentRecord(id="X0003", family="渡辺", given="直" + IVS, family_kana="ワタナベ", given_kana="ナオ",
                   birth_date="1990-02-03", prefecture="東京都", city="千代田区", town="一番町", block="5"),
]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_server(tmp_path_factory.mktemp("regsearch"))
    from server.demo import DEMO_RESIDENTS

    s.db.write_sync(lambda c: SQLiteRegistry.upsert(c, [*DEMO_RESIDENTS, *EXTRA]))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def counter(srv: AppServer) -> Any:
    return srv.login("counter")


def ids(counter: Any, **params: str) -> list[str]:
    r = counter.get("/api/registry/search", params=params)
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()]


@pytest.mark.parametrize("q", ["高橋", "髙橋", "たかはし", "タカハシ", "ﾀｶﾊｼ", "ＴＡＫＡＨＡＳＨＩ"[:0] + "たかは"])
def test_takahashi_in_any_writing_finds_both_takahashi(counter: Any, q: str) -> None:
    assert ids(counter, q=q) == ["R0005", "R0006", "X0001"]
    assert ids(counter, name=q) == ["R0005", "R0006", "X0001"]


@pytest.mark.parametrize(("q", "found"), [
    ("山崎", ["X0002"]), ("山﨑", ["X0002"]), ("渡辺", ["R0010", "X0003"]), ("渡邉", ["R0010", "X0003"]),
    ("渡邊 茂", ["R0010"]), ("わたなべ なお", ["X0003"]), ("渡辺直", ["X0003"]),
    ("葛城", ["R0004", "R0013"]), ("かつらぎ みさき", ["R0004"]), ("吉子", ["R0008"]), ("ヨシコ", ["R0008"]),
    ("nguyen", ["R0007"]), ("ヴァン", ["R0007"]), ("高橋健一", ["R0005"]), ("健一", ["R0005"]),
    ("r0005", ["R0005"]), ("髙橋 幸子", ["R0006"]), ("高橋 一郎", ["X0001"]), ("高橋　健", ["R0005"]),
])
def test_names_kanji_kana_and_variants(counter: Any, q: str, found: list[str]) -> None:
    assert ids(counter, q=q) == found


def test_names_come_back_byte_for_byte(counter: Any, srv: AppServer) -> None:
    rows = counter.get("/api/registry/search", params={"name": "かつらぎ"}).json()
    assert {r["family"] for r in rows} == {"葛" + IVS + "城"}
    (naoki,) = counter.get("/api/registry/search", params={"name": "渡邊 なお"}).json()
    assert naoki["given"] == "直" + IVS and naoki["family"] == "渡辺"
    # The stored record and its columns keep the name as given; only the search-key table is folded.
    stored = srv.db.read_sync(lambda c: c.execute(
        "SELECT family, given, record FROM residents WHERE id = 'X0002'").fetchone())
    assert stored[0] == "山\ufa11" and msgspec.json.decode(stored[2])["family"] == "山\ufa11"
    keys = srv.db.read_sync(lambda c: [r[0] for r in c.execute(
        "SELECT key FROM resident_search_keys WHERE resident_id = 'X0002' AND kind = 'name'")])
    assert "山崎" in keys and "山\ufa11" not in keys


@pytest.mark.parametrize(("birth", "found"), [
    ("1948-11-03", ["R0005"]), ("S23.11.3", ["R0005"]), ("昭和23年11月3日", ["R0005"]), ("s23.11.03", ["R0005"]),
    ("19481103", ["R0005"]), ("1948", ["R0005"]), ("昭和23年", ["R0005"]),
    # The registry knows only 1950-03 of 幸子: a full date in that month and the month itself find her.
    ("1950-03-15", ["R0006"]), ("S25.3", ["R0006"]), ("1950", ["R0006"]),
    ("H2.2.3", ["X0003"]), ("平成2年2月3日", ["X0003"]),
])
def test_birth_dates_in_seireki_and_wareki(counter: Any, birth: str, found: list[str]) -> None:
    assert ids(counter, birth_date=birth) == found


@pytest.mark.parametrize(("address", "found"), [
    ("外神田", ["R0005", "R0006", "X0001"]), ("千代田区外神田", ["R0005", "R0006", "X0001"]),
    ("東京都千代田区外神田4", ["R0005", "R0006"]), ("4-5-6", ["R0005", "R0006"]), ("４－５－６", ["R0005", "R0006"]),
    ("内神田荘", ["R0007"]), ("外神田 1-1", ["X0001"]), ("大阪", []),
    # Numbers written the other way: kanji numerals, 丁目/番/号 (X0004 is stored so, found by digits).
    ("外神田四丁目5番6号", ["R0005", "R0006"]), ("外神田4丁目", ["R0005", "R0006"]), ("外神田一丁目1", ["X0001"]),
    ("九段南1-2", ["X0004"]), ("九段南一丁目二番", ["X0004"]), ("1-2-3", ["X0004"]),
])
def test_address_text(counter: Any, address: str, found: list[str]) -> None:
    assert ids(counter, address=address) == found


def test_combined_terms_narrow(counter: Any) -> None:
    assert ids(counter, name="高橋", birth_date="S30.1.2") == ["X0001"]
    assert ids(counter, name="たかはし", address="4-5-6") == ["R0005", "R0006"]
    assert ids(counter, name="たかはし", address="4-5-6", birth_date="1948") == ["R0005"]
    assert ids(counter, q="高橋 S23") == ["R0005"]  # a term of q that reads as a date matches birth dates
    assert ids(counter, q="髙橋 外神田 1-1") == ["X0001"]
    assert ids(counter, q="たかはし 外神田四丁目") == ["R0005", "R0006"]  # q's address terms fold as addresses
    assert ids(counter, q="高橋", name="健一") == ["R0005"]
    assert ids(counter, name="高橋", birth_date="2000-01-01") == []
    # A name term never matches an address and an address term never a name.
    assert ids(counter, name="外神田") == [] and ids(counter, address="高橋") == []


def test_the_audit_names_what_was_asked_and_whom_it_found(counter: Any, srv: AppServer) -> None:
    found = ids(counter, name="たかはし", birth_date="S23.11.3", address="外神田")
    entry = srv.db.read_sync(lambda c: msgspec.json.decode(c.execute(
        "SELECT details FROM audit_log WHERE action = 'registry.search' AND actor = ? ORDER BY seq DESC LIMIT 1",
        (counter.account_id,)).fetchone()[0]))
    assert entry == {"name": "たかはし", "birth_date": "S23.11.3", "address": "外神田", "count": 1, "ids": found}


@pytest.mark.parametrize(("params", "path", "code"), [
    ({"birth_date": "昭和99年"}, "birth_date", "invalid"),
    ({"birth_date": "たかはし"}, "birth_date", "invalid"),
    ({"name": "高橋", "birth_date": "2026-02-30"}, "birth_date", "invalid"),
    ({}, "q", "empty"),
    ({"name": " ", "address": "\u3000", "birth_date": ""}, "q", "empty"),
    ({"q": "・"}, "q", "empty"),
    ({"q": "a b c d e f g h i"}, "q", "too_many_terms"),
    ({"q": "a b c d e", "address": "f g h i"}, "q", "too_many_terms"),
])
def test_bad_searches_are_400_problems_and_read_nothing(counter: Any, srv: AppServer, params: dict[str, str],
                                                         path: str, code: str) -> None:
    def count() -> int:
        return srv.db.read_sync(lambda c: c.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'registry.search'").fetchone()[0])

    before = count()
    r = counter.get("/api/registry/search", params=params)
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["path"] == path and r.json()["errors"][0]["code"] == code
    assert count() == before


@pytest.mark.parametrize("param", ["q", "name", "birth_date", "address"])
def test_an_overlong_parameter_is_a_400(counter: Any, param: str) -> None:
    longest = "1980-04-12".rjust(100) if param == "birth_date" else "1" * 100
    # 100 characters are searched (山田 太郎 was born on 1980-04-12).
    assert ids(counter, **{param: longest}) == (["R0001"] if param == "birth_date" else [])
    r = counter.get("/api/registry/search", params={param: "あ" * 101})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [{"path": param, "code": "too_long", "message": "at most 100 characters"}]


def test_upsert_replaces_the_keys(counter: Any, srv: AppServer) -> None:
    rec = ResidentRecord(id="X0009", family="櫻井", given="翔", family_kana="サクライ", given_kana="ショウ",
                         birth_date="1982-01-25")
    srv.db.write_sync(lambda c: SQLiteRegistry.upsert(c, [rec]))
    assert ids(counter, name="桜井") == ["X0009"] and ids(counter, name="しょう") == ["X0009"]
    srv.db.write_sync(lambda c: SQLiteRegistry.upsert(c, [msgspec.structs.replace(rec, family="廣瀬",
                                                                                      family_kana="ヒロセ")]))
    assert ids(counter, name="桜井") == [] and ids(counter, name="広瀬 翔") == ["X0009"]


def test_existing_records_get_keys_from_the_migration(tmp_path: Path) -> None:
    from server.registry_search import matching_ids, parse_search
    from server.storage.migrations import apply_migrations
    from server.storage.schema import CORE_MIGRATIONS, migrate

    conn = sqlite3.connect(tmp_path / "old.db")
    apply_migrations(conn, [("core", CORE_MIGRATIONS)])  # a database from before the registry component
    conn.execute("INSERT INTO residents (id, record, family, given, birth_date, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                 ("R1", msgspec.json.encode(EXTRA[0]).decode(), "高橋", "一郎", "1955-01-02", "2026-01-01"))
    migrate(conn)
    assert matching_ids(conn, parse_search("髙橋"), 50) == ["R1"]
    assert matching_ids(conn, parse_search(birth_date="S30.1.2"), 50) == ["R1"]


def test_the_migration_builds_the_keys_start_up_then_finds_them_current(tmp_path: Path) -> None:
    """Migration step 2 of both folded key sets is the start-up refresh itself (one rule,
    server.storage.migrations.refresh_if_fold_changed): the keys a migration built are not rebuilt again at
    start, and a database migrated before is left as it is."""
    from procedure_definitions.namefold import FOLD_VERSION
    from server.registry_search import refresh_search_keys
    from server.storage.migrations import apply_migrations
    from server.storage.schema import CORE_MIGRATIONS, migrate
    from server.storage.submission_search import refresh_submission_search

    conn = sqlite3.connect(tmp_path / "older.db")
    apply_migrations(conn, [("core", CORE_MIGRATIONS)])
    conn.execute("INSERT INTO residents (id, record, family, given, birth_date, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                 ("R1", msgspec.json.encode(EXTRA[1]).decode(), "山\ufa11", "涼子", "2001-07-07", "2026-01-01"))
    applied = migrate(conn)
    assert ("registry", 2) in applied and ("submission_search", 2) in applied
    for meta in ("resident_search_meta", "submission_search_meta"):
        assert conn.execute(f"SELECT fold_version FROM {meta}").fetchall() == [(FOLD_VERSION,)]
    assert refresh_search_keys(conn) is False and refresh_submission_search(conn) is False
    assert conn.execute("SELECT count(*) FROM resident_search_keys WHERE resident_id = 'R1'").fetchone()[0] > 0
    assert migrate(conn) == []  # migrated already: nothing runs twice


def test_keys_made_by_another_fold_are_rebuilt_at_start(tmp_path: Path) -> None:
    from server.registry_search import matching_ids, parse_search, refresh_search_keys
    from server.storage.schema import migrate

    conn = sqlite3.connect(tmp_path / "fold.db")
    migrate(conn)
    SQLiteRegistry.upsert(conn, [EXTRA[1]])
    assert refresh_search_keys(conn) is False  # made by this fold: nothing to do
    # As if the keys had been made before a city added 﨑 → 崎 to its table.
    conn.execute("UPDATE resident_search_meta SET fold_version = 'older'")
    conn.execute("UPDATE resident_search_keys SET key = replace(key, '崎', '\ufa11')")
    assert matching_ids(conn, parse_search("山崎"), 50) == []
    assert refresh_search_keys(conn) is True
    assert matching_ids(conn, parse_search("山崎"), 50) == ["X0002"]
    assert refresh_search_keys(conn) is False


def test_the_search_uses_the_indexes(srv: AppServer) -> None:
    from server.registry_search import _condition_sql, parse_search

    for cond in parse_search("高橋 S23", address="外神田"):
        sql, args = _condition_sql(cond)
        plan = srv.db.read_sync(lambda c, sql=sql, args=args: " ".join(
            str(r[-1]) for r in c.execute("EXPLAIN QUERY PLAN " + sql, args)))
        assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), plan


def test_the_server_rebuilds_stale_keys_when_it_starts(tmp_path: Path) -> None:
    from server.storage.schema import migrate

    conn = sqlite3.connect(tmp_path / "madoguchi.db")
    migrate(conn)
    SQLiteRegistry.upsert(conn, [EXTRA[1]])
    conn.execute("UPDATE resident_search_meta SET fold_version = 'older'")
    conn.execute("UPDATE resident_search_keys SET key = replace(key, '崎', '\ufa11')")
    conn.commit()
    conn.close()
    s = start_server(tmp_path)
    try:
        assert ids(s.login("counter"), name="山崎") == ["X0002"]
    finally:
        s.stop()


def test_get_many_reads_many_residents_at_once(tmp_path: Path) -> None:
    """A page naming many residents (the console queue, up to 100 rows) reads the registry once per 500 ids,
    not once per resident; ids with no record are left out."""
    import asyncio

    from server.storage.db import Database
    from server.storage.schema import migrate

    db = Database.open(tmp_path / "many.db")
    try:
        db.write_sync(migrate)
        recs = [ResidentRecord(id=f"M{i:04d}", family="多田", given=f"{i}") for i in range(620)]
        db.write_sync(lambda c: SQLiteRegistry.upsert(c, recs))
        reads = count_reads(db)
        registry = SQLiteRegistry(db)
        wanted = [r.id for r in recs] + ["NONE", "M0003"]
        got = asyncio.run(registry.get_many(iter(wanted)))
        assert sorted(got) == sorted(r.id for r in recs) and len(reads) == 1
        assert got["M0619"].given == "619"
        assert asyncio.run(registry.get_many([])) == {} and len(reads) == 1  # nothing asked: nothing read
    finally:
        db.close()
