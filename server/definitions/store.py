"""How drafts and published versions of definitions are stored (migration component ``definitions``).

``procedure_versions`` (core) holds every published version forever; this component adds where a version
came from (the shipped library or the console), its source text, who published and approved it, its
schedule (live from, closes at, with a message) and who retired it. ``procedure_drafts`` holds drafts, one
open draft per definition id (pushing again replaces its source and bumps ``revision``), and
``publish_requests`` the requests to publish a draft, approved in the console.

Every writer runs inside a write job of the one writer (``Database.write``); who may ask is decided before
(``server.auth.roles``: ``CONFIGURE_ROLES``).
"""

from __future__ import annotations

from server.storage.migrations import Migration

__all__ = ["DEFINITION_MIGRATIONS"]

_V1 = """
ALTER TABLE procedure_versions ADD COLUMN origin TEXT NOT NULL DEFAULT 'library';  -- 'library' or 'console'
ALTER TABLE procedure_versions ADD COLUMN source TEXT;          -- the YAML or notebook text published (console)
ALTER TABLE procedure_versions ADD COLUMN source_format TEXT;   -- 'yaml' or 'ipynb'
ALTER TABLE procedure_versions ADD COLUMN published_by TEXT;    -- account id (console)
ALTER TABLE procedure_versions ADD COLUMN approved_by TEXT;     -- the second configurator, when the city asks for one
ALTER TABLE procedure_versions ADD COLUMN draft_id TEXT;
ALTER TABLE procedure_versions ADD COLUMN live_from TEXT;       -- UTC ISO 8601; NULL: live once published
ALTER TABLE procedure_versions ADD COLUMN closes_at TEXT;       -- UTC ISO 8601: no new applications after it
ALTER TABLE procedure_versions ADD COLUMN close_message TEXT;   -- JSON {ja, en, ja-easy} shown once closed
ALTER TABLE procedure_versions ADD COLUMN retired_by TEXT;      -- 'library' (left the shipped library) or an account id

CREATE TABLE procedure_drafts (
    id TEXT PRIMARY KEY,             -- 'drf_' + random
    procedure_id TEXT,               -- NULL while the file does not say (unreadable)
    version TEXT,
    kind TEXT,                       -- 'procedure' or 'life_event'
    filename TEXT NOT NULL,          -- as uploaded: the path problems are reported against
    format TEXT NOT NULL,            -- 'yaml' or 'ipynb'
    source TEXT NOT NULL,
    definition TEXT,                 -- msgspec JSON when it loads with no error
    problems TEXT NOT NULL DEFAULT '[]',  -- JSON list of {path, line, col, code, message, severity}
    estimate_seconds INTEGER,
    revision INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL DEFAULT 'draft',  -- 'draft', 'published' or 'abandoned'
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    published_version TEXT
);
CREATE UNIQUE INDEX procedure_drafts_open ON procedure_drafts (procedure_id)
    WHERE state = 'draft' AND procedure_id IS NOT NULL;

CREATE TABLE publish_requests (
    id TEXT PRIMARY KEY,             -- 'pub_' + random
    draft_id TEXT NOT NULL REFERENCES procedure_drafts (id),
    draft_revision INTEGER NOT NULL, -- what was asked for: a later push of the draft supersedes the request
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    live_from TEXT,
    closes_at TEXT,
    close_message TEXT,
    state TEXT NOT NULL DEFAULT 'open',  -- 'open', 'published', 'withdrawn' or 'superseded'
    approved_by TEXT,
    approved_at TEXT,
    published_at TEXT
);
CREATE INDEX publish_requests_draft ON publish_requests (draft_id);
"""

DEFINITION_MIGRATIONS: list[Migration] = [(1, _V1)]
