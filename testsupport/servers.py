"""The one way tests and benchmarks run the real server on loopback.

* :class:`AppServer`: an app object (``server.app.create_app``) under uvicorn in a daemon thread of the test
  process, for tests that reach into ``app.state`` (the database, the services) or swap its handler.
* :class:`ServerProcess`: ``madoguchi serve`` in a subprocess on a SQLite file, for what needs a process of
  its own: restarts on the same port and file, SIGKILL (the sync fault harness), ``--demo`` (the enrollment
  URLs it prints), a benchmark's load that must not share the test's interpreter.

Both have ``url``, ``start()``, ``stop()`` and work as context managers.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import httpx

__all__ = ["ROOT", "AppServer", "ServerProcess", "end_open_visits", "free_port", "wait_serving"]

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def end_open_visits(conn: sqlite3.Connection) -> None:
    """Every open visit ends, as if each resident had gone home (in a write job: ``AppServer.db.write_sync``,
    ``ServerProcess.write``). A registry resident has one open visit at a time
    (``server.storage.visits.open_visit_in``): tests sharing a server that each receive the same demo resident
    start from none. Written directly: a visit without parts cannot be closed through the API."""
    conn.execute("UPDATE visits SET status = 'closed', closed_at = ? WHERE status = 'open'",
                 ("2026-01-01T00:00:00+00:00",))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_serving(url: str, proc: subprocess.Popen[bytes] | None = None, *, timeout: float = 60,
                 log: Path | None = None, any_status: bool = False) -> None:
    """Return once ``url`` answers 200 (``any_status``: answers at all, e.g. a 405 from a POST-only route).

    Raises RuntimeError when ``proc`` exits first (with the tail of its ``log``) or ``timeout`` passes.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except urllib.error.HTTPError:
            if any_status:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


