"""The HTTP API against the real server: idempotency, validation, lifecycle, attachments, hygiene."""

from __future__ import annotations

import concurrent.futures
import uuid

import msgspec
import pytest

from tests.server.conftest import answers
from testsupport.servers import AppServer


def submit(c, sid=None, version="1.0.0", **body):  # type: ignore[no-untyped-def]
    payload = {"id": sid or str(uuid.uuid4()), "procedure_id": "test-proc", "procedure_version": version,
               "answers": body.pop("answers", answers()), **body}
    return c.post("/api/submissions", json=payload)


def test_idempotent_retry_returns_same_receipt(server: AppServer) -> None:
    c = server.login("resident")
    sid = str(uuid.uuid4())
    r1 = submit(c, sid)
    assert r1.status_code == 201, r1.text
    r2 = submit(c, sid)
    assert r2.status_code == 200
    assert r2.json() == r1.json()
    assert r1.json()["receipt_number"].count("-") == 1 and r1.json()["status"] == "received"


def test_same_key_different_body_is_422(server: AppServer) -> None:
    c = server.login("resident")
    sid = str(uuid.uuid4())
    assert submit(c, sid).status_code == 201
    r = submit(c, sid, answers=answers(copies=2))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("idempotency-key-reused")


def test_concurrent_duplicates_store_exactly_one_row(server: AppServer) -> None:
    c = server.login("resident")
    sid = str(uuid.uuid4())
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: submit(c, sid), range(16)))
    codes = sorted(r.status_code for r in results)
    assert codes.count(201) == 1 and codes.count(200) == 15
    assert len({r.json()["receipt_number"] for r in results}) == 1
    n = server.db.read_sync(lambda conn: conn.execute("SELECT count(*) FROM submissions WHERE id = ?",
                                                      (sid,)).fetchone()[0])
    assert n == 1


def test_invalid_answers_give_422_with_errors(server: AppServer) -> None:
    c = server.login("resident")
    r = submit(c, answers={"copies": 1})
    assert r.status_code == 422
    body = r.json()
    assert body["status"] == 422
    assert any(e["path"].startswith("applicant") for e in body["errors"])
    assert all({"path", "code", "message"} <= set(e) for e in body["errors"])


def test_unknown_version_is_422(server: AppServer) -> None:
    r = submit(server.login("resident"), version="9.9.9")
    assert r.status_code == 422


def test_retired_version_accepted_and_flagged(server: AppServer) -> None:
    r = submit(server.login("resident"), version="0.9.0")
    assert r.status_code == 201, r.text
    assert "retired_version" in r.json()["flags"]
    listed = server.client().get("/api/procedures").json()
    assert {"id": "test-proc", "version": "0.9.0", "retired": True}.items() <= next(
        p for p in listed if p["version"] == "0.9.0").items()


def test_anonymous_cannot_submit(server: AppServer) -> None:
    r = server.client().post("/api/submissions", json={})
    assert r.status_code in (401, 403)
    assert r.headers["content-type"].startswith("application/problem+json")


def test_lifecycle_and_history(server: AppServer) -> None:
    resident = server.login("resident")
    receipt = submit(resident).json()
    sid = receipt["id"]
    reviewer = server.login("reviewer", department="shimin")
    other = server.login("reviewer", department="kodomo")
    assert other.get(f"/api/submissions/{sid}").status_code == 404  # other department: invisible

    def go(status, comment=None, c=reviewer):  # type: ignore[no-untyped-def]
        return c.post(f"/api/submissions/{sid}/status", json={"status": status, "comment": comment})

    assert go("accepted").status_code == 409  # received -> accepted skips review
    assert go("in_review").status_code == 200
    assert go("needs_info", "本人確認書類の写しを添付してください").json()["status"] == "needs_info"
    mine = resident.get(f"/api/submissions/{sid}").json()
    assert mine["history"][-1]["comment"] == "本人確認書類の写しを添付してください"
    r = resident.post(f"/api/submissions/{sid}/respond", json={"answers": {"note": "添付しました"}, "comment": "ok"})
    assert r.status_code == 200 and r.json()["status"] == "in_review"
    assert go("accepted").status_code == 200
    assert go("completed").json()["status"] == "completed"
    assert go("in_review").status_code == 409
    assert resident.post(f"/api/submissions/{sid}/status", json={"status": "accepted"}).status_code == 403
    # A resident never sees someone else's submission.
    assert server.login("resident").get(f"/api/submissions/{sid}").status_code == 404


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
PDF = b"%PDF-1.7\n" + b"x" * 100


