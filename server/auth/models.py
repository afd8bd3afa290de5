"""Accounts, roles and passkeys as the rest of the server sees them."""

from __future__ import annotations

from typing import Any

import msgspec

from server.auth.roles import capabilities, is_staff_role

__all__ = ["Account", "Passkey"]


class Account(msgspec.Struct, frozen=True, kw_only=True):
    """A signed-in person. ``resident_id``/``verified`` come from the identity binding made at the counter."""

    id: str
    display_name: str
    role: str
    department: str | None = None
    resident_id: str | None = None
    verified: bool = False
    created_at: str = ""

    @property
    def is_staff(self) -> bool:
        return is_staff_role(self.role)

    def public(self) -> dict[str, Any]:
        """What the API shows about an account (never the registry record id)."""
        return {
            "id": self.id,
            "display_name": self.display_name,
            "role": self.role,
            "department": self.department,
            "verified": self.verified,
            "can": capabilities(self.role),
        }


class Passkey(msgspec.Struct, frozen=True, kw_only=True):
    """One registered WebAuthn credential of an account, as listed in ``GET /api/me/passkeys``."""

    id: str
    name: str
    created_at: str
    last_used_at: str | None = None
    device_type: str | None = None
    backed_up: bool = False
