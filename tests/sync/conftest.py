"""Fixtures for the sync tests: a real server subprocess on a real SQLite file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sync.client import Device, HTTPTransport
from testsupport.servers import ServerProcess
from testsupport.sessions import login, prepare_db


class Env:
    def __init__(self, server: ServerProcess, db: str) -> None:
        self.server = server
        self.db = db
        self.transports: list[HTTPTransport] = []

    def account(self, role: str, department: str | None = None) -> tuple[str, str]:
        return login(self.db, role, department=department)

    def device(self, session: str, **kw: object) -> Device:
        t = HTTPTransport(self.server.url, session=session)
        self.transports.append(t)
        return Device(t, **kw)  # type: ignore[arg-type]

    def http(self, session: str) -> HTTPTransport:
        t = HTTPTransport(self.server.url, session=session)
        self.transports.append(t)
        return t

    @property
    def attachments(self) -> Path:
        return Path(self.db + ".attachments")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    db = str(tmp_path_factory.mktemp("sync") / "sync.db")
    prepare_db(db)
    server = ServerProcess(db, poison=True)
    server.start()
    e = Env(server, db)
    try:
        yield e
    finally:
        for t in e.transports:
            t.close()
        server.stop()


@pytest.fixture
def raw(env: Env) -> Callable[..., object]:
    def call(session: str, method: str, path: str, **kw: object) -> object:
        t = env.http(session)
        return t._send(method, path, **kw)

    return call
