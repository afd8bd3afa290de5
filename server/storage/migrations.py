"""Versioned schema migrations, per component.

Each component (``"core"`` here, ``"auth"`` in ``server/auth/migrations.py``) owns an ordered list of
``(version, step)`` where ``step`` is SQL text or a callable taking the connection. Applied versions are
recorded in ``schema_migrations``; at start every pending step runs in the writer transaction, so an old
database file upgrades in place and a failed step leaves the file untouched. A published step is never
edited: add a new version instead.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Sequence

from procedure_definitions.namefold import FOLD_VERSION

__all__ = ["Migration", "Step", "applied_versions", "apply_migrations", "refresh_if_fold_changed", "split_sql"]

Step = str | Callable[[sqlite3.Connection], object]  # a callable's result is ignored
Migration = tuple[int, Step]

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (component, version)
)
"""


def split_sql(script: str) -> list[str]:
    """Split a script into statements (``executescript`` would COMMIT our transaction)."""
    statements: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip().strip(";").strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements


def applied_versions(conn: sqlite3.Connection, component: str) -> set[int]:
    conn.execute(_BOOKKEEPING)
    return {r[0] for r in conn.execute("SELECT version FROM schema_migrations WHERE component = ?", (component,))}


def apply_migrations(
    conn: sqlite3.Connection, components: Sequence[tuple[str, Sequence[Migration]]]
) -> list[tuple[str, int]]:
    """Apply every pending migration; call inside a write job. Returns what was applied."""
    done: list[tuple[str, int]] = []
    for component, migrations in components:
        versions = [v for v, _ in migrations]
        if versions != sorted(set(versions)):
            raise ValueError(f"migrations of {component!r} must have increasing unique versions")
        have = applied_versions(conn, component)
        for version, step in migrations:
            if version in have:
                continue
            if callable(step):
                step(conn)
            else:
                for statement in split_sql(step):
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (component, version, applied_at) VALUES (?, ?, ?)",
                (component, version, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")),
            )
            done.append((component, version))
    return done


def refresh_if_fold_changed(conn: sqlite3.Connection, meta_table: str, rebuild: Callable[[sqlite3.Connection], None]
                            ) -> bool:
    """Search keys folded by ``procedure_definitions.namefold`` are derived data: ``rebuild`` remakes them all
    when ``meta_table`` (one row, ``fold_version``) says another fold made them, or nothing did yet, and the
    table then names the current ``FOLD_VERSION``. True when it rebuilt. One rule for every such set of keys
    (the registry's, the submissions'), run as their migration (the rows already there) and at every start
    (a city extended ``name_variants.txt``); call inside a write job."""
    row = conn.execute(f"SELECT fold_version FROM {meta_table}").fetchone()
    if row is not None and row[0] == FOLD_VERSION:
        return False
    rebuild(conn)
    conn.execute(f"DELETE FROM {meta_table}")
    conn.execute(f"INSERT INTO {meta_table} (fold_version) VALUES (?)", (FOLD_VERSION,))
    return True
