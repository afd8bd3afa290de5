"""Every route of the real app × every role (and anonymous): allowed or denied, as the table below says.

The table is the authorization policy in one place. A route missing from it, or an entry for a route that
no longer exists, fails the test: adding an endpoint forces a decision about who may call it.

A request counts as *denied* when the answer is 401/403 with the ``unauthorized``/``forbidden`` problem
type (or an HTML 401/403). Anything else below 500 means the request got past authorization (a 404 for the
made-up ids we use is still "allowed"). No request may produce a 5xx. Each role signs in for real: residents
register a passkey, staff enroll through an invite, both with the software authenticator.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from server.auth import create_invite
from testsupport.servers import AppServer
from testsupport.webauthn import (
    SoftAuthenticator,
    enroll_staff,
    install_csrf,
    login,
    register_resident,
)

ANON = "anonymous"
RESIDENT, COUNTER, OUTREACH, REVIEWER, CONFIGURATOR, ADMIN = (
    "resident", "counter", "outreach", "reviewer", "configurator", "admin")
STAFF = frozenset({COUNTER, OUTREACH, REVIEWER, CONFIGURATOR, ADMIN})
SIGNED_IN = STAFF | {RESIDENT}
ANYONE = SIGNED_IN | {ANON}
CONSOLE = frozenset({COUNTER, OUTREACH, REVIEWER, ADMIN})
CONFIGURE = frozenset({CONFIGURATOR, ADMIN})

# (method, route path as Litestar spells it) -> who may call it.
EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/healthz"): ANYONE,
    ("GET", "/"): ANYONE,
    ("GET", "/schema"): ANYONE,
    ("GET", "/schema/openapi.json"): ANYONE,
    ("GET", "/schema/{path:str}"): ANYONE,
    # procedures and telemetry (no personal data)
    ("GET", "/api/procedures"): ANYONE,
    ("GET", "/api/procedures/{pid:str}/{version:str}"): ANYONE,
    # drafts of definitions (server/definitions/drafts_api.py): configurators and admins
    ("POST", "/api/drafts"): CONFIGURE,
    ("GET", "/api/drafts"): CONFIGURE,
    ("GET", "/api/drafts/{draft_id:str}"): CONFIGURE,
    ("PUT", "/api/drafts/{draft_id:str}"): CONFIGURE,
    ("DELETE", "/api/drafts/{draft_id:str}"): CONFIGURE,
    ("GET", "/api/drafts/{draft_id:str}/source"): CONFIGURE,
    ("GET", "/api/drafts/{draft_id:str}/diff"): CONFIGURE,
    ("POST", "/api/drafts/{draft_id:str}/validate"): CONFIGURE,
    ("POST", "/api/drafts/{draft_id:str}/scenarios"): CONFIGURE,
    ("POST", "/api/drafts/{draft_id:str}/publish-request"): CONFIGURE,
    # the configurator's console (server/console/procedure_pages.py, procedure_actions.py); publishing,
    # approving, retiring and restoring also need a fresh passkey check (after the role: tests/server/
    # test_console_procedures.py)
    ("GET", "/console/procedures"): CONFIGURE,
    ("GET", "/console/procedures/{pid:str}"): CONFIGURE,
    ("GET", "/console/procedures/drafts/{draft_id:str}"): CONFIGURE,
    ("POST", "/console/procedures/drafts/{draft_id:str}/preview"): CONFIGURE,
    ("GET", "/console/procedures/requests/{request_id:str}"): CONFIGURE,
    ("POST", "/console/procedures/drafts/{draft_id:str}/publish"): CONFIGURE,
    ("POST", "/console/procedures/requests/{request_id:str}/approve"): CONFIGURE,
    ("POST", "/console/procedures/requests/{request_id:str}/withdraw"): CONFIGURE,
    ("POST", "/console/procedures/{pid:str}/versions/{version:str}/retire"): CONFIGURE,
    ("POST", "/console/procedures/{pid:str}/versions/{version:str}/restore"): CONFIGURE,
    ("POST", "/api/telemetry"): ANYONE,
    ("POST", "/api/telemetry/sessions"): ANYONE,
    # submissions: object-level checks (owner, department) happen after these
    ("POST", "/api/submissions"): frozenset({RESIDENT, COUNTER, OUTREACH}),
    ("GET", "/api/submissions"): SIGNED_IN,
    ("GET", "/api/submissions/{sid:str}"): SIGNED_IN,
    ("POST", "/api/submissions/{sid:str}/respond"): SIGNED_IN,
    ("POST", "/api/submissions/{sid:str}/status"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("POST", "/api/attachments"): SIGNED_IN,
    # Web Push (server/push_routes.py): the public key is public; subscriptions are a resident's own
    ("GET", "/api/push/key"): ANYONE,
    ("POST", "/api/push/subscriptions"): frozenset({RESIDENT}),
    ("DELETE", "/api/push/subscriptions"): frozenset({RESIDENT}),
    ("GET", "/api/attachments/{sha256:str}"): SIGNED_IN,
    # two-person procedures (server/parties.py): residents only; then the filer / the party who claimed it
    ("POST", "/api/submissions/{sid:str}/parties/{party:str}/invitation"): frozenset({RESIDENT}),
    ("POST", "/api/submissions/{sid:str}/cancel"): frozenset({RESIDENT}),
    ("POST", "/api/party-invitations/claim"): frozenset({RESIDENT}),
    ("GET", "/api/party-confirmations"): frozenset({RESIDENT}),
    ("GET", "/api/party-confirmations/{sid:str}"): frozenset({RESIDENT}),
    ("POST", "/api/party-confirmations/{sid:str}"): frozenset({RESIDENT}),
    ("POST", "/api/party-confirmations/{sid:str}/cancel"): frozenset({RESIDENT}),
    # identity binding and the registry
    ("GET", "/api/me/profile"): SIGNED_IN,
    ("POST", "/api/accounts/{account_id:str}/bind"): frozenset({COUNTER, ADMIN}),
    ("GET", "/api/registry/search"): frozenset({COUNTER, OUTREACH, ADMIN}),
    ("GET", "/api/outreach/residents"): frozenset({OUTREACH}),
    # Outreach workers too, for their assigned residents only (tests/server/test_household.py): the made-up
    # resident here is assigned to nobody.
    ("GET", "/api/residents/{resident_id:str}/profile"): frozenset({COUNTER}),
    # staff console
    ("GET", "/console"): CONSOLE,
    ("GET", "/console/submissions/{sid:str}"): CONSOLE,
    ("GET", "/console/submissions/{sid:str}/form.pdf"): CONSOLE,  # the printed 申請書 (server/printing)
    ("POST", "/console/submissions/{sid:str}/status"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("GET", "/console/export"): frozenset({REVIEWER, ADMIN}),
    ("GET", "/console/bind"): frozenset({COUNTER, ADMIN}),
    ("POST", "/console/bind"): frozenset({COUNTER, ADMIN}),
    ("GET", "/console/static/{name:str}"): ANYONE,
    # visits (server/visits.py): counter opens, attaches, closes; reviewers work their department's parts (a
    # made-up visit is a 404 for them, past authorization)
    ("POST", "/api/visits"): frozenset({COUNTER, ADMIN}),
    ("GET", "/api/visits"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("GET", "/api/visits/{vid:str}"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("POST", "/api/visits/{vid:str}/parts"): frozenset({COUNTER, ADMIN}),
    ("POST", "/api/visits/{vid:str}/parts/{dept:str}/take"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("POST", "/api/visits/{vid:str}/parts/{dept:str}/complete"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("POST", "/api/visits/{vid:str}/parts/{dept:str}/release"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("POST", "/api/visits/{vid:str}/parts/{dept:str}/steps"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("POST", "/api/visits/{vid:str}/close"): frozenset({COUNTER, ADMIN}),
    ("POST", "/api/visits/{vid:str}/reopen"): frozenset({COUNTER, ADMIN}),
    ("GET", "/console/visits"): frozenset({COUNTER, REVIEWER, ADMIN}),
    # the hand-off outbox (server/console/handoff_page.py): admins only
    ("GET", "/console/handoff"): frozenset({ADMIN}),
    ("POST", "/console/handoff/{rid:int}/retry"): frozenset({ADMIN}),
    # analytics (server/analytics_api.py, server/console/analytics_page.py): de-identified figures, capability
    # analytics (bearer tokens of scope analytics too: the route's opt)
    ("GET", "/api/analytics/dataset"): frozenset({CONFIGURATOR, ADMIN}),
    ("GET", "/console/analytics"): frozenset({CONFIGURATOR, ADMIN}),
    ("GET", "/console/visits/new"): frozenset({COUNTER, ADMIN}),
    ("POST", "/console/visits"): frozenset({COUNTER, ADMIN}),
    ("GET", "/console/visits/{vid:str}"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("GET", "/console/visits/{vid:str}/guide.pdf"): frozenset({COUNTER, REVIEWER, ADMIN}),  # the 受付案内票
    ("GET", "/console/visits/{vid:str}/forms.pdf"): frozenset({COUNTER, REVIEWER, ADMIN}),  # every 申請書 of it
    ("POST", "/console/visits/{vid:str}/parts"): frozenset({COUNTER, ADMIN}),
    ("POST", "/console/visits/{vid:str}/parts/{dept:str}/{action:str}"): frozenset({COUNTER, REVIEWER, ADMIN}),
    # 持ち物 seen (確認済みにする): who may work the application's part (may_work_part), checked after the role
    ("POST", "/console/visits/{vid:str}/documents"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("POST", "/console/visits/{vid:str}/{action:str}"): frozenset({COUNTER, ADMIN}),
    # the interview of a visit (server/console/interview_pages.py): counter staff only (INTERVIEW_ROLES: the visit
    # desk that files on behalf and reads the prefill profile; admins do not file)
    ("POST", "/console/visits/{vid:str}/interviews"): frozenset({COUNTER}),
    ("GET", "/console/visits/{vid:str}/interviews/{iid:str}"): frozenset({COUNTER}),
    ("POST", "/console/visits/{vid:str}/interviews/{iid:str}"): frozenset({COUNTER}),
    # counter codes (server/counter_code.py): a resident's own code; the counter loads it into a visit and binds
    ("POST", "/api/me/counter-code"): frozenset({RESIDENT}),
    ("DELETE", "/api/me/counter-code"): frozenset({RESIDENT}),
    ("POST", "/api/visits/{vid:str}/counter-code"): frozenset({COUNTER, ADMIN}),
    ("GET", "/api/visits/{vid:str}/preentry"): frozenset({COUNTER, ADMIN}),
    ("POST", "/api/visits/{vid:str}/bind-account"): frozenset({COUNTER, ADMIN}),
    ("POST", "/console/visits/{vid:str}/counter-code"): frozenset({COUNTER, ADMIN}),
    ("POST", "/console/visits/{vid:str}/bind-account"): frozenset({COUNTER, ADMIN}),
    # visit bookings (server/booking/api.py): anyone reads places, options and slots; residents book for
    # themselves, people without an account with a name and phone, the desk on a resident's behalf (other staff
    # roles no); a booking itself answers its account, its manage token or the desk, 404 to everyone else
    ("GET", "/api/booking/places"): ANYONE,
    ("GET", "/api/booking/options"): ANYONE,
    ("GET", "/api/booking/slots"): ANYONE,
    ("POST", "/api/bookings/holds"): frozenset({ANON, RESIDENT, COUNTER, ADMIN}),
    ("POST", "/api/bookings"): frozenset({ANON, RESIDENT, COUNTER, ADMIN}),
    ("GET", "/api/bookings"): frozenset({RESIDENT}),
    ("GET", "/api/bookings/{booking_id:str}"): ANYONE,
    ("POST", "/api/bookings/{booking_id:str}/cancel"): ANYONE,
    ("POST", "/api/bookings/{booking_id:str}/move"): ANYONE,
    # auth (server/auth)
    ("GET", "/api/session"): ANYONE,
    ("POST", "/auth/register/options"): ANYONE,
    ("POST", "/auth/register/verify"): ANYONE,
    ("POST", "/auth/login/options"): ANYONE,
    ("POST", "/auth/login/verify"): ANYONE,
    ("POST", "/auth/recovery"): ANYONE,
    ("POST", "/auth/recovery/options"): ANYONE,
    ("POST", "/auth/recovery/verify"): ANYONE,
    ("POST", "/auth/logout"): ANYONE,
    ("POST", "/auth/logout-all"): SIGNED_IN,
    ("GET", "/enroll/{token:str}"): ANYONE,
    ("GET", "/auth/enroll.js"): ANYONE,
    ("POST", "/auth/enroll/options"): ANYONE,
    ("POST", "/auth/enroll/verify"): ANYONE,
    ("GET", "/api/me/passkeys"): SIGNED_IN,
    ("POST", "/auth/passkeys/options"): SIGNED_IN,
    ("POST", "/auth/passkeys/verify"): SIGNED_IN,
    ("PATCH", "/api/me/passkeys/{passkey_id:str}"): SIGNED_IN,
    ("DELETE", "/api/me/passkeys/{passkey_id:str}"): SIGNED_IN,
    ("POST", "/auth/recovery-codes"): frozenset({RESIDENT}),  # staff have none: an admin re-invites them
    ("POST", "/auth/reauth/options"): SIGNED_IN,
    ("POST", "/auth/reauth/verify"): SIGNED_IN,
    # notebook/CLI sign-in and tokens (server/auth/oauth.py, token_pages.py): configurators and admins
    # (capability configure/analytics); the token endpoints take secrets, not a session; /api/me/token
    # answers a bearer token only (every session is refused)
    ("GET", "/oauth/authorize"): frozenset({CONFIGURATOR, ADMIN}),
    ("POST", "/oauth/authorize"): frozenset({CONFIGURATOR, ADMIN}),
    ("POST", "/oauth/token"): ANYONE,
    ("POST", "/oauth/device_authorization"): ANYONE,
    ("GET", "/oauth/studio.js"): ANYONE,
    ("GET", "/console/device"): frozenset({CONFIGURATOR, ADMIN}),
    ("POST", "/console/device"): frozenset({CONFIGURATOR, ADMIN}),
    ("GET", "/console/tokens"): frozenset({CONFIGURATOR, ADMIN}),
    ("POST", "/console/tokens"): frozenset({CONFIGURATOR, ADMIN}),
    ("POST", "/console/tokens/{tid:str}/revoke"): frozenset({CONFIGURATOR, ADMIN}),
    ("GET", "/api/me/token"): frozenset(),
    # preview links (server/preview.py): configurators make them; the token is the permission to open one
    ("POST", "/api/drafts/{draft_id:str}/preview"): CONFIGURE,
    ("GET", "/preview/{token:str}"): ANYONE,
    ("GET", "/preview/static/{name:str}"): ANYONE,
    ("GET", "/api/preview/{token:str}"): ANYONE,
    ("GET", "/api/preview/{token:str}/qr.svg"): ANYONE,
    # sync (docs/sync.md): push/pull for every signed-in account; the store decides per record (drafts:
    # owner only; shared records: counter/admin all, reviewers their department, outreach their assignments)
    ("POST", "/sync/push"): SIGNED_IN,
    ("GET", "/sync/pull"): SIGNED_IN,
    ("POST", "/sync/blobs"): frozenset({RESIDENT, COUNTER, OUTREACH}),
    ("PATCH", "/sync/blobs/{sha256:str}"): frozenset({RESIDENT, COUNTER, OUTREACH}),
    ("GET", "/api/conflicts"): SIGNED_IN,
    ("GET", "/api/conflicts/{cid:int}"): SIGNED_IN,
    ("POST", "/api/conflicts/{cid:int}/resolve"): frozenset({RESIDENT}) | CONSOLE,
    ("GET", "/console/conflicts"): CONSOLE,
    ("POST", "/console/conflicts/{cid:int}/resolve"): CONSOLE,
    ("GET", "/console/assets/sync-conflicts.js"): ANYONE,
    # the desk's bookings and lobby kiosks (server/console/booking_pages.py, kiosk_pages.py): queue_desk; the
    # kiosk page is public (without a paired kiosk's cookie it only says so)
    ("GET", "/console/bookings"): frozenset({COUNTER, ADMIN}),
    ("GET", "/console/bookings/{bid:str}"): frozenset({COUNTER, ADMIN}),
    ("GET", "/console/bookings/new"): frozenset({COUNTER, ADMIN}),
    ("POST", "/console/bookings/new"): frozenset({COUNTER, ADMIN}),
    ("POST", "/console/bookings/{bid:str}/cancel"): frozenset({COUNTER, ADMIN}),
    ("POST", "/console/bookings/{bid:str}/checkin"): frozenset({COUNTER, ADMIN}),
    ("POST", "/console/bookings/walkin"): frozenset({COUNTER, ADMIN}),
    ("GET", "/console/kiosks"): frozenset({COUNTER, ADMIN}),
    ("POST", "/console/kiosks"): frozenset({COUNTER, ADMIN}),
    ("POST", "/console/kiosks/{kid:str}/revoke"): frozenset({COUNTER, ADMIN}),
    ("GET", "/kiosk"): ANYONE,
    # the one queue (server/tickets/api.py, booths.py): the desk (or a paired kiosk of the place) checks bookings in and
    # draws walk-in tickets, residents their own ticket from the app; the ticket's secret link is the permission
    # to follow it; the board is public (numbers and booths only); the booths (capability queue) call and serve
    ("POST", "/api/queue/{place:str}/checkin"): frozenset({COUNTER, ADMIN}),
    ("POST", "/api/queue/{place:str}/tickets"): frozenset({RESIDENT, COUNTER, ADMIN}),
    ("GET", "/api/tickets/{token:str}"): ANYONE,
    ("GET", "/api/tickets/{token:str}/events"): ANYONE,
    ("POST", "/api/tickets/{token:str}/push"): ANYONE,
    ("DELETE", "/api/tickets/{token:str}/push"): ANYONE,
    ("POST", "/api/tickets/{token:str}/leave"): ANYONE,
    ("GET", "/api/queue/{place:str}/board"): ANYONE,
    ("GET", "/api/queue/{place:str}/board/events"): ANYONE,
    ("GET", "/api/queue/{place:str}"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("POST", "/api/queue/{place:str}/call"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("POST", "/api/queue/tickets/{tid:str}/recall"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("POST", "/api/queue/tickets/{tid:str}/missed"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("POST", "/api/queue/tickets/{tid:str}/serve"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("POST", "/api/queue/tickets/{tid:str}/finish"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("POST", "/api/queue/tickets/{tid:str}/left"): frozenset({COUNTER, REVIEWER, ADMIN}),
    # the lobby board page and its files (server/tickets/board_page.py): public; the booth's queue page
    # (server/console/queue_pages.py): the booths (queue)
    ("GET", "/board"): ANYONE,
    ("GET", "/board/{place:str}"): ANYONE,
    ("GET", "/board.js"): ANYONE,
    ("GET", "/polling.js"): ANYONE,  # the resident app's polling rule board.js imports
    ("GET", "/board.css"): ANYONE,
    ("GET", "/console/queue"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("POST", "/console/queue/call"): frozenset({COUNTER, REVIEWER, ADMIN}),
    ("POST", "/console/queue/tickets/{tid:str}/{action:str}"): frozenset({COUNTER, REVIEWER, ADMIN}),
}

# Static files of the PWA build (their set depends on the build): public by nature.
PUBLIC_MODULES = {"server.pwa"}

# Made-up path parameters: nothing exists under these ids.
PATH_VALUES = {"sid": str(uuid.UUID(int=1)), "sha256": "0" * 64, "pid": "no-such-procedure", "version": "1",
               "account_id": "no-such-account", "passkey_id": "no-such-passkey", "token": "no-such-token",
               "name": "console.css", "path": "no-such-file", "cid": "999999",
               "resident_id": "no-such-resident", "party": "partner", "vid": str(uuid.UUID(int=2)), "iid": str(uuid.UUID(int=4)),
               "dept": "shimin", "action": "close", "rid": "999999", "tid": "no-such-token",
               "draft_id": "drf_no-such-draft", "request_id": "pub_no-such-request",
               "bid": str(uuid.UUID(int=5)), "kid": "no-such-kiosk",
               "booking_id": "no-such-booking",
               # a place nobody configured: every queue route answers 404 before a ticket is made or a live
               # stream opens
               "place": "no-such-place"}

# Requests valid enough to pass input validation, so the answer shows the authorization decision.
SAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/submissions"): {"json": {"id": str(uuid.uuid4()), "procedure_id": "no-such-procedure",
                                            "procedure_version": "1", "answers": {}}},
    ("POST", "/api/submissions/{sid:str}/respond"): {"json": {"comment": "x"}},
    ("POST", "/api/drafts"): {"json": {"filename": "x.yaml", "source": "id: x"}},
    ("PUT", "/api/drafts/{draft_id:str}"): {"json": {"filename": "x.yaml", "source": "id: x"}},
    ("POST", "/api/drafts/{draft_id:str}/validate"): {"json": {"answers": {}}},
    ("POST", "/api/push/subscriptions"): {"json": {"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": {
        "p256dh": "B" + "A" * 86, "auth": "A" * 22}}},
    ("DELETE", "/api/push/subscriptions"): {"params": {"endpoint": "https://fcm.googleapis.com/fcm/send/x"}},
    ("POST", "/api/submissions/{sid:str}/status"): {"json": {"status": "in_review"}},
    ("POST", "/api/party-invitations/claim"): {"json": {"code": "ZZZZ-ZZZZ-ZZZZ"}},
    ("POST", "/api/party-confirmations/{sid:str}"): {"json": {"answers": {}}},
    ("POST", "/api/attachments"): {"content": b"%PDF-1.4\n", "headers": {"Content-Type": "application/pdf"}},
    ("POST", "/api/accounts/{account_id:str}/bind"): {"json": {"resident_id": "no-such-resident"}},
    ("GET", "/api/registry/search"): {"params": {"q": "山田"}},
    ("POST", "/api/telemetry"): {"json": {"procedure_id": "no-such-procedure", "procedure_version": "1"}},
    ("POST", "/api/telemetry/sessions"): {"json": {"session": "s" * 16, "procedure_id": "no-such-procedure",
                                                   "procedure_version": "1", "channel": "resident",
                                                   "outcome": "left"}},
    ("POST", "/console/submissions/{sid:str}/status"): {"data": {"status": "in_review"}},
    ("POST", "/console/bind"): {"data": {"account_id": "no-such-account", "resident_id": "no-such-resident"}},
    ("POST", "/api/visits"): {"json": {"id": str(uuid.UUID(int=3)), "resident_id": "no-such-resident"}},
    ("POST", "/api/visits/{vid:str}/parts"): {"json": {"submission_ids": ["no-such-submission"]}},
    ("POST", "/api/visits/{vid:str}/parts/{dept:str}/steps"): {"json": {"step": "confirm"}},
    ("POST", "/console/visits"): {"data": {"resident_id": "no-such-resident"}},
    ("POST", "/console/visits/{vid:str}/parts"): {"data": {"submission_ids": "no-such-submission"}},
    ("POST", "/console/visits/{vid:str}/documents"): {"data": {"submission_id": "no-such", "document_id": "x"}},
    ("POST", "/console/visits/{vid:str}/interviews"): {"data": {"life_event": "moving-within"}},
    ("POST", "/console/visits/{vid:str}/interviews/{iid:str}"): {"data": {"op": "update"}},
    ("POST", "/api/visits/{vid:str}/counter-code"): {"json": {"code": "ZZZZZZ"}},
    ("POST", "/console/visits/{vid:str}/counter-code"): {"data": {"code": "ZZZZZZ"}},
    ("POST", "/auth/register/options"): {"json": {"display_name": "matrix"}},
    ("POST", "/auth/register/verify"): {"json": {"challenge_id": "none", "credential": {}}},
    ("POST", "/auth/login/verify"): {"json": {"challenge_id": "none", "credential": {}}},
    ("POST", "/auth/recovery"): {"json": {"account_id": "no-such-account", "code": "0000"}},
    ("POST", "/auth/recovery/options"): {"json": {"code": "0000-0000-0000-0000-0000"}},
    ("POST", "/auth/recovery/verify"): {"json": {"challenge_id": "none", "credential": {}}},
    ("POST", "/auth/enroll/options"): {"json": {"token": "no-such-token"}},
    ("POST", "/auth/enroll/verify"): {"json": {"token": "no-such-token", "challenge_id": "none", "credential": {}}},
    ("POST", "/auth/passkeys/verify"): {"json": {"challenge_id": "none", "credential": {}}},
    ("POST", "/auth/reauth/verify"): {"json": {"challenge_id": "none", "credential": {}}},
    ("PATCH", "/api/me/passkeys/{passkey_id:str}"): {"json": {"name": "x"}},
    ("POST", "/oauth/authorize"): {"data": {"client_id": "madoguchi-studio", "decision": "deny"}},
    ("POST", "/oauth/token"): {"data": {"grant_type": "refresh_token", "refresh_token": "mdg_none"}},
    ("POST", "/oauth/device_authorization"): {"data": {"client_id": "madoguchi-studio", "scope": "drafts"}},
    ("POST", "/console/device"): {"data": {"code": "BBBB-BBBB", "decision": "deny"}},
    ("POST", "/console/tokens"): {"data": {"name": "matrix", "scopes": "drafts", "days": "1"}},
    ("POST", "/api/bookings/holds"): {"json": {"place": "no-such-place", "day": "2030-01-07", "start": "09:00",
                                               "procedures": ["no-such-procedure"]}},
    ("POST", "/api/bookings"): {"json": {"hold_id": "no-such-hold", "name": "照合 太郎", "phone": "0312345678"}},
    ("POST", "/api/bookings/{booking_id:str}/move"): {"json": {"hold_id": "no-such-hold"}},
    ("POST", "/api/queue/{place:str}/checkin"): {"json": {"code": "ZZZZ-ZZZZ"}},
    ("POST", "/api/queue/{place:str}/tickets"): {"json": {}},
    ("POST", "/api/queue/{place:str}/call"): {"json": {"booth": "1"}},
    ("POST", "/console/queue/call"): {"data": {"place": "no-such-place", "booth": "1"}},
    ("POST", "/console/queue/tickets/{tid:str}/{action:str}"): {"data": {"place": "no-such-place", "booth": "1"}},
    ("POST", "/api/tickets/{token:str}/push"): {"json": {"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": {
        "p256dh": "B" + "A" * 86, "auth": "A" * 22}}},
    ("DELETE", "/api/tickets/{token:str}/push"): {"params": {"endpoint": "https://fcm.googleapis.com/fcm/send/x"}},
}

# These end the caller's session: sign in again afterwards.
SIGNS_OUT = {("POST", "/auth/logout"), ("POST", "/auth/logout-all")}


def app_routes(app: Any) -> dict[tuple[str, str], Any]:
    """(method, path) -> handler for every route of the app, without the automatic OPTIONS/HEAD handlers."""
    found: dict[tuple[str, str], Any] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in getattr(handler, "http_methods", ()):
                if method in ("OPTIONS", "HEAD"):
                    continue
                found[(method, route.path)] = handler
    return found


def expected_roles(key: tuple[str, str], handler: Any) -> frozenset[str] | None:
    if key in EXPECTED:
        return EXPECTED[key]
    if getattr(handler.fn, "__module__", None) in PUBLIC_MODULES:
        return ANYONE
    return None


class Caller:
    def __init__(self, role: str, client: httpx.Client, authenticator: SoftAuthenticator | None) -> None:
        self.role, self.client, self.authenticator = role, client, authenticator


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, Caller]]]:
    with AppServer.on_file(tmp_path_factory.mktemp("matrix") / "m.db") as srv:
        app, base_url = srv.app, srv.url
        callers: dict[str, Caller] = {}
        clients: list[httpx.Client] = []
        for role in sorted(ANYONE):
            client = httpx.Client(base_url=base_url, timeout=10, follow_redirects=False)
            clients.append(client)
            install_csrf(client)
            auth: SoftAuthenticator | None = None
            if role == RESIDENT:
                _, auth = register_resident(client, base_url)
            elif role in STAFF:
                url = create_invite(app.state.db, f"{role} 職員", role, "koseki" if role == REVIEWER else None,
                                    base_url)
                account, auth = enroll_staff(client, url)
                assert account["role"] == role
            callers[role] = Caller(role, client, auth)
        try:
            yield app, callers
        finally:
            for c in clients:
                c.close()


def test_table_matches_the_app(world: tuple[Any, dict[str, Caller]]) -> None:
    app, _ = world
    routes = app_routes(app)
    missing = sorted(k for k, h in routes.items() if expected_roles(k, h) is None)
    assert not missing, f"routes without an authorization entry in EXPECTED: {missing}"
    stale = sorted(set(EXPECTED) - set(routes))
    assert not stale, f"EXPECTED lists routes the app does not have: {stale}"


def _denied(r: httpx.Response) -> bool:
    # A configurator opening a casework console page lands on their own page (server/console/landing.py):
    # sent away, not let in.
    if r.status_code == 303 and r.headers.get("location") == "/console/procedures":
        return True
    if r.status_code not in (401, 403):
        return False
    if r.headers.get("content-type", "").startswith("application/problem+json"):
        slug = str(r.json().get("type", "")).rsplit("/", 1)[-1]
        assert slug != "csrf", f"CSRF refused the matrix request itself: {r.text}"
        return slug in ("unauthorized", "forbidden")
    return True


def test_every_route_for_every_role(world: tuple[Any, dict[str, Caller]]) -> None:
    app, callers = world
    wrong: list[str] = []
    for (method, path), handler in sorted(app_routes(app).items()):
        allowed = expected_roles((method, path), handler)
        assert allowed is not None  # see test_table_matches_the_app
        url = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PATH_VALUES[m.group(1)], path)
        for role, caller in sorted(callers.items()):
            r = caller.client.request(method, url, **SAMPLES.get((method, path), {}))
            if r.status_code >= 500:
                wrong.append(f"{method} {path} as {role}: server error {r.status_code}")
                continue
            denied = _denied(r)
            if denied == (role in allowed):
                verdict = "denied" if denied else "allowed"
                wrong.append(f"{method} {path} as {role}: {verdict} ({r.status_code})")
            if (method, path) in SIGNS_OUT and caller.authenticator is not None:
                login(caller.client, caller.authenticator)
    assert not wrong, "authorization differs from EXPECTED:\n" + "\n".join(wrong)


def test_guards_run_before_input_validation(world: tuple[Any, dict[str, Caller]]) -> None:
    """Anonymous garbage to a signed-in-only auth endpoint is refused as unauthenticated, not parsed."""
    _, callers = world
    anon = callers[ANON].client
    for method, path in (("POST", "/auth/passkeys/verify"), ("PATCH", "/api/me/passkeys/x"), ("POST", "/auth/logout-all")):
        r = anon.request(method, path, content=b"not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 401, (method, path, r.text)


# The capabilities the apps show (server.auth.roles.CAPABILITIES, sent as ``account.can``) and a route that
# each one stands for: a page shows a role exactly what the matrix above lets it call.
CAPABILITY_ROUTES = {
    "file": ("POST", "/api/submissions"),
    "assigned_residents": ("GET", "/api/outreach/residents"),
    "registry_search": ("GET", "/api/registry/search"),
    "console": ("GET", "/console"),
    "review": ("GET", "/console/export"),
    "status": ("POST", "/api/submissions/{sid:str}/status"),
    "recovery_codes": ("POST", "/auth/recovery-codes"),
    "parties": ("POST", "/api/party-invitations/claim"),
    "visits": ("GET", "/api/visits"),
    "visit_desk": ("POST", "/api/visits"),
    "interview": ("POST", "/console/visits/{vid:str}/interviews"),
    "counter_code": ("POST", "/api/me/counter-code"),
    "preentry_load": ("POST", "/api/visits/{vid:str}/counter-code"),
    "handoff": ("GET", "/console/handoff"),
    "configure": ("GET", "/api/drafts"),
    "analytics": ("GET", "/console/analytics"),
    "queue_desk": ("GET", "/console/bookings"),
    "booking": ("GET", "/api/bookings"),
    "queue": ("POST", "/api/queue/{place:str}/call"),
}


def test_capabilities_are_the_matrix(world: tuple[Any, dict[str, Caller]]) -> None:
    from server.auth.roles import CAPABILITIES, CASEWORK_ROLES

    _, callers = world
    for name, route in CAPABILITY_ROUTES.items():
        assert frozenset(CAPABILITIES[name]) == EXPECTED[route], name
    # Staff filers are the filers who are staff; shared household records are pushed by casework roles.
    assert frozenset(CAPABILITIES["file_on_behalf"]) == EXPECTED[("POST", "/api/submissions")] - {RESIDENT}
    assert CAPABILITIES["households"] == CASEWORK_ROLES
    assert set(CAPABILITY_ROUTES) | {"file_on_behalf", "households"} == set(CAPABILITIES)
    # Each signed-in role learns its own from the session endpoint.
    for role, caller in callers.items():
        account = caller.client.get("/api/session").json()["account"]
        if role == ANON:
            assert account is None
            continue
        assert account["can"] == [n for n, roles in CAPABILITIES.items() if role in roles], role
