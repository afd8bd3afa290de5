"""The core component's migrations (auth has its own list in ``server/auth/migrations.py``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from server.storage.migrations import Migration, apply_migrations

__all__ = ["CORE_MIGRATIONS", "all_components", "migrate"]

_V1 = """
CREATE TABLE procedure_versions (
    procedure_id TEXT NOT NULL,
    version TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    department TEXT,
    definition TEXT NOT NULL,      -- msgspec JSON of the definition, kept forever
    published_at TEXT NOT NULL,
    retired_at TEXT,               -- set when the version left the library
    PRIMARY KEY (procedure_id, version)
);

CREATE TABLE residents (
    id TEXT PRIMARY KEY,           -- resident code in the registry (住民票コード or local id)
    household_id TEXT,
    record TEXT NOT NULL,          -- JSON: family, given, family_kana, given_kana, birth_date, sex, ...
    family TEXT NOT NULL,
    given TEXT NOT NULL,
    birth_date TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX residents_lookup ON residents (family, given, birth_date);
CREATE INDEX residents_household ON residents (household_id);

CREATE TABLE identity_bindings (
    account_id TEXT PRIMARY KEY,
    resident_id TEXT NOT NULL REFERENCES residents (id),
    bound_by TEXT,
    bound_at TEXT NOT NULL
);

CREATE TABLE submissions (
    id TEXT PRIMARY KEY,           -- client-generated UUID: the idempotency key
    receipt_number TEXT NOT NULL UNIQUE,
    procedure_id TEXT NOT NULL,
    procedure_version TEXT NOT NULL,
    department TEXT,
    status TEXT NOT NULL,
    answers TEXT NOT NULL,
    body_hash TEXT NOT NULL,       -- sha256 of the canonical request body: detects a reused key
    flags TEXT NOT NULL DEFAULT '[]',
    account_id TEXT,
    on_behalf_of TEXT,
    received_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX submissions_queue ON submissions (department, status, received_at);
CREATE INDEX submissions_account ON submissions (account_id, received_at);

CREATE TABLE submission_events (
    id INTEGER PRIMARY KEY,
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    at TEXT NOT NULL,
    actor TEXT,
    from_status TEXT,
    to_status TEXT,
    comment TEXT,
    visible_to_resident INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX submission_events_by_submission ON submission_events (submission_id, id);

CREATE TABLE receipt_counters (
    year INTEGER PRIMARY KEY,
    last INTEGER NOT NULL
);

CREATE TABLE attachments (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    uploaded_by TEXT
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    subject TEXT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject);

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
"""

# v2: telemetry (no personal data: counts and timestamps per procedure) and a search column for the
# console queue, filled for rows that predate it.
_V2 = """
CREATE TABLE telemetry (
    id INTEGER PRIMARY KEY,
    procedure_id TEXT NOT NULL,
    procedure_version TEXT NOT NULL,
    opened_at TEXT,
    acknowledged_at TEXT,
    fields_typed INTEGER,
    fields_prefilled INTEGER,
    duration_s REAL,
    received_at TEXT NOT NULL
);
CREATE INDEX telemetry_procedure ON telemetry (procedure_id, procedure_version);
ALTER TABLE submissions ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE submissions SET search_text = receipt_number || ' ' || answers WHERE search_text = '';
"""

# v3: residents assigned to outreach staff (home visits); the PWA caches this list for offline filing.
_V3 = """
CREATE TABLE outreach_assignments (
    account_id TEXT NOT NULL,
    resident_id TEXT NOT NULL REFERENCES residents (id),
    assigned_at TEXT NOT NULL,
    PRIMARY KEY (account_id, resident_id)
);
"""

# v4: whether --demo made this database is read from the audit trail at every start (server/demo.py); this
# index holds only those few entries, so the answer never scans a city's whole trail.
_V4 = """
CREATE INDEX audit_log_demo ON audit_log (action, id) WHERE action IN ('demo.seed', 'demo.left', 'staff.invite');
"""

# v5: a resident's list holds what staff filed for them (on_behalf_of = their registry record).
_V5 = """
CREATE INDEX submissions_on_behalf ON submissions (on_behalf_of, received_at) WHERE on_behalf_of IS NOT NULL;
"""

# v6: the paths of the answers that changed a prefilled value, decided at filing (server.prefill_check) from
# the registry as it was then: the console lists them without reading today's registry again.
_V6 = """
ALTER TABLE submissions ADD COLUMN corrected TEXT;
"""

# v7: form sessions (analytics of drop-off): one row per opening of a form in an app, with the fields it
# showed, the field it was left on and the validation errors it showed per field. No personal data: field
# paths and counts only; ``session`` is a random id the app makes per opening (no account, no address), and a
# resend of the same session replaces its row.
_V7 = """
CREATE TABLE form_sessions (
    id INTEGER PRIMARY KEY,
    session TEXT NOT NULL UNIQUE,
    procedure_id TEXT NOT NULL,
    procedure_version TEXT NOT NULL,
    channel TEXT NOT NULL,          -- 'resident' (own phone) or 'staff' (filed by counter/outreach staff)
    started_at TEXT,                -- UTC ISO 8601, from the app's clock
    ended_at TEXT,
    duration_s REAL,
    outcome TEXT NOT NULL,          -- 'submitted' or 'left'
    viewed TEXT NOT NULL,           -- JSON list of field paths, in the order first shown
    last_field TEXT,                -- the field the person was on when leaving without sending (else NULL)
    errors TEXT NOT NULL,           -- JSON object: field path -> validation errors shown for it
    received_at TEXT NOT NULL
);
CREATE INDEX form_sessions_procedure ON form_sessions (procedure_id, procedure_version);
"""

# v8: where a telemetry row came from: 'filing' (stored in the filing's transaction) or 'beacon' (POST
# /api/telemetry, open to anyone): only filings count as completions in the analytics (docs/analytics.md).
_V8 = """
ALTER TABLE telemetry ADD COLUMN source TEXT NOT NULL DEFAULT 'filing';
"""

CORE_MIGRATIONS: list[Migration] = [(1, _V1), (2, _V2), (3, _V3), (4, _V4), (5, _V5), (6, _V6), (7, _V7), (8, _V8)]


def all_components() -> list[tuple[str, Sequence[Migration]]]:
    """Core, then the registry's search keys, auth, sync, follow (replies, push), parties (two-person
    procedures), visits (来庁), the queue's folded search keys, the counter interviews, the hand-off outbox and
    counter codes (窓口で見せるコード, pre-entries), definitions (drafts), the preview links' key, bookings, tickets, the
    reminders' attempts and the manage links' key: each component's migrations are versioned on their own."""
    from server.auth.migrations import MIGRATIONS as AUTH_MIGRATIONS
    from server.booking.manage_links import MANAGE_LINK_MIGRATIONS
    from server.booking.reminders import REMINDER_MIGRATIONS
    from server.booking.schema import BOOKING_MIGRATIONS, TICKET_MIGRATIONS
    from server.definitions.store import DEFINITION_MIGRATIONS
    from server.registry_search import REGISTRY_MIGRATIONS
    from server.storage.counter_codes import COUNTER_CODE_MIGRATIONS
    from server.storage.follow import FOLLOW_MIGRATIONS
    from server.storage.handoff import HANDOFF_MIGRATIONS
    from server.storage.interviews import INTERVIEW_MIGRATIONS
    from server.storage.keys import PREVIEW_MIGRATIONS
    from server.storage.parties import PARTY_MIGRATIONS
    from server.storage.submission_search import SUBMISSION_SEARCH_MIGRATIONS
    from server.storage.sync import MIGRATIONS as SYNC_MIGRATIONS
    from server.storage.visits import VISIT_MIGRATIONS

    return [("core", CORE_MIGRATIONS), ("registry", REGISTRY_MIGRATIONS), ("auth", AUTH_MIGRATIONS),
            ("sync", SYNC_MIGRATIONS), ("follow", FOLLOW_MIGRATIONS), ("parties", PARTY_MIGRATIONS),
            ("visits", VISIT_MIGRATIONS), ("submission_search", SUBMISSION_SEARCH_MIGRATIONS),
            ("interviews", INTERVIEW_MIGRATIONS), ("handoff", HANDOFF_MIGRATIONS),
            ("counter_codes", COUNTER_CODE_MIGRATIONS), ("definitions", DEFINITION_MIGRATIONS),
            ("preview", PREVIEW_MIGRATIONS), ("booking", BOOKING_MIGRATIONS), ("tickets", TICKET_MIGRATIONS),
            ("reminders", REMINDER_MIGRATIONS), ("manage_links", MANAGE_LINK_MIGRATIONS)]


def migrate(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    return apply_migrations(conn, all_components())
