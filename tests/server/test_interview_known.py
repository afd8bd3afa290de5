"""A life event's questions answered from what the records already show (issue 13 point 2): ``has_child_under_18``
(高校生年代, 児童手当's definition, on the JST day) from the disclosed household and 転出証明書情報 movers, and the
counter interview that starts 転入's 「高校生年代までの子どもを育てていますか」 answered はい for a family moving in with a
7-year-old, marked 「記録から推定（確認してください）」, with 児童手当 and 子ども医療費 derived; the clerk can change it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from procedure_definitions.expressions import dates
from server.disclosure import high_school_age_end
from server.registry import ResidentRecord, profile_from_record, transfer_profile
from server.transfer import TransferCertificate, TransferMover
from tests.server.conftest import start_real_library
from tests.server.test_interview import _derived, _new_person_visit, _post, _start, _visit
from testsupport.servers import AppServer

MARK = "記録から推定（確認してください）"


def _household(child_born: str, *, restricted: bool = False) -> tuple[ResidentRecord, list[ResidentRecord]]:
    head = ResidentRecord(id="P1", household_id="H", family="森", given="誠", birth_date="1980-01-01",
                          relationship_to_head="世帯主")
    child = ResidentRecord(id="P2", household_id="H", family="森", given="葵", birth_date=child_born,
                           relationship_to_head="子", disclosure_restricted=restricted)
    return head, [head, child]


@pytest.mark.parametrize(("born", "today", "known"), [
    ("2008-04-01", "2026-03-31", True),   # reaches 18 on 31 March 2026 (the day before the birthday): that day still
    ("2008-04-01", "2026-04-01", None),
    ("2008-04-02", "2027-03-31", True),   # reaches 18 on 1 April 2026: the next 31 March
    ("2008-04-02", "2027-04-01", None),
    ("2008-02-29", "2026-03-31", True),   # 18th birthday 1 March 2026 (common year): reached 28 February
    ("2008-02-29", "2026-04-01", None),
    ("2026-12-07", "2026-12-07", True),   # born today
    ("2026-12-08", "2026-12-07", None),   # not born yet (a wrong record): nobody to care for
    ("2010", "2026-12-07", True),         # 日不詳: counted from 1 January, the oldest they can be
    ("2008", "2026-12-07", None),         # could be 18 past its 31 March already: not claimed
    ("not-a-date", "2026-12-07", None),
])
def test_high_school_age_boundaries(born: str, today: str, known: bool | None) -> None:
    head, household = _household(born)
    profile = profile_from_record(head, household, today=today)
    assert profile.get("has_child_under_18") is known
    assert "has_child_under_18" not in profile or profile["has_child_under_18"] is True  # never a stored false


def test_high_school_age_end_follows_the_school_year() -> None:
    assert str(high_school_age_end("2008-04-01")) == "2026-03-31"
    assert str(high_school_age_end("2008-04-02")) == "2027-03-31"
    assert str(high_school_age_end("2007-12-31")) == "2026-03-31"
    assert high_school_age_end("2008-13-01") is None
    # Born 29 February: 18 on 1 March of a common year (the day before: 28 February, in that school year).
    assert str(high_school_age_end("2008-02-29")) == "2026-03-31"
    assert str(high_school_age_end("2008-03")) == "2026-03-31" and str(high_school_age_end("2008")) == "2026-03-31"
    # Read as every date of a definition is (dates.parse_date): not ISO, or beyond the calendar, is unreadable.
    for bad in ("2008-4-1", "2008-02-30", "9990-01-01", " 2008-04-01", "２００８-04-01"):
        assert high_school_age_end(bad) is None, bad


def test_the_filer_themselves_and_a_restricted_child_do_not_count() -> None:
    head, household = _household("2019-10-02", restricted=True)
    # 支援措置: the child is not listed to the head, so nothing is inferred from them either.
    profile = profile_from_record(head, household, today="2026-12-07")
    assert [m["member_id"] for m in profile["household_members"]] == ["P1"]
    assert "has_child_under_18" not in profile
    # The child themselves (a 16-year-old filing) is not raising a child.
    teen = ResidentRecord(id="P3", family="森", given="蓮", birth_date="2010-05-05")
    assert "has_child_under_18" not in profile_from_record(teen, [teen], today="2026-12-07")
    # The restricted child sees themselves and their parent, who is an adult: nothing either.
    child = household[1]
    assert "has_child_under_18" not in profile_from_record(child, household, today="2026-12-07")


def test_the_movers_of_a_transfer_count_and_today_is_the_japanese_day(monkeypatch: pytest.MonkeyPatch) -> None:
    cert = TransferCertificate(certificate_id="T-1", resident_id="X1", moving_date="2026-03-20",
                               previous_address={"prefecture": "大阪府"}, movers=[
                                   TransferMover(member_id="X1", family="林", given="健", birth_date="1985-01-01"),
                                   TransferMover(member_id="X2", family="林", given="結", birth_date="2008-04-01"),
                                   TransferMover(member_id="X3", family="林", given="凛", birth_date="2020-01-01",
                                                 disclosure_restricted=True)])
    # 2026-03-31 15:30 UTC is already 1 April in Japan: 結 has left 高校生年代; 凛 (restricted) is never counted.
    monkeypatch.setattr(dates, "_today", (0.0, 0.0, ""))
    monkeypatch.setattr(dates.time, "time", lambda: 1774971000.0)  # 2026-03-31T15:30:00Z
    assert dates.japan_today() == "2026-04-01"
    assert "has_child_under_18" not in transfer_profile(cert, cert.movers[0])
    monkeypatch.setattr(dates, "_today", (0.0, 0.0, ""))
    monkeypatch.setattr(dates.time, "time", lambda: 1774967400.0)  # 2026-03-31T14:30:00Z = 23:30 JST
    assert transfer_profile(cert, cert.movers[0])["has_child_under_18"] is True
    restricted = cert.movers[2]
    # 凛 filing: not counted for themselves, and 結 has left 高校生年代 by 7 December: nobody.
    assert "has_child_under_18" not in transfer_profile(cert, restricted, today="2026-12-07")
    assert transfer_profile(cert, cert.movers[0], today="2026-03-31")["has_child_under_18"] is True


# Each test opens visits of the demo residents afresh (one open visit per resident: tests/server/conftest.py).
pytestmark = pytest.mark.usefixtures("no_open_visits")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    from server.demo import DEMO_TRANSFERS
    from server.registry import import_transfers
    from server.transfer import InMemoryMovingService

    s = start_real_library(tmp_path_factory.mktemp("known"), residents=True)
    s.db.write_sync(lambda db: import_transfers(db, InMemoryMovingService(DEMO_TRANSFERS),
                                                [t.resident_id for t in DEMO_TRANSFERS]))
    yield s
    s.stop()


def _question(page: str, qid: str) -> str:
    return page.split(f'id="q-{qid}"', 1)[1].split("</fieldset>", 1)[0]


def _checked(block: str) -> str | None:
    for value in ("yes", "no"):
        if f'value="{value}" checked' in block:
            return value
    return None


def _interview(c: object, vid: str) -> tuple[str, str]:
    url = _start(c, vid, "moving-in")  # type: ignore[arg-type]
    return url, c.get(url).text  # type: ignore[attr-defined]


def test_a_family_moving_in_with_a_child_starts_with_has_children_answered(srv: AppServer) -> None:
    c = srv.login("counter")
    # 鈴木 大輔 (R0011) moves in with 𠮷乃 (born 2019-10-02) on the 転出証明書情報; and the same man received as a
    # new person (not bound to the record): his profile comes from the certificate alone.
    for vid in (_visit(c, "R0011"), _new_person_visit(c, "鈴木", "大輔", "1988-05-20")):
        url, page = _interview(c, vid)
        q = _question(page, "has_children")
        assert _checked(q) == "yes" and f"{MARK}：鈴木 𠮷乃" in q
        assert 'aria-describedby="q-has_children-pre"' in page
        derived = _derived(page)
        assert "児童手当認定請求" in derived and "子ども医療費助成の申請（受給資格認定）" in derived, derived
        # Each says why: the condition, and the people the records' answer rests on.
        for pid in ("jido-teate", "kodomo-iryohi"):
            why = page.split(f'id="why-{pid}"', 1)[1].split("</li>", 1)[0]
            assert "「高校生年代までの子どもを育てていますか」がはい" in why and f"。{MARK}：鈴木 𠮷乃" in why, why
        assert MARK not in page.split('id="why-tennyu"', 1)[1].split("</li>", 1)[0]  # always filed: not the records'
        # Only what the records answer: the other questions stay for the clerk.
        assert _checked(_question(page, "no_employee_insurance")) is None
        # The clerk changes it: いいえ, the suggestion's mark goes, 児童手当 and 子ども医療費 leave the list.
        assert _post(c, url, page, **{"q.has_children": "no", "op": "update"}).status_code == 303
        page = c.get(url).text
        q = _question(page, "has_children")
        assert _checked(q) == "no" and MARK not in q
        assert _derived(page) == ["転入届"]


def test_a_household_without_children_leaves_the_question_to_the_clerk(srv: AppServer) -> None:
    c = srv.login("counter")
    # 小林 直樹 and 由美 (born 1970, 1972): nobody of 高校生年代; a new person without transfer data: no records.
    for vid in (_visit(c, "R0014"), _new_person_visit(c, "新井", "𠮷男", "平成元年1月9日")):
        _, page = _interview(c, vid)
        q = _question(page, "has_children")
        assert _checked(q) is None and MARK not in page
        assert "児童手当認定請求" not in _derived(page)


def test_the_suggestion_is_stored_with_the_draft(srv: AppServer) -> None:
    """The suggestion is the draft's initial answer, stored: a re-render reads it back, not the records again."""
    c = srv.login("counter")
    vid = _visit(c, "R0001")  # 山田 太郎: 一郎 (2015) in the household
    _, page = _interview(c, vid)
    assert _checked(_question(page, "has_children")) == "yes"
    draft = srv.db.read_sync(lambda db: db.execute(
        "SELECT draft, prefilled FROM interviews WHERE visit_id = ?", (vid,)).fetchone())
    assert '"has_children":true' in draft[0].replace(" ", "") and "q:has_children" in draft[1]


def test_the_records_come_before_a_pre_entered_answer() -> None:
    """As for fields (server.counter_code.preentry_initial): a pre-entry fills only the questions the records left
    unanswered; an absent attribute answers nothing."""
    from procedure_definitions.library import latest_version, load_library
    from server.counter_code import preentry_initial
    from server.interview_plan import prefill_draft

    lib = load_library()
    ev = lib.life_events["moving-in"][latest_version(lib.life_events["moving-in"])]
    procs = {pid: v[latest_version(v)] for pid, v in lib.procedures.items()}
    pre = {"kind": "life_event", "id": "moving-in", "version": ev.version,
           "questions": {"has_children": False, "wants_seal": True}}
    draft, filled = prefill_draft(ev, procs, {"has_child_under_18": True})
    assert draft["questions"] == {"has_children": True} and "q:has_children" in filled
    preentry_initial(draft, pre, ev, procs)
    assert draft["questions"] == {"has_children": True, "wants_seal": True}
    draft, filled = prefill_draft(ev, procs, {})
    assert draft["questions"] == {} and not {k for k in filled if k.startswith("q:")}
    preentry_initial(draft, pre, ev, procs)
    assert draft["questions"] == {"has_children": False, "wants_seal": True}
