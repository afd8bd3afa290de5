"""The auth package's shape: no import cycle between its modules, and roles and the department rule
defined in one module (``server/auth/roles.py``) that every path imports."""

from __future__ import annotations

import ast
from pathlib import Path

from server.auth import roles
from server.auth.roles import ALL_DEPARTMENTS_ROLES, ROLES, STAFF_ROLES

ROOT = Path(__file__).resolve().parents[2]
AUTH = ROOT / "server" / "auth"


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    return "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path, known: set[str]) -> set[str]:
    """Every module of ``known`` that ``path`` imports at run time, at the top or inside functions
    (a function-level import is a cycle postponed, not avoided); ``TYPE_CHECKING`` blocks do not count."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                for alias in child.names:
                    full = f"{child.module}.{alias.name}"
                    found.add(full if full in known else child.module)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m in known and m != _module(path)}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := walk(start)):
            return found
    return None


def test_auth_modules_import_each_other_in_one_direction() -> None:
    files = {_module(p): p for p in AUTH.glob("*.py") if p.name != "__init__.py"}
    graph = {name: _imports(path, set(files)) for name, path in files.items()}
    assert _cycle(graph) is None, f"import cycle in server/auth: {' -> '.join(_cycle(graph) or [])}"
    # The check itself must see cycles: a fake edge back from the leaf to the top closes one.
    assert _cycle({**graph, "server.auth.roles": {"server.auth.install"}}) is not None


def test_roles_module_is_a_leaf() -> None:
    """Anything (the sync store, the fast lane, tools) may import the rule without pulling the web stack."""
    tree = ast.parse((AUTH / "roles.py").read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"__future__", "typing", "collections.abc"}, imported  # the standard library's types only


_RULE_NAMES = {*(n for n in roles.__all__ if n.endswith("_ROLES")), "ROLES", "can_access_department",
               "can_see_department", "department_filter", "is_staff_role"}


def _role_literals(tree: ast.AST) -> list[tuple[int, frozenset[str]]]:
    """Collections of string constants, and the string arguments of a call (``require_roles(r, "a", "b")``)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            values = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len(values) == len(node.elts) and values:
                out.append((node.lineno, frozenset(values)))
        elif isinstance(node, ast.Call):
            args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if len(args) >= 2:
                out.append((node.lineno, frozenset(args)))
    return out


def test_roles_and_department_rule_defined_once() -> None:
    """No other module defines a role list or the department rule: they import ``server.auth.roles``."""
    whole_lists = {frozenset(ROLES), frozenset(STAFF_ROLES), ALL_DEPARTMENTS_ROLES,
                   *(frozenset(getattr(roles, name)) for name in roles.__all__ if name.endswith("_ROLES"))}
    offenders: list[str] = []
    for path in sorted([*(ROOT / "server").rglob("*.py"), *(ROOT / "sync").rglob("*.py")]):
        if path == AUTH / "roles.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        rel = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in _RULE_NAMES:
                offenders.append(f"{rel}:{node.lineno}: defines {node.name}")
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AnnAssign) else []
            offenders += [f"{rel}:{node.lineno}: defines {t.id}" for t in targets
                          if isinstance(t, ast.Name) and t.id in _RULE_NAMES]
        offenders += [f"{rel}:{line}: a copy of a role list {sorted(values)}" for line, values in
                      _role_literals(tree) if values in whole_lists]
    assert not offenders, "\n".join(offenders)


def test_department_rule() -> None:
    from server.auth.roles import can_access_department, department_filter
    from sync.records import Principal

    def who(role: str, department: str | None = None) -> Principal:
        return Principal(id="x", role=role, department=department)

    assert department_filter(who("reviewer", "koseki")) == ("koseki",)
    assert department_filter(who("reviewer")) == ()
    for role in ("counter", "outreach", "admin"):
        assert department_filter(who(role)) is None and can_access_department(who(role), "anything")
    for role in ("resident", "configurator"):
        assert department_filter(who(role, "koseki")) == ()
        assert not can_access_department(who(role, "koseki"), "koseki")
    assert can_access_department(who("reviewer", "koseki"), "koseki")
    assert not can_access_department(who("reviewer", "koseki"), "fukushi")
    assert not can_access_department(who("reviewer"), None)


def test_every_path_asks_the_one_rule() -> None:
    """The HTTP API, the console and the sync store decide departments with ``server.auth.roles``."""
    for rel in ("server/submissions.py", "server/console/routes.py", "server/storage/sync/access.py",
                "server/auth/guards.py"):
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "server.auth.roles"
                 for a in n.names}
        assert names & {"can_access_department", "department_filter"}, f"{rel} does not import the department rule"
