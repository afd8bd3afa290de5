"""The tables of bookings and the one queue: two migration components, ``booking`` (the rules, bookings, holds,
reminders, and the event log both halves write) and ``tickets`` (the queue's tickets, the phones' push
subscriptions, the lobby kiosks). Published steps are never edited: add a version to its component."""

from __future__ import annotations

import sqlite3

from server.storage.keys import key_table_sql
from server.storage.migrations import Migration

__all__ = ["BOOKING_MIGRATIONS", "TICKET_MIGRATIONS"]

_BOOKING_V1 = """
CREATE TABLE booking_config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    source TEXT NOT NULL,             -- the YAML as the city wrote it (shown back by `madoguchi booking show`)
    config TEXT NOT NULL,             -- msgspec JSON of server.booking.config.BookingConfig
    set_at TEXT NOT NULL,
    set_by TEXT
);

CREATE TABLE bookings (
    id TEXT PRIMARY KEY,              -- uuid
    code TEXT NOT NULL UNIQUE,        -- the check-in code in the QR code (8 letters and digits, no 0/O/1/I)
    manage_hash TEXT,                 -- sha256 of the secret manage link's token (bookings without an account)
    place TEXT NOT NULL,
    day TEXT NOT NULL,                -- JST date YYYY-MM-DD
    start TEXT NOT NULL,              -- JST HH:MM
    minutes INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('held', 'booked', 'cancelled', 'checked_in', 'no_show', 'expired')),
    held_until TEXT,                  -- UTC ISO 8601: a hold lapses then (status 'held')
    holder TEXT NOT NULL,             -- who holds or owns it: 'account:<id>' or 'ip:<address>' (the hold cap)
    account_id TEXT,                  -- the resident who booked for themselves
    booked_by TEXT,                   -- the staff account that booked on a resident's behalf
    name TEXT,                        -- as typed, byte for byte (people without an account, staff bookings)
    phone TEXT,
    party INTEGER NOT NULL DEFAULT 1, -- family bookings: people served together
    people TEXT,                      -- JSON list of the other people's names, as typed
    event TEXT,                       -- the life event booked for, or NULL
    procedures TEXT NOT NULL,         -- JSON list of procedure ids
    departments TEXT NOT NULL,        -- JSON list of department ids (from the procedures)
    lang TEXT,                        -- the language reminders are written in
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX bookings_by_day ON bookings (place, day, status);
CREATE INDEX bookings_by_account ON bookings (account_id, day);
CREATE INDEX bookings_holds ON bookings (holder, status);

CREATE TABLE booking_reminders (
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    channel TEXT NOT NULL,            -- 'push', 'sms', 'mail'
    sent_at TEXT NOT NULL,
    outcome TEXT NOT NULL,            -- 'sent', 'failed', 'none' (nothing to send to)
    PRIMARY KEY (booking_id, channel)
);

-- The event log planning reads (docs/analytics.md): one row per step of a booking or a ticket. No names.
CREATE TABLE queue_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,                 -- UTC ISO 8601
    place TEXT NOT NULL,
    event TEXT NOT NULL CHECK (event IN ('booked', 'moved', 'cancelled', 'reminded', 'checked_in', 'ticket',
        'called', 'recalled', 'missed', 'served', 'finished', 'left', 'no_show')),
    booking_id TEXT,
    ticket_id TEXT,
    kind TEXT,                        -- 'booking' or 'walkin' (tickets)
    booth TEXT,
    by TEXT,                          -- the staff account, when staff did it
    detail TEXT                       -- JSON: e.g. {"minutes": 30, "due": "..."}; never personal data
);
CREATE INDEX queue_events_by_at ON queue_events (place, at);
CREATE INDEX queue_events_by_ticket ON queue_events (ticket_id);
CREATE INDEX queue_events_by_booking ON queue_events (booking_id);
"""

