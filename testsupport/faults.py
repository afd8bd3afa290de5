"""The sync fault-injection harness, for tests and benchmarks.

The real server runs as a :class:`~testsupport.servers.ServerProcess` that is SIGKILLed and restarted.

* :class:`FaultyTransport` wraps :class:`~sync.client.HTTPTransport` and drops requests, drops responses,
  duplicates requests (two concurrent deliveries), holds requests back and delivers them later (reorder),
  cuts blob chunks at random offsets, and interrupts pull pages.
* :func:`check_invariants` verifies the exactly-once / convergence invariants after quiescence.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from sync.client import Device, HTTPTransport, TransportError
from sync.messages import BlobInfo, Mutation, PullPage, Receipt
from testsupport.servers import ServerProcess
from testsupport.sessions import login, prepare_db

__all__ = [
    "FaultRunReport",
    "FaultStats",
    "FaultyTransport",
    "check_invariants",
    "run_fault_workload",
    "valid_answers",
]

def valid_answers(procedure_id: str = "juminhyo-copy", version: str = "1.1.0") -> dict[str, Any]:
    """The answers of the library's first valid scenario: the server validates sync submissions too."""
    from procedure_definitions.library import load_library

    proc = load_library().get(procedure_id, version)
    assert proc is not None
    return dict(next(s for s in proc.scenarios if s.expect.valid).answers)


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

    def pull(self, cursor: int, limit: int, database_id: str | None = None) -> PullPage:
        if self._roll(self.drop_request):
            self.stats.dropped_requests += 1
            raise TransportError("request lost")
        page = self.inner.pull(cursor, limit, database_id)
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
            with contextlib.suppress(Exception):
                self.inner.patch_blob(sha256, offset, chunk[:cut])
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


def _skewed_clock(skew_ms: int) -> Callable[[], int]:
    return lambda: time.time_ns() // 1_000_000 + skew_ms


@dataclass
class FaultRunReport:
    devices: int
    operations: int
    kills: int
    faults: FaultStats
    invariants: dict[str, Any]
    seconds: float
    clock_ahead_flags: int


