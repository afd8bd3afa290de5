"""Server-side storage of the sync protocol (tables of component ``"sync"``).

Modules, one seam each:

``schema``               the ``sync_`` tables (``MIGRATIONS``)
``records``              JSON codecs, a record's row and history, writing a version; ``Batch``, one push pass's state
``access``               who sees which record or conflict (``can_access`` and its SQL forms, on the department rule)
``push``                 applying a batch of mutations with receipts, savepoints and the push audit entry
``filing``               ``submission.create``: writing what the filing policy (``server.filing``) decided
``conflicts``            recording, listing, reading and resolving conflicts
``blobs``                resumable content-addressed uploads
``pull``                 one page of the change log
``identity``             which database a cursor belongs to (``database_id``, restore detection)
``registry_projection``  an outreach worker's assigned households made into shared records
``store``                :class:`SyncStore`, the configured entry point the routes call
"""

from __future__ import annotations

from server.storage.sync.conflicts import ConflictPage, ConflictRow
from server.storage.sync.errors import (
    Decision,
    InvalidValue,
    KeyReuse,
    NotFoundError,
    PermissionDenied,
    StaleConflict,
    Verdict,
)
from server.storage.sync.identity import SyncReset
from server.storage.sync.schema import MIGRATIONS
from server.storage.sync.store import SyncStore

__all__ = [
    "MIGRATIONS",
    "ConflictPage",
    "ConflictRow",
    "Decision",
    "InvalidValue",
    "KeyReuse",
    "NotFoundError",
    "PermissionDenied",
    "StaleConflict",
    "SyncReset",
    "SyncStore",
    "Verdict",
]
