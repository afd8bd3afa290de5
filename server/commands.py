"""CLI entry points of ``madoguchi serve``, ``staff ...``, ``registry import-transfer``, ``submissions export``
and ``audit verify``.

Each takes the argparse Namespace and returns the exit code (see ``madoguchi/cli.py``).
"""

from __future__ import annotations

import argparse
import gc
import logging
import sqlite3
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "audit_verify",
    "registry_import_transfer",
    "serve",
    "staff_disable",
    "staff_invite",
    "staff_list",
    "staff_reinvite",
    "staff_role",
    "submissions_export",
]

T = TypeVar("T")


def _open_db(path: str, *, must_exist: bool = True):
    from server.storage.db import Database
    from server.storage.schema import migrate

    if must_exist and not Path(path).exists():
        print(f"error: no database at {path}", file=sys.stderr)
        return None
    db = Database.open(path)
    db.write_sync(migrate)  # an old file upgrades before we touch it
    return db


def serve(ns: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app
    from server.settings import Settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    origin = ns.origin or f"http://localhost:{ns.port}"
    if ns.demo:
        from server.demo import DemoRefused, check_database, check_origin

        try:  # before the start migrates and publishes into the file
            check_origin(origin)
            check_database(ns.db)
        except DemoRefused as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    contact = getattr(ns, "push_contact", None)
    if contact and not contact.startswith(("mailto:", "https://")):  # push services refuse anything else
        print("error: --push-contact must be a mailto: or https:// URI", file=sys.stderr)
        return 2
    from server.booking.reminders import load_senders

    try:  # a typo in a sender's class path must stop the start, not silently send no reminders
        senders = load_senders(getattr(ns, "reminder_sender", None) or ())
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    settings = Settings(db_path=ns.db, library_path=ns.library, origin=origin, demo=ns.demo,
                        hsts=origin.startswith("https://"), validation_workers=_validation_workers(),
                        client_ip_header=getattr(ns, "client_ip_header", None) or None,
                        push_contact=getattr(ns, "push_contact", None) or None,
                        publish_approvals=getattr(ns, "publish_approvals", 1) or 1, reminder_senders=senders)
    app = create_app(settings)
    if ns.demo:
        from server.demo import seed_demo

        try:
            logins = seed_demo(app.state.db, origin)
        except DemoRefused as e:
            app.state.db.close()
            print(f"error: {e}", file=sys.stderr)
            return 2
        print("Demo staff enrollment URLs (open one in a browser to create the passkey):")
        for name, role, url in logins:
            print(f"  {role:<13} {name}: {url or 'enrolled: sign in with the passkey made earlier'}")
    print(f"Madoguchi on {origin} (database {ns.db})", flush=True)
    from server.printing.pdf import warm_up

    # The printed forms' first render loads WeasyPrint and the font (~1.5 s): done now, off the start path; a
    # server that cannot print logs what is missing (docs/deploy.md).
    threading.Thread(target=warm_up, name="printing-warm-up", daemon=True).start()
    # What start-up built (library, compiled forms, routes, PWA files) lives as long as the process: keep it
    # out of the cyclic GC, whose full collections otherwise walk it all and stall requests for ~70 ms.
    gc.collect()
    gc.freeze()
    # No per-request access log: it costs ~20% of a request here, and what matters is in the audit trail
    # (personal data access) and the reverse proxy's log. Errors are still logged.
    server_cls = _server_class()
    config = uvicorn.Config(app, host=ns.host, port=ns.port, log_level="info", proxy_headers=False, access_log=False,
                            timeout_graceful_shutdown=10)
    server_cls(config).run()
    return 0


def _server_class() -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn waits for open responses before it shuts the app down: the queue's live streams (boards and
        phones hold them open for hours) are ended first, on the signal, so Ctrl-C or SIGTERM stops at once."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            app: Any = self.config.app
            hub = getattr(getattr(app, "state", None), "queue_hub", None)
            if hub is not None:
                hub.close_threadsafe()
            super().handle_exit(sig, frame)

    return Server


def _validation_workers() -> int:
    """Form validation runs in cores - 1 processes (none on one core); MADOGUCHI_VALIDATION_WORKERS overrides."""
    import os

    env = os.environ.get("MADOGUCHI_VALIDATION_WORKERS")
    if env is not None and env.strip().isdigit():
        return int(env)
    return max(0, (os.cpu_count() or 1) - 1)


def staff_invite(ns: argparse.Namespace) -> int:
    from server.auth.invites import create_invite_in

    url = _admin_write(ns.db, lambda c: create_invite_in(c, ns.name, ns.role, ns.department, ns.origin)[1],
                       what="invite", must_exist=False)
    if url is None:
        return 2
    print(f"Staff account created for {ns.name} ({ns.role}). One-time enrollment URL:")
    print(url)
    return 0


def staff_list(ns: argparse.Namespace) -> int:
    from server.auth.invites import list_staff

    db = _open_db(ns.db)
    if db is None:
        return 2
    try:
        rows = db.read_sync(list_staff)
    finally:
        db.close()
    for account_id, role, department, name, state in rows:
        print("\t".join((account_id, role, department or "-", state, name)))
    return 0


def _admin_write(path: str, job: Callable[[sqlite3.Connection], T], *, what: str,
                 must_exist: bool = True, command: str = "staff") -> T | None:
    """Run one audited admin job in a write transaction; None when it was refused (the reason is printed).

    Every job returns a value (an account, a URL, a count), so None cannot be mistaken for a result. A demo
    database changed this way is a demo no more (``what`` is audited with ``demo.left``; server/demo.py).
    """
    from server.demo import leave_demo

    def run(c: sqlite3.Connection) -> T:
        result = job(c)
        leave_demo(c, f"madoguchi {command} {what}", actor="cli")  # after the job: a refused one changes nothing
        return result

    db = _open_db(path, must_exist=must_exist)
    if db is None:
        return None
    try:
        return db.write_sync(run)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return None
    finally:
        db.close()


