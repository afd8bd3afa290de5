"""Web Push of status changes (issue 12 point 6): VAPID, subscriptions, delivery off the request path, and
cleanup of expired subscriptions — against a LOCAL push service that decrypts what the server sent."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.server.conftest import answers, start_server
from testsupport.push_service import LocalPushService
from testsupport.servers import AppServer


@pytest.fixture(scope="module")
def push() -> Iterator[LocalPushService]:
    svc = LocalPushService()
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_server(tmp_path_factory.mktemp("push"), push_hosts=("127.0.0.1",), push_allow_http=True)
    yield s
    s.stop()


def _filed(resident: httpx.Client) -> dict[str, str]:
    r = resident.post("/api/submissions", json={"id": str(uuid.uuid4()), "procedure_id": "test-proc",
                                                "procedure_version": "1.0.0", "answers": answers()})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _subscriptions(srv: AppServer, account: str) -> list[str]:
    return srv.db.read_sync(lambda c: [r[0] for r in c.execute(
        "SELECT endpoint FROM push_subscriptions WHERE account_id = ?", (account,))])


def test_a_status_change_reaches_the_residents_browser_encrypted_and_signed(srv: AppServer,
                                                                           push: LocalPushService) -> None:
    push.deliveries.clear()
    push.answer = 201
    resident = srv.login("resident")
    key = srv.client().get("/api/push/key").json()["public_key"]
    assert len(base64.urlsafe_b64decode(key + "==")) == 65
    assert srv.client().get("/api/push/key").json()["public_key"] == key  # one key pair per installation
    sub = push.subscription()
    assert resident.post("/api/push/subscriptions", json=sub).status_code == 201
    receipt = _filed(resident)
    reviewer = srv.login("reviewer", department="shimin")
    r = reviewer.post(f"/api/submissions/{receipt['id']}/status", json={"status": "in_review", "comment": "秘密のメモ"})
    assert r.status_code == 200
    (got,) = push.wait(1)
    assert not push.errors
    assert got.payload == {"title": "申請の状況が変わりました", "body": f"受付番号 {receipt['receipt_number']}",
                           "url": f"/#/s/{receipt['id']}", "tag": f"submission-{receipt['id']}",
                           "receipt_number": receipt["receipt_number"]}
    # No personal data: not the comment, not the procedure, not a name.
    assert "秘密" not in str(got.payload) and "テスト申請" not in str(got.payload) and "美咲" not in str(got.payload)
    assert f"k={key}" in got.headers["authorization"] and got.headers["authorization"].startswith("vapid t=")
    assert got.headers["content-encoding"] == "aes128gcm"


def test_an_expired_subscription_is_deleted_and_never_fails_the_status_change(srv: AppServer,
                                                                              push: LocalPushService) -> None:
    push.deliveries.clear()
    resident = srv.login("resident")
    account = resident.get("/api/session").json()["account"]["id"]
    assert resident.post("/api/push/subscriptions", json=push.subscription()).status_code == 201
    assert len(_subscriptions(srv, account)) == 1
    push.answer = 410  # the browser unsubscribed: the push service says Gone
    receipt = _filed(resident)
    reviewer = srv.login("reviewer", department="shimin")
    assert reviewer.post(f"/api/submissions/{receipt['id']}/status", json={"status": "in_review"}).status_code == 200
    push.wait(1)
    end = time.monotonic() + 10
    while _subscriptions(srv, account) and time.monotonic() < end:
        time.sleep(0.02)
    assert _subscriptions(srv, account) == []
    push.answer = 201


def test_an_unreachable_push_service_does_not_hold_up_the_status_change(srv: AppServer) -> None:
    resident = srv.login("resident")
    dead = LocalPushService()
    sub = dead.subscription()
    dead.close()  # nothing listens there any more
    assert resident.post("/api/push/subscriptions", json=sub).status_code == 201
    receipt = _filed(resident)
    reviewer = srv.login("reviewer", department="shimin")
    t0 = time.monotonic()
    r = reviewer.post(f"/api/submissions/{receipt['id']}/status", json={"status": "in_review"})
    assert r.status_code == 200 and time.monotonic() - t0 < 2


def test_subscriptions_are_checked_and_owned(srv: AppServer, push: LocalPushService) -> None:
    resident = srv.login("resident")
    account = resident.get("/api/session").json()["account"]["id"]
    good = push.subscription()
    bad_host = {**good, "endpoint": "https://internal.example.org/admin"}
    r = resident.post("/api/push/subscriptions", json=bad_host)
    assert r.status_code == 422 and r.json()["type"].endswith("/invalid-subscription")
    short_key = {**good, "keys": {**good["keys"], "p256dh": "AAAA"}}
    assert resident.post("/api/push/subscriptions", json=short_key).status_code == 422
    assert resident.post("/api/push/subscriptions", json={**good, "x": 1}).status_code == 400
    staff = srv.login("counter")
    assert staff.post("/api/push/subscriptions", json=good).status_code == 403
    assert srv.client().post("/api/push/subscriptions", json=good).status_code in (401, 403)  # CSRF first
    too_long = {**good, "endpoint": good["endpoint"] + "x" * 2001}
    r = resident.post("/api/push/subscriptions", json=too_long)
    assert r.status_code == 422 and r.json()["type"].endswith("/invalid-subscription"), r.text
    assert r.json()["errors"][0]["path"] == "endpoint"
    r = resident.post("/api/push/subscriptions", json=good)
    assert r.status_code == 201 and r.json() == {"endpoint": good["endpoint"]}
    assert _subscriptions(srv, account) == [good["endpoint"]]
    # Someone else cannot remove it (the same 204, nothing deleted); its owner can.
    other = srv.login("resident")
    assert other.delete("/api/push/subscriptions", params={"endpoint": good["endpoint"]}).status_code == 204
    assert _subscriptions(srv, account) == [good["endpoint"]]
    assert resident.delete("/api/push/subscriptions", params={"endpoint": good["endpoint"]}).status_code == 204
    assert _subscriptions(srv, account) == []


def test_the_resident_a_submission_was_filed_for_gets_its_status_push(srv: AppServer, push: LocalPushService) -> None:
    from server.demo import DEMO_RESIDENTS
    from server.registry import SQLiteRegistry

    srv.db.write_sync(lambda c: SQLiteRegistry.upsert(c, DEMO_RESIDENTS))
    push.deliveries.clear()
    push.answer = 201
    resident = srv.login("resident", resident_id="R0001")
    assert resident.post("/api/push/subscriptions", json=push.subscription()).status_code == 201
    bystander = srv.login("resident", resident_id="R0002")
    assert bystander.post("/api/push/subscriptions", json=push.subscription()).status_code == 201
    counter = srv.login("counter")
    r = counter.post("/api/submissions", json={"id": str(uuid.uuid4()), "procedure_id": "test-proc",
                                               "procedure_version": "1.0.0", "answers": answers(),
                                               "on_behalf_of": "R0001"})
    assert r.status_code == 201, r.text
    receipt = r.json()
    reviewer = srv.login("reviewer", department="shimin")
    assert reviewer.post(f"/api/submissions/{receipt['id']}/status", json={"status": "in_review"}).status_code == 200
    (got,) = push.wait(1)
    assert got.payload["receipt_number"] == receipt["receipt_number"]
    time.sleep(0.3)  # the bystander's browser must get nothing
    assert len(push.deliveries) == 1


def test_a_push_host_is_reached_only_on_its_default_https_port() -> None:
    from server.push import DEFAULT_PUSH_HOSTS, endpoint_allowed

    assert endpoint_allowed("https://fcm.googleapis.com/fcm/send/x", DEFAULT_PUSH_HOSTS)
    assert endpoint_allowed("https://fcm.googleapis.com:443/fcm/send/x", DEFAULT_PUSH_HOSTS)
    for bad in ("https://fcm.googleapis.com:8443/x", "https://fcm.googleapis.com:80/x",
                "https://updates.push.services.mozilla.com:22/wpush", "https://fcm.googleapis.com:0/x",
                "https://fcm.googleapis.com:99999/x", "https://fcm.googleapis.com/" + "x" * 2000):
        assert not endpoint_allowed(bad, DEFAULT_PUSH_HOSTS), bad
