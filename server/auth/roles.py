"""Roles and the department rule: defined here once, imported by every path that decides access.

The HTTP handlers (``server.authz``, ``server.auth.guards``), the console, the submission fast lane and the
sync store's access rules all ask these functions; none keeps its own copy of a role list or of "who sees
which department". This module imports nothing from the project, so anything may import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Protocol

__all__ = [
    "ALL_DEPARTMENTS_ROLES",
    "ANALYTICS_ROLES",
    "ASSIGNED_ROLES",
    "BIND_ROLES",
    "BOOKING_ROLES",
    "CAPABILITIES",
    "CASEWORK_ROLES",
    "CONFIGURE_ROLES",
    "CONFLICT_RESOLVER_ROLES",
    "COUNTER_CODE_ROLES",
    "FILER_ROLES",
    "HANDOFF_ROLES",
    "INTERVIEW_ROLES",
    "PARTY_ROLES",
    "PREENTRY_LOAD_ROLES",
    "PROFILE_READ_ROLES",
    "QUEUE_DESK_ROLES",
    "QUEUE_ROLES",
    "RECOVERY_ROLES",
    "REGISTRY_ROLES",
    "REVIEW_ROLES",
    "ROLES",
    "STAFF_FILER_ROLES",
    "STAFF_ROLES",
    "STATUS_CHANGES",
    "STATUS_ROLES",
    "VISIT_DESK_ROLES",
    "VISIT_ROLES",
    "HasRole",
    "can_access_department",
    "capabilities",
    "department_filter",
    "is_staff_role",
    "may_link_visit",
    "may_override_part",
    "may_serve_ticket",
    "may_work_part",
]

# The resident uses the service for themselves; every other role is municipal staff. The accounts table's
# CHECK constraint (auth migration v1) lists the same six.
STAFF_ROLES: Final[tuple[str, ...]] = ("counter", "outreach", "reviewer", "configurator", "admin")
ROLES: Final[tuple[str, ...]] = ("resident", *STAFF_ROLES)

# Roles that work across every department: counter and outreach staff file on behalf of residents for the
# whole counter, admins oversee everything. Reviewers see their own department only; configurators and
# residents no department at all (residents see their own records by ownership, not by department).
ALL_DEPARTMENTS_ROLES: Final[frozenset[str]] = frozenset({"counter", "outreach", "admin"})

# The groups that several paths check (each named once here, so the HTTP API, sync and the console agree):
# who files applications (residents for themselves, counter and outreach staff on behalf of residents);
FILER_ROLES: Final[tuple[str, ...]] = ("resident", "counter", "outreach")
# staff who work with residents' applications and records (the console, shared sync records, conflicts);
CASEWORK_ROLES: Final[tuple[str, ...]] = ("counter", "outreach", "reviewer", "admin")
# who resolves sync conflicts (residents only their own drafts'; configurators see no records);
CONFLICT_RESOLVER_ROLES: Final[tuple[str, ...]] = ("resident", *CASEWORK_ROLES)
# who decides on applications (status changes, exports);
REVIEW_ROLES: Final[tuple[str, ...]] = ("reviewer", "admin")
# who changes a submission's status, and which changes (server.authz.status_change_allowed), among the moves
# the status model has (server.storage.submissions.TRANSITIONS). ``None``: every move (reviewers in their own
# department, admins). Counter staff (窓口) take applications in and check them for completeness (形式審査:
# 受付, 回付 to the department, asking for what is missing — 補正の求め, 行政手続法第7条), but the decision
# itself (受理/却下: the department's 審査 and 決裁) and closing it (完了) are the department reviewer's.
# docs/security.md "Status changes by role" is the table of this rule.
STATUS_CHANGES: Final[dict[str, frozenset[tuple[str, str]] | None]] = {
    "counter": frozenset({("received", "in_review"), ("in_review", "needs_info"), ("needs_info", "in_review")}),
    "reviewer": None,
    "admin": None,
}
STATUS_ROLES: Final[tuple[str, ...]] = tuple(STATUS_CHANGES)
# who binds an account to a registry record after checking ID at the counter;
BIND_ROLES: Final[tuple[str, ...]] = ("counter", "admin")
# who starts or confirms a two-person procedure from their own account (the first filer and each party:
# residents; staff at the counter fill every part at once);
PARTY_ROLES: Final[tuple[str, ...]] = ("resident",)
# who searches the registry (to file on behalf of a resident, or to bind an account).
REGISTRY_ROLES: Final[tuple[str, ...]] = ("counter", "outreach", "admin")
# who has recovery codes (makes them, and signs in or recovers with one): residents; staff are re-invited.
RECOVERY_ROLES: Final[tuple[str, ...]] = ("resident",)
# who reads a resident's prefill profile to file on their behalf (the staff filers): counter staff for any
# resident in front of them, outreach workers for the residents assigned to them only (server.identity).
PROFILE_READ_ROLES: Final[tuple[str, ...]] = ("counter", "outreach")
# who has residents assigned to them (GET /api/outreach/residents; sync: the assigned households).
ASSIGNED_ROLES: Final[tuple[str, ...]] = ("outreach",)
# staff who file on behalf of a resident (the staff among the filers).
STAFF_FILER_ROLES: Final[tuple[str, ...]] = tuple(r for r in FILER_ROLES if r in STAFF_ROLES)

# Visits (来庁, server/visits.py): the counter opens a visit, attaches the applications to a department part per
# department, closes or reopens it; counter staff, department staff (reviewers) and admins see the board and
# work the parts: a reviewer only the parts of their own department (``may_work_part``).
VISIT_DESK_ROLES: Final[tuple[str, ...]] = ("counter", "admin")
VISIT_ROLES: Final[tuple[str, ...]] = ("counter", "reviewer", "admin")
# The last part closes the visit: whoever completes the visit's last part not done (``may_work_part``: a
# reviewer too) closes the visit by doing so (server.storage.visits.part_action_in: its ``closed`` step and
# ``visit.close`` audit entry by that clerk), unless an interview of the visit is still open (聞き取り中: more
# parts are coming). A consequence of completing, not a permission to close: asking to close
# (「来庁を終了」, POST /api/visits/{id}/close) and reopening stay VISIT_DESK_ROLES'.
# who runs a life event's interview in a visit (server/console/interview_pages.py) and files its applications on
# the resident's behalf: the visit desk that is also a staff filer and reads the resident's prefill profile
# (counter staff; admins open visits but do not file, outreach workers have no visits).
INTERVIEW_ROLES: Final[tuple[str, ...]] = tuple(
    r for r in VISIT_DESK_ROLES if r in STAFF_FILER_ROLES and r in PROFILE_READ_ROLES)
# Counter codes (窓口で見せるコード, server/counter_code.py): a resident makes a short-lived code for their own
# account (optionally carrying a pre-entry: one draft's or life event's answers); the counter loads it into a
# visit (the desk: the clerk in front of the resident) and binds the account from there (BIND_ROLES).
COUNTER_CODE_ROLES: Final[tuple[str, ...]] = ("resident",)
PREENTRY_LOAD_ROLES: Final[tuple[str, ...]] = VISIT_DESK_ROLES

# The hand-off to the departments' core systems (server/handoff.py): its outbox per department and retrying a
# failed delivery, on the console (/console/handoff). Admins only: it is the installation's plumbing, and the
# targets themselves are set only by whoever can write the database file (`madoguchi handoff set`).
HANDOFF_ROLES: Final[tuple[str, ...]] = ("admin",)
# who configures procedures (drafts, previews, diffs, publishing, retiring: /console/procedures, /api/drafts)
# and who reads the city's analytics (/console/analytics, /api/analytics): configurators and admins.
# Publishing itself also needs a fresh passkey check in the console (never a token: docs/security.md).
CONFIGURE_ROLES: Final[tuple[str, ...]] = ("configurator", "admin")
ANALYTICS_ROLES: Final[tuple[str, ...]] = ("configurator", "admin")
# Visit bookings and the one queue (待たない: server/booking, server/tickets, docs/booking.md, docs/queue.md).
# Residents book, move and cancel their own visits and draw a walk-in ticket from the app (people without an
# account book with a name and phone number and manage the booking by its secret link: no role);
BOOKING_ROLES: Final[tuple[str, ...]] = ("resident",)
# the booths call the next ticket, call again, mark a missed call, serve and finish (every visit role: a
# department's reviewer at their own booth too);
QUEUE_ROLES: Final[tuple[str, ...]] = VISIT_ROLES
# the desk checks bookings in, draws tickets for walk-ins, books on a resident's behalf (a phone call), reads
# the day's bookings with what was filled in beforehand, and pairs lobby kiosks.
QUEUE_DESK_ROLES: Final[tuple[str, ...]] = VISIT_DESK_ROLES

# What the apps offer a role, named once from the groups above and sent with the account
# (``GET /api/session``: ``account.can``), so the PWA's home page shows each role exactly what the server
# lets it use instead of keeping its own copy of the roles.
CAPABILITIES: Final[dict[str, tuple[str, ...]]] = {
    "file": FILER_ROLES,                    # start and send applications (POST /api/submissions, sync)
    "file_on_behalf": STAFF_FILER_ROLES,    # ... for a resident they pick
    "assigned_residents": ASSIGNED_ROLES,   # GET /api/outreach/residents
    "registry_search": REGISTRY_ROLES,      # GET /api/registry/search
    "households": CASEWORK_ROLES,           # shared household records (sync pushes of shared records)
    "console": CASEWORK_ROLES,              # the staff console (/console)
    "review": REVIEW_ROLES,                 # every status change (decisions), exports
    "status": STATUS_ROLES,                 # some status changes (STATUS_CHANGES: counter staff's intake moves)
    "recovery_codes": RECOVERY_ROLES,       # POST /auth/recovery-codes, signing in and recovering with one
    "parties": PARTY_ROLES,                 # two-person procedures: invitations, confirming a part (server.parties)
    "visits": VISIT_ROLES,                  # the visit board, a visit, taking/completing a department part
    "visit_desk": VISIT_DESK_ROLES,         # opening a visit, attaching applications, closing/reopening it
    "interview": INTERVIEW_ROLES,           # a life event's interview in a visit, filing every application of it
    "counter_code": COUNTER_CODE_ROLES,     # POST/DELETE /api/me/counter-code (the code shown at the counter)
    "preentry_load": PREENTRY_LOAD_ROLES,   # loading a counter code into a visit, reading its pre-entry
    "handoff": HANDOFF_ROLES,               # the hand-off outbox per department, retrying a failed delivery
    "configure": CONFIGURE_ROLES,           # procedures: drafts, preview links, publishing (server/definitions)
    "analytics": ANALYTICS_ROLES,           # the city's figures (/console/analytics, /api/analytics)
    "booking": BOOKING_ROLES,               # booking a visit from the app, one's own bookings, a ticket from the app
    "queue": QUEUE_ROLES,                   # a booth's queue: 次の方を呼ぶ, call again, missed, serve, finish
    "queue_desk": QUEUE_DESK_ROLES,         # check-in, walk-in tickets, booking on behalf, the day's bookings, kiosks
}


class HasRole(Protocol):
    """What the rule needs to know about an account (``Account``, ``AccountLike``, a sync ``Principal``)."""

    @property
    def role(self) -> str: ...

    @property
    def department(self) -> str | None: ...


def is_staff_role(role: str) -> bool:
    return role in STAFF_ROLES


def capabilities(role: str) -> list[str]:
    """The names of ``CAPABILITIES`` that ``role`` has, in their order."""
    return [name for name, roles in CAPABILITIES.items() if role in roles]


def department_filter(who: HasRole) -> tuple[str, ...] | None:
    """The departments ``who`` may see: ``None`` for every department, else exactly these (maybe none).

    The form for queries (``WHERE department IN (...)`` unless None); ``can_access_department`` is the
    same rule for one record.
    """
    if who.role in ALL_DEPARTMENTS_ROLES:
        return None
    if who.role == "reviewer" and who.department:
        return (who.department,)
    return ()


def can_access_department(who: HasRole, department: str | None) -> bool:
    """Whether ``who`` may see an application (or record) of ``department``."""
    allowed = department_filter(who)
    return allowed is None or department in allowed


def may_work_part(who: HasRole, department: str | None) -> bool:
    """Whether ``who`` may take, complete or hand back a visit's part of ``department`` (and see that part on the
    board): staff of that department, or counter staff and admins for every department. Completing the last
    part closes the visit with it ("the last part closes the visit", above): no permission of its own."""
    return who.role in VISIT_ROLES and can_access_department(who, department)


def may_override_part(who: HasRole) -> bool:
    """Whether ``who`` may complete or hand back a part someone else took (a clerk left with it): admins."""
    return who.role == "admin"


def may_serve_ticket(who: HasRole, departments: Iterable[str]) -> bool:
    """Whether ``who`` may call, see and work a queue ticket for ``departments`` (the booths: ``QUEUE_ROLES``):
    counter staff and admins every ticket; a department's reviewer a ticket naming their department (a ticket
    naming none is the counter's). The department rule of the queue: ``department_filter``, for a ticket's
    several departments."""
    if who.role not in QUEUE_ROLES:
        return False
    allowed = department_filter(who)
    return allowed is None or not set(allowed).isdisjoint(departments)


def may_link_visit(who: HasRole) -> bool:
    """Whether ``who`` may link a counter visit to a queue ticket (受付する with a ``visit_id``, which writes the
    visit's ``booking_ref`` and makes the visit's close finish the ticket): the visit desk (``VISIT_DESK_ROLES``),
    who open visits; not a department's reviewer."""
    return who.role in VISIT_DESK_ROLES
