"""Unfinished uploads (server/uploads.py, docs/sync.md "Unfinished uploads"): a per-account quota of reserved
bytes, a cap on open uploads, and expiry by the server's maintenance task. Real server, real files."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.maintenance import tick
from server.uploads import partial_path
from tests.server.conftest import start_server
from testsupport.servers import AppServer

KB = 1024


def _png(n: int, salt: int) -> bytes:
    body = b"\x89PNG\r\n\x1a\n" + salt.to_bytes(8, "big")
    return body + b"\0" * (n - len(body))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _announce(c: httpx.Client, data: bytes) -> httpx.Response:
    return c.post("/sync/blobs", json={"sha256": _sha(data), "size": len(data)})


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    tmp: Path = tmp_path_factory.mktemp("uploads")
    s = start_server(tmp, upload_quota_bytes=100 * KB, max_open_uploads=3, max_attachment_bytes=64 * KB)
    yield s
    s.stop()


def test_unfinished_uploads_reserve_their_size_up_to_the_quota(srv: AppServer) -> None:
    c = srv.login("counter")
    a, b, d = _png(40 * KB, 1), _png(40 * KB, 2), _png(40 * KB, 3)
    assert _announce(c, a).status_code == 201
    assert _announce(c, b).status_code == 201
    refused = _announce(c, d)
    assert refused.status_code == 413, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/upload-quota") and problem["reserved_bytes"] == 80 * KB
    assert problem["quota_bytes"] == 100 * KB and int(refused.headers["retry-after"]) >= 1
    assert _announce(c, a).status_code == 200, "announcing a known upload again reserves nothing new"
    assert srv.login("counter").post("/sync/blobs", json={"sha256": _sha(d), "size": len(d)}).status_code == 201, \
        "another account has its own quota"
    # Finishing an upload gives its reservation back.
    r = c.patch(f"/sync/blobs/{_sha(a)}", content=a,
                headers={"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 204 and r.headers["upload-complete"] == "?1"
    assert _announce(c, _png(40 * KB, 4)).status_code == 201


def test_open_uploads_per_account_are_capped_for_both_upload_endpoints(srv: AppServer) -> None:
    c = srv.login("counter")
    for i in range(3):
        assert _announce(c, _png(KB, 100 + i)).status_code == 201
    r = _announce(c, _png(KB, 200))
    assert r.status_code == 429 and r.json()["type"].endswith("/too-many-uploads") and r.json()["max_open"] == 3
    assert "retry-after" in r.headers
    # The plain attachment upload is an unfinished upload too while its body arrives: same limit.
    r = c.post("/api/attachments", content=_png(KB, 201), headers={"Content-Type": "image/png"})
    assert r.status_code == 429 and r.json()["type"].endswith("/too-many-uploads")
    other = srv.login("counter")
    assert other.post("/api/attachments", content=_png(KB, 202), headers={"Content-Type": "image/png"}).status_code == 201


def test_tick_expires_idle_uploads_with_their_bytes(srv: AppServer) -> None:
    c = srv.login("outreach")
    idle, busy = _png(8 * KB, 300), _png(8 * KB, 301)
    for data in (idle, busy):
        assert _announce(c, data).status_code == 201
        r = c.patch(f"/sync/blobs/{_sha(data)}", content=data[:KB],
                    headers={"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
        assert r.status_code == 204
    root = srv.settings.attachment_root
    stale_tmp = root / ".upload-stale"
    stale_tmp.write_bytes(b"half a body")
    now = time.time() + 3600  # an hour from now, with a one-day expiry: nothing goes
    assert srv.db.write_sync(lambda conn: tick(conn, root=root, db_path=srv.settings.db_path, now=now,
                                               expiry_s=86400)) == []
    # The busy upload got a byte recently (its file's time); the idle one's bytes are a day old.
    old = time.time() - 2 * 86400
    os.utime(partial_path(root, _sha(idle), c.account_id), (old, old))  # type: ignore[attr-defined]
    os.utime(stale_tmp, (old, old))
    srv.db.write_sync(lambda conn: conn.execute(
        "UPDATE sync_uploads SET created_at = '2000-01-01T00:00:00+00:00' WHERE sha256 IN (?, ?)",
        (_sha(idle), _sha(busy))))
    gone = srv.db.write_sync(lambda conn: tick(conn, root=root, db_path=srv.settings.db_path, now=time.time(),
                                               expiry_s=86400))
    assert gone == [_sha(idle)]
    me = c.account_id  # type: ignore[attr-defined]
    assert not partial_path(root, _sha(idle), me).exists() and not stale_tmp.exists()
    assert partial_path(root, _sha(busy), me).exists()
    assert c.head(f"/sync/blobs/{_sha(idle)}").status_code == 404
    assert c.head(f"/sync/blobs/{_sha(busy)}").headers["upload-offset"] == str(KB)


def test_the_maintenance_task_runs_on_its_own(tmp_path: Path) -> None:
    # Housekeeping every 0.2 s; an upload expires after 2 s without a new byte.
    srv = start_server(tmp_path, upload_expiry_s=2, maintenance_interval_s=0.2)
    try:
        _expires_by_itself(srv)
    finally:
        srv.stop()


def _expires_by_itself(srv: AppServer) -> None:
    c = srv.login("resident")
    data = _png(4 * KB, 400)
    assert _announce(c, data).status_code == 201
    sha = _sha(data)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # expiry 2 s, rounds every 0.2 s
        if srv.db.read_sync(lambda conn: conn.execute("SELECT 1 FROM sync_uploads WHERE sha256 = ?",
                                                      (sha,)).fetchone()) is None:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the unfinished upload was not expired by the maintenance task")
    assert c.head(f"/sync/blobs/{sha}").status_code == 404
