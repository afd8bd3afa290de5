"""The test double of a city's SMS or mail adapter (``server.booking.reminders.ReminderSender``), and a way to
run a reminder round on the server's own loop from a test thread.

:class:`RecordingSender` keeps every message it was given (what would have been sent) and answers ``accept``
(set it False to play an SMS gateway that refuses); made with no arguments it is an ``sms`` sender, so
``madoguchi serve --reminder-sender testsupport.reminders:RecordingSender`` loads it too."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any

from server.booking.reminders import ReminderMessage, RoundResult

__all__ = ["RecordingSender", "run_round"]


class RecordingSender:
    def __init__(self, channel: str = "sms", *, accept: bool = True) -> None:
        self.channel = channel
        self.accept = accept
        self.messages: list[ReminderMessage] = []
        self.attempts = 0  # sends asked for, accepted or not
        self._lock = threading.Lock()  # sends run in worker threads

    def send(self, msg: ReminderMessage) -> bool:
        with self._lock:
            self.attempts += 1
            if not self.accept:
                return False
            self.messages.append(msg)
            return True


def run_round(app: Any, now: dt.datetime, timeout: float = 30.0) -> RoundResult:
    """``app.state.reminders.run_once(now)`` on the app's event loop (where its notifier lives), waited for."""
    job = app.state.reminders
    assert job.loop is not None, "the app has not started"
    result: RoundResult = asyncio.run_coroutine_threadsafe(job.run_once(now), job.loop).result(timeout)
    return result
