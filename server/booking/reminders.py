"""Reminders the day before a booking, and the day's housekeeping of bookings (docs/booking.md "Reminders").

:class:`ReminderJob` runs on the app's loop (started and stopped with the app, like the GoLiveWatcher) every
``Settings.reminder_interval_s`` and on :meth:`ReminderJob.wake`. Each round (:meth:`ReminderJob.run_once`):

* expires lapsed holds (status ``held``, ``held_until`` passed → ``expired``: they free their cells anyway,
  this only tidies the table);
* marks bookings never checked in by their place's closing time (JST; or their own end, if later) ``no_show``
  (event ``no_show``);
* from ``cfg.reminder_hour`` JST the day before, sends each ``booked`` booking of tomorrow ONE reminder per
  channel: Web Push to the subscriptions of the account that booked (``Notifier.push_to_accounts``) and one
  message per configured :class:`ReminderSender` (the city's SMS or mail adapter) when the booking has a phone.
  A booking made or moved to tomorrow after the hour is reminded at once: after each commit the job reads the days
  booked for (``server.booking.events.booked_days``, noted by the event log's writer for every booking made or
  moved, API and console alike) and wakes (``booking_made``).

Once only, even across restarts and with two servers on one file: a channel is *claimed* by inserting its
``booking_reminders`` row (primary key booking + channel) in a write job before anything is sent; whoever
inserted it sends (a booking moved to another day since is claimed again for its new day). A sender that
answers ``False`` (or raises) leaves the row ``failed``; it is claimed again after :data:`RETRY_AFTER_S`, at most
:data:`MAX_RETRIES` times (so at most 1 + MAX_RETRIES attempts), then left ``failed`` for good. The push channel is ``sent`` once queued to the notifier (push services answer later and
an expired subscription is deleted there), or ``none`` when the account has no subscription.

What a reminder says: the place, the day (12月8日（火）), the time and, for a booking without an account, the
link to manage it — never the procedures or a name: a lock screen or a shared phone shows it
(docs/security.md "Reminders").
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import importlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

import anyio
import msgspec

from procedure_definitions.japan import JST
from server.booking import clock
from server.booking.config import BookingConfig, Place, config_in, place_label
from server.booking.events import booked_days, record_event_in
from server.booking.slots import open_hours, start_at
from server.booking.store import expire_holds_in
from server.maintenance import stop_task
from server.storage.migrations import Migration

__all__ = [
    "MAX_RETRIES",
    "PUSH_CHANNEL",
    "REMINDER_MIGRATIONS",
    "RETRY_AFTER_S",
    "ReminderJob",
    "ReminderMessage",
    "ReminderSender",
    "RoundResult",
    "day_label",
    "housekeeping_in",
    "load_sender",
    "load_senders",
    "push_payload",
    "reminder_text",
]

log = logging.getLogger("madoguchi.reminders")

PUSH_CHANNEL: Final = "push"
MAX_RETRIES: Final = 3  # a failed SMS/mail is tried again at most 3 times (4 attempts in all)
RETRY_AFTER_S: Final = 600.0  # ... each no sooner than 10 minutes after the one before

# ``booking_reminders`` (component ``booking`` v1) gains how many times a channel was tried: the retry cap
# must hold across restarts too. A component of its own: the booking component's versions are part A's.
REMINDER_MIGRATIONS: list[Migration] = [
    (1, "ALTER TABLE booking_reminders ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1"),
    # ... and for which day: a booking moved after its reminder is reminded of its new day.
    (2, "ALTER TABLE booking_reminders ADD COLUMN day TEXT"),
]

_WEEKDAY_JA: Final = ("月", "火", "水", "木", "金", "土", "日")
_WEEKDAY_EN: Final = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_EN: Final = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                    "October", "November", "December")
LANGS: Final = ("ja", "en", "ja-easy")


@dataclass(frozen=True)
class ReminderMessage:
    """One reminder for one channel. ``to``: the booking's phone number (an SMS gateway's or a mail-to-SMS
    adapter's address); ``text``: the whole body, already in ``lang``; ``day`` (YYYY-MM-DD) and ``start``
    (HH:MM) are JST, for an adapter that fills its own template."""

    booking_id: str
    channel: str
    to: str
    lang: str
    text: str
    day: str
    start: str
    place_name: str
    manage_url: str | None = None


@runtime_checkable
class ReminderSender(Protocol):
    """A city's SMS or mail adapter. ``channel`` names it in ``booking_reminders`` (``sms``, ``mail``: one
    sender per channel); ``send`` blocks (it runs in a worker thread) and answers whether the message was
    accepted. An exception counts as ``False``."""

    channel: str

    def send(self, msg: ReminderMessage) -> bool: ...


def load_sender(path: str) -> ReminderSender:
    """``module:Class`` (``madoguchi serve --reminder-sender``) → an instance made with no arguments (the class
    reads its own settings, e.g. from the environment). Raises ValueError saying what is wrong."""
    mod_name, sep, cls_name = path.partition(":")
    if not sep or not mod_name or not cls_name:
        raise ValueError(f"--reminder-sender {path!r}: expected module:Class")
    try:
        cls = getattr(importlib.import_module(mod_name), cls_name)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"--reminder-sender {path!r}: {e}") from None
    try:
        sender = cls()
    except Exception as e:  # the adapter's own settings are missing or wrong: said, not a traceback
        raise ValueError(f"--reminder-sender {path!r}: {type(e).__name__}: {e}") from None
    if not isinstance(getattr(sender, "channel", None), str) or not callable(getattr(sender, "send", None)):
        raise ValueError(f"--reminder-sender {path!r}: needs a 'channel' string and a send(message) method")
    if sender.channel == PUSH_CHANNEL:
        raise ValueError(f"--reminder-sender {path!r}: the channel 'push' is the app's own Web Push")
    return sender


def load_senders(paths: Sequence[str]) -> tuple[ReminderSender, ...]:
    """Every ``--reminder-sender``, one per channel (ValueError otherwise)."""
    senders = tuple(load_sender(p) for p in paths)
    channels = [s.channel for s in senders]
    if len(set(channels)) != len(channels):
        raise ValueError(f"--reminder-sender: one sender per channel, got {', '.join(channels)}")
    return senders


def _lang(lang: str | None) -> str:
    return lang if lang in LANGS else "ja"


def day_label(day: str, lang: str) -> str:
    """``2026-12-08`` → 「12月8日（火）」 (ja, ja-easy) or "Tue 8 December" (en)."""
    d = dt.date.fromisoformat(day)
    if _lang(lang) == "en":
        return f"{_WEEKDAY_EN[d.weekday()]} {d.day} {_MONTH_EN[d.month - 1]}"
    return f"{d.month}月{d.day}日（{_WEEKDAY_JA[d.weekday()]}）"


def _clock_time(start: str) -> str:
    """``09:00`` → ``9:00`` as people write it."""
    h, _, m = start.partition(":")
    return f"{int(h)}:{m}"


def place_name(place: Place | None, place_id: str, lang: str) -> str:
    return place_id if place is None else place_label(place, _lang(lang))


def reminder_text(lang: str | None, *, place: str, day: str, start: str, manage_url: str | None) -> str:
    """The SMS/mail body: place, day and time, the manage link when there is one. Nothing else: no name, no
    procedure (a lock screen shows it)."""
    when, at = day_label(day, _lang(lang)), _clock_time(start)
    lang = _lang(lang)
    if lang == "en":
        text = f"Reminder: your visit to {place} is tomorrow, {when}, at {at}."
        return text + (f" To check, change or cancel: {manage_url}" if manage_url else "")
    if lang == "ja-easy":
        text = f"あした {when} {at}に {place}に 来る（くる） 予約（よやく）が あります。"
        return text + (f" 予約を 見る・変える（かえる）・やめる： {manage_url}" if manage_url else "")
    text = f"【来庁予約】明日 {when} {at} に {place} のご予約があります。"
    return text + (f" 予約の確認・変更・取消：{manage_url}" if manage_url else "")


def push_payload(booking_id: str, start: str, lang: str | None) -> bytes:
    """The Web Push message (shown on a lock screen): the time and the link to the booking, no name, no
    procedure, not even the place."""
    at, lang = _clock_time(start), _lang(lang)
    title, body = {
        "en": ("Your visit tomorrow", f"You have a booking tomorrow at {at}"),
        "ja-easy": ("あしたの 予約（よやく）", f"あした {at}に 予約が あります"),
    }.get(lang, ("来庁予約のお知らせ", f"明日 {at} のご予約があります"))
    return msgspec.json.encode({"title": title, "body": body, "url": f"/#/v/b/{booking_id}",
                                "tag": f"booking-{booking_id}"})


# ---- the day's housekeeping (one write job) -------------------------------------------------------------


def _over_at(cfg: BookingConfig, place: Place | None, day: str, start: str, minutes: int) -> dt.datetime:
    """When a booking not checked in is a no-show: its place's closing time that day (JST; the day's end when the
    place is closed that day (``slots.open_hours`` None) or is no longer configured), or the booking's own end if
    that is later (a booking the hours no longer hold, after the rules changed)."""
    d = dt.date.fromisoformat(day)
    hours = open_hours(cfg, place, d) if place is not None else None
    closing = start_at(d, hours[1] if hours is not None else "24:00")
    return max(closing, start_at(d, start) + dt.timedelta(minutes=minutes))


def housekeeping_in(conn: sqlite3.Connection, cfg: BookingConfig, now: dt.datetime) -> tuple[int, int]:
    """Lapsed holds → ``expired``; bookings never checked in by closing time → ``no_show`` (event
    ``no_show``). Returns (holds expired, no-shows marked)."""
    now_iso = now.astimezone(dt.UTC).isoformat()
    expired = expire_holds_in(conn, now)
    today = now.astimezone(JST).date().isoformat()
    places = {p.id: p for p in cfg.places}
    marked = 0
    rows = conn.execute("SELECT id, place, day, start, minutes FROM bookings WHERE status = 'booked' AND day <= ?",
                        (today,)).fetchall()
    for booking_id, place_id, day, start, minutes in rows:
        try:
            if now < _over_at(cfg, places.get(place_id), day, start, minutes):
                continue
        except ValueError:  # a row this code cannot read: left alone (and the rest still done)
            log.warning("booking %s: unreadable day or time %r %r", booking_id, day, start)
            continue
        conn.execute("UPDATE bookings SET status = 'no_show', updated_at = ? WHERE id = ? AND status = 'booked'",
                     (now_iso, booking_id))
        record_event_in(conn, "no_show", place=place_id, booking_id=booking_id, kind="booking", at=now_iso)
        marked += 1
    return expired, marked


# ---- reminders ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    booking_id: str
    channel: str
    place: str
    day: str
    start: str
    lang: str
    account_id: str | None
    phone: str | None


@dataclass
class RoundResult:
    """What one round did (tests, logs)."""

    holds_expired: int = 0
    no_shows: int = 0
    sent: int = 0  # reminders accepted (push queued to a subscribed account, or a sender said yes)
    failed: int = 0
    nothing_to_send: int = 0  # push to an account without any subscription


def _due_day(cfg: BookingConfig, now: dt.datetime) -> str | None:
    """Tomorrow (JST) once the reminder hour has come today, else None."""
    local = now.astimezone(JST)
    if local.hour < cfg.reminder_hour:
        return None
    return (local.date() + dt.timedelta(days=1)).isoformat()


def _claim_in(conn: sqlite3.Connection, day: str, channels: Sequence[str], now: dt.datetime) -> list[_Claim]:
    """Take the channels of tomorrow's bookings that are not done yet: a new row (first attempt) or a failed
    one due for a retry. Whoever's write job claims a row sends it; nobody else can."""
    now_iso = now.astimezone(dt.UTC).isoformat()
    retry_before = (now - dt.timedelta(seconds=RETRY_AFTER_S)).astimezone(dt.UTC).isoformat()
    claims: list[_Claim] = []
    rows = conn.execute("SELECT id, place, day, start, lang, account_id, phone FROM bookings"
                        " WHERE status = 'booked' AND day = ? ORDER BY start, id", (day,)).fetchall()
    for bid, place, bday, start, lang, account_id, phone in rows:
        wanted = ([PUSH_CHANNEL] if account_id else []) + ([c for c in channels] if phone else [])
        for channel in wanted:
            new = conn.execute("INSERT OR IGNORE INTO booking_reminders (booking_id, channel, sent_at, outcome,"
                               " attempts, day) VALUES (?, ?, ?, 'sending', 1, ?)", (bid, channel, now_iso, bday)).rowcount
            # Reminded for another day and moved since: the new day is reminded afresh.
            new = new or conn.execute(
                "UPDATE booking_reminders SET outcome = 'sending', sent_at = ?, attempts = 1, day = ?"
                " WHERE booking_id = ? AND channel = ? AND day IS NOT NULL AND day <> ?",
                (now_iso, bday, bid, channel, bday)).rowcount
            retry = new or conn.execute(
                "UPDATE booking_reminders SET outcome = 'sending', sent_at = ?, attempts = attempts + 1"
                " WHERE booking_id = ? AND channel = ? AND outcome IN ('failed', 'sending') AND attempts <= ?"
                " AND sent_at <= ?", (now_iso, bid, channel, MAX_RETRIES, retry_before)).rowcount
            if new or retry:
                claims.append(_Claim(bid, channel, place, bday, start, _lang(lang), account_id, phone))
    return claims


