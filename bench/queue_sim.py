"""A city morning at the counters, played against the real queue API (the load of bench/bench_queue.py).

:func:`plan` draws the morning from a seed: who booked which time, who arrives when (early, late, never), the
walk-ins, who is away when called, how long each is served. :class:`Driver` plays it over HTTP against a server
whose queue clock runs ``speed`` times fast (bench/queue_server.py) — a lobby kiosk checks bookings in and draws
walk-in tickets, the booths call (次の方を呼ぶ), serve and finish, phones follow tickets (half by the ticket's event
stream, half long-polling with ETags as the app does without one) and lobby boards hold the board's event stream — and
records in a :class:`Tally` what each client saw and when (``time.monotonic``, one clock for every client).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import ssl
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

__all__ = ["HOLD_S", "PROCEDURES", "CallRec", "Driver", "Morning", "Tally", "Visitor", "long_poll_pause", "next_poll",
           "pct", "plan"]

# What the bookings are for (shipped procedures and their departments): the booths' view names them.
PROCEDURES = (("juminhyo-copy", "shimin"), ("inkan-toroku", "shimin"), ("tenkyo", "shimin"),
              ("kokuho-kanyu", "hoken_nenkin"))
TERMINAL = frozenset({"done", "left", "no_show"})
POLL_MIN_S, POLL_MAX_S = 3.0, 30.0  # pwa/js/polling.js POLL_MIN_MS / POLL_MAX_MS
HOLD_S = 25  # pwa/js/polling.js HOLD_S: GET /api/tickets/{token}?wait=25 (long polling)


@dataclass(frozen=True)
class Morning:
    """The morning's size and people (defaults: the issue's load)."""

    bookings: int = 2000
    walkins: int = 1000
    booths: int = 20
    phones: int = 200  # following tickets at once, half by event stream, half polling
    boards: int = 2  # lobby boards on the board's event stream
    hours: float = 4.0  # bookings' times and walk-ins' arrivals span this
    speed: float = 60.0  # simulated seconds per wall second
    seed: int = 15
    no_show: float = 0.05  # bookings that never come
    away: float = 0.02  # not there when called: recalled once, then missed (twice missed: no-show)
    priority: float = 0.03  # walk-ins with a priority reason
    service_min: float = 1.2  # mean minutes at the booth (3,000 visits, 20 booths, 4 h: ≤ 1.6 min each)
    slot_minutes: int = 5
    opens: str = "08:30"  # JST; the day (and the simulated clock) starts lead_min before
    lead_min: float = 15.0
    drain_min: float = 90.0  # after the last arrival the booths go on at most this long

    def scaled(self, scale: float) -> Morning:
        """Fewer people, phones and booths in the same proportions (``--scale 0.1``: a smoke run)."""
        return replace(self, bookings=max(1, round(self.bookings * scale)), walkins=max(1, round(self.walkins * scale)),
                       booths=max(2, round(self.booths * scale)), phones=max(2, round(self.phones * scale)))

    @property
    def day_minutes(self) -> float:
        """Minutes from the day's start to the end of the morning."""
        return self.lead_min + self.hours * 60


@dataclass
class Visitor:
    kind: str  # 'booking' | 'walkin'
    arrive: float  # simulated minutes after the day's start
    departments: list[str]
    service: float  # minutes at the booth
    walk: float  # minutes from the call to the booth
    procedure: str | None = None
    slot: str | None = None  # a booking's time, HH:MM JST
    code: str | None = None  # a booking's check-in code (set when it is booked)
    priority: bool = False
    no_show: bool = False
    away: bool = False


