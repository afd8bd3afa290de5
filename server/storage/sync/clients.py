"""Client ids bound to accounts: the first account that pushes with a ``client_id`` owns it.

The merge rules trust a client id (a device's own later edits supersede its earlier ones; edits from one
client id are one lineage), so one account must not speak for another account's device: a push whose
``client_id`` is bound to another account is refused mutation by mutation (``client_id_bound``). The ids the
server writes under itself (``registry`` for the registry projection, ``console:<account>`` for resolutions)
are reserved. A shared device uses one client id per account (the PWA makes a new one when another account
signs in)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from server.storage.sync.records import utc_now

__all__ = ["bind_clients_in", "is_reserved"]


def is_reserved(client_id: str) -> bool:
    return client_id == "registry" or client_id.startswith("console:")


def bind_clients_in(conn: sqlite3.Connection, account_id: str, client_ids: Iterable[str]) -> frozenset[str]:
    """Bind the unbound ``client_ids`` to ``account_id`` (inside the push's write job); returns those this
    account may not use (bound to another account, or reserved)."""
    wanted = sorted(set(client_ids))
    refused = {c for c in wanted if is_reserved(c)}
    bound: dict[str, str] = {}
    for i in range(0, len(wanted), 500):
        part = wanted[i: i + 500]
        bound.update(conn.execute(f"SELECT client_id, account_id FROM sync_clients WHERE client_id IN"
                                  f" ({','.join('?' * len(part))})", part).fetchall())
    refused |= {c for c, owner in bound.items() if owner != account_id}
    new = [(c, account_id, utc_now()) for c in wanted if c not in bound and c not in refused]
    if new:
        conn.executemany("INSERT INTO sync_clients (client_id, account_id, bound_at) VALUES (?, ?, ?)", new)
    return frozenset(refused)
