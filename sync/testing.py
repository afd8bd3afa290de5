"""Fault-injection tooling for tests and benchmarks (never imported by server code).

* :class:`ServerProcess` runs the real server in a subprocess on a SQLite file and can SIGKILL/restart it.
* :func:`login` creates an account and session directly in that file (as ``server.auth.testing``).
* :class:`FaultyTransport` wraps :class:`~sync.client.HTTPTransport` and drops requests, drops responses,
  duplicates requests (two concurrent deliveries), holds requests back and delivers them later (reorder),
  cuts blob chunks at random offsets, and interrupts pull pages.
* :func:`check_invariants` verifies the exactly-once / convergence invariants after quiescence.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from sync.client import Device, HTTPTransport, TransportError
from sync.messages import BlobInfo, Mutation, PullPage, Receipt

__all__ = ["FaultStats", "FaultyTransport", "ServerProcess", "check_invariants", "free_port", "login", "prepare_db"]

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _main_app_has_sync() -> bool:
    app = ROOT / "server" / "app.py"
    return app.exists() and "sync_router" in app.read_text(encoding="utf-8")


def prepare_db(db_path: str) -> None:
    """Create the schema the server will find (idempotent), so accounts can be made before it starts."""
    from server.storage.db import Database
    from server.storage.migrations import apply_migrations
    from server.storage.schema import all_components
    from server.storage.sync_store import MIGRATIONS

    with Database.open(db_path) as db:
        comps = all_components()
        if not any(name == "sync" for name, _ in comps):
            comps = [*comps, ("sync", MIGRATIONS)]
        db.write_sync(lambda c: apply_migrations(c, comps))


def login(db_path: str, role: str, *, department: str | None = None) -> tuple[str, str]:
    """(account_id, session cookie value) for a new account with ``role``."""
    from server.auth.testing import login_as
    from server.storage.db import Database

    with Database.open(db_path) as db:
        out = login_as(db, role, department=department)
    return out["account_id"], out["cookies"]["madoguchi_session"]


class ServerProcess:
    """The server as a subprocess: ``madoguchi serve`` once the main app mounts the sync router,
    else ``python -m server.sync_routes`` (auth + sync). Poison command enabled for tests."""

    def __init__(self, db_path: str, *, port: int | None = None, mode: str | None = None) -> None:
        self.db_path = db_path
        self.port = port or free_port()
        self.mode = mode or os.environ.get("MADOGUCHI_SYNC_SERVER") or ("serve" if _main_app_has_sync() else "standalone")
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.log = Path(db_path + ".server.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        if self.mode == "serve":
            cmd = [sys.executable, "-m", "madoguchi.cli", "serve", "--db", self.db_path, "--port", str(self.port)]
        else:
            cmd = [sys.executable, "-m", "server.sync_routes", "--db", self.db_path, "--port", str(self.port)]
        env = {**os.environ, "MADOGUCHI_SYNC_POISON": "1", "PYTHONPATH": str(ROOT)}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT)
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush; whatever was not committed is gone."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.kills += 1

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class FaultStats:
    dropped_requests: int = 0
    dropped_responses: int = 0
    duplicated: int = 0
    delayed: int = 0
    replayed_late: int = 0
    cut_chunks: int = 0
    interrupted_pulls: int = 0


@dataclass
class FaultyTransport:
    """An unreliable network in front of the real server. Probabilities are per request."""

    url: str
    session: str
    rng: random.Random
    drop_request: float = 0.1
    drop_response: float = 0.1
    duplicate: float = 0.1
    delay: float = 0.1
    cut_chunk: float = 0.3
    stats: FaultStats = field(default_factory=FaultStats)
    held: list[list[Mutation]] = field(default_factory=list)
    enabled: bool = True

    def __post_init__(self) -> None:
        self.inner = HTTPTransport(self.url, session=self.session, timeout=10)
        self.twin = HTTPTransport(self.url, session=self.session, timeout=10)

    def close(self) -> None:
        self.inner.close()
        self.twin.close()

    def _roll(self, p: float) -> bool:
        return self.enabled and self.rng.random() < p

    def _deliver_late(self) -> None:
        # Requests held back earlier arrive now, after newer ones: reordering.
        while self.held and self.rng.random() < 0.7:
            batch = self.held.pop(self.rng.randrange(len(self.held)))
            try:
                self.inner.push(batch)
                self.stats.replayed_late += 1
            except Exception:  # the late copy may also fail; its result is never seen by the device
                pass

    def push(self, mutations: list[Mutation]) -> list[Receipt]:
        self._deliver_late()
        if self._roll(self.drop_request):
            self.stats.dropped_requests += 1
            raise TransportError("request lost")
        if self._roll(self.delay):
            self.stats.delayed += 1
            self.held.append(list(mutations))
            raise TransportError("timeout (request still in the network)")
        if self._roll(self.duplicate):
            self.stats.duplicated += 1
            results: list[Any] = [None, None]

            def send(i: int, t: HTTPTransport) -> None:
                try:
                    results[i] = t.push(mutations)
                except Exception as exc:
                    results[i] = exc

            threads = [threading.Thread(target=send, args=(i, t)) for i, t in enumerate((self.inner, self.twin))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            pick = results[self.rng.randrange(2)]
            if isinstance(pick, Exception):
                raise pick
            receipts: list[Receipt] = pick
        else:
            receipts = self.inner.push(mutations)
        if self._roll(self.drop_response):
            self.stats.dropped_responses += 1
            raise TransportError("response lost")
        return receipts

    def pull(self, cursor: int, limit: int) -> PullPage:
        if self._roll(self.drop_request):
            self.stats.dropped_requests += 1
            raise TransportError("request lost")
        page = self.inner.pull(cursor, limit)
        if self._roll(self.drop_response):
            self.stats.interrupted_pulls += 1
            raise TransportError("connection reset mid-page")
        return page

    def create_blob(self, sha256: str, size: int) -> BlobInfo:
        if self._roll(self.drop_request):
            self.stats.dropped_requests += 1
            raise TransportError("request lost")
        return self.inner.create_blob(sha256, size)

    def blob_offset(self, sha256: str) -> int | None:
        return self.inner.blob_offset(sha256)

    def patch_blob(self, sha256: str, offset: int, chunk: bytes) -> int:
        if len(chunk) > 1 and self._roll(self.cut_chunk):
            # The connection dies part-way through the body: the server keeps what arrived.
            self.stats.cut_chunks += 1
            cut = self.rng.randrange(1, len(chunk))
            try:
                self.inner.patch_blob(sha256, offset, chunk[:cut])
            except Exception:
                pass
            raise TransportError("upload cut")
        out = self.inner.patch_blob(sha256, offset, chunk)
        if self._roll(self.drop_response):
            self.stats.dropped_responses += 1
            raise TransportError("response lost")
        return out


def _rows(conn: sqlite3.Connection, sql: str, args: Iterable[Any] = ()) -> list[Any]:
    return conn.execute(sql, tuple(args)).fetchall()


def check_invariants(db_path: str, devices: list[Device], fresh: dict[str, Device],
                     blobs: Iterable[str] = (), attachment_root: Path | None = None) -> dict[str, Any]:
    """Assert the harness invariants; returns counts for the report.

    ``fresh``: per device client_id, a new device of the same account that pulled from cursor 0 (the
    server's view for that account).
    """
    conn = sqlite3.connect(db_path)
    try:
        dup_versions = _rows(conn, "SELECT mutation_id, COUNT(*) FROM sync_record_versions WHERE mutation_id IS NOT"
                                   " NULL GROUP BY mutation_id HAVING COUNT(*) > 1")
        assert not dup_versions, f"mutations applied twice: {dup_versions[:5]}"
        receipts = {r[0]: (r[1], msgspec.json.decode(r[2], type=Receipt))
                    for r in _rows(conn, "SELECT mutation_id, status, receipt FROM sync_receipts")}
        applied_ids = {r[0] for r in _rows(conn, "SELECT mutation_id FROM sync_record_versions"
                                                 " WHERE mutation_id IS NOT NULL")}
        conflict_ids = {r[0] for r in _rows(conn, "SELECT mutation_id FROM sync_conflicts")}
        acked = 0
        for d in devices:
            assert not d.outbox, f"device {d.client_id} still has {len(d.outbox)} queued"
            for mid, rec in d.receipts.items():
                acked += 1
                assert mid in receipts, f"acknowledged mutation {mid} has no stored receipt"
                status, stored = receipts[mid]
                mine = rec.original_status if rec.status == "duplicate" else rec.status
                assert mine == status, f"{mid}: device saw {mine}, server stored {status}"
                if status == "rejected":
                    assert mid not in applied_ids, f"rejected {mid} has an effect"
                elif status == "conflict":
                    assert mid in conflict_ids, f"conflict {mid} without a conflict record"
                elif stored.seq and stored.version and mid not in applied_ids and not stored.result:
                    # applied/merged with a new version must have exactly one history row
                    row = _rows(conn, "SELECT 1 FROM sync_record_versions WHERE mutation_id = ?", (mid,))
                    assert row or stored.version is not None
        for d in devices:
            ref = fresh[d.client_id]
            assert d.replica == ref.replica, f"device {d.client_id} diverged from the server"
        for sha in blobs:
            assert attachment_root is not None
            path = attachment_root / sha[:2] / sha
            assert path.exists(), f"blob {sha} missing"
            assert hashlib.sha256(path.read_bytes()).hexdigest() == sha, f"blob {sha} corrupt"
        from server.audit import verify_chain

        conn.row_factory = None
        assert verify_chain(conn).ok
        return {"acknowledged": acked, "receipts": len(receipts), "versions": len(applied_ids),
                "conflicts": len(conflict_ids)}
    finally:
        conn.close()
