"""``madoguchi registry import-transfer FILE.json``: 転出証明書情報 handed over as a file, imported through the
moving-service adapter into the registry records they name (audited), through the real command line; and the
demo's registry holds one, so ``serve --demo`` shows 転入 prefilled from it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import msgspec

from server.demo import DEMO_RESIDENTS, seed_demo
from server.registry import SQLiteRegistry
from server.storage.db import Database
from server.storage.schema import migrate
from tests.server.test_demo import madoguchi

CERT = {"certificate_id": "T-2026-0100", "resident_id": "R0005", "moving_date": "2026-04-01",
        "previous_address": {"postal_code": "5300001", "prefecture": "大阪府", "city": "大阪市北区", "town": "梅田"},
        "movers": [{"member_id": "R0005", "family": "髙橋", "given": "實", "birth_date": "1948-02-03"}]}


def _db(tmp_path: Path) -> Path:
    path = tmp_path / "city.db"
    db = Database.open(str(path))
    try:
        db.write_sync(migrate)
        db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    finally:
        db.close()
    return path


def _transfer_in(path: Path, rid: str) -> dict[str, object] | None:
    conn = sqlite3.connect(path)
    try:
        return msgspec.json.decode(conn.execute("SELECT record FROM residents WHERE id = ?", (rid,)).fetchone()[0]
                                   ).get("transfer_in")
    finally:
        conn.close()


def _audit(path: Path) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute("SELECT actor, subject, details FROM audit_log WHERE action = 'registry.import_transfer'"))
    finally:
        conn.close()


def test_a_certificate_file_is_imported_audited_and_unknown_residents_are_named(tmp_path: Path) -> None:
    db = _db(tmp_path)
    f = tmp_path / "certs.json"
    f.write_text(json.dumps([CERT, {**CERT, "certificate_id": "T-2026-0101", "resident_id": "R9999"}],
                            ensure_ascii=False), encoding="utf-8")
    r = madoguchi("registry", "import-transfer", str(f), "--db", str(db))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "imported 1 of 2" in r.stdout and "R9999" in r.stderr
    got = _transfer_in(db, "R0005")
    assert got is not None and got["certificate_id"] == "T-2026-0100"
    assert got["movers"][0]["family"] == "髙橋"  # type: ignore[index]  # byte for byte, never normalized
    (row,) = _audit(db)
    assert row[0] == "cli" and row[1] == "resident:R0005" and json.loads(row[2])["certificate_id"] == "T-2026-0100"
    # One certificate object works too.
    f.write_text(json.dumps({**CERT, "resident_id": "R0006", "certificate_id": "T-2026-0102"}), encoding="utf-8")
    assert madoguchi("registry", "import-transfer", str(f), "--db", str(db)).returncode == 0
    assert _transfer_in(db, "R0006") is not None


def test_a_bad_file_imports_nothing_and_says_why(tmp_path: Path) -> None:
    db = _db(tmp_path)
    f = tmp_path / "bad.json"
    for bad in ({**CERT, "movers": "R0005"}, {"resident_id": "R0005"}, "not json"):
        f.write_text(bad if isinstance(bad, str) else json.dumps(bad), encoding="utf-8")
        r = madoguchi("registry", "import-transfer", str(f), "--db", str(db))
        assert r.returncode == 2 and r.stderr.startswith("error: "), (r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
    assert madoguchi("registry", "import-transfer", str(tmp_path / "missing.json"), "--db", str(db)).returncode == 2
    assert _transfer_in(db, "R0005") is None and _audit(db) == []


def test_the_demo_registry_has_someone_moving_in_with_a_certificate(tmp_path: Path) -> None:
    db = Database.open(str(tmp_path / "demo.db"))
    try:
        db.write_sync(migrate)
        seed_demo(db, "http://localhost:8000")
    finally:
        db.close()
    got = _transfer_in(tmp_path / "demo.db", "R0011")
    assert got is not None and got["previous_address"]["prefecture"] == "大阪府"  # type: ignore[index]
