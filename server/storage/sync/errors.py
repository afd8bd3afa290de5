"""What sync storage operations refuse with: the exceptions callers map to HTTP problems, the terminal
rejection of one mutation (answered with a ``rejected`` receipt) and a rejection decided before the write job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from server.filing import Filing
    from server.storage.follow import ResponseWrite

__all__ = ["Decision", "InvalidValue", "KeyReuse", "NotFoundError", "PermissionDenied", "Rejected", "StaleConflict", "Verdict"]


class KeyReuse(Exception):
    """One or more mutation ids were already used with a different body (or by another account)."""

    def __init__(self, mutation_ids: list[str]) -> None:
        super().__init__(", ".join(mutation_ids))
        self.mutation_ids = mutation_ids


class NotFoundError(Exception):
    pass


class PermissionDenied(Exception):
    pass


class InvalidValue(ValueError):
    """A custom conflict resolution whose value does not fit the field's shape (the message names the field)."""


class StaleConflict(Exception):
    """The conflict is already resolved."""


class Rejected(Exception):
    """A mutation refused for good: its savepoint is rolled back and it gets a ``rejected`` receipt."""

    def __init__(self, reason: str, message: str, result: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message
        self.result = result or {}


@dataclass(frozen=True)
class Verdict:
    """A refusal of a ``submission.create`` by the filing policy before the write job (answers validated in
    worker processes, filer, resident and version checks): a terminal rejection with its reason."""

    reason: str
    message: str
    result: dict[str, Any] | None = None


# What the filing policy decided about a submission.create (or the respond policy about a
# submission.respond): refused, or accepted (what to write).
Decision: TypeAlias = "Verdict | Filing | ResponseWrite"
