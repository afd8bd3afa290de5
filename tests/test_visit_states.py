"""The visit state machine, exhaustively: every visit state × part state × action × who asks."""

from __future__ import annotations

import itertools

import pytest

from server.visit_states import (
    PART_ACTIONS,
    PART_STATES,
    VISIT_ACTIONS,
    VISIT_STATES,
    Outcome,
    Refused,
    part_step,
    visit_step,
)

# Who asks, relative to the part's holder: the holder themself, another clerk, another clerk allowed to
# override (an admin). A waiting part has no holder: "self" and "other" are then both someone who holds nothing.
WHO = ("self", "other", "override")
W, P, D = "waiting", "in_progress", "done"
TAKEN, NOT_TAKEN, DONE = "part-taken", "part-not-in-progress", "part-done"

# (part state, action) -> expected per who: a (state, changed) pair or an error code. Written from the brief's
# rules, not from the code: take a waiting part; the holder completes, hands back or marks 確認・審査・交付 while in
# progress (an admin may for someone else); repeats change nothing; attaching work to a done part makes it wait.
EXPECTED: dict[tuple[str, str], dict[str, tuple[str, bool] | str]] = {
    (W, "take"): {"self": (P, True), "other": (P, True), "override": (P, True)},
    (W, "complete"): dict.fromkeys(WHO, NOT_TAKEN),
    (W, "release"): dict.fromkeys(WHO, (W, False)),
    (W, "attach"): dict.fromkeys(WHO, (W, True)),
    (P, "take"): {"self": (P, False), "other": TAKEN, "override": TAKEN},
    (P, "complete"): {"self": (D, True), "other": TAKEN, "override": (D, True)},
    (P, "release"): {"self": (W, True), "other": TAKEN, "override": (W, True)},
    (P, "attach"): dict.fromkeys(WHO, (P, True)),
    (D, "take"): dict.fromkeys(WHO, DONE),
    (D, "complete"): dict.fromkeys(WHO, (D, False)),
    (D, "release"): dict.fromkeys(WHO, DONE),
    (D, "attach"): dict.fromkeys(WHO, (W, True)),
}
for mark in ("confirm", "review", "issue"):
    EXPECTED[(W, mark)] = dict.fromkeys(WHO, NOT_TAKEN)
    EXPECTED[(P, mark)] = {"self": (P, True), "other": TAKEN, "override": (P, True)}
    EXPECTED[(D, mark)] = dict.fromkeys(WHO, DONE)


def test_the_table_covers_every_state_and_action() -> None:
    assert set(EXPECTED) == set(itertools.product(PART_STATES, PART_ACTIONS))


@pytest.mark.parametrize(("visit", "state", "action", "who"),
                         list(itertools.product(VISIT_STATES, PART_STATES, PART_ACTIONS, WHO)))
def test_part_step(visit: str, state: str, action: str, who: str) -> None:
    holder = None if state == W else ("clerk-a" if who == "self" else "clerk-b")
    got = part_step(visit=visit, state=state, holder=holder, action=action, actor="clerk-a",  # type: ignore[arg-type]
                    override=who == "override")
    if visit == "closed":
        assert got == Refused("visit-closed", got.detail if isinstance(got, Refused) else "")
        return
    want = EXPECTED[(state, action)][who]
    if isinstance(want, str):
        assert isinstance(got, Refused) and got.code == want, got
    else:
        assert got == Outcome(*want)


CLOSE_CASES = [  # (visit, part states) -> expected for close
    ("open", [], ("closed", True)),  # no part at all: a reception to cancel (nothing for a department)
    ("open", [D], ("closed", True)),
    ("open", [D, D], ("closed", True)),
    ("open", [D, W], "parts-not-done"),
    ("open", [P, D], "parts-not-done"),
    ("open", [W], "parts-not-done"),
    ("closed", [D], ("closed", False)),
    ("closed", [], ("closed", False)),
]


@pytest.mark.parametrize(("visit", "states", "want"), CLOSE_CASES)
def test_close(visit: str, states: list[str], want: tuple[str, bool] | str) -> None:
    got = visit_step(visit=visit, part_states=states, action="close")
    if isinstance(want, str):
        assert isinstance(got, Refused) and got.code == want
    else:
        assert got == Outcome(*want)


@pytest.mark.parametrize(("visit", "action"), list(itertools.product(VISIT_STATES, VISIT_ACTIONS)))
def test_every_visit_state_and_action_answers(visit: str, action: str) -> None:
    for states in ([], [W], [P], [D]):
        got = visit_step(visit=visit, part_states=states, action=action)  # type: ignore[arg-type]
        if action == "reopen":
            assert got == Outcome("open", visit == "closed")
        else:
            assert isinstance(got, (Outcome, Refused))
            assert (got == Outcome("closed", False)) if visit == "closed" else (
                got == Outcome("closed", True) if states in ([], [D]) else isinstance(got, Refused))


def test_the_last_part_completed_closes_the_visit_unless_an_interview_is_open() -> None:
    from server.visit_states import closes_after_completion

    assert closes_after_completion(part_states=["done", "done"], interview_open=False)
    assert not closes_after_completion(part_states=["done", "done"], interview_open=True)
    assert not closes_after_completion(part_states=["done", "waiting"], interview_open=False)
    assert not closes_after_completion(part_states=[], interview_open=False)
