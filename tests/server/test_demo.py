"""``madoguchi serve --demo`` refuses what is not a demo (docs/security.md, "The demo"): an https origin, a
database holding accounts or registry records it did not create; and a restart never re-invites demo staff
who enrolled. Through the real command line, as an operator runs it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from testsupport.servers import ROOT, ServerProcess, free_port
from testsupport.webauthn import enroll_staff, register_resident


def madoguchi(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    return subprocess.run([sys.executable, "-m", "madoguchi.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def refused(r: subprocess.CompletedProcess[str], *words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --demo refuses"), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert "Madoguchi on" not in r.stdout  # never started serving
    for word in words:
        assert word in lines[0], lines[0]


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute(sql))
    finally:
        conn.close()


def test_demo_refuses_an_https_origin(tmp_path: Path) -> None:
    db = tmp_path / "public.db"
    r = madoguchi("serve", "--demo", "--db", str(db), "--port", str(free_port()),
                  "--origin", "https://madoguchi.city.example.lg.jp")
    refused(r, "https://madoguchi.city.example.lg.jp")
    assert not db.exists()  # nothing was created


@pytest.mark.parametrize("what", ["staff", "registry"])
def test_demo_refuses_a_database_with_real_data(tmp_path: Path, what: str) -> None:
    db = tmp_path / "city.db"
    if what == "staff":
        made = madoguchi("staff", "invite", "佐藤 課長", "--role", "admin", "--db", str(db))
        assert made.returncode == 0, made.stderr
    else:
        from server.registry import ResidentRecord, SQLiteRegistry
        from server.storage.db import Database
        from server.storage.schema import migrate

        database = Database.open(str(db))
        database.write_sync(migrate)
        database.write_sync(lambda c: SQLiteRegistry.upsert(c, [ResidentRecord(
            id="R0001", household_id="H9", family="本物", given="市民", family_kana="ホンモノ", given_kana="シミン",
            birth_date="1970-01-01")]))
        database.close()
    before = rows(db, "SELECT count(*), max(id) FROM audit_log")
    r = madoguchi("serve", "--demo", "--db", str(db), "--port", str(free_port()))
    refused(r, str(db), "did not create")
    # Untouched: no demo staff, no demo residents, nothing audited.
    assert rows(db, "SELECT count(*) FROM accounts WHERE display_name LIKE '%デモ%'") == [(0,)]
    assert rows(db, "SELECT count(*), max(id) FROM audit_log") == before
    assert rows(db, "SELECT family FROM residents") == ([("本物",)] if what == "registry" else [])


def test_restart_never_reinvites_enrolled_demo_staff(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    srv = ServerProcess(db, demo=True, url_host="localhost", timeout=90)
    with srv:
        counter_url = srv.enrollment_url("counter")
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            account, _ = enroll_staff(c, counter_url)
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            register_resident(c, srv.url, "デモ 住民")  # a resident who tried the demo
    first_log = srv.output()
    invites_before = rows(db, f"SELECT count(*) FROM invites WHERE account_id = '{account['id']}'")

    srv.start()  # the same database again: allowed (made by --demo), residents who registered included
    try:
        second = srv.output()[len(first_log):]
    finally:
        srv.stop()
    counter_line = next(line for line in second.splitlines() if line.strip().startswith("counter "))
    assert "enrolled" in counter_line and "/enroll/" not in counter_line
    for role in ("outreach", "reviewer", "configurator", "admin"):  # not enrolled yet: a new URL each
        line = next(line for line in second.splitlines() if line.strip().startswith(role + " "))
        assert "/enroll/" in line, line
    assert rows(db, f"SELECT count(*) FROM invites WHERE account_id = '{account['id']}'") == invites_before
    # One live link per demo account: the second start's link replaced the first start's (F23).
    live = rows(db, "SELECT a.role, count(*) FROM invites i JOIN accounts a ON a.id = i.account_id"
                    " WHERE i.used_at IS NULL GROUP BY a.role ORDER BY a.role")
    assert live == [("admin", 1), ("configurator", 1), ("outreach", 1), ("reviewer", 1)], live
    reinvites = rows(db, "SELECT details FROM audit_log WHERE action = 'staff.reinvite' ORDER BY id")
    assert len(reinvites) == 4 and all('"voided":1' in str(d[0]).replace(" ", "") for d in reinvites)
    seeds = rows(db, "SELECT details FROM audit_log WHERE action = 'demo.seed' ORDER BY id")
    assert len(seeds) == 2 and '"enrolled":["counter"]' in str(seeds[1][0]).replace(" ", "")


@pytest.mark.parametrize("how", ["staff invite", "serve without --demo"])
def test_demo_refuses_a_demo_database_once_used_without_demo(tmp_path: Path, how: str) -> None:
    """A demo database that then served without --demo (a resident registered there is a real one) or had
    staff added with ``madoguchi staff`` holds real accounts: --demo refuses it, with one line, from then on."""
    db = tmp_path / "was-demo.db"
    with ServerProcess(db, demo=True, url_host="localhost", timeout=90):
        pass
    if how == "staff invite":
        made = madoguchi("staff", "invite", "本物 職員", "--role", "counter", "--db", str(db))
        assert made.returncode == 0, made.stderr
    else:
        real = ServerProcess(db, url_host="localhost", timeout=90)
        with real, httpx.Client(base_url=real.url, timeout=10) as c:
            register_resident(c, real.url, "本物 住民")
    left = rows(db, "SELECT actor, details FROM audit_log WHERE action = 'demo.left'")
    assert len(left) == 1 and how in str(left[0][1]), left
    before = rows(db, "SELECT count(*), max(id) FROM audit_log")
    r = madoguchi("serve", "--demo", "--db", str(db), "--port", str(free_port()))
    refused(r, str(db), "without --demo", how)
    assert rows(db, "SELECT count(*), max(id) FROM audit_log") == before  # not seeded, not touched
    # A later plain start or staff change does not add a second entry.
    assert madoguchi("staff", "invite", "別の 職員", "--role", "counter", "--db", str(db)).returncode == 0
    assert len(rows(db, "SELECT 1 FROM audit_log WHERE action = 'demo.left'")) == 1
