"""The documentation is complete: every CLI command has help, every error code is explained."""

from __future__ import annotations

import argparse
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
