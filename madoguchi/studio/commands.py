"""``madoguchi login`` and ``madoguchi drafts push|status``: the notebook client's calls for scripts and CI.

The token comes from ``MADOGUCHI_TOKEN`` (a personal token: CI), else the OS keyring (after ``madoguchi
login``), else a sign-in in the browser (loopback, or ``--device``). Nothing secret is printed. Exit codes:
0 fine, 1 the draft has errors (the located ``FILE:line:col: CODE message`` lines, FILE as given; also a file
that cannot be read, e.g. not UTF-8: its PD005 line, as ``madoguchi check`` prints it, and nothing is pushed), 2
the server refused or could not be reached (its problem's title and detail on stderr), or FILE is a folder.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from madoguchi.studio import signin
from madoguchi.studio.client import Draft, Studio, connect
from madoguchi.studio.errors import StudioError
from procedure_definitions.errors import problem
from procedure_definitions.loader import _read_text, _Unreadable
from procedure_definitions.timing import BUDGET_SECONDS

__all__ = ["drafts_push", "drafts_status", "login", "summary_lines"]


def _server(ns: argparse.Namespace) -> str:
    server = ns.server or os.environ.get("MADOGUCHI_SERVER")
    if not server:
        raise StudioError("--server URL is required (or set MADOGUCHI_SERVER)")
    return str(server)


def _connect(ns: argparse.Namespace) -> Studio:
    flow: signin.Flow = "device" if getattr(ns, "device", False) else "auto"
    return connect(_server(ns), flow=flow)


def _fail(exc: StudioError) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 2


def login(ns: argparse.Namespace) -> int:
    """Sign in with a passkey in the browser; the refresh token goes to the OS keyring (when there is one)."""
    try:
        server = _server(ns)
        signin.forget_refresh(server)  # a fresh sign-in: not the kept one
        with connect(server, flow="device" if ns.device else "auto") as studio:
            name = studio.account.get("display_name", "?")
            print(f"signed in to {studio.server} as {name} ({studio.account.get('role', '?')})")
            if not signin.keyring_usable():
                print("no OS keyring here: this sign-in is not kept. Scripts and CI use MADOGUCHI_TOKEN "
                      "(a personal token from /console/tokens).", file=sys.stderr)
    except StudioError as exc:
        return _fail(exc)
    return 0


def summary_lines(draft: Draft, shown_path: str | None = None) -> list[str]:
    """The draft's id and check result as printed; problems located with ``shown_path`` when given."""
    d = draft.data
    out = [f"draft {draft.id} ({d.get('procedure_id') or '?'} {d.get('version') or '?'}, revision "
           f"{d.get('revision', '?')}): {'ok' if draft.ok else 'has errors'}"]
    for p in draft.problems:
        path = shown_path or str(p.get("path") or d.get("filename") or "")
        out.append(f"{path}:{p.get('line', 0)}:{p.get('col', 0)}: {p.get('code', '')} {p.get('message', '')}")
    if not draft.problems and draft.lines:
        out.extend(draft.lines)
    est = draft.estimate_seconds
    if est is not None:
        out.append(f"estimate: {est} s (goal {BUDGET_SECONDS:.0f} s){'' if est <= BUDGET_SECONDS else ' OVER'}")
    # the console page only: the draft's "preview" URL is the POST that makes a link (405 in a browser), and a
    # preview link is a bearer secret made only when someone asks for one (the console page, Draft.preview())
    if draft.urls.get("console"):
        out.append(f"console: {draft.urls['console']}")
    return out


def drafts_push(ns: argparse.Namespace) -> int:
    path = Path(ns.file)
    if path.is_dir():  # else its name would be pushed as if it were the text
        print(f"error: {ns.file} is a folder: push one .yaml, .yml or .ipynb file", file=sys.stderr)
        return 2
    try:
        text = _read_text(path)  # read as `madoguchi check` reads it, before any sign-in
    except _Unreadable as exc:  # not UTF-8, too big, missing: the same located PD005 line; nothing is pushed
        print(problem("PD005", ns.file, 1, 1, detail=str(exc)).format())
        return 1
    try:
        with _connect(ns) as studio:
            draft = studio._post_draft(text, path.name)
    except StudioError as exc:
        return _fail(exc)
    print("\n".join(summary_lines(draft, ns.file)))
    return 0 if draft.ok else 1


def drafts_status(ns: argparse.Namespace) -> int:
    try:
        with _connect(ns) as studio:
            draft = studio.draft(ns.id)
    except StudioError as exc:
        return _fail(exc)
    print("\n".join(summary_lines(draft)))
    return 0 if draft.ok else 1