def test_attachments(server: AppServer) -> None:
    c = server.login("resident")
    r1 = c.post("/api/attachments", content=PNG, headers={"Content-Type": "image/png"})
    assert r1.status_code == 201, r1.text
    assert r1.json()["type"] == "image/png" and r1.json()["size"] == len(PNG)
    r2 = c.post("/api/attachments", content=PNG, headers={"Content-Type": "image/png"})
    assert r2.status_code == 200 and r2.json()["sha256"] == r1.json()["sha256"]  # deduplicated
    sha = r1.json()["sha256"]
    stored = list(server.settings.attachment_root.rglob(sha))
    assert len(stored) == 1 and stored[0].read_bytes() == PNG
    wrong = c.post("/api/attachments", content=PDF, headers={"Content-Type": "image/png"})
    assert wrong.status_code == 415
    html = c.post("/api/attachments", content=b"<html><script>", headers={"Content-Type": "image/png"})
    assert html.status_code == 415
    big = c.post("/api/attachments", content=b"%PDF-" + b"0" * (70 * 1024),
                 headers={"Content-Type": "application/pdf"})
    assert big.status_code == 413
    assert big.headers["content-type"].startswith("application/problem+json")
    assert server.client().post("/api/attachments", content=PNG,
                                headers={"Content-Type": "image/png"}).status_code in (401, 403)
    # A submission referencing a missing attachment is flagged.
    ghost = {"sha256": "0" * 64, "name": "x.png", "size": 1, "type": "image/png"}
    r = submit(c, answers=answers(doc=[ghost]))
    assert r.status_code == 201, r.text
    assert "incomplete_attachments" in r.json()["flags"]