class AppServer:
    """``app`` under uvicorn on 127.0.0.1 in a daemon thread (started at once).

    ``host``: the name in :attr:`url`; ``localhost`` for passkey ceremonies (WebAuthn refuses IP-address
    origins). ``settings``: the app's :class:`~server.settings.Settings`, kept for tests that read them.
    """

    def __init__(self, app: Any, *, port: int | None = None, host: str = "127.0.0.1", settings: Any = None) -> None:
        import uvicorn

        self.app = app
        self.settings = settings
        self.port = port or free_port()
        self.url = f"http://{host}:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)

    @classmethod
    def create(cls, settings: Any, *, library: Any = None, port: int | None = None,
               host: str = "127.0.0.1") -> AppServer:
        """The real app (``create_app``) on ``settings``; ``library`` replaces the shipped one."""
        from server.app import create_app

        return cls(create_app(settings, library=library), port=port, host=host, settings=settings)

    @classmethod
    def on_file(cls, db_path: str | Path, *, library: Any = None, **settings: Any) -> AppServer:
        """The real app on the SQLite file ``db_path``, at ``http://localhost:PORT`` (its origin: passkeys
        need a name, not an address); ``settings``: more :class:`~server.settings.Settings` fields."""
        from server.settings import Settings

        port = free_port()
        s = Settings(db_path=str(db_path), origin=f"http://localhost:{port}", **settings)
        return cls.create(s, library=library, port=port, host="localhost")

    @property
    def db(self) -> Any:
        """The app's :class:`~server.storage.db.Database`."""
        return self.app.state.db

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def login(self, role: str, *, department: str | None = None, resident_id: str | None = None) -> httpx.Client:
        """A client with a real session row (made directly in the DB, skipping the passkey ceremony)."""
        from testsupport.sessions import login_as

        session = login_as(self.db, role, department=department, resident_id=resident_id,
                           display_name=f"テスト{role}")
        c = httpx.Client(base_url=self.url, timeout=30, headers=session["headers"], cookies=session["cookies"])
        c.account_id = session["account_id"]  # type: ignore[attr-defined]
        return c

    def stop(self) -> None:
        # Live event streams (the queue's boards and phones) would hold uvicorn's graceful shutdown open: end
        # them first, as `madoguchi serve` does on its signal (server/commands.py).
        hub = getattr(self.app.state, "queue_hub", None)
        if hub is not None:
            hub.close_threadsafe()
        self.server.should_exit = True
        self.thread.join(timeout=20)

    def __enter__(self) -> AppServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServerProcess:
    """``madoguchi serve`` on ``db`` in a subprocess; restartable on the same port and file.

    ``demo``/``library``/``host``: the CLI options of the same names. ``mode="standalone"`` runs
    ``python -m server.sync_routes`` (auth + sync only) instead. ``poison``: enable the sync test command
    that always fails (``MADOGUCHI_SYNC_POISON``). ``url_host``: the name in :attr:`url` (``localhost`` for
    passkeys). ``log``: a file path; ``None`` gives ``DB.server.log``. ``quiet``: discard the output.
    ``cwd``: the working directory (default: the repository root). ``argv``: another server program (a
    benchmark's baseline; ``{port}`` in it is replaced), ready when ``health`` answers at all.
    The subprocess imports this checkout's code (``PYTHONPATH``), whatever is installed.
    """

    def __init__(self, db: str | Path, *, port: int | None = None, demo: bool = False, library: Path | None = None,
                 host: str = "127.0.0.1", url_host: str = "127.0.0.1", mode: str = "serve", poison: bool = False,
                 env: dict[str, str] | None = None, log: Path | None = None, quiet: bool = False,
                 timeout: float = 60, cwd: Path = ROOT, argv: list[str] | None = None,
                 health: str = "/healthz") -> None:
        self.db = Path(db)
        self.db_path = str(db)
        self.port = port or free_port()
        self.demo, self.library, self.host, self.mode = demo, library, host, mode
        self.env = {**(env or {}), **({"MADOGUCHI_SYNC_POISON": "1"} if poison else {})}
        self.url = f"http://{url_host}:{self.port}"
        self.log = log or Path(self.db_path + ".server.log")
        self.quiet = quiet
        self.timeout = timeout
        self.cwd = cwd
        self.argv = argv
        self.health = health
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self._lock = threading.RLock()  # a killer thread and a worker may both restart it
        self._log_file: BinaryIO | None = None

    @property
    def base(self) -> str:
        return self.url

    def command(self) -> list[str]:
        if self.argv is not None:
            return [a.replace("{port}", str(self.port)) for a in self.argv]
        if self.mode == "standalone":
            return [sys.executable, "-m", "server.sync_routes", "--db", self.db_path, "--port", str(self.port),
                    "--host", self.host]
        cmd = [sys.executable, "-m", "madoguchi.cli", "serve", "--db", self.db_path, "--port", str(self.port),
               "--host", self.host]
        if self.demo:
            cmd.append("--demo")
        if self.library:
            cmd += ["--library", str(self.library)]
        return cmd

    def start(self) -> None:
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", **self.env}
        out: Any = subprocess.DEVNULL
        if not self.quiet:
            if self._log_file is not None:  # a restart after kill(): one handle, not one per start
                self._log_file.close()
            self._log_file = out = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.command(), cwd=str(self.cwd), env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_serving(f"http://127.0.0.1:{self.port}{self.health}", self.proc, timeout=self.timeout, log=self.log,
                         any_status=self.argv is not None)
        except RuntimeError:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush; whatever was not committed is gone."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.kills += 1

    def restart(self) -> None:
        with self._lock:
            self.kill()
            self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests ask of a running server -----------------------------------------------------------------
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def enrollment_url(self, role: str) -> str:
        """The one-time enrollment URL that ``serve --demo`` printed for the demo account of ``role``."""
        found = re.findall(rf"^\s+{re.escape(role)}\s+.*?: (http://\S+/enroll/\S+)$", self.output(), re.M)
        if not found:
            raise AssertionError(f"no enrollment URL for {role} in the server log")
        return str(found[-1])

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """A read-only query on the server's database (WAL: safe while the server runs)."""
        conn = sqlite3.connect(f"file:{self.db.resolve()}?mode=ro", uri=True, timeout=30)
        try:
            return list(conn.execute(sql, params))
        finally:
            conn.close()

    def export(self) -> list[dict[str, Any]]:
        """``madoguchi submissions export --format jsonl`` on the server's database, parsed."""
        import json

        out = subprocess.run([sys.executable, "-m", "madoguchi.cli", "submissions", "export", "--db", self.db_path,
                              "--format", "jsonl"], cwd=ROOT, capture_output=True, text=True, check=True)
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in a write transaction on the server's database (a second writer: SQLite serialises).

        On a thread of its own: Playwright's sync API runs an event loop on the test's thread, and the
        Database refuses to block a running loop (``BlockingOnLoop``)."""
        from server.storage.db import Database

        def job() -> T:
            with Database.open(self.db) as db:
                return db.write_sync(fn)

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(job).result()

    def login_as(self, role: str, **kwargs: Any) -> dict[str, Any]:
        """A session made directly in the database (:func:`testsupport.sessions.login_as`)."""
        from server.storage.db import Database
        from testsupport.sessions import login_as

        def job() -> dict[str, Any]:
            with Database.open(self.db) as db:
                return login_as(db, role, **kwargs)

        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # see write()
            return pool.submit(job).result()