def staff_role(ns: argparse.Namespace) -> int:
    from server.auth.invites import change_role

    after = _admin_write(ns.db, lambda c: change_role(c, ns.account_id, ns.role, ns.department, actor="cli"),
                         what="role")
    if after is None:
        return 2
    print(f"{after.display_name}: now {after.role}" + (f" ({after.department})" if after.department else ""))
    return 0


def staff_reinvite(ns: argparse.Namespace) -> int:
    from server.auth.invites import reinvite_in

    url = _admin_write(ns.db, lambda c: reinvite_in(c, ns.account_id, ns.origin, actor="cli"), what="reinvite")
    if url is None:
        return 2
    print("New one-time enrollment URL (adds a passkey to the existing account):")
    print(url)
    return 0


def staff_disable(ns: argparse.Namespace) -> int:
    from server.auth.invites import disable_account

    ended = _admin_write(ns.db, lambda c: disable_account(c, ns.account_id, actor="cli"), what="disable")
    if ended is None:
        return 2
    print(f"Account {ns.account_id} disabled; {ended} session(s) ended.")
    return 0


def staff_enable(ns: argparse.Namespace) -> int:
    from server.auth.invites import enable_account

    since = _admin_write(ns.db, lambda c: enable_account(c, ns.account_id, actor="cli"), what="enable")
    if since is None:
        return 2
    print(f"Account {ns.account_id} enabled (disabled since {since}); it signs in with its passkeys again.")
    return 0


def registry_import_transfer(ns: argparse.Namespace) -> int:
    """Import 転出証明書情報 from a JSON file through the moving-service adapter, each certificate audited
    (``registry.import_transfer``). Exit 0 when every certificate was imported, 1 when some named a resident
    not in the registry (skipped: the counter makes the record first), 2 for an unreadable or invalid file."""
    import msgspec

    from server.audit import append_audit
    from server.registry import import_transfers
    from server.transfer import InMemoryMovingService, read_certificates

    try:
        certs = read_certificates(Path(ns.file).read_bytes())
    except OSError as e:
        print(f"error: cannot read {ns.file}: {e.strerror}", file=sys.stderr)
        return 2
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        print(f"error: {ns.file}: {e}", file=sys.stderr)
        return 2
    ids = [c.resident_id for c in certs]
    if len(set(ids)) != len(ids):
        print(f"error: {ns.file}: more than one certificate for the same resident_id", file=sys.stderr)
        return 2

    def job(c: sqlite3.Connection) -> list[str]:
        known = {r[0] for r in c.execute(
            f"SELECT id FROM residents WHERE id IN ({', '.join('?' * len(ids))})", ids)}
        import_transfers(c, InMemoryMovingService(certs), ids)
        for cert in certs:
            if cert.resident_id in known:
                append_audit(c, actor="cli", action="registry.import_transfer", subject=f"resident:{cert.resident_id}",
                             details={"certificate_id": cert.certificate_id, "movers": len(cert.movers)})
        return [i for i in ids if i not in known]

    skipped = _admin_write(ns.db, job, what="import-transfer", command="registry")
    if skipped is None:
        return 2
    print(f"imported {len(ids) - len(skipped)} of {len(ids)} certificate(s)")
    if skipped:
        print(f"skipped (not in the registry): {', '.join(skipped)}", file=sys.stderr)
        return 1
    return 0


def submissions_export(ns: argparse.Namespace) -> int:
    from server.audit import append_audit, many
    from server.export import MappingError, default_mappings_dir, load_mappings, to_csv, to_jsonl

    try:
        mappings = load_mappings(default_mappings_dir(ns.db)) if ns.format == "csv" else {}
    except MappingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    db = _open_db(ns.db)
    if db is None:
        return 2
    exported: list[str] = []
    try:
        try:
            out = sys.stdout
            if ns.format == "jsonl":
                def emit(c: Any) -> None:
                    for line in to_jsonl(c, status=ns.status, procedure=ns.procedure, exported=exported):
                        out.write(line)

                db.read_sync(emit)
            else:
                text = db.read_sync(lambda c: to_csv(c, status=ns.status, procedure=ns.procedure, bom=ns.bom,
                                                     mappings=mappings, exported=exported))
                sys.stdout.buffer.write(text.encode("utf-8"))
            out.flush()
        finally:
            # Audited once the rows are out, as the console export is, so the entry names what left: one
            # entry {count, ids}. In a finally: an export that breaks midway still leaves what it wrote.
            db.write_sync(lambda c: append_audit(c, actor="cli", action="submissions.export", subject=None,
                                                 details={"format": ns.format, "status": ns.status,
                                                          "procedure": ns.procedure, "via": "cli",
                                                          **many(exported)}))
    finally:
        db.close()
    return 0


def audit_verify(ns: argparse.Namespace) -> int:
    import sqlite3

    from server.audit import verify_chain

    if not Path(ns.db).exists():
        print(f"error: no database at {ns.db}", file=sys.stderr)
        return 2
    # Read-only and without migrations: verifying must not change the file under inspection.
    conn = sqlite3.connect(f"file:{Path(ns.db).resolve()}?mode=ro", uri=True)
    try:
        result = verify_chain(conn)
    except sqlite3.Error as e:
        print(f"audit log unreadable: {e}")
        return 1
    finally:
        conn.close()
    if result.ok:
        print(f"audit chain intact: {result.entries} entries")
        return 0
    print(f"audit chain BROKEN at entry id {result.first_bad_id}: {result.reason}")
    return 1