def test_problem_json_for_bad_requests(server: AppServer) -> None:
    c = server.login("resident")
    r = c.post("/api/submissions", content=b"{not json", headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"].startswith("application/problem+json")
    r = c.post("/api/submissions", json={"id": "not-a-uuid", "procedure_id": 1})
    assert 400 <= r.status_code < 500 and r.json()["status"] == r.status_code
    r = server.client().get("/no/such/route")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"]
    r = server.client().delete("/healthz")
    assert r.status_code in (403, 405)
    assert r.headers["content-type"].startswith("application/problem+json")
    r = c.post("/api/telemetry", content=b"[" * 2_000_000, headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_security_headers_and_health(server: AppServer) -> None:
    r = server.client().get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"]
    assert "content-security-policy" in server.client().get("/nope").headers


def test_openapi_lists_every_json_endpoint(server: AppServer) -> None:
    doc = server.client().get("/schema/openapi.json").json()
    paths = doc["paths"]
    for p in ["/healthz", "/api/submissions", "/api/submissions/{sid}", "/api/submissions/{sid}/respond",
              "/api/submissions/{sid}/status", "/api/attachments", "/api/telemetry", "/api/procedures",
              "/api/procedures/{pid}/{version}", "/api/me/profile", "/api/accounts/{account_id}/bind",
              "/api/registry/search", "/api/outreach/residents"]:
        assert p in paths, p


def test_procedures_and_telemetry(server: AppServer) -> None:
    c = server.client()
    assert c.get("/api/procedures/test-proc/1.0.0").status_code == 200
    assert c.get("/api/procedures/test-proc/7.0.0").status_code == 404
    t = {"procedure_id": "test-proc", "procedure_version": "1.0.0", "opened_at": "2026-04-01T10:00:00+09:00",
         "acknowledged_at": "2026-04-01T10:03:00+09:00", "fields_typed": 3, "fields_prefilled": 5}
    r = server.login("resident").post("/api/telemetry", json=t)
    assert r.status_code == 202, r.text
    assert server.login("resident").post("/api/telemetry", json={**t, "name": "山田"}).status_code in (400, 422)
    # Numbers are numbers: a string is not coerced (strict decoding), nothing is stored for it.
    before = server.db.read_sync(lambda conn: conn.execute("SELECT count(*) FROM telemetry").fetchone()[0])
    for wrong in ({"fields_typed": "1"}, {"fields_prefilled": "5"}, {"fields_typed": True}, {"procedure_id": 7}):
        r = server.login("resident").post("/api/telemetry", json={**t, **wrong})
        assert r.status_code == 400 and r.json()["type"].endswith("/bad-request"), (wrong, r.text)
        assert r.json()["errors"][0]["path"] == next(iter(wrong))
    assert server.db.read_sync(lambda conn: conn.execute("SELECT count(*) FROM telemetry").fetchone()[0]) == before
    dur = server.db.read_sync(lambda conn: conn.execute("SELECT max(duration_s) FROM telemetry").fetchone()[0])
    assert dur == 180


def test_binding_and_profile(server: AppServer) -> None:
    resident = server.login("resident")
    assert resident.get("/api/me/profile").json() == {"verified": False, "profile": {}}
    counter = server.login("counter")
    aid = resident.account_id  # type: ignore[attr-defined]
    assert resident.post(f"/api/accounts/{aid}/bind", json={"resident_id": "R0004"}).status_code == 403
    assert counter.post(f"/api/accounts/{aid}/bind", json={"resident_id": "NOPE"}).status_code == 422
    r = counter.post(f"/api/accounts/{aid}/bind", json={"resident_id": "R0004", "id_document": "マイナンバーカード"})
    assert r.status_code == 200, r.text
    prof = resident.get("/api/me/profile").json()
    assert prof["verified"] is True
    assert prof["profile"]["name"] == {"family": "葛\U000e0100城", "given": "美咲"}  # byte for byte
    assert prof["profile"]["address"]["town"] == "麹町"
    actions = server.db.read_sync(lambda conn: [r[0] for r in conn.execute(
        "SELECT action FROM audit_log WHERE subject = ?", (f"account:{aid}",))])
    assert "identity.bind" in actions


def test_profile_carries_the_registrys_honseki_only_where_it_has_one(server: AppServer) -> None:
    # 本籍 and its 筆頭者 prefill 婚姻届 / 出生届 for Japanese nationals; a foreign resident's record has none.
    from server.demo import DEMO_RESIDENTS

    taro = next(r for r in DEMO_RESIDENTS if r.id == "R0001")
    prof = server.login("resident", resident_id="R0001").get("/api/me/profile").json()["profile"]
    assert (prof["honseki"], prof["honseki_head_name"]) == (taro.honseki, taro.honseki_head)
    assert prof["honseki_head_name"] == {"family": "山田", "given": "太郎"}
    other = server.login("resident", resident_id="R0007").get("/api/me/profile").json()["profile"]
    assert "honseki" not in other and "honseki_head_name" not in other and other["nationality"] == "ベトナム"


@pytest.mark.parametrize("role", ["counter", "admin", "outreach", "reviewer"])
def test_only_resident_accounts_can_be_bound(server: AppServer, role: str) -> None:
    counter = server.login("counter")
    staff = server.login(role, department="shimin" if role == "reviewer" else None)
    aid = staff.account_id  # type: ignore[attr-defined]
    for who in (counter, staff) if role == "counter" else (counter,):  # someone else's, or one's own
        r = who.post(f"/api/accounts/{aid}/bind", json={"resident_id": "R0004"})
        assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json"), r.text
        assert r.json()["type"].endswith("/not-a-resident-account")
    assert staff.get("/api/me/profile").json() == {"verified": False, "profile": {}}
    bound = server.db.read_sync(lambda conn: conn.execute(
        "SELECT count(*) FROM identity_bindings WHERE account_id = ?", (aid,)).fetchone()[0])
    assert bound == 0


def test_a_resident_made_staff_loses_the_binding(server: AppServer) -> None:
    from server.auth import change_role

    resident = server.login("resident", resident_id="R0005")
    aid = resident.account_id  # type: ignore[attr-defined]
    assert resident.get("/api/me/profile").json()["verified"] is True
    server.db.write_sync(lambda c: change_role(c, aid, "counter", None, actor="cli"))
    assert resident.get("/api/me/profile").json() == {"verified": False, "profile": {}}
    details = server.db.read_sync(lambda conn: conn.execute(
        "SELECT details FROM audit_log WHERE action = 'account.role_change' AND subject = ?", (aid,)).fetchone()[0])
    assert '"unbound":"R0005"' in details.replace(" ", "")


def test_telemetry_inside_a_submission_is_stored_once_and_never_fails_it(server: AppServer) -> None:
    def count() -> int:
        return int(server.db.read_sync(lambda conn: conn.execute(
            "SELECT count(*) FROM telemetry WHERE acknowledged_at LIKE '2026-05-05%'").fetchone()[0]))

    c = server.login("resident")
    good = {"procedure_id": "test-proc", "procedure_version": "1.0.0", "opened_at": "2026-05-05T10:00:00Z",
            "acknowledged_at": "2026-05-05T10:03:00Z", "fields_typed": 3, "fields_prefilled": 5}
    before = count()
    sid = str(uuid.uuid4())
    assert submit(c, sid, telemetry=good).status_code == 201
    assert count() == before + 1
    # A retry (telemetry differs between attempts, body_hash ignores it): same receipt, nothing stored again.
    retry = submit(c, sid, telemetry={**good, "acknowledged_at": "2026-05-05T10:04:00Z"})
    assert retry.status_code == 200
    assert count() == before + 1
    # Unparsable timestamps: the submission is stored, the telemetry dropped.
    bad = submit(c, telemetry={**good, "acknowledged_at": "2026-05-05 garbage"})
    assert bad.status_code == 201, bad.text
    assert count() == before + 1


def test_on_behalf_filing_is_audited_in_the_same_transaction(server: AppServer) -> None:
    counter = server.login("counter")
    sid = str(uuid.uuid4())
    assert submit(counter, sid, on_behalf_of="R0001").status_code == 201
    assert submit(counter, sid, on_behalf_of="R0001").status_code == 200  # retry: no second entry
    n = server.db.read_sync(lambda conn: conn.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'submission.file_on_behalf' AND subject = ?",
        (f"submission:{sid}",)).fetchone()[0])
    assert n == 1


def test_postal_shards_are_immutable(server: AppServer) -> None:
    r = server.client().get("/postal/0123abcd/100.json")
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]


