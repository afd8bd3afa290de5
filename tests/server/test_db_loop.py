"""Nothing blocks the event loop on SQLite: on a loop thread only the awaitable reads and writes run."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.storage.db import BlockingOnLoop, Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "loop.db")
    database.write_sync(lambda c: c.execute("CREATE TABLE t (x INTEGER)"))
    yield database
    database.close()


def one(c: object) -> int:
    return int(c.execute("SELECT 1").fetchone()[0])  # type: ignore[attr-defined]


def test_blocking_calls_refuse_to_run_on_the_loop(db: Database) -> None:
    async def on_loop() -> None:
        with pytest.raises(BlockingOnLoop, match=r"await db\.read"):
            db.read_sync(one)
        with pytest.raises(BlockingOnLoop, match=r"await db\.write"):
            db.write_sync(lambda c: c.execute("INSERT INTO t VALUES (1)"))
        assert await db.read(one) == 1
        await db.write(lambda c: c.execute("INSERT INTO t VALUES (2)"))

    asyncio.run(on_loop())
    assert db.read_sync(lambda c: [tuple(r) for r in c.execute("SELECT x FROM t")]) == [(2,)]


def test_blocking_calls_run_off_the_loop(db: Database) -> None:
    out: list[int] = []
    worker = threading.Thread(target=lambda: out.append(db.read_sync(one)))
    worker.start()
    worker.join()
    assert out == [1]


def test_a_write_job_may_read_and_write_through_the_blocking_api(db: Database) -> None:
    # Inside the writer thread the blocking calls use the open transaction (no loop runs there).
    async def on_loop() -> int:
        return await db.write(lambda c: (db.write_sync(lambda c2: c2.execute("INSERT INTO t VALUES (3)")),
                                         db.read_sync(lambda c3: c3.execute("SELECT count(*) FROM t").fetchone()[0]))[1])

    assert asyncio.run(on_loop()) == 1


def test_after_commit_hooks_run_before_the_writer_is_answered(db: Database) -> None:
    seen: list[int] = []
    db.after_commit(lambda c: seen.append(c.execute("SELECT count(*) FROM t").fetchone()[0]))
    db.write_sync(lambda c: c.execute("INSERT INTO t VALUES (4)"))
    assert seen == [1]
