"""Uploading a file someone else already stored, without learning that it is stored.

Content addressing deduplicates: the second upload of the same bytes costs nothing. Told so, though, an
account would learn that a file with that sha256 exists although it may not read it. So for an account that
neither announced a stored blob nor may read it (``server.attachments.readable_attachment``), the resumable
upload proceeds exactly as for a new file (``201``, offset 0, chunks, ``Upload-Offset``) while each chunk is
compared with the stored bytes at its offset instead of being written; at the last byte the answer is the
one a new upload gets (``204`` complete, or ``422 digest-mismatch`` from offset 0 when any byte differed).

Progress is kept in memory per (sha256, account): after a restart the device's next chunk gets ``404``, as
an expired upload would, and it announces again and starts from 0. Proofs in progress count against the
account's upload limits as the unfinished uploads they look like (:meth:`Possession.sizes`,
``server.uploads.check_new_upload``: a stored file and an absent one get the same 413/429); as a backstop an
account keeps at most ``Settings.max_open_uploads`` of them (one more drops its own oldest, whose next chunk
then gets that ``404``, never another account's), and all accounts together at most 10,000.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import anyio

__all__ = ["Possession"]

_MAX_OPEN = 10_000  # proofs in progress kept (the oldest dropped first): memory stays bounded


@dataclass
class _Proof:
    size: int  # as announced
    offset: int = 0
    same: bool = True


@dataclass
class Possession:
    """The proofs in progress of one server process."""

    _proofs: dict[tuple[str, str], _Proof] = field(default_factory=dict)  # oldest first
    _of_account: dict[str, dict[str, None]] = field(default_factory=dict)  # account → its proofs' sha256, oldest first

    def start(self, sha: str, account: str, size: int, stored_size: int, *, per_account: int) -> int:
        """An announcement of ``size`` bytes of a blob stored with ``stored_size``: the offset to continue
        from (0 for a new proof). Another size can never prove the bytes (answered at the last byte). Beyond
        ``per_account`` proofs of this account, its own oldest is dropped (one account cannot push others'
        proofs out)."""
        proof = self._proofs.get((sha, account))
        if proof is None or proof.size != size:
            proof = self._proofs[(sha, account)] = _Proof(size, same=size == stored_size)
            mine = self._of_account.setdefault(account, {})
            mine[sha] = None
            while len(mine) > max(per_account, 1):
                self._drop(next(iter(mine)), account)
        while len(self._proofs) > _MAX_OPEN:
            self._drop(*next(iter(self._proofs)))
        return proof.offset

    def _drop(self, sha: str, account: str) -> None:
        self._proofs.pop((sha, account), None)
        mine = self._of_account.get(account)
        if mine is not None:
            mine.pop(sha, None)
            if not mine:
                del self._of_account[account]

    def sizes(self, account: str, *, besides: str) -> list[int]:
        """Announced sizes of ``account``'s proofs in progress other than of ``besides``: unfinished uploads
        as far as the account can tell, so they count against its limits (``server.uploads``)."""
        return [self._proofs[(sha, account)].size for sha in self._of_account.get(account, ()) if sha != besides]

    def progress(self, sha: str, account: str) -> tuple[int, int] | None:
        """(offset, announced size) of a proof in progress."""
        proof = self._proofs.get((sha, account))
        return None if proof is None else (proof.offset, proof.size)

    async def feed(self, stored: Path, sha: str, account: str, body: bytes) -> bool | None:
        """Take the next chunk (at the :meth:`progress` offset): None while bytes are missing, then whether
        every byte was the stored file's (the proof ends either way)."""
        proof = self._proofs[(sha, account)]
        if proof.same:
            proof.same = await anyio.to_thread.run_sync(_matches, stored, proof.offset, body)
        proof.offset += len(body)
        if proof.offset < proof.size:
            return None
        self._drop(sha, account)
        return proof.same


def _matches(path: Path, offset: int, body: bytes) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(len(body)) == body
    except OSError:  # the stored file is gone: nothing to prove against, so the upload cannot match it
        return False