def _record_in(conn: sqlite3.Connection, outcomes: Sequence[tuple[_Claim, str]], now: dt.datetime) -> None:
    now_iso = now.astimezone(dt.UTC).isoformat()
    for claim, outcome in outcomes:
        conn.execute("UPDATE booking_reminders SET outcome = ?, sent_at = ? WHERE booking_id = ? AND channel = ?",
                     (outcome, now_iso, claim.booking_id, claim.channel))
        if outcome == "sent":
            record_event_in(conn, "reminded", place=claim.place, booking_id=claim.booking_id, kind="booking",
                            detail={"channel": claim.channel}, at=now_iso)


def _has_subscription(conn: sqlite3.Connection, account_id: str) -> bool:
    return conn.execute("SELECT 1 FROM push_subscriptions WHERE account_id = ? LIMIT 1", (account_id,)).fetchone() is not None


ManageUrl = Callable[[sqlite3.Connection, str], str | None]


class ReminderJob:
    """The reminders and the day's housekeeping on the app's loop. ``notifier``: the app's Web Push
    :class:`~server.push.Notifier` (None: no push); ``senders``: the city's adapters (``Settings.reminder_senders``);
    ``manage_url(conn, booking_id)``: the manage link of a booking without an account, when it can be made;
    ``clock``: the time of each round (default ``server.booking.clock.now``); ``interval_s``: between rounds
    (0: no loop; rounds run only by ``run_once``)."""

    def __init__(self, db: Any, notifier: Any, senders: Sequence[ReminderSender] = (), *, origin: str,
                 manage_url: ManageUrl | None = None, interval_s: float = 60.0,
                 clock_fn: Callable[[], dt.datetime] = clock.now) -> None:
        channels = [s.channel for s in senders]
        if len(set(channels)) != len(channels) or PUSH_CHANNEL in channels:
            raise ValueError(f"one reminder sender per channel, and none named 'push': {channels}")
        self.db = db
        self.notifier = notifier
        self.senders = {s.channel: s for s in senders}
        self.origin = origin.rstrip("/")
        self.manage_url = manage_url
        self.interval_s = interval_s
        self.clock = clock_fn
        self.loop: asyncio.AbstractEventLoop | None = None  # the loop it runs on (tests schedule rounds there)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._cfg: BookingConfig | None = None  # the last round's rules (the reminder hour), for booking_made
        if hasattr(db, "after_commit"):
            db.after_commit(self._after_commit)
        self._lock = asyncio.Lock()  # one round at a time in this process (the claims guard across processes)

    async def run_once(self, now: dt.datetime | None = None) -> RoundResult:
        """One round at ``now`` (default: the clock)."""
        now = now or self.clock()
        async with self._lock:
            return await self._round(now)

    async def _round(self, now: dt.datetime) -> RoundResult:
        result = RoundResult()

        def housekeeping(c: sqlite3.Connection) -> tuple[BookingConfig, int, int]:
            cfg = config_in(c)
            return (cfg, *housekeeping_in(c, cfg, now))

        cfg, result.holds_expired, result.no_shows = await self.db.write(housekeeping)
        self._cfg = cfg
        day = _due_day(cfg, now)
        if day is None:
            return result
        claims: list[_Claim] = await self.db.write(functools.partial(_claim_in, day=day, channels=list(self.senders),
                                                                     now=now))
        if not claims:
            return result
        places = {p.id: p for p in cfg.places}
        outcomes: list[tuple[_Claim, str]] = []
        for claim in claims:
            outcome = await self._send(claim, places.get(claim.place))
            outcomes.append((claim, outcome))
            if outcome == "sent":
                result.sent += 1
            elif outcome == "failed":
                result.failed += 1
            else:
                result.nothing_to_send += 1
        await self.db.write(functools.partial(_record_in, outcomes=outcomes, now=now))
        return result

    async def _send(self, claim: _Claim, place: Place | None) -> str:
        if claim.channel == PUSH_CHANNEL:
            account = claim.account_id or ""
            if self.notifier is None or not await self.db.read(lambda c: _has_subscription(c, account)):
                return "none"
            # Only the booking account's own browsers (not anyone bound to the same resident).
            self.notifier.push_to_accounts(push_payload(claim.booking_id, claim.start, claim.lang), [account])
            return "sent"
        sender = self.senders[claim.channel]
        manage = None
        if claim.account_id is None and self.manage_url is not None:
            getter = self.manage_url
            manage = await self.db.read(lambda c: getter(c, claim.booking_id))
        name = place_name(place, claim.place, claim.lang)
        msg = ReminderMessage(booking_id=claim.booking_id, channel=claim.channel, to=claim.phone or "",
                              lang=claim.lang, day=claim.day, start=claim.start, place_name=name,
                              manage_url=manage,
                              text=reminder_text(claim.lang, place=name, day=claim.day, start=claim.start,
                                                 manage_url=manage))
        try:
            ok = await anyio.to_thread.run_sync(sender.send, msg)
        except Exception:  # the city's adapter failed: recorded, retried later
            log.exception("reminder sender %s failed", claim.channel)
            ok = False
        return "sent" if ok is True else "failed"

    def wake(self) -> None:
        """Run a round soon."""
        self._wake.set()

    def booking_made(self, cfg: BookingConfig, day: str) -> None:
        """A booking for ``day`` was just made: when that is tomorrow and the reminder hour has passed, its
        reminder goes out now rather than at the next round."""
        if _due_day(cfg, self.clock()) == day:
            self.wake()

    def _after_commit(self, conn: sqlite3.Connection) -> None:
        # The writer thread: hand the days over to the loop (nothing here may block).
        days = booked_days(conn)
        if days and self.loop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is stopping
                self.loop.call_soon_threadsafe(self._booked, days)

    def _booked(self, days: set[str]) -> None:
        if self._cfg is None:  # no round yet, so no rules read: a round now decides
            self.wake()
            return
        for day in days:
            self.booking_made(self._cfg, day)

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a failed round must not end the job; the next one tries again
                log.exception("reminder round failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()  # bound to this loop
        if self.interval_s > 0:
            self._task = self.loop.create_task(self._loop())

    async def stop(self) -> None:
        await stop_task(self._task)
        self._task = None
