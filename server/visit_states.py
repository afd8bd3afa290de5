"""The visit's state machine: which step a visit or one of its department parts may take next (pure, no I/O).

A visit (来庁) is the unit of work at the counter: one resident, one booth, and one PART per department involved.
A part is ``waiting`` until a clerk of its department takes it (「担当します」: ``in_progress``, the clerk and the
booth recorded), then ``done`` when they complete it, or back to ``waiting`` when they hand it back (「戻す」).
A visit with parts closes only when every part is done; a visit with no part at all (a mistaken or abandoned
reception: nothing to hand to a department) may close at once, so that it does not stay open for ever and capture
the resident's next reception (one open visit per resident). Counter staff may reopen a closed visit (a
department forgotten at the door) and attaching new work to a done part makes it wait again.

Who may ask for a step is the policy's (``server.auth.roles``: department staff or counter/admin); closing is the
desk's, except that completing the last part closes the visit with it (``server.auth.roles``, "the last part
closes the visit": a consequence of completing, decided by storage, not a permission to close). This module
only says whether the step fits the current state, and answers a repeated step (a double click, a retry) as
"nothing to do" instead of an error. Storage (``server.storage.visits``) calls it inside the write job, so two
clerks taking the same part at once are decided here: the second one finds it in progress and gets
``part-taken``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "MARK_STEPS",
    "PARTS_NOT_DONE",
    "PART_ACTIONS",
    "PART_DONE",
    "PART_NOT_TAKEN",
    "PART_STATES",
    "PART_TAKEN",
    "VISIT_ACTIONS",
    "VISIT_CLOSED",
    "VISIT_STATES",
    "Outcome",
    "PartAction",
    "Refused",
    "VisitAction",
    "closes_after_completion",
    "part_step",
    "visit_step",
]

PART_STATES: Final = ("waiting", "in_progress", "done")
VISIT_STATES: Final = ("open", "closed")
# take: 担当します; complete: 完了; release: 戻す (hand it back to waiting); attach: more submissions for the part;
# confirm / review / issue: the department's 確認・審査・交付 timestamps while it works on the part.
PART_ACTIONS: Final = ("take", "complete", "release", "attach", "confirm", "review", "issue")
MARK_STEPS: Final = ("confirm", "review", "issue")
VISIT_ACTIONS: Final = ("close", "reopen")

PartAction = Literal["take", "complete", "release", "attach", "confirm", "review", "issue"]
VisitAction = Literal["close", "reopen"]


@dataclass(frozen=True)
class Outcome:
    """An allowed step: the state after it, and whether anything changes (False: a repeat, nothing to write)."""

    state: str
    changed: bool


@dataclass(frozen=True)
class Refused:
    """A refused step: ``code`` is the problem type slug (HTTP 409), ``detail`` says why in English."""

    code: str
    detail: str


# Error codes (problem type slugs, all 409 Conflict: the request is fine, the visit's state forbids it).
VISIT_CLOSED: Final = "visit-closed"            # a part's step on a closed visit (reopen it first)
PART_TAKEN: Final = "part-taken"                # someone else has the part in progress
PART_NOT_TAKEN: Final = "part-not-in-progress"  # complete / hand back / mark a part nobody has taken
PART_DONE: Final = "part-done"                  # take / hand back / mark a completed part
PARTS_NOT_DONE: Final = "parts-not-done"        # close while a part is waiting or in progress


def part_step(*, visit: str, state: str, holder: str | None, action: PartAction, actor: str,
              override: bool = False) -> Outcome | Refused:
    """Whether ``actor`` may do ``action`` on a part in ``state`` held by ``holder`` (None: nobody).

    ``override``: the actor may act on a part someone else holds (admins: a clerk went home with a part in
    progress). Completing, handing back and marking are the holder's; a repeat by the same person is allowed
    and changes nothing (take twice, complete twice, hand back a waiting part).
    """
    if visit == "closed":
        return Refused(VISIT_CLOSED, "The visit is closed")
    mine = holder == actor or override
    if action == "attach":
        # New submissions for a completed part: the department has work again.
        return Outcome("waiting", True) if state == "done" else Outcome(state, True)
    if action == "take":
        if state == "waiting":
            return Outcome("in_progress", True)
        if state == "in_progress":
            return Outcome(state, False) if holder == actor else Refused(PART_TAKEN, "Someone else took this part")
        return Refused(PART_DONE, "The part is done")
    if action == "complete":
        if state == "in_progress":
            return Outcome("done", True) if mine else Refused(PART_TAKEN, "Someone else has this part")
        if state == "done":
            return Outcome(state, False)
        return Refused(PART_NOT_TAKEN, "Take the part before completing it")
    if action == "release":
        if state == "in_progress":
            return Outcome("waiting", True) if mine else Refused(PART_TAKEN, "Someone else has this part")
        if state == "waiting":
            return Outcome(state, False)
        return Refused(PART_DONE, "The part is done")
    # confirm / review / issue: a timestamp while the part is worked on; each may be recorded again.
    if state == "in_progress":
        return Outcome(state, True) if mine else Refused(PART_TAKEN, "Someone else has this part")
    if state == "done":
        return Refused(PART_DONE, "The part is done")
    return Refused(PART_NOT_TAKEN, "Take the part first")


def closes_after_completion(*, part_states: list[str], interview_open: bool) -> bool:
    """Whether completing a part closes the visit: the last part done (every part ``done``), unless an interview of
    the visit is still open (聞き取り中: its filing adds parts, or the counter closes the visit when the resident
    leaves)."""
    return bool(part_states) and all(s == "done" for s in part_states) and not interview_open


def visit_step(*, visit: str, part_states: list[str], action: VisitAction) -> Outcome | Refused:
    """Whether the visit may close (every part done; a visit with no part closes at once: a reception to
    cancel) or reopen; repeats change nothing."""
    if action == "close":
        if visit == "closed":
            return Outcome("closed", False)
        if any(s != "done" for s in part_states):
            return Refused(PARTS_NOT_DONE, "Every part must be done before the visit closes")
        return Outcome("closed", True)
    return Outcome("open", visit == "closed")
