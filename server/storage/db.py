"""One SQLite file shared by the whole server.

SQLite allows one writer at a time. Rather than letting request threads fight over the write lock
(``database is locked`` under load), every write goes through ONE connection owned by ONE thread fed by
a queue. The writer drains whatever is queued into a single ``BEGIN IMMEDIATE`` transaction (group
commit: one fsync for many requests) and gives each job its own SAVEPOINT so a failing job is rolled back
alone while its neighbours commit. Callers are only answered after COMMIT, so an acknowledged write is
durable.

Hot, uniform writes (filing a submission) can go further with :meth:`Database.write_batched`: queued items of
one :class:`Batch` run as ONE call that writes them all with a handful of statements. Besides saving work,
that matters for the GIL: every SQLite statement releases it and must win it back from the event loop, so a
group of a few hundred single-row statements spent most of its time waiting, not writing. A batch that fails
as a whole is rolled back and its items re-run one by one, so one bad item still fails alone. Reads run on a small pool of separate connections, which WAL lets proceed while the writer
works. (Same shape as Datasette's database.py, written from scratch.)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

__all__ = ["Batch", "BlockingOnLoop", "Database", "WriteFn", "connect"]

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - an item of a batch
R = TypeVar("R")
WriteFn = Callable[[sqlite3.Connection], T]


class Batch(Protocol[I, R]):
    """Writes many queued items of one kind in one go (see :meth:`Database.write_batched`)."""

    def run_many(self, conn: sqlite3.Connection, items: list[I]) -> list[R | Exception]:
        """One outcome per item, in order: a result, or the exception of an item that wrote nothing.

        Raising instead means the whole call failed: it is rolled back and each item re-run alone.
        """
        ...

log = logging.getLogger("madoguchi.db")

# How many queued jobs one transaction may absorb: bounds the latency a job adds to its neighbours.
_MAX_GROUP = 256
_STOP = object()


def connect(path: str | Path, *, readonly: bool = False, synchronous: str = "FULL") -> sqlite3.Connection:
    """Open a connection with the pragmas every connection of ours needs.

    ``isolation_level=None`` turns off the sqlite3 module's implicit transactions: we issue BEGIN
    ourselves, so nothing commits behind our back.
    """
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA foreign_keys = ON")
    if readonly:
        # A reader never writes; query_only guards against a handler writing outside the queue.
        conn.execute("PRAGMA query_only = ON")
    else:
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit acknowledged to a resident survives power loss. Group commit pays for it.
        conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


class _Job:
    """A write job and how to answer it: a concurrent Future (sync callers) or an asyncio Future of ``loop``.

    Either ``fn`` runs alone, or ``item`` is handed to ``batch`` with the neighbouring items of that batch.
    """

    __slots__ = ("batch", "fn", "future", "item", "loop")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any] | None, loop: asyncio.AbstractEventLoop | None = None,
                 *, batch: Batch[Any, Any] | None = None, item: Any = None) -> None:
        self.fn = fn
        self.batch = batch
        self.item = item
        self.loop = loop
        self.future: Any = loop.create_future() if loop is not None else concurrent.futures.Future()

    def start(self) -> bool:
        """False when the caller gave up before the job ran (then it is skipped)."""
        if self.loop is not None:
            return not self.future.cancelled()
        return bool(self.future.set_running_or_notify_cancel())


def _settle_async(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for fut, ok, value in outcomes:
        if not fut.done():
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)


def _settle(outcomes: list[tuple[_Job, bool, Any]]) -> None:
    """Answer every job of a group; async callers get ONE wake-up per event loop, not one per job."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]] = {}
    for job, ok, value in outcomes:
        if job.loop is None:
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)
        else:
            by_loop.setdefault(job.loop, []).append((job.future, ok, value))
    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(_settle_async, items)


def _isolated(conn: sqlite3.Connection, job: _Job, fn: Callable[[sqlite3.Connection], Any] | None, *,
              whole_transaction: bool = False) -> tuple[_Job, bool, Any]:
    """Run ``fn`` in its own savepoint: on failure only its own writes are undone.

    ``whole_transaction``: ``fn`` is all the transaction holds, so the transaction itself serves as the
    savepoint (two statements fewer; on failure it is rolled back and a fresh one begun).
    """
    assert fn is not None
    if not whole_transaction:
        conn.execute("SAVEPOINT job")
    try:
        value = fn(conn)
    except BaseException as exc:  # isolate: undo this job only, keep the rest of the group
        try:
            if whole_transaction:
                conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
            else:
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
        except sqlite3.Error:
            log.exception("rollback to savepoint failed")
        return job, False, exc
    if not whole_transaction:
        conn.execute("RELEASE job")
    return job, True, value


def _run_batch(conn: sqlite3.Connection, batch: Batch[Any, Any], jobs: list[_Job], *,
               whole_transaction: bool = False) -> list[tuple[_Job, bool, Any]]:
    def together(c: sqlite3.Connection) -> list[Any]:
        outcomes = batch.run_many(c, [job.item for job in jobs])
        if len(outcomes) != len(jobs):
            raise RuntimeError(f"{type(batch).__name__}.run_many answered {len(outcomes)} of {len(jobs)} items")
        return outcomes

    _, ok, value = _isolated(conn, jobs[0], together, whole_transaction=whole_transaction)
    if ok:
        return [(job, not isinstance(out, Exception), out) for job, out in zip(jobs, value, strict=True)]
    if len(jobs) == 1:
        return [(jobs[0], False, value)]
    # Something failed the whole call: find out which item, giving each its own savepoint.
    def alone(item: Any) -> Callable[[sqlite3.Connection], Any]:
        return lambda c: batch.run_many(c, [item])[0]

    results = []
    for job in jobs:
        _, ok, value = _isolated(conn, job, alone(job.item))
        results.append((job, ok and not isinstance(value, Exception), value))
    return results


