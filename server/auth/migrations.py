"""Schema of the auth component (applied by ``server.storage.schema`` as component ``"auth"``).

Expiry columns are integer UNIX seconds so comparisons are plain integer comparisons; the ``*_at`` text
columns are ISO 8601 for people. Secrets (session tokens, invite tokens, recovery codes) are stored only as
sha256 digests: a copy of the database file does not let anyone sign in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from server.auth.devices import device_name

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

# v2: a counter bumped by every change that can end a session or change who a session belongs to, so the
# in-memory session cache (server/auth/session_cache.py) knows when to read again, whichever process wrote.
# The idle-timer touch only moves last_seen_at forward and does not count.
_V2 = """
CREATE TABLE auth_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT INTO auth_epoch (id, n) VALUES (1, 0);
CREATE TRIGGER auth_epoch_session_deleted AFTER DELETE ON sessions
BEGIN UPDATE auth_epoch SET n = n + 1; END;
CREATE TRIGGER auth_epoch_session_updated AFTER UPDATE ON sessions
WHEN NEW.last_seen_at < OLD.last_seen_at OR NEW.expires_at IS NOT OLD.expires_at
  OR NEW.idle_seconds IS NOT OLD.idle_seconds OR NEW.account_id IS NOT OLD.account_id
  OR NEW.token_hash IS NOT OLD.token_hash
BEGIN UPDATE auth_epoch SET n = n + 1; END;
CREATE TRIGGER auth_epoch_account_updated AFTER UPDATE ON accounts
BEGIN UPDATE auth_epoch SET n = n + 1; END;
CREATE TRIGGER auth_epoch_account_deleted AFTER DELETE ON accounts
BEGIN UPDATE auth_epoch SET n = n + 1; END;
CREATE TRIGGER auth_epoch_binding_inserted AFTER INSERT ON identity_bindings
BEGIN UPDATE auth_epoch SET n = n + 1; END;
CREATE TRIGGER auth_epoch_binding_updated AFTER UPDATE ON identity_bindings
BEGIN UPDATE auth_epoch SET n = n + 1; END;
CREATE TRIGGER auth_epoch_binding_deleted AFTER DELETE ON identity_bindings
BEGIN UPDATE auth_epoch SET n = n + 1; END;
"""

# v3: caps and fresh passkey checks. A challenge remembers the client address it was issued to (open
# challenges per client are capped); a session remembers when its account last made a user-verified passkey
# assertion (credential changes need one from the last few minutes). Neither column moves the auth epoch:
# the freshness is read from the row when a credential change asks, never from the session cache.
_V3 = """
ALTER TABLE challenges ADD COLUMN client TEXT;
CREATE INDEX challenges_client ON challenges (client);
CREATE INDEX challenges_account ON challenges (account_id);
ALTER TABLE sessions ADD COLUMN verified_at INTEGER;
"""

# v4: recovery codes that name their account (server/auth/codes.py). New codes carry a unique lookup id (the
# secret's digest stays in code_hash); codes made before have none and are found by the digest of the whole
# code (a partial index), so they keep working. Wrong codes are counted per client address as well (there is
# no account before a code is checked): one row per failure, counted in the write transaction like the
# per-account count from the audit trail, pruned past the window.
_V4 = """
ALTER TABLE recovery_codes ADD COLUMN lookup TEXT;
CREATE UNIQUE INDEX recovery_codes_lookup ON recovery_codes (lookup);
CREATE INDEX recovery_codes_legacy ON recovery_codes (code_hash) WHERE lookup IS NULL;
CREATE TABLE recovery_failures (
    client TEXT NOT NULL,                  -- the address's limit key (an IPv6 /64)
    at INTEGER NOT NULL
);
CREATE INDEX recovery_failures_client ON recovery_failures (client, at);
CREATE INDEX recovery_failures_at ON recovery_failures (at);
"""



def _v5_readable_passkey_names(conn: sqlite3.Connection) -> None:
    """v5: passkeys the PWA named with the first 60 characters of the user agent ("Mozilla/5.0 (iPhone; ...")
    get the readable name a new passkey gets (server/auth/devices.py; the cut agent still names the device,
    often not the browser). Names people gave themselves do not start with "Mozilla/" and stay."""
    rows = conn.execute("SELECT id, name FROM credentials WHERE name LIKE 'Mozilla/%'").fetchall()
    for pid, name in rows:
        conn.execute("UPDATE credentials SET name = ? WHERE id = ?", (device_name(name), pid))


# v6: bearer tokens for notebooks, the CLI and scripts (server/auth/tokens.py, docs/security.md "Tokens").
# Every secret is stored as its sha256 digest only. ``family`` ties the access and refresh tokens of one
# sign-in (loopback or device flow) together: a refresh token used twice (rotated, then replayed) revokes the
# whole family. ``oauth_grants`` holds the short-lived authorization codes (60 s) and device codes (300 s).
_V6 = """
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,                   -- public id: lists and revocation name a token by it
    token_hash BLOB NOT NULL UNIQUE,       -- sha256 of the mdg_... secret
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh', 'personal')),
    family TEXT,                           -- one sign-in's access and refresh tokens
    name TEXT NOT NULL,                    -- a personal token's name, or the client and host that signed in
    scopes TEXT NOT NULL,                  -- space separated: drafts, analytics
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    last_used_at INTEGER,
    rotated_at INTEGER,                    -- a refresh token once used: any later use is a replay
    revoked_at INTEGER
);
CREATE INDEX api_tokens_account ON api_tokens (account_id, kind);
CREATE INDEX api_tokens_family ON api_tokens (family);
CREATE INDEX api_tokens_expiry ON api_tokens (expires_at);

CREATE TABLE oauth_grants (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('code', 'device')),
    code_hash BLOB NOT NULL UNIQUE,        -- the authorization code's or the device code's digest
    user_code TEXT UNIQUE,                 -- device flow: the code the person types (XXXXXXXX)
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    redirect_uri TEXT,                     -- code: must match at the exchange
    code_challenge TEXT,                   -- code: PKCE S256
    client_host TEXT,                      -- device: the host the client says it runs on
    client_ip TEXT,                        -- device: the address it came from
    account_id TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'used')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    poll_interval INTEGER NOT NULL DEFAULT 5,
    last_polled_at INTEGER
);
CREATE INDEX oauth_grants_expiry ON oauth_grants (expires_at);
"""

# v7: a token's use is audited at most once an hour, and at once from another address (server/auth/tokens.py
# ``audit_due``): when and from where it was last audited, apart from ``last_used_at`` (touched every minute).
_V7 = """
ALTER TABLE api_tokens ADD COLUMN last_audited_at INTEGER;
ALTER TABLE api_tokens ADD COLUMN last_audited_ip TEXT;
"""

MIGRATIONS: list[tuple[int, str | Callable[[sqlite3.Connection], None]]] = [
    (1, _V1), (2, _V2), (3, _V3), (4, _V4), (5, _v5_readable_passkey_names), (6, _V6), (7, _V7)]
