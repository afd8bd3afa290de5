"""Incoming transfer data (転出証明書情報) from the national moving service, behind a small adapter.

When someone files 転出 online with a My Number Card (引越しワンストップサービス), the national service sends
the 転出証明書情報 to the new municipality before they come: the previous address and the people moving.
:class:`MovingService` is what the registry needs of that service; the real connection (through the
municipality's core system) is another implementation. :class:`InMemoryMovingService` stands in for it in
the demo and in tests. ``SQLiteRegistry.import_transfers`` copies a certificate into the (provisional)
registry record of the person it names, and the profile of that person then prefills 転入 from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import msgspec

__all__ = ["InMemoryMovingService", "MovingService", "TransferCertificate", "TransferMover", "read_certificates"]


class TransferMover(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One person on a certificate: the attributes of a household member (names byte for byte)."""

    member_id: str  # 住民票コード: stays the same across municipalities
    family: str
    given: str
    family_kana: str | None = None
    given_kana: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    relationship_to_head: str | None = None
    disclosure_restricted: bool = False  # 支援措置 follows the person to the new municipality


class TransferCertificate(msgspec.Struct, kw_only=True, omit_defaults=True):
    certificate_id: str
    resident_id: str  # the record in this municipality's registry it was matched to
    previous_address: dict[str, str]
    movers: list[TransferMover]
    moving_date: str | None = None  # 転出予定日, ISO


class MovingService(Protocol):
    """The national moving service, as far as the registry uses it."""

    def certificates(self, resident_ids: Iterable[str]) -> list[TransferCertificate]: ...


class InMemoryMovingService:
    """Certificates at hand: the demo's and the tests' fixed ones, and those handed over as a file
    (``madoguchi registry import-transfer``, :func:`read_certificates`) where the service is not connected."""

    def __init__(self, certificates: Iterable[TransferCertificate] = ()) -> None:
        self._by_resident = {c.resident_id: c for c in certificates}

    def certificates(self, resident_ids: Iterable[str]) -> list[TransferCertificate]:
        return [c for rid in resident_ids if (c := self._by_resident.get(rid)) is not None]


def read_certificates(data: bytes) -> list[TransferCertificate]:
    """Certificates from JSON (docs/api.md "Importing 転出証明書情報"): one certificate object, or a list of them,
    in :class:`TransferCertificate`'s shape. Raises ``msgspec.ValidationError``/``DecodeError`` naming the
    member on anything else (wrong types, a missing member): nothing of a bad file is imported."""
    stripped = data.lstrip()
    if stripped.startswith(b"["):
        return msgspec.json.decode(data, type=list[TransferCertificate])
    return [msgspec.json.decode(data, type=TransferCertificate)]
