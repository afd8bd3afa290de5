"""Property tests of the pure merge rules (sync/merge.py), the HLC and commands."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.commands import run_command
from sync.hlc import HLC, parse
from sync.merge import HistoryEntry, RecordSchema, RecordState, merge_delete, merge_patch, same
from sync.messages import FieldChange, SetOps

FIELDS = ["a", "b", "c", "d"]
values = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from(["x", "y", "z", "山田"]), st.booleans())
policies = st.sampled_from(["auto", "review"])
schemas = st.fixed_dictionaries({f: policies for f in FIELDS}).map(lambda p: RecordSchema(policies=p))
clients = st.sampled_from(["me", "other", "third"])


@st.composite
def scenario(draw: Any) -> dict[str, Any]:
    data = {f: draw(values) for f in FIELDS}
    version = draw(st.integers(1, 6))
    base_version = draw(st.integers(0, version))
    history = [HistoryEntry(v, draw(clients), draw(st.integers(0, 9)),
                            frozenset(draw(st.lists(st.sampled_from(FIELDS), max_size=3))))
               for v in range(base_version + 1, version + 1)]
    changed = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True))
    changes = {f: FieldChange(base=draw(values), new=draw(values)) for f in changed}
    return {"state": RecordState(version, data), "history": history, "changes": changes,
            "base_version": base_version, "seq": draw(st.integers(0, 9))}


def _run(sc: dict[str, Any], schema: RecordSchema) -> Any:
    return merge_patch(copy.deepcopy(sc["state"]), changes=sc["changes"], set_ops={},
                       base_version=sc["base_version"], client_id="me", client_seq=sc["seq"], schema=schema,
                       history=sc["history"])


@settings(max_examples=300)
@given(scenario(), schemas)
def test_merge_is_deterministic(sc: dict[str, Any], schema: RecordSchema) -> None:
    a, b = _run(sc, schema), _run(sc, schema)
    assert a.data == b.data and a.status == b.status and a.conflicts == b.conflicts and a.changed == b.changed


@settings(max_examples=300)
@given(scenario(), schemas)
def test_nothing_is_lost(sc: dict[str, Any], schema: RecordSchema) -> None:
    res = _run(sc, schema)
    server_before = sc["state"].data
    for f, ch in sc["changes"].items():
        applied = same(res.data.get(f), ch.new)
        recorded = [c for c in res.conflicts if c.field == f]
        if recorded:
            (c,) = recorded
            # The clash keeps all three values.
            assert same(c.mine, ch.new) and same(c.base, ch.base) and same(c.server, server_before.get(f))
            if c.outcome == "server_kept":
                assert schema.policy(f) == "review" and same(res.data.get(f), server_before.get(f))
            else:
                assert schema.policy(f) == "auto" and applied
        else:
            # Not applied only when the device's own later edit superseded it.
            assert applied or f in res.superseded
    for f in FIELDS:
        if f not in sc["changes"]:
            assert same(res.data.get(f), server_before.get(f))  # untouched fields stay


@given(scenario(), schemas)
def test_self_lineage_never_conflicts(sc: dict[str, Any], schema: RecordSchema) -> None:
    history = [HistoryEntry(h.version, "me", 0, h.fields) for h in sc["history"]]
    res = _run({**sc, "history": history}, schema)
    # Every intervening version is mine: a stale base is not a clash unless the base itself is off.
    for c in res.conflicts:
        assert not [h for h in history if c.field in h.fields]


@given(st.lists(st.sampled_from(["n1", "n2", "n3", "n4"]), max_size=4, unique=True),
       st.lists(st.sampled_from(["n1", "n2", "n3", "n4", "n5"]), max_size=4, unique=True),
       st.lists(st.sampled_from(["n1", "n2", "n3", "n4", "n5"]), max_size=4))
def test_append_never_conflicts_and_keeps_everything(base: list[str], server_extra: list[str], mine_extra: list[str]) -> None:
    ent = [{"id": x, "text": x} for x in base]
    server = ent + [{"id": x, "text": x} for x in server_extra if x not in base]
    mine = ent + [{"id": x, "text": x} for x in mine_extra if x not in base]
    res = merge_patch(RecordState(3, {"notes": server}), changes={"notes": FieldChange(ent, mine)}, set_ops={},
                      base_version=1, client_id="me", client_seq=1,
                      schema=RecordSchema(policies={"notes": "append"}),
                      history=[HistoryEntry(2, "other", 1, frozenset({"notes"})),
                               HistoryEntry(3, "other", 2, frozenset({"notes"}))])
    assert res.conflicts == []
    ids = [e["id"] for e in res.data["notes"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {e["id"] for e in server} | {e["id"] for e in mine}
    assert ids[: len(server)] == [e["id"] for e in server]  # appended after what the server had


@given(st.sampled_from(["add_then_remove", "remove_then_add"]), st.booleans())
def test_set_add_wins_over_concurrent_remove(order: str, edit: bool) -> None:
    schema = RecordSchema(policies={"members": "set"})
    el = {"id": "m1", "name": "花子"}
    state = RecordState(1, {"members": [el]}, meta={"members": {"el": {"m1": [1, "x", 1]}, "tomb": {}}})
    other = {"id": "m1", "name": "花子 (更新)"} if edit else {"id": "m2", "name": "太郎"}
    # Two devices both saw version 1: one re-adds/edits (or adds m2), the other removes m1.
    add = {"set_ops": {"members": SetOps(add=[other])}, "client_id": "A", "client_seq": 1}
    rem = {"set_ops": {"members": SetOps(remove=["m1"])}, "client_id": "B", "client_seq": 1}
    first, second = (add, rem) if order == "add_then_remove" else (rem, add)
    r1 = merge_patch(state, changes={}, base_version=1, schema=schema, **first)
    s2 = RecordState(2, r1.data, meta=r1.meta)
    r2 = merge_patch(s2, changes={}, base_version=1, schema=schema,
                     history=[HistoryEntry(2, first["client_id"], 1, frozenset({"members"}))], **second)
    ids = {e["id"] for e in r2.data["members"]}
    assert other["id"] in ids  # the add always survives
    if edit:
        assert ids == {"m1"}  # the edited element beats the concurrent removal
        assert order == "remove_then_add" or any(c.outcome == "add_wins" for c in r2.conflicts)
    else:
        assert "m1" not in ids  # unrelated removal still applies


@given(st.integers(0, 5), st.booleans())
def test_edit_vs_delete_never_silently_resurrects(extra: int, foreign: bool) -> None:
    state = RecordState(2, {"a": "x"}, deleted=True)
    hist = [HistoryEntry(2, "other" if foreign else "me", 9 if not foreign else 1, frozenset({"_deleted"}))]
    res = merge_patch(state, changes={"a": FieldChange("x", "y")}, set_ops={}, base_version=1, client_id="me",
                      client_seq=extra, schema=RecordSchema(), history=hist)
    assert res.deleted and res.changed == set()
    if foreign:
        assert res.status == "conflict" and res.conflicts[0].mine == {"a": "y"}
    else:
        assert res.superseded  # my own later delete wins over my older edit


def test_stale_delete_of_edited_record_is_refused() -> None:
    st_ = RecordState(3, {"a": "new"})
    res = merge_delete(st_, base_version=1, client_id="me", client_seq=1,
                       history=[HistoryEntry(2, "me", 0, frozenset({"a"})), HistoryEntry(3, "other", 0, frozenset({"a"}))])
    assert not res.deleted and res.conflicts[0].outcome == "delete_refused"
    ok = merge_delete(st_, base_version=1, client_id="me", client_seq=5,
                      history=[HistoryEntry(2, "me", 1, frozenset({"a"})), HistoryEntry(3, "me", 2, frozenset({"a"}))])
    assert ok.deleted and ok.conflicts == []


def test_reordered_own_edits_end_as_in_order() -> None:
    schema = RecordSchema()
    s = RecordState(1, {"a": "x"})
    m1 = {"changes": {"a": FieldChange("x", "y")}, "client_seq": 1}
    m2 = {"changes": {"a": FieldChange("y", "z")}, "client_seq": 2}
    r2 = merge_patch(s, set_ops={}, base_version=1, client_id="me", schema=schema, **m2)
    s2 = RecordState(2, r2.data)
    r1 = merge_patch(s2, set_ops={}, base_version=1, client_id="me", schema=schema,
                     history=[HistoryEntry(2, "me", 2, frozenset({"a"}))], **m1)
    assert r1.data["a"] == "z" and "a" in r1.superseded


@given(st.lists(st.integers(0, 5), min_size=1, max_size=30))
def test_hlc_is_monotonic_even_when_the_clock_goes_back(steps: list[int]) -> None:
    t = [1_000_000]
    clock = HLC("dev", clock=lambda: t[0])
    last = clock.now()
    for s in steps:
        t[0] += s - 2  # sometimes backwards
        now = clock.now()
        assert now > last and parse(str(now)) == now
        last = now


def test_hlc_flags_a_clock_a_year_ahead() -> None:
    year = 365 * 86400 * 1000
    local = HLC("server", clock=lambda: 10 * year)
    remote = HLC("phone", clock=lambda: 11 * year).now()
    stamp, flagged = local.receive(remote)
    assert flagged and stamp.wall_ms == 10 * year  # not dragged a year forward
    ok, flagged2 = local.receive(HLC("p2", clock=lambda: 10 * year + 1000).now())
    assert not flagged2 and ok.wall_ms == 10 * year + 1000


def test_status_command_on_closed_case_is_rejected_with_reason() -> None:
    out = run_command("set_status", {"to": "in_progress"}, "case", {"status": "closed"})
    assert not out.ok and out.reason == "case_closed" and out.message
    assert run_command("set_status", {"to": "closed"}, "case", {"status": "in_progress"}).fields == {"status": "closed"}
    assert run_command("nope", {}, "case", {}).reason == "unknown_command"


def test_set_status_refuses_any_target_that_is_not_a_status_name() -> None:
    """Arguments come from devices: a list or an object as the target is bad_arguments, never a TypeError
    (which the push would turn into a terminal internal_error)."""
    for to in (["closed"], {"a": 1}, 5, None, True):
        out = run_command("set_status", {"to": to}, "case", {"status": "open"})
        assert (out.ok, out.reason) == (False, "bad_arguments"), to


def test_assignees_are_a_list_of_account_ids_whatever_a_device_sends() -> None:
    """``assignees`` comes from device data: anything but a list (true, a number, a string, an object) names
    nobody (a string is not a list of one-letter accounts), and never raises."""
    from sync.records import assignees_of

    for junk in (True, 5, 1.5, "abc", {"acc-1": 1}, None):
        assert assignees_of({"assignees": junk}, "me") == {"me"}, junk
    assert assignees_of({"assignees": ["acc-1", 2, {"x": 1}], "assignee": "acc-2"}, None) == {"acc-1", "acc-2"}
