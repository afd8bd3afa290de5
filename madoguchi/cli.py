"""The ``madoguchi`` command line: a thin wrapper that parses arguments and calls the package functions.

Each subcommand names ``module:function`` and is imported lazily, so ``madoguchi check`` does not pay
for the web server's imports. The handler receives the parsed ``argparse.Namespace`` and returns the
process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

__all__ = ["build_parser", "main"]


def _handler(target: str) -> Callable[[argparse.Namespace], int]:
    def run(ns: argparse.Namespace) -> int:
        module, _, func = target.partition(":")
        return int(getattr(importlib.import_module(module), func)(ns) or 0)

    return run


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default="madoguchi.db", metavar="PATH", help="SQLite file (default ./madoguchi.db)")


def _origin_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--origin", metavar="URL", default="http://localhost:8000",
                        help="public origin of the server (enrollment URLs start with it)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="madoguchi",
        description="Madoguchi (窓口): the no-writing one-stop counter for Japanese municipalities.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    c = sub.add_parser(
        "check",
        help="validate procedure definitions (YAML or notebooks), run their scenarios, estimate time",
        description="Check procedure and life-event definitions. Prints one 'path:line:col: CODE message' "
        "line per problem and a completion-time estimate per procedure. Exit 0 when all are valid.",
    )
    c.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: the shipped library)")
    c.add_argument("--no-scenarios", action="store_true", help="skip running the example scenarios")
    c.add_argument("--quiet", "-q", action="store_true", help="print problems only, no estimates")
    c.set_defaults(func=_handler("procedure_definitions.commands:check"))

    c = sub.add_parser(
        "list", help="list the published definitions (the server's database) or those of a library folder",
        description="List definitions: what the server's database has published (./madoguchi.db when it "
        "exists, or --db / --server), else the shipped library (or --path).")
    c.add_argument("--json", action="store_true", help="print a JSON array")
    src = c.add_mutually_exclusive_group()
    src.add_argument("--path", metavar="DIR", help="a library folder")
    src.add_argument("--db", metavar="PATH", help="the server's SQLite file (read only)")
    src.add_argument("--server", metavar="URL", help="a running server (GET /api/procedures)")
    c.set_defaults(func=_handler("server.definitions.listing:list_command"))

    c = sub.add_parser(
        "schema",
        help="print the JSON Schema (draft 2020-12) of the definition format",
        description="Print the JSON Schema of the YAML definition format on stdout.",
    )
    c.set_defaults(func=_handler("procedure_definitions.commands:schema"))

    c = sub.add_parser(
        "export-notebook",
        help="convert a procedure notebook (.ipynb) to canonical YAML on stdout",
        description="Convert a notebook whose cells tagged 'procedure' hold the definition into YAML.",
    )
    c.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    c.set_defaults(func=_handler("procedure_definitions.commands:export_notebook"))

    tr = sub.add_parser(
        "translations",
        help="translations as CSV (key, ja, en, ja-easy) for translators, and back into the definition",
        description="Export every text of a definition to a CSV for translators; import the CSV back.",
    )
    trsub = tr.add_subparsers(dest="translations_command", metavar="ACTION")
    trsub.required = True
    c = trsub.add_parser(
        "export",
        help="write one CSV row per text of a definition (UTF-8 with BOM, opens in Excel)",
        description="Write the columns key,ja,en,ja-easy, one row per translatable text of FILE (YAML or notebook).",
    )
    c.add_argument("definition", metavar="FILE.yaml")
    c.add_argument("--out", metavar="FILE.csv", help="where to write the CSV (default: stdout)")
    c.set_defaults(func=_handler("procedure_definitions.translations:export_command"))
    c = trsub.add_parser(
        "import",
        help="write the texts of a CSV back into the definition, changing nothing else",
        description="Write the texts of FILE.csv into FILE.yaml: only changed texts are rewritten (comments and "
        "order kept). Problems are printed as 'FILE.csv:ROW:COL: CODE message' and nothing is written (exit 1).",
    )
    c.add_argument("definition", metavar="FILE.yaml")
    c.add_argument("csv", metavar="FILE.csv")
    where = c.add_mutually_exclusive_group()
    where.add_argument("--out", metavar="NEW.yaml", help="write the result there (default: stdout)")
    where.add_argument("--write", action="store_true", help="rewrite FILE.yaml in place")
    c.set_defaults(func=_handler("procedure_definitions.translations:import_command"))

    c = sub.add_parser(
        "build",
        help="compile the procedure library into the offline PWA bundle",
        description="Compile the procedure library into a static, installable, offline-first PWA.",
    )
    c.add_argument("--out", metavar="DIR", default="build/pwa", help="output folder (default: build/pwa)")
    c.add_argument("--library", metavar="DIR", help="procedure library (default: the shipped library)")
    c.set_defaults(func=_handler("madoguchi.build:command"))

    c = sub.add_parser(
        "report",
        help="write the analytics report (one self-contained HTML file, no network needed to open it)",
        description="Figures per procedure and version (starts, submissions, completion rate and time, drop-off"
        " and errors per field, volumes by hour and weekday, counter visit steps) from a Madoguchi database opened"
        " read-only, or from a server with an analytics token (MADOGUCHI_TOKEN). docs/analytics.md.",
    )
    c.add_argument("--db", default="madoguchi.db", metavar="PATH", help="SQLite file, read only (default ./madoguchi.db)")
    c.add_argument("--server", metavar="URL", help="read GET URL/api/analytics/dataset instead (token: MADOGUCHI_TOKEN)")
    c.add_argument("--out", required=True, metavar="FILE.html", help="the report to write")
    c.set_defaults(func=_handler("madoguchi.analytics.report:command"))

    c = sub.add_parser(
        "serve",
        help="run the web server (SQLite by default)",
        description="Run the Madoguchi server on an embedded SQLite database.",
    )
    c.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    c.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    _db_option(c)
    c.add_argument("--demo", action="store_true", help="seed a demo registry and one staff account per role")
    c.add_argument("--library", metavar="DIR", help="procedure library (default: the shipped library)")
    c.add_argument("--origin", metavar="URL", help="public origin for passkeys (default http://localhost:PORT)")
    c.add_argument("--client-ip-header", metavar="NAME",
                   help="behind a reverse proxy: the header it sets with the client's address (e.g. x-forwarded-for),"
                        " used for the sign-in rate limits and the audit trail; only if nothing else reaches the server")
    c.add_argument("--push-contact", metavar="URI",
                   help="contact the push services see for status notifications (VAPID sub): mailto:... or https://..."
                        " (default: the origin when https)")
    c.add_argument("--publish-approvals", type=int, choices=(1, 2), default=1, metavar="N",
                   help="1: a configurator publishes with a fresh passkey check (default); 2: another configurator"
                        " must approve each publish request (docs/configuring.md)")
    c.add_argument("--reminder-sender", action="append", default=[], metavar="MODULE:CLASS",
                   help="the city's SMS or mail adapter for booking reminders, a class made with no arguments"
                        " (repeat for several channels; docs/booking.md \"Reminders\")")
    c.set_defaults(func=_handler("server.commands:serve"))

    staff = sub.add_parser("staff", help="manage staff accounts", description="Manage staff accounts.")
    ssub = staff.add_subparsers(dest="staff_command", metavar="ACTION")
    ssub.required = True
    c = ssub.add_parser(
        "invite",
        help="create a staff account and print its one-time enrollment URL",
        description="Create a staff account; the enrollment URL is printed on the last line.",
    )
    c.add_argument("name")
    c.add_argument("--role", required=True, help="counter, outreach, reviewer, configurator or admin")
    c.add_argument("--department", metavar="D", help="department id (required for reviewers)")
    _db_option(c)
    _origin_option(c)
    c.set_defaults(func=_handler("server.commands:staff_invite"))
    c = ssub.add_parser("list", help="list staff accounts (id, role, department, state, name)",
                        description="List staff accounts, tab-separated: id, role, department, state, name.")
    _db_option(c)
    c.set_defaults(func=_handler("server.commands:staff_list"))
    c = ssub.add_parser("role", help="give an account another role (audited)",
                        description="Change the role (and department) of an account; recorded in the audit trail.")
    c.add_argument("account_id")
    c.add_argument("--role", required=True, help="resident, counter, outreach, reviewer, configurator or admin")
    c.add_argument("--department", metavar="D", help="department id (required for reviewers)")
    _db_option(c)
    c.set_defaults(func=_handler("server.commands:staff_role"))
    c = ssub.add_parser("reinvite", help="a new enrollment URL for a staff account (lost passkey)",
                        description="Print a new one-time enrollment URL on the last line; audited.")
    c.add_argument("account_id")
    _db_option(c)
    _origin_option(c)
    c.set_defaults(func=_handler("server.commands:staff_reinvite"))
    c = ssub.add_parser("disable", help="stop an account from signing in and end its sessions (audited)",
                        description="Disable an account (someone leaves): its sessions end at once; audited.")
    c.add_argument("account_id")
    _db_option(c)
    c.set_defaults(func=_handler("server.commands:staff_disable"))
    c = ssub.add_parser("enable", help="let a disabled account sign in again (audited)",
                        description="Undo `staff disable`: the account's passkeys work again; audited.")
    c.add_argument("account_id")
    _db_option(c)
    c.set_defaults(func=_handler("server.commands:staff_enable"))

    reg = sub.add_parser("registry", help="resident registry data", description="Resident registry data.")
    rsub = reg.add_subparsers(dest="registry_command", metavar="ACTION")
    rsub.required = True
    c = rsub.add_parser(
        "import-transfer", help="import 転出証明書情報 from a JSON file (audited)",
        description="Import transfer certificates (転出証明書情報) into the registry records they name; "
                    "the format is in docs/api.md. Exit 1 when some named a resident not in the registry.")
    c.add_argument("file", metavar="FILE.json")
    _db_option(c)
    c.set_defaults(func=_handler("server.commands:registry_import_transfer"))

    subs = sub.add_parser("submissions", help="work with stored submissions", description="Submissions.")
    subsub = subs.add_subparsers(dest="submissions_command", metavar="ACTION")
    subsub.required = True
    c = subsub.add_parser(
        "export", help="export submissions (JSON Lines or CSV)", description="Export stored submissions."
    )
    _db_option(c)
    c.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="output format (default jsonl)")
    c.add_argument("--status", help="only submissions with this status")
    c.add_argument("--procedure", help="only this procedure id")
    c.add_argument("--bom", action="store_true", help="CSV: start with a UTF-8 BOM (for Excel)")
    c.set_defaults(func=_handler("server.commands:submissions_export"))

    ho = sub.add_parser("handoff", help="hand-off to the departments' core systems (signed webhooks)",
                        description="Configure and watch the signed webhook per department (docs/handoff.md).")
    hsub = ho.add_subparsers(dest="handoff_command", metavar="ACTION")
    hsub.required = True
    c = hsub.add_parser(
        "set", help="send a department's applications to its core system's URL (audited)",
        description="Set (or change) a department's webhook. A new target gets a new signing secret, printed "
                    "once for the core system's team; a change keeps the secret unless --new-secret.")
    c.add_argument("department", help="department id as in the definitions (e.g. shimin)")
    c.add_argument("--url", required=True, help="https URL the core system receives on")
    c.add_argument("--on", metavar="STATUS",
                   help="status at which an application is handed off (default accepted; e.g. received)")
    c.add_argument("--new-secret", action="store_true", help="make a new signing secret (printed once)")
    c.add_argument("--secret-file", metavar="PATH", help="use the whsec_ secret in this file instead")
    _db_option(c)
    c.set_defaults(func=_handler("server.handoff_commands:handoff_set"))
    c = hsub.add_parser("remove", help="stop a department's hand-off (audited; its rows wait)",
                        description="Remove a department's webhook; undelivered rows wait for a new one.")
    c.add_argument("department")
    _db_option(c)
    c.set_defaults(func=_handler("server.handoff_commands:handoff_remove"))
    c = hsub.add_parser(
        "status", help="the outbox per department: pending, delivered, failed; undelivered rows",
        description="Per department: target, counts; then each pending or failed row (attempts, last error). "
                    "Exit 1 when some row failed.")
    c.add_argument("--department", metavar="D", help="only this department")
    c.add_argument("--all", action="store_true", help="list delivered rows too")
    c.add_argument("--limit", type=int, default=200, help="rows listed at most (default 200)")
    _db_option(c)
    c.set_defaults(func=_handler("server.handoff_commands:handoff_status"))
    c = hsub.add_parser("retry", help="send a failed row again (audited)",
                        description="Make a failed (or waiting) row due now, with a fresh maximum age.")
    c.add_argument("id", type=int, help="the row id shown by `handoff status`")
    _db_option(c)
    c.set_defaults(func=_handler("server.handoff_commands:handoff_retry"))

    bk = sub.add_parser("booking", help="visit booking rules: places, hours, capacity, window (docs/booking.md)",
                        description="Set or show the city's visit booking rules (docs/booking.md \"Configuration\").")
    bsub = bk.add_subparsers(dest="booking_command", metavar="ACTION")
    bsub.required = True
    c = bsub.add_parser("set", help="check a booking rules YAML file and store it (audited)",
                        description="Check FILE (located lines FILE:LINE:COL: BKnnn message, exit 1, nothing "
                                    "stored) and store it; a running server uses it within 5 s.")
    c.add_argument("file", metavar="FILE.yaml", help="the booking rules as YAML")
    _db_option(c)
    c.set_defaults(func=_handler("server.booking.commands:booking_set"))
    c = bsub.add_parser("show", help="print the stored booking rules (or the default) as YAML",
                        description="Print the YAML stored by `booking set`, or the default rules as YAML.")
    _db_option(c)
    c.set_defaults(func=_handler("server.booking.commands:booking_show"))

    c = sub.add_parser(
        "login", help="sign in to a server for the notebook client and `madoguchi drafts` (passkey in the browser)",
        description="Sign in with your passkey in the browser (loopback redirect on this computer; --device on "
                    "a remote machine: a code to enter on /console/device). The refresh token is kept in the OS "
                    "keyring when there is one; nothing secret is printed.")
    c.add_argument("--server", metavar="URL", help="the Madoguchi server (default: $MADOGUCHI_SERVER)")
    c.add_argument("--device", action="store_true", help="the device flow (for SSH, JupyterHub, no local browser)")
    c.set_defaults(func=_handler("madoguchi.studio.commands:login"))

    drafts = sub.add_parser("drafts", help="procedure drafts on a server (push, status)",
                            description="Drafts on a server. Token: $MADOGUCHI_TOKEN, else the keyring "
                                        "(madoguchi login), else a sign-in in the browser.")
    dsub = drafts.add_subparsers(dest="drafts_command", metavar="ACTION")
    dsub.required = True
    c = dsub.add_parser("push", help="upload a YAML or notebook definition as a draft and print its check result",
                        description="Push FILE as a draft. Prints the draft's id and check result; exit 1 with "
                                    "'FILE:line:col: CODE message' lines when it has errors (a file that cannot "
                                    "be read, e.g. not UTF-8: its PD005 line, nothing pushed), 2 when the server "
                                    "refuses or FILE is a folder.")
    c.add_argument("file", metavar="FILE", help="a .yaml/.yml definition or a .ipynb notebook")
    c.add_argument("--server", metavar="URL", help="the Madoguchi server (default: $MADOGUCHI_SERVER)")
    c.add_argument("--device", action="store_true", help="sign in with the device flow if a sign-in is needed")
    c.set_defaults(func=_handler("madoguchi.studio.commands:drafts_push"))
    c = dsub.add_parser("status", help="a draft's check result", description="Print a draft's id and check "
                        "result; exit 1 when it has errors.")
    c.add_argument("id", metavar="ID", help="the draft id printed by `drafts push`")
    c.add_argument("--server", metavar="URL", help="the Madoguchi server (default: $MADOGUCHI_SERVER)")
    c.add_argument("--device", action="store_true", help="sign in with the device flow if a sign-in is needed")
    c.set_defaults(func=_handler("madoguchi.studio.commands:drafts_status"))

    audit = sub.add_parser("audit", help="audit trail tools", description="Audit trail tools.")
    asub = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    asub.required = True
    c = asub.add_parser(
        "verify",
        help="verify the hash chain of the audit log",
        description="Exit 0 when the audit chain is intact, 1 naming the first bad entry when not.",
    )
    _db_option(c)
    c.set_defaults(func=_handler("server.commands:audit_verify"))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        return ns.func(ns)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
