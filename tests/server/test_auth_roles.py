"""Guards and role changes on a small app wired with the real auth component and real sessions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, get
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from server.audit import verify_chain
from server.auth import (
    Account,
    AuthConfig,
    can_access_department,
    change_role,
    install,
    require_department_access,
    requires_role,
    requires_signed_in,
    requires_staff,
    store,
)
from server.problems import exception_handlers
from server.storage.db import Database
from server.storage.schema import migrate
from testsupport.servers import AppServer


@get("/signed-in", guards=[requires_signed_in], sync_to_thread=False)
def signed_in(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return {"role": request.user.role}


@get("/staff", guards=[requires_staff], sync_to_thread=False)
def staff_only() -> str:
    return "ok"


@get("/review", guards=[requires_role("reviewer", "admin")], sync_to_thread=False)
def review() -> str:
    return "ok"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[httpx.Client, Database]]:
    db = Database.open(tmp_path / "r.db")
    db.write_sync(migrate)
    app = Litestar([signed_in, staff_only, review],
                   on_app_init=[install(AuthConfig(db=db, origin="http://localhost:8000"))],
                   exception_handlers=exception_handlers, on_shutdown=[db.close])
    with AppServer(app, host="localhost") as srv, httpx.Client(base_url=srv.url, timeout=30) as c:
        yield c, db


def sign_in_as(client: httpx.Client, db: Database, role: str, department: str | None = None) -> Account:
    """A real server-side session for a new account (the ceremonies themselves are tested in test_auth)."""
    def job(conn: sqlite3.Connection) -> tuple[Account, str]:
        account = store.create_account(conn, display_name=role, role=role, department=department)
        return account, store.create_session(conn, account.id, method="test", idle_seconds=600,
                                             absolute_seconds=3600)

    account, token = db.write_sync(job)
    client.cookies.set("madoguchi_session", token)
    return account


@pytest.mark.parametrize(("role", "signed", "staff", "review"), [
    (None, 401, 401, 401),
    ("resident", 200, 403, 403),
    ("counter", 200, 200, 403),
    ("configurator", 200, 200, 403),
    ("reviewer", 200, 200, 200),
    ("admin", 200, 200, 200),
])
def test_guards(env: tuple[httpx.Client, Database], role: str | None, signed: int, staff: int,
                review: int) -> None:
    client, db = env
    if role:
        sign_in_as(client, db, role, "koseki" if role == "reviewer" else None)
    assert [client.get(p).status_code for p in ("/signed-in", "/staff", "/review")] == [signed, staff, review]
    r = client.get("/review")
    if r.status_code != 200:
        assert r.headers["content-type"].startswith("application/problem+json")


def test_role_change_applies_at_once_and_is_audited(env: tuple[httpx.Client, Database]) -> None:
    client, db = env
    account = sign_in_as(client, db, "counter")
    assert client.get("/review").status_code == 403
    db.write_sync(lambda c: change_role(c, account.id, "reviewer", "fukushi", actor="admin-1"))
    assert client.get("/review").status_code == 200  # roles are read per request, not frozen in the session
    rows = db.read_sync(lambda c: c.execute(
        "SELECT actor, subject, details FROM audit_log WHERE action = 'account.role_change'").fetchall())
    assert len(rows) == 1 and rows[0][0] == "admin-1" and rows[0][1] == account.id and "fukushi" in rows[0][2]
    with pytest.raises(ValueError):
        db.write_sync(lambda c: change_role(c, account.id, "reviewer", None, actor="admin-1"))
    assert db.read_sync(verify_chain).ok


def test_department_scope() -> None:
    def acct(role: str, dept: str | None = None) -> Account:
        return Account(id="a", display_name="x", role=role, department=dept)

    assert can_access_department(acct("reviewer", "koseki"), "koseki")
    assert not can_access_department(acct("reviewer", "koseki"), "fukushi")
    assert not can_access_department(acct("reviewer"), None)
    assert can_access_department(acct("admin"), "fukushi")
    assert not can_access_department(acct("configurator"), "koseki")
    assert not can_access_department(acct("resident"), "koseki")
    assert require_department_access(acct("reviewer", "koseki"), "koseki").role == "reviewer"
    with pytest.raises(PermissionDeniedException):
        require_department_access(acct("reviewer", "koseki"), "fukushi")
    with pytest.raises(NotAuthorizedException):
        require_department_access(None, "koseki")
    with pytest.raises(ValueError):
        requires_role("wizard")


def test_login_as_for_other_components(env: tuple[httpx.Client, Database]) -> None:
    from testsupport.sessions import login_as

    client, db = env
    creds = login_as(db, "reviewer", department="koseki")
    client.cookies.clear()
    for name, value in creds["cookies"].items():
        client.cookies.set(name, value)
    assert client.get("/review", headers=creds["headers"]).status_code == 200
    assert client.post("/auth/logout", headers=creds["headers"]).status_code == 204
    assert client.get("/review").status_code == 401
