"""Storage: the SQLite database (one writer thread, pooled readers), migrations and repositories."""

from server.storage.db import Database

__all__ = ["Database"]