_TICKETS_V1 = """
CREATE TABLE tickets (
    id TEXT PRIMARY KEY,              -- uuid
    token_hash TEXT NOT NULL UNIQUE,  -- sha256 of the phone link's token (the ticket page #/q/<token>)
    place TEXT NOT NULL,
    day TEXT NOT NULL,                -- JST date: numbers restart every day
    seq INTEGER NOT NULL,
    number TEXT NOT NULL,             -- called and shown: 'A-034' walk-in, 'R-012' booking
    kind TEXT NOT NULL CHECK (kind IN ('booking', 'walkin')),
    booking_id TEXT UNIQUE REFERENCES bookings (id),
    account_id TEXT,                  -- a resident's own ticket (booked or drawn in the app)
    priority INTEGER NOT NULL DEFAULT 0,  -- 1: served first (pregnant, disability, ...)
    priority_reason TEXT,
    departments TEXT NOT NULL,        -- JSON list
    status TEXT NOT NULL CHECK (status IN ('waiting', 'called', 'serving', 'done', 'left', 'no_show')),
    due_at TEXT,                      -- UTC ISO: a booking's time
    arrived_at TEXT NOT NULL,         -- UTC ISO: checked in or drawn
    queue_at TEXT NOT NULL,           -- UTC ISO: its place among walk-ins (arrival; after a miss, the miss)
    not_before TEXT,                  -- UTC ISO: a missed ticket is not called again before this
    missed INTEGER NOT NULL DEFAULT 0,
    calls INTEGER NOT NULL DEFAULT 0,
    called_at TEXT,
    booth TEXT,
    called_by TEXT,
    visit_id TEXT,                    -- the counter visit it became (visits.id)
    source TEXT NOT NULL CHECK (source IN ('kiosk', 'staff', 'app')),
    lang TEXT,
    updated_at TEXT NOT NULL,
    UNIQUE (place, day, seq)
);
CREATE INDEX tickets_open ON tickets (place, day, status);
CREATE INDEX tickets_by_account ON tickets (account_id, status);
CREATE INDEX tickets_by_visit ON tickets (visit_id);

CREATE TABLE ticket_push (
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    endpoint TEXT NOT NULL,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    sent_near INTEGER NOT NULL DEFAULT 0,  -- the "your turn is near" message went out
    sent_called INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ticket_id, endpoint)
);

CREATE TABLE kiosks (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,  -- sha256 of the kiosk cookie
    place TEXT NOT NULL,
    name TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""

# v2: the key of the phones' ticket links (token = HMAC-SHA256(key, ticket id)): checking in twice gives the same
# link again without storing the token itself.
_TICKETS_V2 = key_table_sql("ticket_keys")

# v3: the live hub reads a place's open tickets and the board's last calls on every change, never the whole day
# (``server.tickets.store.queue_tickets``): the last done calls come straight from this index, newest first.
_TICKETS_V3 = """
CREATE INDEX tickets_calls ON tickets (place, day, status, called_at);
"""

# v4: ``server.tickets.store.day_figures_in`` (calls and the latest change of all the day's tickets) runs on every
# snapshot rebuild: this index covers it, so SQLite reads the day's index entries, never the ticket rows.
_TICKETS_V4 = """
CREATE INDEX tickets_day_figures ON tickets (place, day, calls, updated_at);
"""

# v5: ``tickets_calls`` (v3) begins with (place, day, status): ``tickets_open`` (v1) is that prefix, kept up to date
# on every ticket write (issue, call, serve, finish) for no query of its own.
_TICKETS_V5 = """
DROP INDEX IF EXISTS tickets_open;
"""

# v2: the open bookings of one phone number are counted on every booking without an account (the hoarding cap,
# ``store.open_bookings_in``): the number's digits (as ``store.phone_key`` makes them) of open bookings only.
_BOOKING_V2 = """
CREATE INDEX bookings_open_phones ON bookings (replace(replace(replace(phone, '-', ''), ' ', ''), '+', ''), day)
    WHERE status = 'booked';
"""

# v3: a hold made to move a booking (``store.create_hold_in(moves=...)``) names it: the booking's own cells were not
# counted when the hold was checked (moving within a full period into its own freed time), so the hold may only
# move that booking, never become a booking of its own.
_BOOKING_V3 = """
ALTER TABLE bookings ADD COLUMN moves TEXT;
"""

# v4: one phone rule (server/booking/phone.py): a number is stored as typed — full-width digits and hyphens, brackets
# — and capped by its folded digits, kept in phone_key (v2's SQL expression could not fold full-width digits: the
# same number typed on a Japanese keyboard escaped the cap). Rows before it get their key here.
def _booking_v4(conn: sqlite3.Connection) -> None:
    from server.booking.phone import phone_digits

    conn.execute("ALTER TABLE bookings ADD COLUMN phone_key TEXT")
    conn.execute("DROP INDEX IF EXISTS bookings_open_phones")
    conn.execute("CREATE INDEX bookings_open_phone_keys ON bookings (phone_key, day) WHERE status = 'booked'")
    rows = conn.execute("SELECT id, phone FROM bookings WHERE phone IS NOT NULL").fetchall()
    conn.executemany("UPDATE bookings SET phone_key = ? WHERE id = ?",
                     [(phone_digits(phone) or phone, bid) for bid, phone in rows])


BOOKING_MIGRATIONS: list[Migration] = [(1, _BOOKING_V1), (2, _BOOKING_V2), (3, _BOOKING_V3), (4, _booking_v4)]
TICKET_MIGRATIONS: list[Migration] = [(1, _TICKETS_V1), (2, _TICKETS_V2), (3, _TICKETS_V3),
                                       (4, _TICKETS_V4), (5, _TICKETS_V5)]
