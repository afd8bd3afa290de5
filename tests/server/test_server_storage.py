"""Storage, migrations, audit chain and the CLI commands, on real SQLite files."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from server.audit import append_audit, verify_chain
from server.storage.db import Database
from server.storage.migrations import apply_migrations
from server.storage.schema import CORE_MIGRATIONS, migrate
from tests.server.conftest import answers, start_server
from testsupport.servers import AppServer


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "madoguchi.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=Path(__file__).resolve().parents[2])


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    d = Database.open(tmp_path / "t.db")
    d.write_sync(migrate)
    yield d
    d.close()


def test_writer_queue_commits_every_parallel_write(db: Database) -> None:
    db.write_sync(lambda c: c.execute("CREATE TABLE t (n INTEGER)"))
    n = 2000
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda i: db.write_sync(lambda c: c.execute("INSERT INTO t VALUES (?)", (i,))), range(n)))
    assert db.read_sync(lambda c: c.execute("SELECT count(*), count(DISTINCT n) FROM t").fetchone()[:]) == (n, n)
    assert db.transactions < n  # grouped: fewer commits than writes
    # Durable: a fresh connection on the file sees them all.
    conn = sqlite3.connect(db.path)
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == n
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_failing_job_is_isolated_from_its_group(db: Database) -> None:
    db.write_sync(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    gate = threading.Event()
    blocker = db.submit(lambda c: gate.wait(5))  # hold the writer so the next jobs share a group
    good1 = db.submit(lambda c: c.execute("INSERT INTO t VALUES (1)"))
    bad = db.submit(lambda c: (c.execute("INSERT INTO t VALUES (2)"), c.execute("INSERT INTO t VALUES (1)")))
    good2 = db.submit(lambda c: c.execute("INSERT INTO t VALUES (3)"))
    gate.set()
    blocker.result()
    good1.result()
    good2.result()
    with pytest.raises(sqlite3.IntegrityError):
        bad.result()
    assert db.read_sync(lambda c: [r[0] for r in c.execute("SELECT n FROM t ORDER BY n")]) == [1, 3]


def test_async_read_write(db: Database) -> None:
    async def go() -> int:
        await db.write(lambda c: c.execute("CREATE TABLE t (n)"))
        await db.write(lambda c: c.execute("INSERT INTO t VALUES (42)"))
        return int(await db.read(lambda c: c.execute("SELECT n FROM t").fetchone()[0]))

    assert asyncio.run(go()) == 42


class _Inserts:
    """A Batch that inserts its items with ONE statement (a duplicate fails the whole call); multiples of 10
    are refused item by item, writing nothing."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def run_many(self, conn: sqlite3.Connection, items: list[int]) -> list[int | Exception]:
        self.calls.append(list(items))
        conn.execute("INSERT INTO t SELECT value FROM json_each(?)", (json.dumps([n for n in items if n % 10]),))
        return [n if n % 10 else ValueError(f"{n} refused") for n in items]


async def _queued(db: Database, batch: _Inserts, items: tuple[int, ...]) -> list[object]:
    """Queue ``items`` behind a blocked writer, so they form one group of their own."""
    gate = threading.Event()
    blocker = db.submit(lambda c: gate.wait(5))
    tasks = [asyncio.ensure_future(db.write_batched(batch, n)) for n in items]
    await asyncio.sleep(0.05)
    gate.set()
    await asyncio.wrap_future(blocker)
    return await asyncio.gather(*tasks, return_exceptions=True)


