"""What tests, benchmarks and the sync fault harness share (never imported by madoguchi, server or sync).

* :mod:`testsupport.servers` — the one way to run the real server: :class:`~testsupport.servers.AppServer`
  (an app object under uvicorn in a thread, when a test needs ``app.state``) and
  :class:`~testsupport.servers.ServerProcess` (``madoguchi serve`` in a subprocess: restart, SIGKILL, demo
  enrollment URLs); ``free_port`` and ``wait_serving``.
* :mod:`testsupport.chromium` — Debian's Chromium and the flags that work on this kind of machine.
* :mod:`testsupport.sessions` — a signed-in session made directly in the database (no passkey ceremony).
* :mod:`testsupport.webauthn` — a software passkey authenticator for real sign-ins over HTTP.
* :mod:`testsupport.inmemory` — the server's sync storage on one SQLite connection, no HTTP (fast tests).
* :mod:`testsupport.faults` — the sync fault-injection harness (unreliable network, SIGKILLs, invariants).

The repository root is on ``sys.path`` through ``pythonpath`` in pytest's configuration; benchmarks run as
modules from the root (``python3 -m bench.bench_sync``).
"""

__all__: list[str] = []
