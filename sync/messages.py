"""Wire messages of the sync protocol (``docs/sync.md`` is the normative description).

Everything a device and the server exchange is one of these msgspec Structs, encoded as JSON. They carry
no behaviour: merging lives in :mod:`sync.merge`, commands in :mod:`sync.commands`, storage on the server
in ``server/storage/sync/``.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "MUTATION_KINDS",
    "RECEIPT_STATUSES",
    "BlobInfo",
    "Change",
    "Command",
    "ConflictInfo",
    "EntityRef",
    "FieldChange",
    "Mutation",
    "MutationKind",
    "PullPage",
    "PushRequest",
    "PushResponse",
    "Receipt",
    "ReceiptStatus",
    "SetOps",
    "SubmissionPayload",
    "content_hash",
    "encode",
]

MutationKind = Literal["record.patch", "record.delete", "draft.patch", "command", "submission.create",
                       "submission.respond"]
MUTATION_KINDS: tuple[str, ...] = ("record.patch", "record.delete", "draft.patch", "command", "submission.create",
                                  "submission.respond")
ReceiptStatus = Literal["applied", "merged", "conflict", "rejected", "duplicate"]
RECEIPT_STATUSES: tuple[str, ...] = ("applied", "merged", "conflict", "rejected", "duplicate")


class EntityRef(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    type: str
    id: str


class FieldChange(msgspec.Struct, forbid_unknown_fields=True):
    """One field: the value the user saw (``base``) and the value they want (``new``)."""

    base: Any = None
    new: Any = None


class SetOps(msgspec.Struct, forbid_unknown_fields=True):
    """Operations on a ``set`` field (repeat group): elements are objects with a stable ``id``."""

    add: list[dict[str, Any]] = []
    remove: list[str] = []


class Command(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    args: dict[str, Any] = {}


class SubmissionPayload(msgspec.Struct, forbid_unknown_fields=True):
    procedure_id: str
    procedure_version: str
    answers: dict[str, Any] = {}
    on_behalf_of: str | None = None
    attachments: list[str] = []  # sha256 of every file the answers refer to
    # Completion-time telemetry (counts and timestamps, no personal data; ``POST /api/telemetry``'s shape):
    # stored once, when the submission is created; a bad one (even not an object) is dropped by the server's
    # filing policy, never failing the submission, so any JSON value decodes here.
    telemetry: Any = None


# Idempotency keys and device ids: 1-200 characters (a UUID is 36); anything else makes the push malformed.
_Key = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class Mutation(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    mutation_id: _Key  # client-generated UUID; the idempotency key, identical on every retry
    client_id: _Key  # one per device (installation)
    client_seq: int  # strictly increasing per client_id: orders a device's own mutations
    kind: MutationKind
    entity: EntityRef
    base_version: int | None = None  # record version the user saw; None = creating
    changes: dict[str, FieldChange] = {}
    set_ops: dict[str, SetOps] = {}
    command: Command | None = None
    submission: SubmissionPayload | None = None
    # submission.respond: the reply to a request for information, ``{id, comment?, answers?, files?}`` as
    # ``POST /api/submissions/{id}/respond`` takes it; decoded by the server's respond policy, so a bad one
    # refuses that mutation only.
    response: dict[str, Any] | None = None
    client_hlc: str | None = None  # audit and display only; never chooses a winner


class ConflictInfo(msgspec.Struct, kw_only=True):
    field: str
    base: Any = None
    server: Any = None
    mine: Any = None
    policy: str = "auto"
    # mine_applied (auto: applied in receipt order and flagged), server_kept (review: a person decides),
    # delete_refused (stale delete of an edited record), edit_on_deleted (edit of a deleted record)
    outcome: str = "mine_applied"
    conflict_id: int | None = None


class Receipt(msgspec.Struct, kw_only=True):
    mutation_id: str
    status: ReceiptStatus
    version: int | None = None  # the record's version after this mutation (None when nothing exists)
    seq: int = 0  # pull until cursor >= seq before forgetting the mutation
    conflicts: list[ConflictInfo] = []
    reason: str | None = None  # machine code for rejected (e.g. case_closed, forbidden)
    message: str | None = None  # human text (Japanese) for the same
    original_status: ReceiptStatus | None = None  # set on duplicate: what the first delivery got
    flags: list[str] = []  # e.g. clock_ahead (client HLC far in the future)
    result: dict[str, Any] = {}  # kind-specific: submission receipt_number, missing_blobs


class PushRequest(msgspec.Struct, forbid_unknown_fields=True):
    mutations: list[Mutation]


class PushResponse(msgspec.Struct):
    receipts: list[Receipt]


class Change(msgspec.Struct, kw_only=True):
    seq: int
    type: str
    id: str
    version: int
    deleted: bool = False
    data: dict[str, Any] = {}


class PullPage(msgspec.Struct, kw_only=True):
    changes: list[Change]
    cursor: int
    has_more: bool
    # The server database the cursor belongs to; send it back as ``db=`` (docs/sync.md, "Database identity").
    database_id: str = ""


class BlobInfo(msgspec.Struct, kw_only=True):
    sha256: str
    size: int
    offset: int = 0
    complete: bool = False


_canon = msgspec.json.Encoder(order="sorted")
_encoder = msgspec.json.Encoder()


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


def content_hash(m: Mutation) -> str:
    """sha256 of the canonical JSON of what defines a mutation's effect.

    ``client_hlc`` is left out: a device may restamp its clock on retry without it being a different
    mutation. Everything else, including ``client_seq``, must be byte-for-byte what was first sent.
    """
    body = msgspec.to_builtins(m, order="sorted")
    body.pop("client_hlc", None)
    sub = body.get("submission")
    if isinstance(sub, dict) and sub.get("telemetry") is None:
        sub.pop("telemetry", None)  # added later: absent and null hash like before it existed
    return hashlib.sha256(_canon.encode(body)).hexdigest()