def plan(m: Morning) -> list[Visitor]:
    """The morning's visitors, bookings first (in time order), then walk-ins; arrival times are not sorted."""
    rng = random.Random(m.seed)
    sigma = 0.5
    mu = math.log(m.service_min) - sigma * sigma / 2  # a log-normal with mean service_min

    def common() -> dict[str, Any]:
        return {"service": rng.lognormvariate(mu, sigma), "walk": rng.uniform(0.2, 0.6), "away": rng.random() < m.away}

    h0, m0 = (int(x) for x in m.opens.split(":"))
    slots = int(m.hours * 60 // m.slot_minutes)
    out = []
    for i in range(m.bookings):
        k = i * slots // m.bookings
        due = m.lead_min + k * m.slot_minutes
        start = h0 * 60 + m0 + k * m.slot_minutes
        proc, dept = rng.choice(PROCEDURES)
        # Most come a few minutes early; ~6 % more than 5 minutes late (they yield to walk-ins).
        arrive = max(0.0, due + max(-30.0, min(30.0, rng.gauss(-6.0, 7.0))))
        out.append(Visitor(kind="booking", arrive=arrive, departments=[dept], procedure=proc,
                           slot=f"{start // 60:02d}:{start % 60:02d}", no_show=rng.random() < m.no_show, **common()))
    for _ in range(m.walkins):
        out.append(Visitor(kind="walkin", arrive=m.lead_min + rng.uniform(0, m.hours * 60 - 10),
                           departments=["hoken_nenkin" if rng.random() < 0.2 else "shimin"],
                           priority=rng.random() < m.priority, **common()))
    return out


def next_poll(last_s: float, changed: bool, hint_s: float | None) -> float:
    """The app's polling back-off (pwa/js/polling.js ``nextPoll``; pinned by tests/conformance/polling.json), in seconds."""
    floor = min(POLL_MAX_S, max(1.0, hint_s if hint_s else POLL_MIN_S))
    if changed or not last_s:
        return floor
    return min(POLL_MAX_S, max(floor, last_s * 2))


def long_poll_pause(last_s: float, status: int | None, took_s: float, retry_after: str | None,
                    hint_s: float | None) -> float:
    """The app's pause before its next long poll (pwa/js/polling.js ``longPollPause``; pinned likewise), in seconds: none
    after an answer that was held or brought news; after an error (``status`` None) or a 304 back at once, the
    back-off, at least ``Retry-After``."""
    if status is not None and (status == 200 or took_s >= 1.0):
        return 0.0
    after = float(retry_after) if retry_after and retry_after.isdigit() else 0.0
    return max(next_poll(last_s, False, hint_s), after)


def pct(xs: list[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation; NaN for no samples."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = (len(s) - 1) * q / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class CallRec:
    """A call (or recall) as its booth made it: the ticket's number and ``called_at`` name it on boards and phones."""

    number: str
    called_at: str
    booth: str
    start: float  # monotonic: the request was sent
    done: float  # monotonic: the response arrived
    step: str  # 'call' | 'recall'


@dataclass
class Tally:
    ops: Counter[str] = field(default_factory=Counter)  # checkin, ticket, call, recall, serve, finish, missed, empty
    latency: dict[str, list[float]] = field(default_factory=dict)  # seconds per op kind
    calls: list[CallRec] = field(default_factory=list)
    board_seen: list[dict[tuple[str, str], float]] = field(default_factory=list)  # per board: (number, at) -> t
    phone_seen: dict[tuple[str, str], float] = field(default_factory=dict)  # (number, called_at) -> t
    followed: dict[str, str] = field(default_factory=dict)  # ticket number -> 'sse' | 'poll'
    phone_events: Counter[str] = field(default_factory=Counter)  # views received: sse, poll-200, poll-304
    board_events: int = 0
    healthz: list[float] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)  # the bench's own event-loop lag (is the client keeping up?)
    errors: list[str] = field(default_factory=list)
    issued: int = 0
    closed: int = 0  # done or no-show
    open_max: int = 0
    open_integral: float = 0.0  # open tickets × wall seconds
    wall_s: float = 0.0  # from the day's start to the last booth's stop
    sim_end_min: float = 0.0  # the simulated minute the run ended at

    def time(self, kind: str, seconds: float) -> None:
        self.ops[kind] += 1
        self.latency.setdefault(kind, []).append(seconds)


class Driver:
    """Plays ``visitors`` against the server at ``url`` (place ``place``): a kiosk with ``kiosk`` credentials,
    one booth client per entry of ``booths`` ((booth name, credentials)), phones and boards anonymous.
    Credentials: {"cookies": {...}, "headers": {...}} as testsupport.sessions.login_as gives them."""

    def __init__(self, m: Morning, url: str, place: str, visitors: list[Visitor], kiosk: dict[str, Any],
                 booths: list[tuple[str, dict[str, Any]]]) -> None:
        self.m, self.url, self.place = m, url, place
        self.visitors = sorted((v for v in visitors if not v.no_show), key=lambda v: v.arrive)
        self.kiosk, self.booths = kiosk, booths
        self.tally = Tally(board_seen=[{} for _ in range(m.boards)])
        self.t0 = 0.0
        self.by_number: dict[str, Visitor] = {}
        self.known = asyncio.Event()
        self.free_phones = list(range(m.phones))
        self.open = 0
        self._last = 0.0
        self.arrived = False
        self.stopping = False
        self.tasks: set[asyncio.Task[Any]] = set()
        self.timeout = httpx.Timeout(30.0, read=60.0)
        # One TLS context for every device's client: httpx builds one per client otherwise (~23 ms of the bench's
        # CPU each, some 2,600 times a morning), though the server is plain http.
        self._tls = ssl.create_default_context()

    # -- time ---------------------------------------------------------------------------------------------------
    def sim_min(self, t: float | None = None) -> float:
        return ((time.monotonic() if t is None else t) - self.t0) * self.m.speed / 60

    def wall(self, minutes: float) -> float:
        """Wall seconds of ``minutes`` simulated."""
        return minutes * 60 / self.m.speed

    async def until(self, minute: float) -> None:
        delay = self.t0 + self.wall(minute) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def _open(self, delta: int) -> None:
        now = time.monotonic()
        self.tally.open_integral += self.open * (now - self._last)
        self._last = now
        self.open += delta
        self.tally.open_max = max(self.tally.open_max, self.open)

    def _spawn(self, coro: Awaitable[Any], what: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(self._guard(coro, what))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _guard(self, coro: Awaitable[Any], what: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a benchmark counts what went wrong and goes on
            self.error(f"{what}: {type(e).__name__}: {e}")

    def error(self, text: str) -> None:
        if not self.stopping:
            self.tally.errors.append(text[:300])

    # -- the run ------------------------------------------------------------------------------------------------
    async def run(self, t0: float) -> Tally:
        """Play the morning from monotonic time ``t0`` (the simulated day's start) until every ticket is closed
        or the drain time is over."""
        self.t0 = self._last = t0
        unlimited = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        timeout = self.timeout
        self.kiosk_client = httpx.AsyncClient(base_url=self.url, cookies=self.kiosk["cookies"],
                                              headers=self.kiosk["headers"], limits=unlimited, timeout=timeout)
        booth_clients = [(b, httpx.AsyncClient(base_url=self.url, cookies=c["cookies"], headers=c["headers"],
                                               timeout=timeout)) for b, c in self.booths]
        clients = [self.kiosk_client, *(c for _, c in booth_clients)]
        try:
            background = [self._spawn(self._board(i), f"board {i}") for i in range(self.m.boards)]
            background += [self._spawn(self._healthz(), "healthz"), self._spawn(self._lag(), "lag")]
            workers = [self._spawn(self._arrivals(), "arrivals")]
            workers += [self._spawn(self._booth(b, c), f"booth {b}") for b, c in booth_clients]
            await asyncio.wait(workers)
            self.tally.wall_s = time.monotonic() - t0
            self.tally.sim_end_min = self.sim_min()
            self._open(0)
            await asyncio.sleep(0.5)  # the last updates reach boards and phones
        finally:
            self.stopping = True
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*background, *list(self.tasks), return_exceptions=True)
            for c in clients:
                await c.aclose()
        return self.tally

    def _done(self) -> bool:
        return self.stopping or (self.arrived and self.open == 0) or \
            self.sim_min() > self.m.day_minutes + self.m.drain_min

    # -- arrivals at the kiosk ---------------------------------------------------------------------------------
    async def _arrivals(self) -> None:
        pending = []
        for v in self.visitors:
            await self.until(v.arrive)
            pending.append(self._spawn(self._arrive(v), f"arrival {v.kind}"))
        await asyncio.gather(*pending, return_exceptions=True)
        self.arrived = True

    async def _arrive(self, v: Visitor) -> None:
        t = time.monotonic()
        if v.kind == "booking":
            r = await self.kiosk_client.post(f"/api/queue/{self.place}/checkin", json={"code": v.code})
            kind = "checkin"
        else:
            body: dict[str, Any] = {"departments": v.departments}
            if v.priority:
                body["priority_reason"] = "妊娠中"
            r = await self.kiosk_client.post(f"/api/queue/{self.place}/tickets", json=body)
            kind = "ticket"
        if r.status_code != 201:
            self.error(f"{kind}: {r.status_code} {r.text[:200]}")
            return
        self.tally.time(kind, time.monotonic() - t)
        issued = r.json()
        self.by_number[issued["number"]] = v
        self.known.set()
        self.known = asyncio.Event()
        self.tally.issued += 1
        self._open(+1)
        if self.free_phones:  # the resident scans the ticket's QR code with their phone
            phone = self.free_phones.pop()
            how = "sse" if phone % 2 == 0 else "poll"
            self.tally.followed[issued["number"]] = how
            follow = self._follow_sse if how == "sse" else self._follow_poll
            self._spawn(self._phone(phone, follow, issued["token"]), f"phone {how}")

    # -- the booths ----------------------------------------------------------------------------------------------
    async def _booth(self, booth: str, client: httpx.AsyncClient) -> None:
        await self.until(self.m.lead_min)  # the counters open
        idle = max(0.2, self.wall(0.5))  # nobody waiting: the clerk looks again in half a minute
        while not self._done():
            try:
                await self._serve_next(booth, client, idle)
            except httpx.HTTPError as e:  # counted; the clerk goes on calling (a timeout ends no booth)
                self.error(f"booth {booth}: {type(e).__name__}: {e}")

    async def _serve_next(self, booth: str, client: httpx.AsyncClient, idle: float) -> None:
        """次の方を呼ぶ once, and the visit it starts to its end."""
        t = time.monotonic()
        r = await client.post(f"/api/queue/{self.place}/call", json={"booth": booth})
        done = time.monotonic()
        if r.status_code == 404 and r.json().get("type", "").endswith("/queue-empty"):
            self.tally.time("empty", done - t)
            await asyncio.sleep(idle)
            return
        if r.status_code != 200:
            self.error(f"call: {r.status_code} {r.text[:200]}")
            await asyncio.sleep(idle)
            return
        st = r.json()
        self._called(st, booth, t, done, "call")
        v = await self._visitor(st["number"])
        if v is None:
            self.error(f"call: ticket {st['number']} was never issued to the kiosk")
            return
        if v.away:  # nobody comes: 再呼出, then 不在 (back to the end, or no-show the second time)
            await asyncio.sleep(self.wall(0.5))
            rec = await self._step(client, st["id"], "recall")
            if rec is not None:
                self._called(rec[0], booth, rec[1], rec[2], "recall")
            await asyncio.sleep(self.wall(0.5))
            rec = await self._step(client, st["id"], "missed")
            if rec is not None and rec[0]["status"] == "no_show":
                self.tally.closed += 1
                self._open(-1)
            return
        await asyncio.sleep(self.wall(v.walk))
        await self._step(client, st["id"], "serve")
        await asyncio.sleep(self.wall(v.service))
        if await self._step(client, st["id"], "finish") is not None:
            self.tally.closed += 1
            self._open(-1)

    async def _step(self, client: httpx.AsyncClient, tid: str, step: str) -> tuple[dict[str, Any], float, float] | None:
        t = time.monotonic()
        r = await client.post(f"/api/queue/tickets/{tid}/{step}")
        done = time.monotonic()
        if r.status_code != 200:
            self.error(f"{step}: {r.status_code} {r.text[:200]}")
            return None
        self.tally.time(step, done - t)
        return r.json(), t, done

    def _called(self, st: dict[str, Any], booth: str, start: float, done: float, step: str) -> None:
        self.tally.time(step, done - start)
        self.tally.calls.append(CallRec(number=st["number"], called_at=st["called_at"], booth=booth, start=start,
                                        done=done, step=step))

    async def _visitor(self, number: str) -> Visitor | None:
        """Who holds ticket ``number`` (the kiosk's answer may arrive after the booth's call: under overload, many
        seconds after; the clerk waits for the person as long)."""
        deadline = time.monotonic() + 60
        while number not in self.by_number and time.monotonic() < deadline:
            with_timeout = asyncio.wait_for(self.known.wait(), deadline - time.monotonic())
            try:
                await with_timeout
            except TimeoutError:
                break
        return self.by_number.get(number)

    # -- phones and boards -------------------------------------------------------------------------------------
    def _device(self) -> httpx.AsyncClient:
        """A device's own HTTP client: each phone, board and the prober holds its own connection, as real devices
        do. (One shared pool of hundreds of connections costs httpcore O(n) per request, under its lock: it held
        requests back in the bench process by seconds and was measured as the server's delay.)"""
        return httpx.AsyncClient(base_url=self.url, timeout=self.timeout, verify=self._tls)

    async def _phone(self, phone: int, follow: Callable[[httpx.AsyncClient, str], Awaitable[None]],
                     token: str) -> None:
        try:
            async with self._device() as client:
                await follow(client, token)
        finally:
            self.free_phones.append(phone)

    def _phone_view(self, view: dict[str, Any]) -> bool:
        """Note the call a ticket view shows; True when the ticket is over."""
        if view.get("called_at"):
            self.tally.phone_seen.setdefault((view["number"], view["called_at"]), time.monotonic())
        return view["status"] in TERMINAL

    async def _events(self, client: httpx.AsyncClient, path: str, name: str,
                      on: Callable[[dict[str, Any]], bool]) -> None:
        """Hold the event stream at ``path``, passing each ``name`` event's data to ``on`` until it says stop."""
        async with client.stream("GET", path, headers={"Accept": "text/event-stream"}) as r:
            if r.status_code != 200:
                self.error(f"{path}: {r.status_code}")
                return
            event = ""
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == name:
                    if on(json.loads(line[5:])):
                        return
                elif not line:
                    event = ""
        self.error(f"{path}: the stream ended")

    async def _follow_sse(self, client: httpx.AsyncClient, token: str) -> None:
        def on(view: dict[str, Any]) -> bool:
            self.tally.phone_events["sse"] += 1
            return self._phone_view(view)

        await self._events(client, f"/api/tickets/{token}/events", "ticket", on)

    async def _follow_poll(self, client: httpx.AsyncClient, token: str) -> None:
        """As the app without an event stream: long polling (``?wait=25`` with the ETag, held by the server until
        the ticket changes), asked again at once after each answer."""
        etag, wait, hint = None, 0.0, None
        while not self.stopping:
            asked = time.monotonic()
            r = await client.get(f"/api/tickets/{token}", params={"wait": HOLD_S},
                                    headers={"If-None-Match": etag} if etag else {})
            if r.status_code == 200:
                self.tally.phone_events["poll-200"] += 1
                etag, view = r.headers.get("etag"), r.json()
                hint = view.get("poll_after_s")
                if self._phone_view(view):
                    return
            elif r.status_code == 304:
                self.tally.phone_events["poll-304"] += 1
            else:
                self.error(f"poll: {r.status_code} {r.text[:200]}")
                return
            wait = long_poll_pause(wait, r.status_code, time.monotonic() - asked, r.headers.get("retry-after"), hint)
            if wait:
                await asyncio.sleep(wait)

    async def _board(self, i: int) -> None:
        seen = self.tally.board_seen[i]

        def on(board: dict[str, Any]) -> bool:
            now = time.monotonic()
            self.tally.board_events += 1
            for c in board["called"]:
                seen.setdefault((c["number"], c["at"]), now)
            return False

        while not self.stopping:  # as EventSource does, a board whose stream failed connects again
            try:
                async with self._device() as client:
                    await self._events(client, f"/api/queue/{self.place}/board/events", "board", on)
            except httpx.HTTPError as e:
                self.error(f"board {i}: {type(e).__name__}: {e}")
            await asyncio.sleep(1.0)

    # -- the baseline and the client's own health --------------------------------------------------------------
    async def _healthz(self) -> None:
        async with self._device() as client:
            await self._probe(client)

    async def _probe(self, client: httpx.AsyncClient) -> None:
        while not self.stopping:
            t = time.monotonic()
            try:
                r = await client.get("/healthz")
            except httpx.HTTPError as e:
                self.error(f"healthz: {type(e).__name__}: {e}")
                await asyncio.sleep(0.25)
                continue
            if r.status_code != 200:
                self.error(f"healthz: {r.status_code}")
            self.tally.healthz.append(time.monotonic() - t)
            await asyncio.sleep(0.25)

    async def _lag(self) -> None:
        while not self.stopping:
            t = time.monotonic()
            await asyncio.sleep(0.05)
            self.tally.lag.append(max(0.0, time.monotonic() - t - 0.05))
