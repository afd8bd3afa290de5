"""What a member's entry adds within the viewer's own registry household: the 本籍 and 筆頭者 (member attributes
``honseki``/``honseki_head_name``, 住民基本台帳法第12条) and ``has_spouse`` (one of the household's married couple),
never for transfer movers nor about a person under 支援措置 (server.disclosure, the one rule). A real server on
loopback with a SQLite file, and the rule itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from server.demo import DEMO_RESIDENTS, DEMO_TRANSFERS
from server.registry import ResidentRecord, SQLiteRegistry, import_transfers, profile_from_record
from server.transfer import InMemoryMovingService
from tests.server.conftest import start_server
from testsupport.servers import AppServer


def _rec(rid: str) -> ResidentRecord:
    return next(r for r in DEMO_RESIDENTS if r.id == rid)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_server(tmp_path_factory.mktemp("honseki"), [])
    # The 鈴木 household (incoming transfer) gets a 本籍 here, so that the transfer case below can fail.
    suzuki = {"honseki": "神奈川県横浜市中区山下町1番", "honseki_head": {"family": "鈴木", "given": "大輔"}}
    records = [msgspec.structs.replace(r, **suzuki) if r.id in ("R0011", "R0012") else r for r in DEMO_RESIDENTS]
    s.db.write_sync(lambda c: SQLiteRegistry.upsert(c, records))
    s.db.write_sync(lambda c: import_transfers(c, InMemoryMovingService(DEMO_TRANSFERS), ["R0011"]))
    yield s
    s.stop()


def _members(srv: AppServer, rid: str, key: str = "household_members") -> list[dict[str, Any]]:
    r = srv.login("resident", resident_id=rid).get("/api/me/profile")
    assert r.status_code == 200, r.text
    members: list[dict[str, Any]] = r.json()["profile"][key]
    return members


def test_household_members_carry_the_honseki_of_their_own_record(srv: AppServer) -> None:
    members = _members(srv, "R0002")
    assert {m["member_id"] for m in members} == {"R0001", "R0002", "R0003"}
    for m in members:
        rec = _rec(m["member_id"])
        assert rec.honseki and m["honseki"] == rec.honseki
        assert m["honseki_head_name"] == rec.honseki_head


def test_a_member_whose_record_has_no_honseki_has_none(srv: AppServer) -> None:
    # 髙橋 (R0005/R0006): the registry holds no 本籍 for them here: nothing is made up.
    for m in _members(srv, "R0005"):
        assert "honseki" not in m and "honseki_head_name" not in m


def test_transfer_movers_never_carry_a_honseki(srv: AppServer) -> None:
    # Even when the registry record of a mover holds one: the movers are not the resident's household yet.
    assert all(m["honseki"] == "神奈川県横浜市中区山下町1番" for m in _members(srv, "R0011"))
    movers = _members(srv, "R0011", "transfer_movers")
    assert movers and all("honseki" not in m and "honseki_head_name" not in m for m in movers)


def test_honseki_is_only_for_the_same_household_and_never_for_a_restricted_person() -> None:
    head = msgspec.structs.replace(_rec("R0014"), honseki="東京都千代田区神田錦町3番",
                                   honseki_head={"family": "小林", "given": "直樹"})
    hidden = msgspec.structs.replace(_rec("R0015"), honseki="大阪府大阪市北区1番",
                                     honseki_head={"family": "佐藤", "given": "一"})
    assert hidden.disclosure_restricted
    seen_by_head = profile_from_record(head, [head, hidden])["household_members"]
    assert [m["member_id"] for m in seen_by_head] == ["R0014"]  # her 本籍 not either: she is not listed
    assert "大阪府大阪市北区1番" not in str(seen_by_head)
    own = profile_from_record(hidden, [head, hidden])["household_members"]
    assert [m.get("honseki") for m in own] == ["東京都千代田区神田錦町3番", "大阪府大阪市北区1番"]


def test_the_households_married_couple_say_they_have_a_spouse(srv: AppServer) -> None:
    # 山田: the head (R0001) and his 妻 (R0002); their child (R0003) has none on the registry: absent, never false.
    members = _members(srv, "R0003")
    has = {m["member_id"]: m.get("has_spouse") for m in members}
    assert has == {"R0001": True, "R0002": True, "R0003": None}
    # Each with the other one's birth date (listed on the other's entry anyway).
    born = {m["member_id"]: m.get("spouse_birth_date") for m in members}
    assert born == {"R0001": _rec("R0002").birth_date, "R0002": _rec("R0001").birth_date, "R0003": None}
    # 髙橋 (R0005 世帯主, R0006 妻): the same rule in another household.
    assert all(m.get("has_spouse") is True for m in _members(srv, "R0006"))


def test_a_spouse_under_restriction_is_not_even_implied() -> None:
    head, hidden = _rec("R0014"), _rec("R0015")
    seen_by_head = profile_from_record(head, [head, hidden])["household_members"]
    assert not {"has_spouse", "spouse_birth_date"} & set(seen_by_head[0])  # her existence is not told
    assert "1972-04-04" not in str(seen_by_head)
    own = profile_from_record(hidden, [head, hidden])["household_members"]
    assert [m.get("has_spouse") for m in own] == [True, True]
    assert [m.get("spouse_birth_date") for m in own] == [hidden.birth_date, head.birth_date]


@pytest.mark.parametrize("head_family", ["小林", "小󠄀林"])  # as recorded, and with a variation selector
def test_a_restricted_member_is_never_named_as_the_honseki_head(head_family: str) -> None:
    # 筆頭者 of the 小林 戸籍 is 由美 (R0015, under 支援措置): naming her to 直樹 would tell she is there, on his
    # own profile as on his entry; she herself sees it; a 筆頭者 who is nobody restricted stays named.
    hidden = msgspec.structs.replace(_rec("R0015"), honseki="東京都千代田区神田錦町3番",
                                     honseki_head={"family": "小林", "given": "由美"})
    head = msgspec.structs.replace(_rec("R0014"), honseki="東京都千代田区神田錦町3番",
                                   honseki_head={"family": head_family, "given": "由美"})
    assert hidden.disclosure_restricted
    seen_by_head = profile_from_record(head, [head, hidden])
    assert "honseki_head_name" not in seen_by_head
    assert seen_by_head["honseki"] == "東京都千代田区神田錦町3番"  # the 本籍 itself is his own
    assert [m["member_id"] for m in seen_by_head["household_members"]] == ["R0014"]
    assert "honseki_head_name" not in seen_by_head["household_members"][0]
    assert "由美" not in str(seen_by_head)
    own = profile_from_record(hidden, [head, hidden])
    assert own["honseki_head_name"] == {"family": "小林", "given": "由美"}
    assert [m.get("honseki_head_name") for m in own["household_members"]] == [head.honseki_head, hidden.honseki_head]
    other = msgspec.structs.replace(head, honseki_head={"family": "小林", "given": "一郎"})
    assert profile_from_record(other, [other, hidden])["honseki_head_name"] == {"family": "小林", "given": "一郎"}