def test_profile_names_the_households_married_couple_whoever_files(server: AppServer) -> None:
    # 出生届's 父/母 are prefilled from the household's couple (the head and the head's 妻/夫 on the 住民票),
    # the same whichever of them is signed in; a single-person household has no couple.
    from server.demo import DEMO_RESIDENTS

    taro, hanako = (next(r for r in DEMO_RESIDENTS if r.id == rid) for rid in ("R0001", "R0002"))
    for rid in ("R0001", "R0002"):
        prof = server.login("resident", resident_id=rid).get("/api/me/profile").json()["profile"]
        assert prof["husband_name"] == {"family": taro.family, "given": taro.given}
        assert prof["husband_birth_date"] == taro.birth_date
        assert prof["wife_name"] == {"family": hanako.family, "given": hanako.given}
        assert prof["wife_birth_date"] == hanako.birth_date
        other = hanako if rid == "R0001" else taro  # the filer's own spouse: the other one of the couple
        assert prof["spouse_name"] == {"family": other.family, "given": other.given}
    alone = server.login("resident", resident_id="R0004").get("/api/me/profile").json()["profile"]
    assert not {"husband_name", "husband_birth_date", "wife_name", "wife_birth_date", "spouse_name"} & set(alone)


def test_profile_couple_follows_the_registry_relationship_and_disclosure() -> None:
    # A head recorded as the spouse's wife (the member is 夫) makes the member the husband; a spouse the city
    # may not disclose to the filer (支援措置) is left out, the filer's own side kept.
    from server.registry import ResidentRecord, profile_from_record

    head = ResidentRecord(id="A1", household_id="H", family="佐藤", given="恵", birth_date="1990-01-01",
                          sex="female", relationship_to_head="世帯主")
    spouse = ResidentRecord(id="A2", household_id="H", family="佐藤", given="翔", birth_date="1989-02-02",
                            sex="male", relationship_to_head="夫")
    prof = profile_from_record(head, [head, spouse])
    assert (prof["husband_name"]["given"], prof["wife_name"]["given"]) == ("翔", "恵")
    hidden = msgspec.structs.replace(spouse, disclosure_restricted=True)
    prof = profile_from_record(head, [head, hidden])
    assert "husband_name" not in prof and prof["wife_birth_date"] == "1990-01-01"
    assert "spouse_name" not in prof  # the spouse the city may not disclose is not the filer's prefill either
    assert profile_from_record(hidden, [head, hidden])["husband_name"]["given"] == "翔"  # themselves always
    assert profile_from_record(hidden, [head, hidden])["spouse_name"]["given"] == "恵"



