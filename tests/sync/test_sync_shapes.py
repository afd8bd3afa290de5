"""Known fields of shared records have a shape (docs/sync.md, "Model"): a push or a conflict resolution that
would store another one is refused with a clear error naming the field, and nothing else of the batch is lost."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

import pytest

from sync.merge import shape_problem
from sync.messages import EntityRef, FieldChange, Mutation, SetOps
from sync.records import SCHEMAS

_SEQ = iter(range(1, 1_000_000))


def _m(client: str, rtype: str, rid: str, changes: dict[str, Any] | None = None, *, base: int | None = None,
       set_ops: dict[str, SetOps] | None = None, kind: str = "record.patch") -> Mutation:
    return Mutation(mutation_id=str(uuid.uuid4()), client_id=client, client_seq=next(_SEQ), kind=kind,  # type: ignore[arg-type]
                    entity=EntityRef(rtype, rid), base_version=base,
                    changes={k: FieldChange(*v) for k, v in (changes or {}).items()}, set_ops=set_ops or {})


def _data(env: Any, rtype: str, rid: str) -> list[Any]:
    with sqlite3.connect(env.db) as c:
        return c.execute("SELECT version, data FROM sync_records WHERE type = ? AND id = ?", (rtype, rid)).fetchall()


# (record type, field, value) a device must not be able to store, and the field the message must name.
_JUNK = [
    ("household", "notes", "訪問しました"),
    ("household", "contact_log", {"id": "c1", "text": "電話"}),
    ("resident", "contact_log", [{"text": "id のない記録"}]),
    ("case", "notes", [[1, 2]]),
    ("household", "members", 5),
    ("household", "members", [{"id": 7}]),
    ("household", "head_name", [1]),
    ("household", "head_name", {"family": "山田", "given": "太郎", "extra": 1}),
    ("resident", "name", 5),
    ("resident", "name", "山田 太郎"),
    ("resident", "name_kana", {"family": 1}),
    ("resident", "birth_date", "x"),
    ("resident", "birth_date", "1948-13"),
    ("resident", "birth_date", "1948-02-30"),
    ("resident", "birth_date", 19481103),
    ("resident", "phone", 9012345678),
    ("household", "address", "住" * 10_001),
    ("household", "department", ["shimin"]),
    ("case", "visits", [{"at": "2026-01-01"}]),
    ("draft", "madoguchi", "bundle"),
]


@pytest.mark.parametrize(("rtype", "name", "value"), _JUNK)
def test_the_shape_rule_names_the_field(rtype: str, name: str, value: Any) -> None:
    problem = shape_problem(SCHEMAS[rtype], {name: FieldChange(None, value)}, None)
    assert problem is not None and problem.startswith(f"{name}: ")


@pytest.mark.parametrize(("rtype", "changes"), [
    ("resident", {"name": {"family": "山田", "given": ""}, "name_kana": None, "birth_date": "1950-03",
                  "phone": "090-1111-2222", "relationship": "子"}),
    ("resident", {"birth_date": "1948-11-03", "notes": ["文字の記録", 3, True]}),
    ("household", {"head_name": {"family": "山田", "given": "太郎"}, "address": "本町1-1", "members": [],
                   "contact_log": [{"id": "c1", "at": "2026-01-01T00:00:00Z", "by": "", "text": "電話"}]}),
    ("household", {"anything_else": {"a": [1, {"b": None}]}, "department": "shimin"}),
    ("case", {"visits": [{"id": "v1", "at": "2026-01-01"}], "title": 5}),
    ("draft", {"name": 5, "members": "free-form answers", "birth_date": "x",
               "madoguchi": {"kind": "draft", "title": None, "anything": [1]}}),
])
def test_values_of_the_documented_shapes_and_unknown_fields_pass(rtype: str, changes: dict[str, Any]) -> None:
    assert shape_problem(SCHEMAS[rtype], {k: FieldChange(None, v) for k, v in changes.items()}, None) is None


def test_junk_in_a_known_field_is_rejected_per_mutation_and_the_rest_applies(env: Any) -> None:
    _, s = env.account("counter")
    t = env.http(s)
    ids = [f"junk-{i}-{uuid.uuid4()}" for i in range(len(_JUNK))]
    good = f"good-{uuid.uuid4()}"
    batch = [_m("dev-junk", rtype, rid, {name: (None, value)}, kind="draft.patch" if rtype == "draft" else "record.patch")
             for (rtype, name, value), rid in zip(_JUNK, ids, strict=True)]
    batch.insert(3, _m("dev-junk", "resident", good, {"name": (None, {"family": "山田", "given": "花子"}),
                                                      "birth_date": (None, "1950-03")}))
    receipts = t.push(batch)
    ok = receipts.pop(3)
    assert ok.status == "applied" and _data(env, "resident", good)[0][0] == 1
    assert [(r.status, r.reason) for r in receipts] == [("rejected", "bad_request")] * len(_JUNK)
    for (_, name, _), r in zip(_JUNK, receipts, strict=True):
        assert r.message and f"{name}: expected" in r.message
    for (rtype, _, _), rid in zip(_JUNK, ids, strict=True):
        assert _data(env, rtype, rid) == []  # nothing stored


def test_set_ops_with_id_less_elements_or_on_a_field_that_is_not_a_set_are_rejected(env: Any) -> None:
    _, s = env.account("counter")
    t = env.http(s)
    hid = f"h-{uuid.uuid4()}"
    first = t.push([_m("dev-ops", "household", hid, set_ops={"members": SetOps(add=[{"id": "m1", "relationship": "子"}])})])[0]
    assert first.status == "applied"
    refused = t.push([
        _m("dev-ops", "household", hid, base=1, set_ops={"members": SetOps(add=[{"id": 7, "relationship": "妻"}])}),
        _m("dev-ops", "household", hid, base=1, set_ops={"members": SetOps(add=[{"relationship": "妻"}])}),
        _m("dev-ops", "household", hid, base=1, set_ops={"head_name": SetOps(add=[{"id": "x"}])}),
        _m("dev-ops", "household", hid, base=1, set_ops={"contact_log": SetOps(add=[{"id": "x"}])}),
    ])
    assert [(r.status, r.reason) for r in refused] == [("rejected", "bad_request")] * 4
    assert [r.message is not None and n in r.message for r, n in zip(
        refused, ["members", "members", "head_name", "contact_log"], strict=True)] == [True] * 4
    assert _data(env, "household", hid) == [(1, '{"members":[{"id":"m1","relationship":"子"}]}')]


def test_a_base_version_the_record_never_had_is_judged_against_the_whole_history(env: Any) -> None:
    """An edit made against versions a restored database lost is neither refused nor written over someone
    else's value: a field the device saw as it is applies, any other clashes and is kept by its policy."""
    _, s = env.account("counter")
    t = env.http(s)
    hid = f"h-{uuid.uuid4()}"
    name = {"family": "山田", "given": "太郎"}
    assert t.push([_m("dev-bv", "household", hid, {"address": (None, "札幌"), "address_notes": (None, "裏口"),
                                                   "head_name": (None, name)})])[0].status == "applied"
    assert t.push([_m("dev-bv-other", "household", hid, {"address": ("札幌", "函館"),
                                                         "head_name": (name, {**name, "given": "太一"})},
                      base=1)])[0].status == "applied"
    # A device back from a restore edits from version 7, which this database never had.
    r = t.push([_m("dev-bv-restored", "household", hid,
                   {"address": ("札幌", "仙台"), "address_notes": ("裏口", "表口"),
                    "head_name": (name, {**name, "given": "次郎"})}, base=7)])[0]
    assert r.status == "conflict"
    outcomes = {c.field: c.outcome for c in r.conflicts}
    assert outcomes == {"address": "mine_applied", "head_name": "server_kept"}
    version, data = _data(env, "household", hid)[0]
    assert version == 3
    assert json.loads(data) == {"address": "仙台", "address_notes": "表口", "head_name": {**name, "given": "太一"}}
    # A delete from a lost version is refused when anyone else ever changed the record, and recorded.
    d = t.push([_m("dev-bv-restored", "household", hid, base=9, kind="record.delete")])[0]
    assert d.status == "conflict" and d.conflicts[0].outcome == "delete_refused"


