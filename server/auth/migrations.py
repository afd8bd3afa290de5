"""Schema of the auth component (applied by ``server.storage.schema`` as component ``"auth"``).

Expiry columns are integer UNIX seconds so comparisons are plain integer comparisons; the ``*_at`` text
columns are ISO 8601 for people. Secrets (session tokens, invite tokens, recovery codes) are stored only as
sha256 digests: a copy of the database file does not let anyone sign in.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

_V1 = """
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    user_handle BLOB NOT NULL UNIQUE,      -- WebAuthn user.id: random, never personal data
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('resident', 'counter', 'outreach', 'reviewer', 'configurator', 'admin')),
    department TEXT,
    created_at TEXT NOT NULL,
    enrolled_at TEXT,                      -- first passkey registered (staff invites start NULL)
    disabled_at TEXT
);

CREATE TABLE credentials (
    id TEXT PRIMARY KEY,                   -- our id, used in /api/me/passkeys/{id}
    credential_id BLOB NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    public_key BLOB NOT NULL,
    sign_count INTEGER NOT NULL DEFAULT 0,
    name TEXT NOT NULL,
    transports TEXT NOT NULL DEFAULT '[]',
    aaguid TEXT,
    fmt TEXT,
    device_type TEXT,
    backed_up INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    last_used_at TEXT
);
CREATE INDEX credentials_account ON credentials (account_id);

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,           -- sha256 of the cookie value
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    method TEXT NOT NULL,                  -- passkey, recovery, register, enroll
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    idle_seconds INTEGER NOT NULL,
    expires_at INTEGER NOT NULL            -- absolute expiry
);
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE challenges (
    id TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,                 -- register, login, enroll, add_passkey
    challenge BLOB NOT NULL,
    account_id TEXT,
    data TEXT NOT NULL DEFAULT '{}',
    expires_at INTEGER NOT NULL
);
CREATE INDEX challenges_expiry ON challenges (expires_at);

CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash BLOB NOT NULL,
    used_at TEXT
);
CREATE INDEX recovery_codes_account ON recovery_codes (account_id);

CREATE TABLE invites (
    token_hash BLOB PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_by TEXT,
    created_at TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at TEXT
);
CREATE INDEX invites_account ON invites (account_id);
"""

MIGRATIONS: list[tuple[int, str]] = [(1, _V1)]