class BlockingOnLoop(RuntimeError):
    """A blocking database call on a thread that runs an event loop: every request there would wait."""


def _refuse_on_loop(name: str, instead: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # no loop on this thread: the CLI, a worker thread, start-up
    raise BlockingOnLoop(f"Database.{name} would block the event loop; use {instead}")


class Database:
    """The SQLite file: ``write``/``write_sync`` go through the writer thread, ``read``/``read_sync``
    through the reader pool. Functions receive a ``sqlite3.Connection`` and must not COMMIT or ROLLBACK
    themselves.

    On the event loop only the awaitable ``read``/``write`` may be used: ``read_sync``/``write_sync`` block
    the calling thread until the database answers and raise :class:`BlockingOnLoop` there (they are for
    the CLI, worker threads, start-up and tests)."""

    def __init__(self, path: str | Path, *, readers: int = 4, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer_conn = connect(self.path, synchronous=synchronous)
        self._writer = threading.Thread(target=self._write_loop, name="madoguchi-db-writer", daemon=True)
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._readers = concurrent.futures.ThreadPoolExecutor(
            max_workers=readers, thread_name_prefix="madoguchi-db-reader"
        )
        self._closed = False
        self._after_commit: list[Callable[[sqlite3.Connection], None]] = []
        self.transactions = 0  # counters for benchmarks and tests
        self.jobs = 0
        self._writer.start()

    @classmethod
    def open(cls, path: str | Path, **kwargs: Any) -> Database:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return cls(path, **kwargs)

    # -- writes ----------------------------------------------------------------------------------
    def submit(self, fn: WriteFn[T]) -> concurrent.futures.Future[T]:
        if self._closed:
            raise RuntimeError("database is closed")
        job = _Job(fn)
        self._queue.put(job)
        return job.future

    def write_sync(self, fn: WriteFn[T]) -> T:
        """Run ``fn`` in the writer transaction and return its result once committed (not on the loop)."""
        if threading.current_thread() is self._writer:
            # Called from inside a write job: we already hold the transaction; queueing would deadlock.
            return fn(self._writer_conn)
        _refuse_on_loop("write_sync", "await db.write(fn)")
        return self.submit(fn).result()

    def after_commit(self, hook: Callable[[sqlite3.Connection], None]) -> None:
        """Run ``hook(conn)`` in the writer thread after every commit, before the writers are answered (so
        whoever awaited a write sees what the hook recorded). Hooks must be quick; their errors are logged."""
        self._after_commit.append(hook)

    async def write(self, fn: WriteFn[T]) -> T:
        # An asyncio Future answered from the writer thread in one batch per group: no concurrent Future
        # (with its Condition) and no per-job callback chain as with asyncio.wrap_future.
        if self._closed:
            raise RuntimeError("database is closed")
        job = _Job(fn, asyncio.get_running_loop())
        self._queue.put(job)
        return await job.future

    async def write_batched(self, batch: Batch[Any, T], item: Any) -> T:
        """Like :meth:`write`, for one item of ``batch``: queued neighbours of the same batch run with it."""
        if self._closed:
            raise RuntimeError("database is closed")
        job = _Job(None, asyncio.get_running_loop(), batch=batch, item=item)
        self._queue.put(job)
        return await job.future

    def _write_loop(self) -> None:
        conn = self._writer_conn
        while True:
            first = self._queue.get()
            if first is _STOP:
                break
            jobs = [first]
            stop = False
            while len(jobs) < _MAX_GROUP:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                jobs.append(nxt)
            self._run_group(conn, jobs)
            if stop:
                break
        conn.close()

    def _run_group(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        results: list[tuple[_Job, bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            _settle([(job, False, exc) for job in jobs])
            return
        live = [job for job in jobs if job.start()]
        i = 0
        while i < len(live):
            job = live[i]
            if job.batch is None:
                results.append(_isolated(conn, job, job.fn))
                i += 1
                continue
            j = i + 1
            while j < len(live) and live[j].batch is job.batch:
                j += 1
            # Under load a group is often one batch and nothing else: then it needs no savepoint of its own.
            results += _run_batch(conn, job.batch, live[i:j], whole_transaction=i == 0 and j == len(live))
            i = j
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.exception("group commit failed")
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            _settle([(job, False, exc) for job, _, _ in results])
            return
        self.transactions += 1
        self.jobs += len(results)
        for hook in self._after_commit:
            try:
                hook(conn)
            except Exception:
                log.exception("after-commit hook failed")
        # Answer only after COMMIT: an acknowledged write is on disk.
        _settle(results)

    # -- reads -----------------------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, readonly=True)
            self._local.conn = conn
            with self._reader_lock:
                self._reader_conns.append(conn)
        return conn

    def _run_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return fn(self._reader())

    def read_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on a reader connection and wait for it (not on the loop: ``await db.read(fn)``)."""
        if threading.current_thread() is self._writer:
            return fn(self._writer_conn)  # see our own uncommitted writes
        _refuse_on_loop("read_sync", "await db.read(fn)")
        return self._readers.submit(self._run_read, fn).result()

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.wrap_future(self._readers.submit(self._run_read, fn))

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._writer.join(timeout=30)
        self._readers.shutdown(wait=True)
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
            self._reader_conns.clear()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
