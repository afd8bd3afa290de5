"""Layering rules that keep each layer usable on its own (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Packages that ship (pyproject's setuptools include) may not import the test support.
SHIPPED = ("madoguchi", "procedure_definitions", "server", "sync")


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at top level or inside functions (absolute names)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def offenders(package: str, forbidden: str) -> list[str]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no modules under {package}/"
    return [f"{p.relative_to(ROOT)} imports {m}" for p in files for m in sorted(imported_modules(p))
            if m == forbidden or m.startswith(forbidden + ".")]


def test_sync_is_pure_it_never_imports_server() -> None:
    assert offenders("sync", "server") == []


# The layers of docs/architecture.md: what a package may not import.
@pytest.mark.parametrize(("package", "forbidden"), [
    ("procedure_definitions", "server"), ("procedure_definitions", "sync"), ("procedure_definitions", "madoguchi"),
    ("sync", "madoguchi"), ("madoguchi", "server"),
])
def test_layers_import_downwards_only(package: str, forbidden: str) -> None:
    assert offenders(package, forbidden) == []


@pytest.mark.parametrize("package", SHIPPED)
def test_shipped_code_never_imports_test_support(package: str) -> None:
    assert offenders(package, "testsupport") == []
    assert offenders(package, "tests") == []


def test_the_scan_sees_function_level_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from server.storage import db\n    import server.audit\n", encoding="utf-8")
    assert imported_modules(probe) == {"server.storage", "server.audit"}


def blocking_calls_in_coroutines(path: Path, root: Path = ROOT) -> list[str]:
    """``x.read_sync(...)``/``x.write_sync(...)`` written inside an ``async def`` (lambdas included)."""
    out = []
    for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(fn, ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in ("read_sync", "write_sync")):
                    out.append(f"{path.relative_to(root)}:{node.lineno} {fn.name} calls {node.func.attr}")
    return out


def test_no_coroutine_of_the_server_calls_the_blocking_database_api() -> None:
    # Database.read_sync/write_sync also refuse at run time on a loop thread (tests/server/test_db_loop.py);
    # this finds the calls on paths no test happens to take.
    found = [hit for p in sorted((ROOT / "server").rglob("*.py")) for hit in blocking_calls_in_coroutines(p)]
    assert found == []


def test_the_coroutine_scan_sees_a_blocking_call(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("async def h(db):\n    return db.read_sync(lambda c: 1)\n"
                     "def ok(db):\n    return db.read_sync(lambda c: 1)\n", encoding="utf-8")
    found = blocking_calls_in_coroutines(probe, tmp_path)
    assert len(found) == 1 and "h calls read_sync" in found[0]
