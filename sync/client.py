"""Reference sync client (a simulated device): outbox, local replica, cursor and blob queue.

The device talks through a small :class:`Transport` protocol: :class:`HTTPTransport` speaks the real HTTP
protocol (``docs/sync.md``) with httpx; ``testsupport.inmemory`` has an in-memory one that calls the
server's storage logic directly for fast tests, and ``testsupport.faults`` an unreliable network.

Rules this client follows (and any other client must, see ``docs/sync.md``):

* mutations are pushed in ``client_seq`` order, always from the oldest unacknowledged one, with the same
  bytes on every retry; one push in flight at a time;
* an outbox entry is forgotten only when it has a receipt AND the pull cursor has reached the receipt's
  ``seq`` (so the replica already shows its effect); conflicts and rejections then move to ``attention``;
* a 401 stops sending (``needs_sign_in``) but keeps the outbox;
* pulls name the database the replica came from (``db=``); when the server answers ``sync-reset`` (another
  database, or the cursor is ahead of it: a restored copy) the device drops its replica and cursor, keeps its
  outbox and pulls again from 0 (:meth:`Device.reset_replica`);
* blobs upload on their own queue, resuming at the server's ``Upload-Offset``.
"""

from __future__ import annotations

import copy
import hashlib
import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import msgspec

from sync.hlc import HLC
from sync.messages import (
    BlobInfo,
    Command,
    EntityRef,
    FieldChange,
    Mutation,
    PullPage,
    PushResponse,
    Receipt,
    SetOps,
    SubmissionPayload,
)

__all__ = [
    "AuthRequired",
    "Backoff",
    "Device",
    "HTTPTransport",
    "KeyReuseError",
    "LocalRecord",
    "OffsetMismatch",
    "OutboxEntry",
    "ProtocolError",
    "ResetRequired",
    "Transport",
    "TransportError",
]

EntryState = Literal["waiting", "sending", "sent", "needs_review", "failed"]


class TransportError(Exception):
    """The request may or may not have reached the server: retry later with the same bytes."""


class AuthRequired(TransportError):
    """401: the session expired. Keep the outbox; sign in again before sending."""


class KeyReuseError(Exception):
    def __init__(self, mutation_ids: list[str]) -> None:
        super().__init__(", ".join(mutation_ids))
        self.mutation_ids = mutation_ids


class OffsetMismatch(Exception):
    def __init__(self, offset: int) -> None:
        super().__init__(f"server has {offset} bytes")
        self.offset = offset


class ProtocolError(Exception):
    """A 4xx that retrying will not fix (bad request)."""


