"""How the PostgreSQL backend turns psycopg's exceptions into the storage errors (errors.py)."""

from __future__ import annotations

import psycopg
from psycopg import errors

from .errors import Conflict, SessionGone, StorageError, Unavailable, translating_with


def storage_error(exc: psycopg.Error) -> StorageError:
    """The storage error a psycopg exception stands for, with its message: a server away, a
    pool with no connection free in time, a lock or deadlock given up are Unavailable (the
    same request may succeed later); a key already stored a Conflict; a session deleted under
    the write SessionGone."""
    if isinstance(exc, errors.ForeignKeyViolation):
        return SessionGone(f"the session is gone ({exc})")
    if isinstance(exc, errors.UniqueViolation):
        return Conflict(f"stored by another writer first ({exc})")
    if isinstance(exc, psycopg.OperationalError):
        return Unavailable(f"the PostgreSQL database is not usable just now: {exc}")
    return StorageError(str(exc))


# Every method of the PostgreSQL backend raises storage errors where psycopg raised.
translating = translating_with(psycopg.Error, storage_error)