def test_batched_writes_share_one_call_and_fail_alone(db: Database) -> None:
    db.write_sync(lambda c: c.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    batch = _Inserts()

    out = asyncio.run(_queued(db, batch, (1, 2, 10, 3)))
    assert out[:2] == [1, 2] and out[3] == 3 and isinstance(out[2], ValueError)
    assert batch.calls == [[1, 2, 10, 3]], "one call for the whole group"
    assert db.read_sync(lambda c: [r[0] for r in c.execute("SELECT n FROM t ORDER BY n")]) == [1, 2, 3]

    batch.calls.clear()

    async def clash() -> list[object]:
        gate = threading.Event()
        blocker = db.submit(lambda c: gate.wait(5))
        # A plain job shares the group: the batch then runs in a savepoint that must not undo the job.
        plain = db.submit(lambda c: c.execute("INSERT INTO t VALUES (7)"))
        tasks = [asyncio.ensure_future(db.write_batched(batch, n)) for n in (4, 2, 5)]  # 2 is stored already
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.wrap_future(blocker)
        await asyncio.wrap_future(plain)
        return await asyncio.gather(*tasks, return_exceptions=True)

    out = asyncio.run(clash())
    assert out[0] == 4 and out[2] == 5 and isinstance(out[1], sqlite3.IntegrityError)
    assert batch.calls == [[4, 2, 5], [4], [2], [5]], "the failed call is rolled back, then each item alone"
    assert db.read_sync(lambda c: [r[0] for r in c.execute("SELECT n FROM t ORDER BY n")]) == [1, 2, 3, 4, 5, 7]

    batch.calls.clear()
    out = asyncio.run(_queued(db, batch, (8, 3, 9)))  # the batch is the whole group
    assert out[0] == 8 and out[2] == 9 and isinstance(out[1], sqlite3.IntegrityError)
    assert batch.calls == [[8, 3, 9], [8], [3], [9]]
    assert db.read_sync(lambda c: [r[0] for r in c.execute("SELECT n FROM t ORDER BY n")]) == [1, 2, 3, 4, 5, 7, 8, 9]


def test_create_many_retries_and_conflicts_within_one_batch(db: Database) -> None:
    from server.storage.submissions import IdempotencyConflict, NewSubmission, body_hash, create_many

    def new(sid: str, name: str, account: str = "a1") -> NewSubmission:
        ans = {"name": name}
        return NewSubmission(id=sid, procedure_id="p", procedure_version="1", department="d", answers=ans,
                             body_hash=body_hash("p", "1", ans, None), flags=[], account_id=account,
                             on_behalf_of=None)

    stored = db.write_sync(lambda c: create_many(c, [new("s0", "𠮷野 髙橋 葛\U000E0100城")]))[0]
    assert isinstance(stored, tuple) and stored[1] is True
    batch = [new("s1", "A"), new("s1", "A"), new("s1", "B"), new("s0", "𠮷野 髙橋 葛\U000E0100城"), new("s0", "X"),
             new("s2", "C"), new("s2", "C", account="a2")]
    out = db.write_sync(lambda c: create_many(c, batch))
    first = out[0]
    assert isinstance(first, tuple) and first[1] is True
    assert out[1] == (first[0], False), "a retry inside the batch gets the first receipt"
    assert isinstance(out[2], IdempotencyConflict) and isinstance(out[4], IdempotencyConflict)
    assert out[3] == (stored[0], False)
    assert isinstance(out[5], tuple) and out[5][1] is True and isinstance(out[6], IdempotencyConflict)
    rows = db.read_sync(lambda c: c.execute(
        "SELECT s.id, s.receipt_number, s.answers, e.to_status, e.actor FROM submissions s"
        " JOIN submission_events e ON e.submission_id = s.id ORDER BY s.receipt_number").fetchall())
    assert [r[0] for r in rows] == ["s0", "s1", "s2"]
    numbers = [int(r[1].split("-")[1]) for r in rows]
    assert numbers == list(range(numbers[0], numbers[0] + 3)), "consecutive receipt numbers"
    assert json.loads(rows[0][2]) == {"name": "𠮷野 髙橋 葛\U000E0100城"} and all(r[3] == "received" and r[4] == "a1" for r in rows)


def test_old_database_upgrades_in_place(tmp_path: Path) -> None:
    path = tmp_path / "madoguchi.db"  # the name start_server uses
    old = Database.open(path)
    old.write_sync(lambda c: apply_migrations(c, [("core", CORE_MIGRATIONS[:1])]))
    old.write_sync(lambda c: c.execute(
        "INSERT INTO submissions (id, receipt_number, procedure_id, procedure_version, department, status, answers,"
        " body_hash, account_id, received_at, updated_at) VALUES ('s1', '2025-000001', 'p', '1.0.0', 'd',"
        " 'received', '{\"note\":\"古い申請\"}', 'h', 'a', '2025-01-01', '2025-01-01')"))
    old.close()
    srv = start_server(tmp_path)
    try:
        versions = srv.db.read_sync(lambda c: [r[0] for r in c.execute(
            "SELECT version FROM schema_migrations WHERE component = 'core' ORDER BY version")])
        assert versions == [v for v, _ in CORE_MIGRATIONS]
        row = srv.db.read_sync(lambda c: c.execute(
            "SELECT answers, search_text FROM submissions WHERE id = 's1'").fetchone())
        assert "古い申請" in row[0] and "古い申請" in row[1]
        assert srv.client().get("/healthz").status_code == 200
    finally:
        srv.stop()


def _chain(tmp_path: Path, n: int = 5) -> Path:
    d = Database.open(tmp_path / "a.db")
    d.write_sync(migrate)
    for i in range(n):
        d.write_sync(lambda c, i=i: append_audit(c, actor=f"staff{i}", action="submission.read",
                                                 subject=f"submission:{i}", details={"i": i, "名": "髙橋"}))
    assert d.read_sync(verify_chain).ok
    d.close()
    return tmp_path / "a.db"


@pytest.mark.parametrize("tamper, bad_id", [
    ("UPDATE audit_log SET actor = 'someone-else' WHERE id = 3", 3),
    ("UPDATE audit_log SET details = '{\"i\":9}' WHERE id = 2", 2),
    ("DELETE FROM audit_log WHERE id = 2", 3),
    ("DELETE FROM audit_log WHERE id = 5", 4),  # newest removed: caught by the head
    ("UPDATE audit_log SET id = CASE id WHEN 2 THEN 20 WHEN 3 THEN 2 END WHERE id IN (2, 3);"
     " UPDATE audit_log SET id = 3 WHERE id = 20", 2),  # reordered
])
def test_audit_verify_detects_tampering(tmp_path: Path, tamper: str, bad_id: int) -> None:
    path = _chain(tmp_path)
    ok = cli("audit", "verify", "--db", str(path))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    conn = sqlite3.connect(path)
    conn.executescript(tamper)
    conn.close()
    res = cli("audit", "verify", "--db", str(path))
    assert res.returncode == 1, res.stdout
    assert f"entry id {bad_id}" in res.stdout


def test_cli_export_jsonl_and_csv(server: AppServer) -> None:
    c = server.login("resident")
    sid = str(uuid.uuid4())
    r = c.post("/api/submissions", json={"id": sid, "procedure_id": "test-proc", "procedure_version": "1.0.0",
                                         "answers": answers(note="=cmd|calc")})
    assert r.status_code == 201
    before = server.db.read_sync(lambda conn: conn.execute("SELECT count(*) FROM audit_log").fetchone()[0])
    out = cli("submissions", "export", "--db", server.settings.db_path, "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    mine = next(x for x in rows if x["id"] == sid)
    for key in ("id", "procedure_id", "procedure_version", "status", "answers", "received_at"):
        assert key in mine
    assert mine["answers"]["applicant"]["family"] == "葛\U000e0100城"
    time.sleep(0.1)
    after = server.db.read_sync(lambda conn: conn.execute("SELECT count(*) FROM audit_log").fetchone()[0])
    assert after == before + 1  # the export is audited
    out = subprocess.run([sys.executable, "-m", "madoguchi.cli", "submissions", "export", "--db",
                          server.settings.db_path, "--format", "csv", "--bom"], capture_output=True, timeout=60)
    text = out.stdout.decode("utf-8")
    assert text.startswith("\ufeffid,receipt_number")
    assert "氏名（氏）" in text.splitlines()[0]  # columns derived from the definition, Japanese labels
    assert "'=cmd|calc" in text  # formula injection neutralized


def test_staff_invite_prints_url_last(tmp_path: Path) -> None:
    res = cli("staff", "invite", "審査 花子", "--role", "reviewer", "--department", "shimin",
              "--db", str(tmp_path / "x.db"), "--origin", "http://localhost:8123")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1].startswith("http://localhost:8123/enroll/")


def test_staff_list_role_reinvite_disable_are_audited(tmp_path: Path) -> None:
    from server.auth import store
    from testsupport.sessions import login_as

    path = str(tmp_path / "staff.db")
    assert cli("staff", "invite", "窓口 一郎", "--role", "counter", "--db", path).returncode == 0
    listed = cli("staff", "list", "--db", path)
    assert listed.returncode == 0, listed.stderr
    account_id, role, department, state, name = listed.stdout.strip().split("\t")
    assert (role, department, state, name) == ("counter", "-", "invited", "窓口 一郎")

    refused = cli("staff", "role", account_id, "--role", "reviewer", "--db", path)  # a reviewer needs a department
    assert refused.returncode == 2 and "department" in refused.stderr
    changed = cli("staff", "role", account_id, "--role", "reviewer", "--department", "koseki", "--db", path)
    assert changed.returncode == 0, changed.stderr
    assert cli("staff", "list", "--db", path).stdout.split("\t")[1:3] == ["reviewer", "koseki"]

    url = cli("staff", "reinvite", account_id, "--db", path, "--origin", "http://localhost:8123")
    assert url.returncode == 0 and url.stdout.strip().splitlines()[-1].startswith("http://localhost:8123/enroll/")

    db = Database.open(path)
    try:
        session = login_as(db, "admin")
        db.write_sync(lambda c: c.execute("UPDATE sessions SET account_id = ? WHERE account_id = ?",
                                          (account_id, session["account_id"])))
        token = session["cookies"]["madoguchi_session"]
        assert db.read_sync(lambda c: store.session_account(c, token)) is not None
    finally:
        db.close()
    gone = cli("staff", "disable", account_id, "--db", path)
    assert gone.returncode == 0 and "1 session(s) ended" in gone.stdout
    rows = [line.split("\t") for line in cli("staff", "list", "--db", path).stdout.splitlines()]
    assert next(r for r in rows if r[0] == account_id)[3] == "disabled"
    db = Database.open(path)
    try:
        assert db.read_sync(lambda c: store.session_account(c, token)) is None
        actions = db.read_sync(lambda c: [r[0] for r in c.execute("SELECT action FROM audit_log ORDER BY id")])
    finally:
        db.close()
    assert {"staff.invite", "account.role_change", "staff.reinvite", "account.disable"} <= set(actions)
    assert cli("audit", "verify", "--db", path).returncode == 0
    assert cli("staff", "disable", "no-such-account", "--db", path).returncode == 2

    back = cli("staff", "enable", account_id, "--db", path)
    assert back.returncode == 0, back.stderr
    rows = [line.split("\t") for line in cli("staff", "list", "--db", path).stdout.splitlines()]
    assert next(r for r in rows if r[0] == account_id)[3] == "invited"  # enrolled only through the URL
    db = Database.open(path)
    try:
        assert db.read_sync(lambda c: store.account_by_id(c, account_id)) is not None
        assert db.read_sync(lambda c: store.session_account(c, token)) is None  # ended sessions stay ended
        last = db.read_sync(lambda c: c.execute("SELECT action, subject FROM audit_log ORDER BY id DESC").fetchone())
    finally:
        db.close()
    assert tuple(last) == ("account.enable", account_id)
    again = cli("staff", "enable", account_id, "--db", path)
    assert again.returncode == 2 and "not disabled" in again.stderr
    assert cli("staff", "enable", "no-such-account", "--db", path).returncode == 2
    assert cli("audit", "verify", "--db", path).returncode == 0


def test_create_many_takes_a_whole_writer_group_at_once(db: Database) -> None:
    from server.storage.db import _MAX_GROUP
    from server.storage.submissions import NewSubmission, body_hash, create_many

    news = [NewSubmission(id=f"g{i}", procedure_id="p", procedure_version="1", department="d", answers={"n": i},
                          body_hash=body_hash("p", "1", {"n": i}, None), flags=[], account_id="a",
                          on_behalf_of=None) for i in range(_MAX_GROUP)]
    out = db.write_sync(lambda c: create_many(c, news))
    assert all(isinstance(o, tuple) and o[1] for o in out)
    stored = db.read_sync(lambda c: c.execute("SELECT count(*), count(DISTINCT receipt_number) FROM submissions"
                                              " JOIN submission_events ON submission_id = submissions.id").fetchone())
    assert tuple(stored) == (_MAX_GROUP, _MAX_GROUP)


def test_sync_migration_3_binds_earlier_client_ids_and_links_earlier_files(tmp_path: Path) -> None:
    """Data written before migration 3: each client id goes to the first account that used it, and the files
    named in earlier submissions' answers are linked to them (so reading a file follows its submission)."""
    from server.storage.migrations import apply_migrations
    from server.storage.schema import all_components
    from server.storage.submissions import NewSubmission, body_hash, create_many

    sha = "ab" * 32
    d = Database.open(tmp_path / "old.db")
    try:
        before = [(name, [m for m in ms if m[0] < 3] if name == "sync" else ms) for name, ms in all_components()]
        d.write_sync(lambda c: apply_migrations(c, before))

        def old_data(c: sqlite3.Connection) -> None:
            answers = {"doc": [{"sha256": sha, "size": 3}], "note": {"sha256": "not-a-file", "size": 1}}
            create_many(c, [NewSubmission(id="s-old", procedure_id="p", procedure_version="1", department=None,
                                          answers=answers, body_hash=body_hash("p", "1", answers, None), flags=[],
                                          account_id="acc-a", on_behalf_of=None)])
            for i, (account, at) in enumerate((("acc-b", "2026-01-02"), ("acc-a", "2026-01-01"))):
                c.execute("INSERT INTO sync_receipts (mutation_id, account_id, client_id, client_seq, content_hash,"
                          " status, receipt, created_at) VALUES (?, ?, 'dev-1', ?, 'h', 'applied', '{}', ?)",
                          (f"m{i}", account, i, at))

        d.write_sync(old_data)
        d.write_sync(lambda c: apply_migrations(c, all_components()))
        links = d.read_sync(lambda c: [tuple(r) for r in c.execute("SELECT submission_id, sha256 FROM sync_submission_files")])
        owner = d.read_sync(lambda c: c.execute("SELECT account_id FROM sync_clients WHERE client_id = 'dev-1'").fetchone()[0])
    finally:
        d.close()
    assert links == [("s-old", sha)]
    assert owner == "acc-a"


def test_sync_migration_4_keeps_earlier_readers_of_stored_files(tmp_path: Path) -> None:
    """Before migration 4 a link alone let the filer read a file: afterwards the uploaders and the filers of
    submissions already linked to a stored file hold it (nothing is lost), a link to a file never stored
    makes no holder, and the next upload completes only the uploader's own submissions."""
    from server.storage.migrations import apply_migrations
    from server.storage.schema import all_components
    from server.storage.sync.blobs import file_stored_in

    stored, never = "ab" * 32, "cd" * 32
    d = Database.open(tmp_path / "old.db")
    try:
        before = [(name, [m for m in ms if m[0] < 4] if name == "sync" else ms) for name, ms in all_components()]
        d.write_sync(lambda c: apply_migrations(c, before))

        def old_data(c: sqlite3.Connection) -> None:
            c.execute("INSERT INTO attachments (sha256, size, type, created_at, uploaded_by)"
                      " VALUES (?, 3, 'image/png', '2026-01-01', 'acc-u')", (stored,))
            for sid, account, flags in (("s-a", "acc-a", "[]"), ("s-b", "acc-b", '["incomplete_attachments"]')):
                c.execute("INSERT INTO submissions (id, receipt_number, procedure_id, procedure_version, answers,"
                          " body_hash, status, flags, account_id, received_at, updated_at)"
                          " VALUES (?, ?, 'p', '1', '{}', 'h', 'received', ?, ?, '2026-01-01', '2026-01-01')",
                          (sid, f"2026-{sid}", flags, account))
            c.executemany("INSERT INTO sync_submission_files (submission_id, sha256) VALUES (?, ?)",
                          [("s-a", stored), ("s-b", never)])

        d.write_sync(old_data)
        d.write_sync(lambda c: apply_migrations(c, all_components()))
        holders = d.read_sync(lambda c: sorted(tuple(r) for r in c.execute("SELECT * FROM sync_file_holders")))
        assert holders == [(stored, "acc-a"), (stored, "acc-u")]
        # The file s-b named arrives from someone else: s-b stays incomplete; from its filer: complete.
        assert d.write_sync(lambda c: file_stored_in(c, "acc-x", never)) == []
        assert d.write_sync(lambda c: file_stored_in(c, "acc-b", never)) == ["s-b"]
    finally:
        d.close()


def test_sync_migration_5_makes_unfinished_uploads_their_accounts(tmp_path: Path) -> None:
    """Before migration 5 an unfinished upload was one row per sha256: afterwards it is its announcer's own
    upload (size and age kept), stored blobs stay stored, and another account may start its own."""
    from server.storage.migrations import apply_migrations
    from server.storage.schema import all_components
    from server.storage.sync.blobs import create_upload_in, stored_size, upload_size
    from sync.records import Principal

    done, open_ = "ab" * 32, "cd" * 32
    d = Database.open(tmp_path / "old.db")
    try:
        before = [(name, [m for m in ms if m[0] < 5] if name == "sync" else ms) for name, ms in all_components()]
        d.write_sync(lambda c: apply_migrations(c, before))
        d.write_sync(lambda c: c.executemany(
            "INSERT INTO sync_blobs (sha256, size, complete, created_by, created_at) VALUES (?, ?, ?, 'acc-a', ?)",
            [(done, 10, 1, "2026-01-01"), (open_, 20, 0, "2026-01-02")]))
        d.write_sync(lambda c: apply_migrations(c, all_components()))
        assert d.read_sync(lambda c: [tuple(r) for r in c.execute("SELECT * FROM sync_uploads")]) == [
            (open_, "acc-a", 20, "2026-01-02")]
        assert d.read_sync(lambda c: (stored_size(c, done), stored_size(c, open_))) == (10, None)
        d.write_sync(lambda c: create_upload_in(c, Principal(id="acc-b", role="resident"), open_, 20))
        assert d.read_sync(lambda c: (upload_size(c, open_, "acc-a"), upload_size(c, open_, "acc-b"))) == (20, 20)
    finally:
        d.close()
