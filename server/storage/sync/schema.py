"""The sync component's tables (``sync_`` prefix: they share the file with the rest of the server).

``sync_records``          current state per (type, id): version, data, deleted, last_client, owner, department
``sync_record_versions``  every version with the client/account/mutation that produced it and its fields
``sync_changes``          the change log: one row per record, re-inserted (new AUTOINCREMENT seq) on change
``sync_access``           who (outreach) may see which shared record
``sync_receipts``         mutation_id → content hash + receipt JSON (the idempotency table)
``sync_conflicts``        open/resolved conflicts with base / server / mine per field
``sync_review_tasks``     view: the open conflicts that need a person (review policy, deletes)
``sync_blobs``            stored content-addressed files uploaded through sync, and ``sync_submission_files``
``sync_uploads``          unfinished resumable uploads, one per (sha256, account)
``sync_file_holders``     which accounts delivered a stored file's bytes (knowing its sha256 is not enough)
"""

from __future__ import annotations

from server.storage.sync.identity import META_SQL

__all__ = ["MIGRATIONS"]

_V1 = """
CREATE TABLE sync_records (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}',     -- set-field element stamps and tombstones
    deleted INTEGER NOT NULL DEFAULT 0,
    last_client TEXT,
    owner TEXT,                          -- drafts: the owning account; shared: the creator
    department TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (type, id)
);

CREATE TABLE sync_record_versions (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    client_id TEXT,
    client_seq INTEGER,
    account_id TEXT,
    mutation_id TEXT,
    fields TEXT NOT NULL,                -- JSON list of the fields this version changed
    data TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (type, id, version)
);

CREATE TABLE sync_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    UNIQUE (type, id)
);

CREATE TABLE sync_access (
    account_id TEXT NOT NULL,
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (account_id, type, id)
);

CREATE TABLE sync_receipts (
    mutation_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_seq INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    receipt TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX sync_receipts_client ON sync_receipts (client_id, client_seq);

CREATE TABLE sync_conflicts (
    id INTEGER PRIMARY KEY,
    mutation_id TEXT NOT NULL,
    type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    field TEXT NOT NULL,
    policy TEXT NOT NULL,
    outcome TEXT NOT NULL,
    base TEXT,
    server TEXT,
    mine TEXT,
    status TEXT NOT NULL DEFAULT 'open',  -- open | resolved
    account_id TEXT,                      -- who made the mutation
    client_id TEXT,
    department TEXT,
    record_version INTEGER,
    created_at TEXT NOT NULL,
    resolved_by TEXT,
    resolved_at TEXT,
    choice TEXT,
    resolved_value TEXT
);
CREATE INDEX sync_conflicts_open ON sync_conflicts (status, department);
CREATE INDEX sync_conflicts_record ON sync_conflicts (type, record_id);
CREATE INDEX sync_conflicts_account ON sync_conflicts (account_id, status);

CREATE VIEW sync_review_tasks AS
    SELECT * FROM sync_conflicts WHERE status = 'open' AND outcome <> 'mine_applied';

CREATE TABLE sync_blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0,
    type TEXT,
    created_by TEXT,
    created_at TEXT NOT NULL,
    completed_at TEXT
);

CREATE TABLE sync_submission_files (
    submission_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (submission_id, sha256)
);
CREATE INDEX sync_submission_files_sha ON sync_submission_files (sha256);
"""

# Client ids bound to the first account that pushed with them (server.storage.sync.clients), taken over
# from the receipts so far; and the files of submissions filed before every path linked them (their
# attachment answers' sha256), so that reading a file follows its submission for old ones too.
_V3 = """
CREATE TABLE sync_clients (
    client_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    bound_at TEXT NOT NULL
);
INSERT OR IGNORE INTO sync_clients (client_id, account_id, bound_at)
    SELECT r.client_id, r.account_id, r.created_at FROM sync_receipts r
    WHERE r.rowid = (SELECT r2.rowid FROM sync_receipts r2 WHERE r2.client_id = r.client_id
                     ORDER BY r2.created_at, r2.rowid LIMIT 1);
INSERT OR IGNORE INTO sync_submission_files (submission_id, sha256)
    SELECT s.id, t.value FROM submissions s, json_tree(s.answers) t
    WHERE t.key = 'sha256' AND t.type = 'text' AND length(t.value) = 64;
"""

# Who holds each stored file: the accounts that delivered its bytes (either upload path, or the possession
# proof of server.blob_possession). Knowing a sha256 is not holding the file: a submission's link to a file
# counts (for reading it through the submission, and for the submission being complete) only when the
# submission's filer holds it. Taken over: every uploader, and the filers of submissions already linked (they
# were complete and readable before; nothing tells which of them held the bytes).
_V4 = """
CREATE TABLE sync_file_holders (
    sha256 TEXT NOT NULL,
    account_id TEXT NOT NULL,
    PRIMARY KEY (sha256, account_id)
);
INSERT OR IGNORE INTO sync_file_holders (sha256, account_id)
    SELECT sha256, uploaded_by FROM attachments WHERE uploaded_by IS NOT NULL;
INSERT OR IGNORE INTO sync_file_holders (sha256, account_id)
    SELECT sha256, created_by FROM sync_blobs WHERE complete = 1 AND created_by IS NOT NULL;
INSERT OR IGNORE INTO sync_file_holders (sha256, account_id)
    SELECT f.sha256, s.account_id FROM sync_submission_files f JOIN submissions s ON s.id = f.submission_id
    WHERE EXISTS (SELECT 1 FROM attachments a WHERE a.sha256 = f.sha256);
"""

# Unfinished uploads belong to the account uploading: keyed by (sha256, account), so one account's upload of a
# file neither shows to, nor blocks, another's upload of the same bytes (sync_blobs keeps the stored files).
# Rows taken over keep their size and age; their partial bytes were kept under the sha256 alone, so the
# device's next chunk is told offset 0 and starts over (the maintenance task deletes the old files).
_V5 = """
CREATE TABLE sync_uploads (
    sha256 TEXT NOT NULL,
    account_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (sha256, account_id)
);
CREATE INDEX sync_uploads_account ON sync_uploads (account_id);
INSERT OR IGNORE INTO sync_uploads (sha256, account_id, size, created_at)
    SELECT sha256, created_by, size, created_at FROM sync_blobs WHERE complete = 0 AND created_by IS NOT NULL;
DELETE FROM sync_blobs WHERE complete = 0;
"""

MIGRATIONS: list[tuple[int, str]] = [(1, _V1), (2, META_SQL), (3, _V3), (4, _V4), (5, _V5)]
