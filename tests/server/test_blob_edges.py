"""A sha256 has one spelling on every path, and a resumable-upload chunk has one Content-Type.

Real server (uvicorn on loopback, a SQLite file and the attachment directory next to it).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest

from tests.server.conftest import make_proc, start_server
from testsupport.servers import AppServer

CHUNK = {"Content-Type": "application/offset+octet-stream"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    s = start_server(tmp_path_factory.mktemp("blobedges"), [make_proc()])
    yield s
    s.stop()


def _png() -> tuple[bytes, str]:
    data = b"\x89PNG\r\n\x1a\n" + uuid.uuid4().bytes * 8
    return data, hashlib.sha256(data).hexdigest()


def _is_bad_request(r: object) -> bool:
    import httpx

    assert isinstance(r, httpx.Response)
    return r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json") and (
        r.json()["type"].endswith("/bad-request"))


def test_an_upper_case_sha256_is_refused_on_every_path(srv: AppServer) -> None:
    c = srv.login("resident")
    data, sha = _png()
    assert c.post("/api/attachments", content=data, headers={"Content-Type": "image/png"}).status_code == 201
    assert c.get(f"/api/attachments/{sha}").content == data
    upper = sha.upper()
    assert _is_bad_request(c.get(f"/api/attachments/{upper}"))
    assert _is_bad_request(c.post("/sync/blobs", json={"sha256": upper, "size": len(data)}))
    head = c.head(f"/sync/blobs/{upper}")
    assert head.status_code == 400
    assert _is_bad_request(c.patch(f"/sync/blobs/{upper}", content=data, headers={**CHUNK, "Upload-Offset": "0"}))
    # The lower-case spelling works on the sync path as on the API: the file is known, nothing to send.
    known = c.post("/sync/blobs", json={"sha256": sha, "size": len(data)})
    assert known.status_code == 200 and known.json()["complete"] is True


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/octet-stream", "image/png"])
def test_a_chunk_of_another_content_type_is_refused(srv: AppServer, ctype: str | None) -> None:
    c = srv.login("resident")
    data, sha = _png()
    assert c.post("/sync/blobs", json={"sha256": sha, "size": len(data)}).status_code == 201
    headers = {"Upload-Offset": "0"} | ({"Content-Type": ctype} if ctype else {})
    r = c.patch(f"/sync/blobs/{sha}", content=data, headers=headers)
    assert r.status_code == 415 and r.json()["type"].endswith("/unsupported-type"), r.text
    assert c.head(f"/sync/blobs/{sha}").headers["Upload-Offset"] == "0"  # nothing appended
    done = c.patch(f"/sync/blobs/{sha}", content=data,
                   headers={"Upload-Offset": "0", "Content-Type": "Application/Offset+Octet-Stream; x=1"})
    assert done.status_code == 204 and done.headers["Upload-Complete"] == "?1"
    assert c.get(f"/api/attachments/{sha}").content == data


def test_uploads_of_stored_files_meet_the_limits_of_new_ones(srv: AppServer) -> None:
    """An upload of a file someone else stored (a possession proof, server/blob_possession.py) counts as the
    unfinished upload it looks like: at ``max_open_uploads`` a stored file and an absent one get the same 429
    (so the limit does not tell which sha256 is stored), and one account's proofs leave others' alone."""
    cap = srv.settings.max_open_uploads
    owner, other, greedy = srv.login("resident"), srv.login("resident"), srv.login("resident")
    files = [_png() for _ in range(cap + 1)]
    for data, _ in files:
        assert owner.post("/api/attachments", content=data, headers={"Content-Type": "image/png"}).status_code == 201
    first, first_sha = files[0]
    # Another account's proof under way: 10 bytes in.
    assert other.post("/sync/blobs", json={"sha256": first_sha, "size": len(first)}).status_code == 201
    assert other.patch(f"/sync/blobs/{first_sha}", content=first[:10], headers={**CHUNK, "Upload-Offset": "0"}).status_code == 204
    # One account announces as many stored files as it may have uploads open, each 10 bytes in.
    for data, sha in files[:cap]:
        assert greedy.post("/sync/blobs", json={"sha256": sha, "size": len(data)}).status_code == 201
        r = greedy.patch(f"/sync/blobs/{sha}", content=data[:10], headers={**CHUNK, "Upload-Offset": "0"})
        assert r.status_code == 204, r.text
    # One more: a stored file and an absent one are refused alike; resuming one under way is not refused.
    stored = greedy.post("/sync/blobs", json={"sha256": files[cap][1], "size": len(files[cap][0])})
    absent = greedy.post("/sync/blobs", json={"sha256": _png()[1], "size": 100})
    assert stored.status_code == absent.status_code == 429 and stored.json() == absent.json(), (stored.text, absent.text)
    assert greedy.post("/sync/blobs", json={"sha256": first_sha, "size": len(first)}).json()["offset"] == 10
    # The other account's proof goes on to the end, and then its slot is free again.
    assert other.head(f"/sync/blobs/{first_sha}").headers["Upload-Offset"] == "10"
    r = other.patch(f"/sync/blobs/{first_sha}", content=first[10:], headers={**CHUNK, "Upload-Offset": "10"})
    assert r.status_code == 204 and other.get(f"/api/attachments/{first_sha}").content == first
    r = greedy.patch(f"/sync/blobs/{first_sha}", content=first[10:], headers={**CHUNK, "Upload-Offset": "10"})
    assert r.status_code == 204, r.text
    assert greedy.post("/sync/blobs", json={"sha256": files[cap][1], "size": len(files[cap][0])}).status_code == 201


def test_one_account_cannot_push_other_accounts_proofs_out() -> None:
    """The 10,000 proofs kept in all are not one account's to fill: beyond its own cap (the routes refuse
    earlier, with 429) its own oldest is dropped, never another account's."""
    from server.blob_possession import Possession

    p = Possession()
    p.start("a" * 64, "victim", 100, 100, per_account=20)
    for i in range(10_050):
        p.start(f"{i:064x}", "greedy", 100, 100, per_account=20)
    assert p.progress("a" * 64, "victim") == (0, 100)
    assert sum(p.progress(f"{i:064x}", "greedy") is not None for i in range(10_050)) == 20