def _review_conflict(env: Any, t: Any, client: str) -> tuple[str, int]:
    """A household whose ``head_name`` two devices edited from version 1: one open ``server_kept`` conflict."""
    hid = f"h-{uuid.uuid4()}"
    t.push([_m(client, "household", hid, {"head_name": (None, {"family": "山田", "given": "太郎"}),
                                           "members": (None, [{"id": "m1", "relationship": "子"}])})])
    t.push([_m(client + "-a", "household", hid, {"head_name": ({"family": "山田", "given": "太郎"},
                                                               {"family": "山田", "given": "太一"})}, base=1)])
    r = t.push([_m(client + "-b", "household", hid, {"head_name": ({"family": "山田", "given": "太郎"},
                                                                   {"family": "山田", "given": "次郎"})}, base=1)])[0]
    assert r.status == "conflict" and r.conflicts[0].conflict_id is not None
    return hid, r.conflicts[0].conflict_id


def test_a_custom_resolution_meets_the_same_shape_rule(env: Any, raw: Any) -> None:
    _, s = env.account("counter")
    t = env.http(s)
    hid, cid = _review_conflict(env, t, "dev-res")
    before = _data(env, "household", hid)
    for bad in (5, [1], "山田 次郎", {"family": "山田", "given": 2}):
        resp = raw(s, "POST", f"/api/conflicts/{cid}/resolve", json={"choice": "custom", "value": bad})
        assert resp.status_code == 422, bad
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert "head_name" in resp.json()["detail"]
    form = raw(s, "POST", f"/console/conflicts/{cid}/resolve", data={"choice": "custom", "value": "[1]"})
    assert form.status_code == 422 and "head_name" in form.text and "審査コンソール" in form.text
    assert raw(s, "GET", f"/api/conflicts/{cid}").json()["status"] == "open"
    assert _data(env, "household", hid) == before
    fine = {"family": "山田", "given": "次郎"}
    done = raw(s, "POST", f"/api/conflicts/{cid}/resolve", json={"choice": "custom", "value": fine})
    assert done.status_code == 200 and done.json()["status"] == "resolved"


