"""CSRF for plain HTML forms (no JS): the token may come as the ``_csrf_token`` field, and the handler
still receives the whole body. A small app with the real auth wiring and one form handler."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from litestar import Litestar, post
from litestar.enums import RequestEncodingType
from litestar.params import Body

from server.auth import AuthConfig, install
from server.problems import exception_handlers
from server.storage.db import Database
from server.storage.schema import migrate
from testsupport.servers import AppServer


@post("/form-echo", status_code=200)
async def form_echo(data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]) -> dict[str, Any]:
    return {"fields": data}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[httpx.Client]:
    db = Database.open(tmp_path / "f.db")
    db.write_sync(migrate)
    app = Litestar([form_echo], on_app_init=[install(AuthConfig(db=db, origin="http://localhost:8000"))],
                   exception_handlers=exception_handlers, on_shutdown=[db.close])
    with AppServer(app, host="localhost") as srv, httpx.Client(base_url=srv.url, timeout=30) as c:
        yield c


def test_form_field_token_accepted_and_body_intact(client: httpx.Client) -> None:
    token = client.get("/api/session").json()["csrf_token"]
    assert token == client.cookies.get("madoguchi_csrf")
    r = client.post("/form-echo", data={"_csrf_token": token, "name": "山田", "note": "a&b=c"})
    assert r.status_code == 200, r.text
    assert r.json()["fields"] == {"_csrf_token": token, "name": "山田", "note": "a&b=c"}


def test_form_without_or_with_wrong_token_refused(client: httpx.Client) -> None:
    client.get("/api/session")
    for data in ({"name": "x"}, {"_csrf_token": "wrong" * 10, "name": "x"}):
        r = client.post("/form-echo", data=data)
        assert r.status_code == 403 and r.json()["type"].endswith("/csrf")
    # JSON bodies never count as a form: the header is required.
    r = client.post("/form-echo", json={"_csrf_token": client.cookies.get("madoguchi_csrf")})
    assert r.status_code == 403


def test_pages_get_the_cookie_but_json_fetches_do_not(client: httpx.Client) -> None:
    r = client.get("/enroll/unknown-token")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert any(v.startswith("madoguchi_csrf=") for v in r.headers.get_list("set-cookie"))
    client.cookies.clear()
    r = client.get("/auth/enroll.js")
    assert not any(v.startswith("madoguchi_csrf=") for v in r.headers.get_list("set-cookie"))
