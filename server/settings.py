"""Server settings: one immutable Struct built by ``madoguchi serve`` (or a test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from server.auth.ratelimit import AuthLimits
from server.push import DEFAULT_PUSH_HOSTS
from server.uploads import UploadLimits

__all__ = ["Settings"]


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    db_path: str
    library_path: str | None = None  # None: the shipped library
    origin: str = "http://localhost:8000"
    demo: bool = False
    hsts: bool = False  # only behind https; a wrong HSTS header locks users out of plain http for a year
    max_json_bytes: int = 1 * 1024 * 1024
    max_attachment_bytes: int = 10 * 1024 * 1024
    attachments_dir: str | None = None  # default: "<db>.attachments" next to the database
    build_dir: str | None = None  # serve a prebuilt PWA folder instead of building in memory
    build_result: Any = None  # a madoguchi.build.BuildResult already built (tests, serve)
    validation_workers: int = 0  # processes validating answers (0: in process); `madoguchi serve`: cores - 1
    export_mappings_dir: str | None = None  # CSV column overrides; default: "export-mappings/" next to the db
    # A city's own 申請書 layouts, <procedure id>.html (server/printing/form.py); default: "print-layouts/"
    # next to the db.
    print_layouts_dir: str | None = None
    # Rate limits and caps of the auth endpoints (docs/security.md "Limits"); tests that sign in many
    # times from one address raise them.
    auth_limits: AuthLimits = AuthLimits()
    client_ip_header: str | None = None  # e.g. "x-forwarded-for" behind a reverse proxy; off by default
    submission_lane: bool = True  # well-formed filings skip Litestar's pipeline (server/submission_lane.py)
    # Unfinished uploads (server/uploads.py): bytes reserved per account, open uploads per account, idle expiry.
    upload_quota_bytes: int = 200 * 1024 * 1024
    max_open_uploads: int = 20
    upload_expiry_s: int = 24 * 3600
    maintenance_interval_s: float = 60.0  # expired uploads cleaned, sync mark written (server/maintenance.py)
    # Web Push (server/push.py): hosts of the push services the server may post to (a host and its
    # subdomains); plain http endpoints only for tests' local push service; the sender (None: pywebpush);
    # the VAPID contact (``sub`` claim; None: the origin when https, else a mailto: of the host).
    push_hosts: tuple[str, ...] = DEFAULT_PUSH_HOSTS
    push_allow_http: bool = False
    push_sender: Any = None
    push_contact: str | None = None
    # Hand-off to the departments' core systems (server/handoff.py, docs/handoff.md): how often the sender
    # looks for due outbox rows, the first retry's wait and the longest (doubling, with jitter), the age after
    # which an undelivered row is failed; the poster (None: http.client; tests may swap it).
    handoff_interval_s: float = 5.0
    handoff_retry_base_s: float = 10.0
    handoff_retry_cap_s: float = 3600.0
    handoff_max_age_s: float = 7 * 24 * 3600.0
    handoff_poster: Any = None
    # Publishing a procedure (server/definitions, docs/configuring.md): 1 = the configurator who presses 公開する
    # with a fresh passkey check; 2 = a second configurator must approve it, also with a passkey.
    publish_approvals: int = 1
    # Reminders of bookings (server/booking/reminders.py, docs/booking.md "Reminders"): the city's SMS or mail
    # adapters (ReminderSender: one per channel; `madoguchi serve --reminder-sender module:Class`), and how often
    # the reminder job looks for what is due (0: never by itself; tests run its rounds).
    reminder_senders: tuple[Any, ...] = ()
    reminder_interval_s: float = 60.0

    @property
    def upload_limits(self) -> UploadLimits:
        return UploadLimits(quota_bytes=self.upload_quota_bytes, max_open=self.max_open_uploads,
                            expiry_s=self.upload_expiry_s)

    @property
    def attachment_root(self) -> Path:
        if self.attachments_dir:
            return Path(self.attachments_dir)
        p = Path(self.db_path)
        return p.with_name(p.name + ".attachments")

    @property
    def export_mappings_root(self) -> Path:
        from server.export import default_mappings_dir

        return Path(self.export_mappings_dir) if self.export_mappings_dir else default_mappings_dir(self.db_path)

    @property
    def print_layouts_root(self) -> Path:
        return Path(self.print_layouts_dir) if self.print_layouts_dir else Path(self.db_path).resolve().parent / "print-layouts"

    @property
    def push_subject(self) -> str:
        if self.push_contact:
            return self.push_contact
        if self.secure:
            return self.origin
        from urllib.parse import urlsplit

        return f"mailto:webmaster@{urlsplit(self.origin).hostname or 'localhost'}"

    @property
    def secure(self) -> bool:
        return self.origin.startswith("https://")
