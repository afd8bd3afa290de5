"""The Litestar application: ``create_app(settings)`` wires storage, catalog, auth, APIs, console and PWA."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import msgspec
from litestar import Litestar, Request, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from procedure_definitions.namefold import FOLD_VERSION
from server import input_limits
from server.attachments import attachments_router
from server.booking.api import booking_router
from server.catalog import Catalog, load_library, publish_library
from server.counter_code import counter_code_router
from server.demo import leave_demo
from server.export import load_mappings
from server.form_sessions import form_sessions_handler
from server.handoff import HandoffSender
from server.identity import identity_router
from server.maintenance import Maintenance, at_start
from server.parties import parties_router
from server.preview import preview_router
from server.problems import exception_handlers
from server.procedures import procedures_router
from server.push import Notifier, WebPushSender, ensure_vapid
from server.push_routes import push_router
from server.pwa import build_bundle, pwa_handlers
from server.registry import SQLiteRegistry
from server.registry_search import refresh_search_keys
from server.security import security_headers
from server.services import Services, services
from server.settings import Settings
from server.storage.db import Database
from server.storage.schema import migrate
from server.storage.submission_search import refresh_submission_search
from server.storage.submissions import SQLiteSubmissions
from server.submission_lane import install_submission_lane
from server.submissions import submissions_router
from server.telemetry import telemetry_handler
from server.validation import ValidationPool
from server.visits import visits_router

__all__ = ["Settings", "create_app", "open_services"]

log = logging.getLogger("madoguchi")


class Health(msgspec.Struct):
    status: str


@get("/healthz", summary="Liveness and readiness", tags=["health"])
async def healthz(request: Request[Any, Any, Any]) -> Health:
    # Anyone may ask; the answer reveals nothing but readiness. A read proves the database answers.
    await services(request).db.read(lambda c: c.execute("SELECT 1").fetchone())
    return Health("ok")


def open_services(settings: Settings, *, library: Any = None) -> Services:
    """Open the database, apply migrations, publish the library and build the PWA."""
    db = Database.open(settings.db_path)
    try:
        db.write_sync(migrate)
        # Keys made by another name fold (a city extended name_variants.txt) are rebuilt before any search.
        if db.write_sync(refresh_search_keys):
            log.info("registry search keys rebuilt for fold %s", FOLD_VERSION)
        if db.write_sync(refresh_submission_search):  # the console queue's, by the same fold
            log.info("submission search keys rebuilt for fold %s", FOLD_VERSION)
        # A restored older copy gets a new sync identity before any device pulls from it.
        db.write_sync(lambda c: at_start(c, settings.db_path))
        if not settings.demo:  # from now on accounts made here are real: --demo refuses the file (server/demo.py)
            db.write_sync(lambda c: leave_demo(c, "serve without --demo", actor=None))
        folder = library if library is not None else load_library(settings.library_path)
        stats = db.write_sync(lambda c: publish_library(c, folder))
        log.info("library imported: %s", stats)
        catalog = Catalog(folder, db)
        # From here on the table is the truth: what was published or retired in the console counts too.
        lib = db.read_sync(catalog.reload_in)
        # A broken mapping file must stop the start, not silently change the columns a core system imports.
        mappings = load_mappings(settings.export_mappings_root)
        if mappings:
            log.info("CSV export mappings: %s", ", ".join(sorted(mappings)))
        bundle = build_bundle(lib, settings)
        db.write_sync(ensure_vapid)  # the installation's Web Push key pair, made once
    except BaseException:
        db.close()
        raise
    notifier = Notifier(db, settings.push_sender or WebPushSender(), subject=settings.push_subject)
    handoff = HandoffSender(db, mappings=mappings, poster=settings.handoff_poster,
                            interval_s=settings.handoff_interval_s, base_s=settings.handoff_retry_base_s,
                            cap_s=settings.handoff_retry_cap_s, max_age_s=settings.handoff_max_age_s)
    return Services(settings=settings, db=db, catalog=catalog, submissions=SQLiteSubmissions(db),
                    registry=SQLiteRegistry(db), pwa=bundle, export_mappings=mappings,
                    validator=ValidationPool(settings.validation_workers), notifier=notifier,
                    handoff=handoff)


def create_app(settings: Settings, *, library: Any = None, extra_handlers: Sequence[Any] = ()) -> Litestar:
    svc = open_services(settings, library=library)
    from server.auth import AuthConfig, install
    from server.booking.manage_links import manage_url_in
    from server.booking.reminders import ReminderJob
    from server.console import console_router
    from server.console.analytics_page import analytics_router
    from server.console.booking_pages import booking_pages_router
    from server.console.handoff_page import handoff_page_router
    from server.console.interview_pages import interview_pages_router
    from server.console.kiosk_pages import kiosk_pages_router
    from server.console.preentry_pages import preentry_pages_router
    from server.console.procedure_actions import procedure_actions_router
    from server.console.procedure_pages import procedure_pages_router
    from server.console.queue_pages import queue_pages_router
    from server.console.visit_pages import visit_pages_router
    from server.definitions.drafts_api import drafts_router
    from server.definitions.publishing import GoLiveWatcher
    from server.printing.routes import print_router
    from server.sync_routes import SyncConfig
    from server.tickets.api import queue_router
    from server.tickets.board_page import board_router
    from server.tickets.hub import QueueHub

    # Sync finds the database, attachment root and catalog in app.state.services.
    on_init = [install(AuthConfig(db=svc.db, origin=settings.origin, limits=settings.auth_limits,
                                  client_ip_header=settings.client_ip_header)), SyncConfig().on_app_init,
               input_limits.on_app_init]

    golive = GoLiveWatcher(svc)
    # Reminders the day before a booking, no-shows at closing time, lapsed holds (docs/booking.md "Reminders").
    reminders = ReminderJob(svc.db, svc.notifier, settings.reminder_senders, origin=settings.origin,
                            manage_url=lambda c, bid: manage_url_in(c, bid, settings.origin),
                            interval_s=settings.reminder_interval_s)
    hub = QueueHub(svc.db, svc.notifier)  # the queue's live updates: one per app (docs/queue.md)
    maintenance = Maintenance(svc.db, root=settings.attachment_root, expiry_s=settings.upload_expiry_s,
                              interval_s=settings.maintenance_interval_s)
    app = Litestar(
        route_handlers=[
            healthz, submissions_router, parties_router, attachments_router, procedures_router, identity_router,
            telemetry_handler, form_sessions_handler, push_router, visits_router, counter_code_router,
            console_router, visit_pages_router, interview_pages_router, preentry_pages_router, print_router,
            handoff_page_router, drafts_router, analytics_router, preview_router, procedure_pages_router,
            procedure_actions_router, kiosk_pages_router, booking_pages_router, booking_router, queue_router, board_router,
            queue_pages_router,
            *pwa_handlers(svc.pwa), *extra_handlers,
        ],
        on_app_init=on_init,
        before_send=[security_headers(hsts=settings.hsts)],
        exception_handlers=exception_handlers,
        request_max_body_size=settings.max_json_bytes,
        openapi_config=OpenAPIConfig(
            title="Madoguchi API", version="0.1.0", path="/schema", render_plugins=[JsonRenderPlugin()],
        ),
        # Worker processes and housekeeping start with the event loop (and stop before the database).
        on_startup=[svc.validator.start, maintenance.start, golive.start, reminders.start, hub.start,
                    *([svc.notifier.start] if svc.notifier else []), *([svc.handoff.start] if svc.handoff else [])],
        on_shutdown=[hub.stop, svc.validator.stop, maintenance.stop, golive.stop, reminders.stop,
                     *([svc.notifier.stop] if svc.notifier else []),
                     *([svc.handoff.stop] if svc.handoff else []),
                     lambda: svc.db.close()],
        debug=False,
    )
    # The busiest request's success case skips Litestar's pipeline; anything else still goes through it.
    if settings.submission_lane:
        install_submission_lane(app, svc, max_body=settings.max_json_bytes)
    app.state.services = svc
    app.state.db = svc.db
    app.state.settings = settings
    app.state.reminders = reminders
    app.state.queue_hub = hub
    return app
