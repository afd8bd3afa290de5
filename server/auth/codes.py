"""Recovery codes: how they are made, found, spent, and how wrong ones are counted (SQL; auth migration v4).

A code identifies its account by itself, so nobody types an account id: it is 20 Crockford base32
characters shown as ``XXXX-XXXX-XXXX-XXXX-XXXX``. The first 6 are a **lookup id** (30 bits, unique, stored as
is: it finds the row through an index, no table scan), the other 14 the **secret** (70 bits), of which only
the sha256 digest is stored and which is compared in constant time (``hmac.compare_digest``), also when no
row has that lookup id. A copy of the database file therefore gives no usable code: 2^70 sha256 guesses per
code. Codes made before v4 (16 characters, all secret) have no lookup id: they are found by the digest of the
whole code through a partial index, so they keep working until used or replaced.

Typing from paper on a phone: case, dashes, spaces and full-width characters do not matter (NFKC, a code is
no name), and the letters Crockford base32 leaves out are read as what they look like (I, L as 1; O as 0).
"""

from __future__ import annotations

import hmac
import secrets
import sqlite3
import unicodedata
from typing import Literal, NamedTuple

from server.auth.store import hash_secret, iso_now, now

__all__ = [
    "CODE_COUNT",
    "CodeMatch",
    "find_code",
    "format_code",
    "generate_recovery_codes",
    "normalize_code",
    "note_failure",
    "random_code",
    "recent_failures",
    "spend_code",
]

# Crockford base32 without I, L, O, U: recovery codes are typed by hand from paper.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})
LOOKUP_LEN = 6
SECRET_LEN = 14
_LEGACY_LEN = 16  # codes made before auth migration v4: secret only
CODE_COUNT = 10
# Compared against when no row has the lookup id, so a miss costs the same hash and compare as a hit.
_DUMMY = hash_secret("no such recovery code")


class CodeMatch(NamedTuple):
    """What a typed code is: ``ok`` (unused, right secret), ``used`` (right but spent) or ``wrong``.
    ``account_id`` is known whenever the lookup id named a row (a wrong secret for it counts against that
    account); ``code_id`` is the row to spend."""

    status: Literal["ok", "used", "wrong"]
    account_id: str | None = None
    code_id: int | None = None


def normalize_code(code: str) -> str:
    """A typed code as it was made: NFKC, upper case, I/L read as 1 and O as 0, only letters and digits.
    Every code typed from paper (recovery codes, ``server.parties`` invitation codes) is read this way."""
    text = unicodedata.normalize("NFKC", code).upper().translate(_READ_AS)
    return "".join(ch for ch in text if ch.isalnum())


def random_code(n: int) -> str:
    """``n`` random characters of the alphabet (5 bits each)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def format_code(raw: str) -> str:
    """As shown to the person: groups of 4 joined by hyphens (``XXXX-XXXX-...``)."""
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def generate_recovery_codes(conn: sqlite3.Connection, account_id: str, count: int = CODE_COUNT) -> list[str]:
    """Replace the account's recovery codes (used ones too); returns the new ones, shown once."""
    conn.execute("DELETE FROM recovery_codes WHERE account_id = ?", (account_id,))
    codes: list[str] = []
    while len(codes) < count:
        lookup = random_code(LOOKUP_LEN)
        if conn.execute("SELECT 1 FROM recovery_codes WHERE lookup = ?", (lookup,)).fetchone():
            continue  # 30 bits: rare, and the unique index would refuse it anyway
        secret = random_code(SECRET_LEN)
        conn.execute("INSERT INTO recovery_codes (account_id, code_hash, lookup) VALUES (?, ?, ?)",
                     (account_id, hash_secret(secret), lookup))
        codes.append(format_code(lookup + secret))
    return codes


def find_code(conn: sqlite3.Connection, code: str) -> CodeMatch:
    """Which account and row a typed code is (nothing is spent)."""
    norm = normalize_code(code)
    if len(norm) == LOOKUP_LEN + SECRET_LEN:
        row = conn.execute("SELECT id, account_id, code_hash, used_at FROM recovery_codes WHERE lookup = ?",
                           (norm[:LOOKUP_LEN],)).fetchone()
        right = hmac.compare_digest(bytes(row[2]) if row else _DUMMY, hash_secret(norm[LOOKUP_LEN:]))
        if row is None:
            return CodeMatch("wrong")
        if not right:
            return CodeMatch("wrong", row[1])
    elif len(norm) == _LEGACY_LEN:
        # The digest of an 80-bit secret is its own lookup key (as for session tokens): equality in the index.
        row = conn.execute("SELECT id, account_id, code_hash, used_at FROM recovery_codes"
                           " WHERE lookup IS NULL AND code_hash = ?", (hash_secret(norm),)).fetchone()
        if row is None:
            return CodeMatch("wrong")
    else:
        return CodeMatch("wrong")
    return CodeMatch("used" if row[3] is not None else "ok", row[1], row[0])


def spend_code(conn: sqlite3.Connection, code_id: int, account_id: str) -> bool:
    """Mark the code used, exactly once (False: already spent, or replaced meanwhile)."""
    return conn.execute("UPDATE recovery_codes SET used_at = ? WHERE id = ? AND account_id = ? AND used_at IS NULL",
                        (iso_now(), code_id, account_id)).rowcount == 1


def note_failure(conn: sqlite3.Connection, client: str, window: int) -> None:
    """Count a wrong code against the client address (its limit key); forget failures older than ``window``."""
    t = now()
    conn.execute("DELETE FROM recovery_failures WHERE at <= ?", (t - window,))
    conn.execute("INSERT INTO recovery_failures (client, at) VALUES (?, ?)", (client, t))


def recent_failures(conn: sqlite3.Connection, client: str, window: int) -> int:
    return int(conn.execute("SELECT count(*) FROM recovery_failures WHERE client = ? AND at > ?",
                            (client, now() - window)).fetchone()[0])
