"""The validation worker's lifetime belongs to the server: Ctrl+C at the terminal (SIGINT to the whole
process group), `timeout` or systemd's stop (SIGTERM to the group) must not kill it first, or every stop prints its KeyboardInterrupt traceback and the server
logs an ERROR. It ends when the server closes its input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_worker_ignores_stop_signals_and_ends_when_its_input_closes(sig: signal.Signals) -> None:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen([sys.executable, "-m", "server.validation_worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        time.sleep(1.0)  # past its imports, blocked reading its input
        proc.send_signal(sig)
        time.sleep(0.5)
        assert proc.poll() is None  # still serving
        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
        assert proc.stderr is not None and b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
