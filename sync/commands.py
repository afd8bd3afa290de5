"""Commands: intent re-run against the server's *current* state, never a field write.

A status change made offline ("visit done → close the case") is not ``status: {base, new}``: by the time
it arrives the case may have been closed at the counter. The server runs the named command against the
record as it is now; an invalid transition yields a terminal ``rejected`` receipt with a reason that both
the device and the console show. Later mutations of the device still apply (nothing blocks the queue).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CASE_TRANSITIONS",
    "COMMANDS",
    "CommandOutcome",
    "run_command",
]

# Outreach/counter case lifecycle. "closed" is final: reopening means a new case.
CASE_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "waiting", "closed"}),
    "in_progress": frozenset({"waiting", "closed"}),
    "waiting": frozenset({"in_progress", "closed"}),
    "closed": frozenset(),
}

_STATUS_JA = {"open": "受付", "in_progress": "対応中", "waiting": "保留", "closed": "完了"}


@dataclass
class CommandOutcome:
    ok: bool
    fields: dict[str, Any] = field(default_factory=dict)  # new values to write (empty: no change)
    reason: str | None = None
    message: str | None = None


def _set_status(record_type: str, data: Mapping[str, Any] | None, deleted: bool,
                args: Mapping[str, Any]) -> CommandOutcome:
    target = args.get("to")
    if record_type != "case":
        return CommandOutcome(False, reason="unsupported_entity", message="この記録には状態がありません")
    if not isinstance(target, str) or target not in CASE_TRANSITIONS:  # a list or object is no dict key
        return CommandOutcome(False, reason="bad_arguments", message=f"不明な状態です: {target!r}"[:200])
    if data is None or deleted:
        return CommandOutcome(False, reason="not_found", message="対象の案件が見つかりません（削除済み）")
    current = data.get("status") or "open"
    if current == target:
        return CommandOutcome(True)  # already there: the intent holds, nothing to write
    if target not in CASE_TRANSITIONS.get(current, frozenset()):
        if current == "closed":
            return CommandOutcome(False, reason="case_closed",
                                  message="この案件はすでに完了しているため、状態を変更できません")
        return CommandOutcome(False, reason="invalid_transition",
                              message=f"「{_STATUS_JA.get(current, current)}」から"
                                      f"「{_STATUS_JA.get(target, target)}」には変更できません")
    fields: dict[str, Any] = {"status": target}
    return CommandOutcome(True, fields)


def _assign(record_type: str, data: Mapping[str, Any] | None, deleted: bool,
            args: Mapping[str, Any]) -> CommandOutcome:
    """Set who handles a case (``assignee``: an account id), only while the case is not closed."""
    if record_type != "case":
        return CommandOutcome(False, reason="unsupported_entity", message="この記録は担当者を持ちません")
    if data is None or deleted:
        return CommandOutcome(False, reason="not_found", message="対象の案件が見つかりません（削除済み）")
    if (data.get("status") or "open") == "closed":
        return CommandOutcome(False, reason="case_closed", message="完了した案件の担当者は変更できません")
    assignee = args.get("assignee")
    if assignee is not None and not isinstance(assignee, str):
        return CommandOutcome(False, reason="bad_arguments", message="担当者の指定が正しくありません")
    return CommandOutcome(True, {"assignee": assignee})


CommandFn = Callable[[str, Mapping[str, Any] | None, bool, Mapping[str, Any]], CommandOutcome]
COMMANDS: dict[str, CommandFn] = {"set_status": _set_status, "assign": _assign}


def run_command(name: str, args: Mapping[str, Any], record_type: str, data: Mapping[str, Any] | None,
                deleted: bool = False) -> CommandOutcome:
    fn = COMMANDS.get(name)
    if fn is None:
        return CommandOutcome(False, reason="unknown_command", message=f"不明な操作です: {name}")
    return fn(record_type, data, deleted, args)
