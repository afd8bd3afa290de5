"""The documentation is complete: every CLI command has help, every error code is explained."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from madoguchi.cli import build_parser
from procedure_definitions.errors import CATALOGUE

ROOT = Path(__file__).resolve().parent.parent


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> list[tuple[str, argparse.ArgumentParser, str]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                out.append((f"{prefix}{name}", sub, helps.get(name) or ""))
                out.extend(_commands(sub, f"{prefix}{name} "))
    return out


def test_every_cli_command_has_help_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = _commands(build_parser())
    assert len(commands) >= 10
    for name, sub, helptext in commands:
        assert helptext.strip(), f"'{name}' has no help"
        assert sub.description, f"'{name}' has no description"
        if not any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
            assert f"madoguchi {name}" in readme, f"README does not mention 'madoguchi {name}'"
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"'{name} {action.option_strings[0]}' has no help"


def test_every_error_code_is_documented() -> None:
    doc = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    missing = [code for code in CATALOGUE if f"| {code} |" not in doc]
    assert missing == []


def test_readme_starts_with_the_two_commands() -> None:
    first = [line.strip() for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:2]]
    assert first[0].startswith("python3 -m pip install -e .") and "madoguchi serve" in first[0]
    assert first[1] == "bash scripts/test"
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_filing_refusal_is_in_the_documented_mapping() -> None:
    """The one filing policy's refusals (server/filing.py) map 1:1 from HTTP slug to sync reason; each pair is
    in the module's table, in docs/api.md's mapping and in docs/sync.md's reason table, whose row names the
    ``errors`` paths the refusal carries."""
    import re

    import server.filing as filing

    source = (ROOT / "server" / "filing.py").read_text(encoding="utf-8")
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    sync_rows = {m[1]: m[0] for m in re.findall(r"^(\| `([a-z_]+)` \| \d{3} `[a-z-]+`.*)$",
                                                  (ROOT / "docs" / "sync.md").read_text(encoding="utf-8"), re.M)}
    pairs = {(r.status, r.slug, r.reason): [e["path"] for e in (r.extra or {}).get("errors", [])]
             for r in vars(filing).values() if isinstance(r, filing.Refusal)}
    for status, slug in re.findall(r'_refusal\(\s*(\d{3}), "([a-z-]+)"', source):  # refusals made on the spot
        pairs.setdefault((int(status), slug, slug.replace("-", "_")), [])
    assert len({p[1] for p in pairs}) >= 7
    for (status, slug, reason), paths in pairs.items():
        assert re.search(rf"``{slug}``\s+{status}\s+``{reason}``", source), f"{slug} not in server/filing.py's table"
        assert f"`{slug}`→`{reason}`" in api, f"{slug}→{reason} not in docs/api.md"
        row = sync_rows.get(reason)
        assert row is not None and f"{status} `{slug}`" in row, f"{reason} not in docs/sync.md's table"
        for path in paths:
            assert path in row, f"docs/sync.md's {reason} row does not name errors path {path}"


# Packages docs/architecture.md may name as one unit (their own __init__ lists their modules).
_ARCHITECTURE_UNITS = ("procedure_definitions/expressions/", "server/console/", "server/storage/sync/")


def test_architecture_names_every_module() -> None:
    """docs/architecture.md says who owns what: every module and PWA script is in it (or a unit or pattern)."""
    import fnmatch
    import re
    import subprocess

    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([^`\s]+)`", doc))
    patterns = [n for n in named if "*" in n]
    tracked = subprocess.run(["git", "ls-files", "madoguchi", "procedure_definitions", "server", "sync", "testsupport",
                              "pwa/js", "pwa/sw.js"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    files = [f for f in tracked.split() if f.endswith((".py", ".js")) and not f.endswith("__init__.py")
             and "/library/" not in f]
    assert len(files) > 50
    missing = [f for f in files if f not in named and not f.startswith(_ARCHITECTURE_UNITS)
               and not any(fnmatch.fnmatch(f, p) for p in patterns)]
    assert missing == [], "name these in docs/architecture.md (who owns what)"


def test_the_session_documents_every_capability_in_order() -> None:
    """docs/api.md's GET /api/session row names each capability the apps may be offered, in CAPABILITIES order
    (a capability added without its line would be a contract nobody can read)."""
    from server.auth.roles import CAPABILITIES

    row = next(line for line in (ROOT / "docs" / "api.md").read_text(encoding="utf-8").splitlines()
               if line.startswith("| GET `/api/session`"))
    listed = row.split("`can` lists", 1)[1]
    named = [m for m in re.findall(r"`([a-z_]+)`", listed) if m in CAPABILITIES]
    assert list(dict.fromkeys(named)) == list(CAPABILITIES)