def test_has_spouse_is_true_with_the_registrys_spouse_and_absent_otherwise(server: AppServer) -> None:
    # 児童手当's 配偶者の有無: yes when the registry shows the filer's spouse (the spouse_name rule), else not
    # prefilled at all, never no (a spouse may live elsewhere: the resident answers).
    from server.registry import ResidentRecord, profile_from_record

    for rid in ("R0001", "R0002"):  # the demo household's couple, whoever files
        prof = server.login("resident", resident_id=rid).get("/api/me/profile").json()
        assert prof["profile"]["has_spouse"] is True and "spouse_name" in prof["profile"]
        assert prof["sources"]["has_spouse"] == "registry"
    for rid in ("R0004", "R0003"):  # alone; a member of a couple's household who is not one of the couple
        prof = server.login("resident", resident_id=rid).get("/api/me/profile").json()["profile"]
        assert "has_spouse" not in prof and "spouse_name" not in prof
    head = ResidentRecord(id="A1", household_id="H", family="佐藤", given="恵", birth_date="1990-01-01",
                          sex="female", relationship_to_head="世帯主")
    spouse = ResidentRecord(id="A2", household_id="H", family="佐藤", given="翔", birth_date="1989-02-02",
                            sex="male", relationship_to_head="夫")
    assert profile_from_record(spouse, [head, spouse])["has_spouse"] is True
    hidden = msgspec.structs.replace(spouse, disclosure_restricted=True)
    assert "has_spouse" not in profile_from_record(head, [head, hidden])  # not disclosable: not even its existence

def test_a_parents_partial_registry_birth_date_is_accepted_in_shussei() -> None:
    # 髙橋幸子's record has 日不詳 ("1950-03"): prefilled as 出生届's 母の生年月日, the city's own value is valid.
    from procedure_definitions.compile import compile_field
    from procedure_definitions.library import load_library

    shussei = load_library().latest("shussei")
    assert shussei is not None
    mother = next(f for s in shussei.sections for f in s.fields if f.id == "mother_birth_date")
    assert compile_field(msgspec.to_builtins(mother)).get("allow_partial") is True