class ResetRequired(Exception):
    """The server's ``sync-reset``: the replica belongs to another database (or to a later state of this one)."""

    def __init__(self, reason: str, database_id: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.database_id = database_id


class Transport(Protocol):
    def push(self, mutations: list[Mutation]) -> list[Receipt]: ...
    def pull(self, cursor: int, limit: int, database_id: str | None = None) -> PullPage: ...
    def create_blob(self, sha256: str, size: int) -> BlobInfo: ...
    def blob_offset(self, sha256: str) -> int | None: ...
    def patch_blob(self, sha256: str, offset: int, chunk: bytes) -> int: ...


# -- HTTP ------------------------------------------------------------------------------------------------
_push_resp = msgspec.json.Decoder(PushResponse)
_page = msgspec.json.Decoder(PullPage)
_blob = msgspec.json.Decoder(BlobInfo)
_enc = msgspec.json.Encoder()


class HTTPTransport:
    """The real protocol over HTTP (httpx). ``session``: the ``madoguchi_session`` cookie value."""

    def __init__(self, base_url: str, *, session: str, csrf: str | None = None, timeout: float = 10.0,
                 client: Any = None) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        csrf = csrf or uuid.uuid4().hex
        self._httpx = httpx
        self.client = client or httpx.Client(base_url=self.base_url, timeout=timeout)
        self.cookies = {"madoguchi_session": session, "madoguchi_csrf": csrf}
        self.headers = {"X-CSRF-Token": csrf}

    def close(self) -> None:
        self.client.close()

    def _send(self, method: str, path: str, **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers["Cookie"] = cookie
        try:
            resp = self.client.request(method, path, headers=headers, **kw)
        except self._httpx.HTTPError as exc:
            raise TransportError(str(exc) or type(exc).__name__) from exc
        if resp.status_code == 401:
            raise AuthRequired("sign in again")
        if resp.status_code >= 500 or resp.status_code in (408, 425, 429):
            raise TransportError(f"HTTP {resp.status_code}")
        return resp

    @staticmethod
    def _problem(resp: Any) -> dict[str, Any]:
        try:
            out = resp.json()
            return out if isinstance(out, dict) else {}
        except ValueError:
            return {}

    def push(self, mutations: list[Mutation]) -> list[Receipt]:
        body = b'{"mutations":' + _enc.encode(mutations) + b"}"
        resp = self._send("POST", "/sync/push", content=body, headers={"Content-Type": "application/json"})
        if resp.status_code == 422 and self._problem(resp).get("type", "").endswith("idempotency-key-reused"):
            raise KeyReuseError(self._problem(resp).get("mutation_ids", []))
        if resp.status_code != 200:
            raise ProtocolError(f"push: HTTP {resp.status_code} {resp.text[:300]}")
        return _push_resp.decode(resp.content).receipts

    def pull(self, cursor: int, limit: int, database_id: str | None = None) -> PullPage:
        params: dict[str, Any] = {"cursor": cursor, "limit": limit}
        if database_id:
            params["db"] = database_id
        resp = self._send("GET", "/sync/pull", params=params)
        problem = self._problem(resp) if resp.status_code == 409 else {}
        if str(problem.get("type", "")).endswith("/sync-reset"):
            raise ResetRequired(str(problem.get("reason", "")), problem.get("database_id"))
        if resp.status_code != 200:
            raise ProtocolError(f"pull: HTTP {resp.status_code} {resp.text[:300]}")
        return _page.decode(resp.content)

    def create_blob(self, sha256: str, size: int) -> BlobInfo:
        resp = self._send("POST", "/sync/blobs", json={"sha256": sha256, "size": size})
        if resp.status_code == 413 and self._problem(resp).get("type", "").endswith("/upload-quota"):
            raise TransportError("upload quota: try later")  # the account's unfinished uploads; not this file's fault
        if resp.status_code not in (200, 201):
            raise ProtocolError(f"blob: HTTP {resp.status_code} {resp.text[:300]}")
        return _blob.decode(resp.content)

    def blob_offset(self, sha256: str) -> int | None:
        resp = self._send("HEAD", f"/sync/blobs/{sha256}")
        if resp.status_code == 404:
            return None
        return int(resp.headers["Upload-Offset"])

    def patch_blob(self, sha256: str, offset: int, chunk: bytes) -> int:
        resp = self._send("PATCH", f"/sync/blobs/{sha256}", content=chunk, headers={
            "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
        if resp.status_code == 409:
            raise OffsetMismatch(int(self._problem(resp).get("offset", 0)))
        if resp.status_code == 422 and "digest" in self._problem(resp).get("type", ""):
            raise OffsetMismatch(0)
        if resp.status_code != 204:
            raise ProtocolError(f"patch: HTTP {resp.status_code} {resp.text[:300]}")
        return int(resp.headers["Upload-Offset"])


# -- the device ------------------------------------------------------------------------------------------
@dataclass
class LocalRecord:
    version: int
    data: dict[str, Any]
    deleted: bool = False


@dataclass
class OutboxEntry:
    mutation: Mutation
    state: EntryState = "waiting"
    receipt: Receipt | None = None
    reason: str | None = None
    attempts: int = 0


@dataclass
class Backoff:
    """Exponential backoff with full jitter: 1 s, 2 s, 4 s ... capped, reset on success."""

    base: float = 1.0
    cap: float = 300.0
    attempt: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        delay = self.rng.uniform(0, min(self.cap, self.base * (2 ** self.attempt)))
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


Key = tuple[str, str]


class Device:
    """One installation: its outbox, replica and cursor (all in memory; the PWA keeps them in IndexedDB)."""

    def __init__(self, transport: Transport, *, client_id: str | None = None, clock_ms: Callable[[], int] | None = None,
                 batch: int = 200, page: int = 500, chunk: int = 256 * 1024) -> None:
        self.transport = transport
        self.client_id = client_id or str(uuid.uuid4())
        self.hlc = HLC(self.client_id, clock=clock_ms)
        self.batch = batch
        self.page = page
        self.chunk = chunk
        self.seq = 0
        self.cursor = 0
        self.database_id: str | None = None  # the server database the replica and cursor came from
        self.resets = 0
        self.replica: dict[Key, LocalRecord] = {}
        self.outbox: list[OutboxEntry] = []
        self.attention: list[OutboxEntry] = []  # conflicts and rejections the user should see
        self.blobs: dict[str, bytes] = {}
        self.blob_queue: list[str] = []
        self.needs_sign_in = False
        self.receipts: dict[str, Receipt] = {}  # every receipt ever received (for invariant checks)

    # -- local edits ------------------------------------------------------------------------------------
    def _mutation(self, kind: Any, rtype: str, rid: str, **kw: Any) -> Mutation:
        self.seq += 1
        rec = self.replica.get((rtype, rid))
        base_version = rec.version if rec is not None else None
        m = Mutation(mutation_id=str(uuid.uuid4()), client_id=self.client_id, client_seq=self.seq, kind=kind,
                     entity=EntityRef(rtype, rid), base_version=base_version, client_hlc=str(self.hlc.now()), **kw)
        self.outbox.append(OutboxEntry(m))
        return m

    def patch(self, rtype: str, rid: str, values: dict[str, Any]) -> Mutation:
        current = self.view(rtype, rid) or {}
        changes = {k: FieldChange(base=copy.deepcopy(current.get(k)), new=v) for k, v in values.items()}
        kind = "draft.patch" if rtype == "draft" else "record.patch"
        return self._mutation(kind, rtype, rid, changes=changes)

    def append(self, rtype: str, rid: str, name: str, entry: Any) -> Mutation:
        current = (self.view(rtype, rid) or {}).get(name) or []
        return self.patch(rtype, rid, {name: [*current, entry]})

    def set_ops(self, rtype: str, rid: str, name: str, *, add: Iterable[dict[str, Any]] = (),
                remove: Iterable[str] = ()) -> Mutation:
        kind = "draft.patch" if rtype == "draft" else "record.patch"
        return self._mutation(kind, rtype, rid, set_ops={name: SetOps(add=list(add), remove=list(remove))})

    def delete(self, rtype: str, rid: str) -> Mutation:
        return self._mutation("record.delete", rtype, rid)

    def command(self, rtype: str, rid: str, name: str, args: dict[str, Any] | None = None) -> Mutation:
        return self._mutation("command", rtype, rid, command=Command(name, args or {}))

    def submit(self, submission_id: str, payload: SubmissionPayload) -> Mutation:
        return self._mutation("submission.create", "submission", submission_id, submission=payload)

    def attach(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        self.blobs[sha] = data
        if sha not in self.blob_queue:
            self.blob_queue.append(sha)
        return sha

    # -- views ------------------------------------------------------------------------------------------
    def view(self, rtype: str, rid: str) -> dict[str, Any] | None:
        """What the user sees: the replica plus pending (not yet pulled) mutations of this device."""
        rec = self.replica.get((rtype, rid))
        data = copy.deepcopy(rec.data) if rec is not None and not rec.deleted else None
        for e in self.outbox:
            m = e.mutation
            if (m.entity.type, m.entity.id) != (rtype, rid) or e.state in ("needs_review", "failed"):
                continue
            if e.receipt is not None and e.receipt.seq <= self.cursor:
                continue  # already reflected in the replica
            if m.kind == "record.delete":
                data = None
                continue
            if m.kind not in ("record.patch", "draft.patch"):
                continue
            data = {} if data is None else data
            for k, ch in m.changes.items():
                data[k] = copy.deepcopy(ch.new)
            for k, ops in m.set_ops.items():
                items = [x for x in data.get(k) or [] if str(x.get("id")) not in set(ops.remove)]
                for el in ops.add:
                    items = [x for x in items if x.get("id") != el.get("id")] + [copy.deepcopy(el)]
                data[k] = items
        return data

    def pending(self) -> int:
        return sum(1 for e in self.outbox if e.state in ("waiting", "sending"))

    def status(self) -> list[dict[str, Any]]:
        """Per item: waiting, sending, sent, needs_review, failed (with reason) — for the UI."""
        return [{"mutation_id": e.mutation.mutation_id, "entity": [e.mutation.entity.type, e.mutation.entity.id],
                 "state": e.state, "reason": e.reason} for e in [*self.outbox, *self.attention]]

    def export_outbox(self) -> bytes:
        """Last resort: the whole outbox as JSON the user can save to a file and hand to staff."""
        return msgspec.json.encode({"client_id": self.client_id, "cursor": self.cursor, "entries": [
            {"state": e.state, "reason": e.reason, "mutation": e.mutation} for e in [*self.outbox, *self.attention]]})

    # -- sync -------------------------------------------------------------------------------------------
    def push_once(self) -> int:
        """Send the oldest unacknowledged mutations (one request); returns how many got receipts."""
        todo = [e for e in self.outbox if e.state in ("waiting", "sending")][: self.batch]
        if not todo or self.needs_sign_in:
            return 0
        for e in todo:
            e.state = "sending"
            e.attempts += 1
        try:
            receipts = self.transport.push([e.mutation for e in todo])
        except AuthRequired:
            self.needs_sign_in = True
            for e in todo:
                e.state = "waiting"
            raise
        except KeyReuseError as exc:
            bad = set(exc.mutation_ids)
            for e in todo:
                if e.mutation.mutation_id in bad:
                    e.state, e.reason = "failed", "key_reused"
            return 0
        by_id = {r.mutation_id: r for r in receipts}
        for e in todo:
            r = by_id.get(e.mutation.mutation_id)
            if r is not None:
                self._take_receipt(e, r)
        return len(by_id)

    def _take_receipt(self, e: OutboxEntry, r: Receipt) -> None:
        status = r.original_status if r.status == "duplicate" and r.original_status else r.status
        self.receipts[e.mutation.mutation_id] = r
        e.receipt = r
        if status == "rejected":
            e.state, e.reason = "failed", r.reason
        elif status == "conflict" and any(c.outcome != "mine_applied" for c in r.conflicts):
            e.state, e.reason = "needs_review", "review"
        else:
            e.state = "sent"

    def pull_once(self) -> bool:
        try:
            page = self.transport.pull(self.cursor, self.page, self.database_id)
        except ResetRequired:
            self.reset_replica()
            page = self.transport.pull(self.cursor, self.page, None)
        self.database_id = page.database_id or None
        # Apply the page and move the cursor together (one IndexedDB transaction in the PWA).
        for ch in page.changes:
            key = (ch.type, ch.id)
            rec = self.replica.get(key)
            if rec is None or ch.version >= rec.version:
                self.replica[key] = LocalRecord(ch.version, ch.data, ch.deleted)
        self.cursor = max(self.cursor, page.cursor)
        self._prune()
        return page.has_more

    def reset_replica(self) -> None:
        """Start over against the server's database: drop the replica and the cursor, keep the outbox.

        Entries that got a receipt but were not yet seen in a pull are queued again: the database that
        acknowledged them may be gone (a restored backup lost them). The server answers ``duplicate`` for
        the ones it has, so nothing is applied twice.
        """
        self.replica.clear()
        self.cursor = 0
        self.database_id = None
        self.resets += 1
        for e in self.outbox:
            if e.state == "sent":
                e.state, e.receipt = "waiting", None

    def _prune(self) -> None:
        keep: list[OutboxEntry] = []
        for e in self.outbox:
            if e.receipt is not None and e.receipt.seq <= self.cursor and e.state not in ("waiting", "sending"):
                if e.state in ("needs_review", "failed"):
                    self.attention.append(e)
                continue
            keep.append(e)
        self.outbox = keep

    def pull_all(self, max_pages: int = 10_000) -> None:
        for _ in range(max_pages):
            if not self.pull_once():
                return

    def upload_blobs(self) -> None:
        """Upload queued blobs, resuming where the server is; a failure leaves the blob queued."""
        for sha in list(self.blob_queue):
            data = self.blobs[sha]
            info = self.transport.create_blob(sha, len(data))
            offset = info.offset
            while not info.complete and offset < len(data):
                try:
                    offset = self.transport.patch_blob(sha, offset, data[offset: offset + self.chunk])
                except OffsetMismatch as exc:
                    offset = exc.offset
            self.blob_queue.remove(sha)

    def sync(self, *, rounds: int = 1000, sleep: Callable[[float], None] | None = None,
             on_error: Callable[[Exception], None] | None = None) -> bool:
        """Push and pull until the outbox is empty (True) or ``rounds`` attempts were used (False)."""
        backoff = Backoff(base=0.01, cap=0.2)
        for _ in range(rounds):
            try:
                if self.blob_queue:
                    self.upload_blobs()
                while self.pending():
                    if not self.push_once():
                        break
                self.pull_all()
                backoff.reset()
                if not self.outbox and not self.blob_queue:
                    return True
            except AuthRequired:
                return False
            except (TransportError, OffsetMismatch) as exc:
                if on_error:
                    on_error(exc)
                if sleep:
                    sleep(backoff.next_delay())
        return False

    @staticmethod
    def now_ms() -> int:
        return time.time_ns() // 1_000_000