def test_a_custom_set_element_keeps_its_id_and_a_set_field_stays_a_list(env: Any, raw: Any) -> None:
    _, s = env.account("counter")
    t = env.http(s)
    hid = f"h-{uuid.uuid4()}"
    t.push([_m("dev-el", "household", hid, set_ops={"members": SetOps(add=[{"id": "m1", "relationship": "子"}])})])
    t.push([_m("dev-el-a", "household", hid, base=1, set_ops={"members": SetOps(add=[{"id": "m1", "relationship": "妻"}])})])
    r = t.push([_m("dev-el-b", "household", hid, base=1,
                   set_ops={"members": SetOps(add=[{"id": "m1", "relationship": "夫"}])})])[0]
    assert r.status == "conflict" and r.conflicts[0].field == "members[m1]"
    cid = r.conflicts[0].conflict_id
    before = _data(env, "household", hid)
    for bad in ({"id": "m2", "relationship": "夫"}, {"relationship": "夫"}, 5):
        resp = raw(s, "POST", f"/api/conflicts/{cid}/resolve", json={"choice": "custom", "value": bad})
        assert resp.status_code == 422 and "members" in resp.json()["detail"], bad
    assert _data(env, "household", hid) == before
    ok = raw(s, "POST", f"/api/conflicts/{cid}/resolve", json={"choice": "custom", "value": {"id": "m1", "relationship": "配偶者"}})
    assert ok.status_code == 200
    # A whole-field conflict of a set field (auto policy on a stale edit is per element; a custom value for an
    # edit of a deleted record is checked field by field).
    gone = f"h-{uuid.uuid4()}"
    t.push([_m("dev-del", "household", gone, {"address": (None, "札幌")})])
    t.push([_m("dev-del", "household", gone, base=1, kind="record.delete")])
    r = t.push([_m("dev-del-b", "household", gone, {"address": ("札幌", "仙台")}, base=1)])[0]
    assert r.conflicts[0].outcome == "edit_on_deleted"
    resp = raw(s, "POST", f"/api/conflicts/{r.conflicts[0].conflict_id}/resolve",
               json={"choice": "custom", "value": {"address": "仙台", "members": 5}})
    assert resp.status_code == 422 and "members" in resp.json()["detail"]
    assert _data(env, "household", gone)[0][0] == 2


def test_an_entry_stored_before_the_rules_does_not_block_the_next_one() -> None:
    """Only what the user adds is checked: a log holding an old id-less entry still takes a new entry."""
    old = [{"text": "id のない古い記録"}]
    new = [*old, {"id": "c2", "text": "電話"}]
    schema = SCHEMAS["household"]
    assert shape_problem(schema, {"contact_log": FieldChange(old, new)}, None) is None
    assert shape_problem(schema, {"contact_log": FieldChange(old, [*new, {"text": "新しいのに id なし"}])},
                         None) is not None
    assert shape_problem(schema, {"members": FieldChange([{"id": 7}], [{"id": 7}, {"id": "m2"}])}, None) is None