def run_fault_workload(workdir: str, *, devices: int = 3, ops_per_device: int = 30, households: int = 3,
                       kill_every: float | None = 1.5, seed: int = 1, blob_size: int = 300_000) -> FaultRunReport:
    """N simulated devices edit shared households, drafts and cases through an unreliable network while
    the server is SIGKILLed and restarted; then everything quiesces and the invariants are checked."""
    from sync.messages import SubmissionPayload

    t0 = time.monotonic()
    rng = random.Random(seed)
    db = str(Path(workdir) / "faults.db")
    prepare_db(db)
    server = ServerProcess(db, poison=True)
    server.start()
    year_ms = 365 * 86400 * 1000
    sessions = [login(db, "counter") for _ in range(devices)]
    resident_id, resident = login(db, "resident")
    transports: list[FaultyTransport] = []
    devs: list[Device] = []
    try:
        setup = Device(HTTPTransport(server.url, session=sessions[0][1]))
        for h in range(households):
            setup.patch("household", f"hh-{h}", {"head_name": {"family": f"世帯{h}", "given": ""}, "address": "本町1-1", "notes": []})
            setup.patch("case", f"case-{h}", {"title": f"案件{h}"})
        assert setup.sync()
        for i, (_, sess) in enumerate(sessions):
            ft = FaultyTransport(server.url, sess, random.Random(seed * 100 + i))
            transports.append(ft)
            skew = year_ms if i % 2 else 0  # every other device's clock is a year ahead
            d = Device(ft, batch=rng.choice([1, 3, 10]), clock_ms=_skewed_clock(skew))
            devs.append(d)
        rft = FaultyTransport(server.url, resident, random.Random(seed * 100 + 99))
        transports.append(rft)
        rdev = Device(rft, chunk=32 * 1024)
        blob = b"\x89PNG\r\n\x1a\n" + rng.randbytes(blob_size)
        sha = rdev.attach(blob)
        sid = f"{seed:08d}-0000-4000-8000-{rng.randrange(16**12):012x}"
        rdev.submit(sid, SubmissionPayload(procedure_id="juminhyo-copy", procedure_version="1.1.0",
                                           answers=valid_answers(), attachments=[sha]))
        devs.append(rdev)

        stop = threading.Event()

        def killer() -> None:
            krng = random.Random(seed + 7)
            while kill_every and not stop.wait(krng.uniform(0.5, 2 * kill_every)):
                server.restart()

        def sync_quietly(d: Device, rounds: int) -> None:
            # anything the network throws: the device just tries again later
            with contextlib.suppress(Exception):
                d.sync(rounds=rounds, sleep=time.sleep)

        def work(i: int, d: Device) -> None:
            wrng = random.Random(seed * 1000 + i)
            for n in range(ops_per_device):
                if i == 0 and kill_every and n in (ops_per_device // 3, 2 * ops_per_device // 3):
                    server.restart()  # SIGKILL while the other devices are mid-request
                h = f"hh-{wrng.randrange(households)}"
                op = wrng.random()
                if wrng.random() < 0.3:
                    with contextlib.suppress(Exception):
                        d.pull_all()
                if d is rdev:
                    d.patch("draft", f"draft-{i}", {"q": n, "note": f"v{n}"})
                elif op < 0.25:
                    d.patch("household", h, {"address": f"本町{wrng.randrange(9)}-{n}"})
                elif op < 0.4:
                    d.patch("household", h, {"head_name": {"family": f"世帯{h}-{i}-{n}", "given": ""}})
                elif op < 0.65:
                    d.append("household", h, "notes", {"id": f"note-{i}-{n}", "text": f"訪問 {n}"})
                elif op < 0.8:
                    if wrng.random() < 0.6:
                        d.set_ops("household", h, "members", add=[{"id": f"m-{i}-{n}", "name": "構成員"}])
                    else:
                        members = (d.view("household", h) or {}).get("members") or []
                        if members:
                            d.set_ops("household", h, "members", remove=[wrng.choice(members)["id"]])
                elif op < 0.9:
                    d.command("case", f"case-{wrng.randrange(households)}", "set_status",
                              {"to": wrng.choice(["in_progress", "waiting", "closed"])})
                elif op < 0.95:
                    d.command("case", f"case-{wrng.randrange(households)}", "poison")
                else:
                    d.patch("household", f"tmp-{i}-{n}", {"x": 1})
                    d.delete("household", f"tmp-{i}-{n}")
                if wrng.random() < 0.4:
                    sync_quietly(d, 2)

        threads = [threading.Thread(target=work, args=(i, d)) for i, d in enumerate(devs)]
        kt = threading.Thread(target=killer, daemon=True)
        kt.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        kt.join()
        if server.proc is None or server.proc.poll() is not None:
            server.start()
        # Quiescence: the network heals; held-back requests finally arrive (late duplicates), then sync.
        for ft in transports:
            ft.enabled = False
            while ft.held:
                ft._deliver_late()
        for d in devs:
            for _ in range(50):
                if d.sync(rounds=20, sleep=time.sleep):
                    break
            assert not d.outbox and not d.blob_queue, f"device did not drain: {d.status()[:3]}"
        for d in devs:
            d.pull_all()
        fresh = {}
        for d, (_, sess) in zip(devs, [*sessions, (resident_id, resident)], strict=True):
            f = Device(HTTPTransport(server.url, session=sess))
            f.pull_all()
            fresh[d.client_id] = f
        inv = check_invariants(db, devs, fresh, blobs=[sha], attachment_root=Path(db + ".attachments"))
        # Exactly once, observed in the data: every acknowledged note appears once, none twice.
        notes: dict[str, int] = {}
        for f in fresh.values():
            for (rtype, _), rec in f.replica.items():
                if rtype == "household" and not rec.deleted:
                    for e in rec.data.get("notes") or []:
                        notes[e["id"]] = notes.get(e["id"], 0) + 1
            break
        assert all(n == 1 for n in notes.values()), "a note was appended twice"
        conn = sqlite3.connect(db)
        try:
            flags = conn.execute("SELECT flags FROM submissions WHERE id = ?", (sid,)).fetchone()
            assert flags is not None and "incomplete_attachments" not in flags[0]
            ahead = conn.execute("SELECT COUNT(*) FROM sync_receipts WHERE receipt LIKE '%clock_ahead%'").fetchone()[0]
            for mid_count in conn.execute("SELECT COUNT(*) FROM submissions WHERE id = ?", (sid,)):
                assert mid_count[0] == 1
        finally:
            conn.close()
        total_ops = sum(len(d.receipts) for d in devs)
        stats = FaultStats()
        for ft in transports:
            for k in vars(stats):
                setattr(stats, k, getattr(stats, k) + getattr(ft.stats, k))
        return FaultRunReport(devices=len(devs), operations=total_ops, kills=server.kills, faults=stats,
                              invariants={**inv, "notes": len(notes)}, seconds=time.monotonic() - t0,
                              clock_ahead_flags=int(ahead))
    finally:
        for ft in transports:
            ft.close()
        server.stop()
