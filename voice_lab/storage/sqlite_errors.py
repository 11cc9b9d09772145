"""How the SQLite backend turns sqlite3's exceptions into the storage errors (errors.py)."""

from __future__ import annotations

import sqlite3

from .errors import Conflict, SessionGone, StorageError, Unavailable, translating_with

# SQLite's primary result codes for a database that is there but not usable just now.
UNAVAILABLE = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_PERM,
    sqlite3.SQLITE_NOMEM,
    sqlite3.SQLITE_PROTOCOL,
}
CONFLICT = {sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE}


def storage_error(exc: sqlite3.Error) -> StorageError:
    """The storage error a sqlite3 exception stands for, with its message. Errors the driver
    raises itself (a closed connection) carry no result code: plain StorageError."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
        return SessionGone(f"the session is gone ({exc})")
    if code in CONFLICT:
        return Conflict(f"stored by another writer first ({exc})")
    if code is not None and code & 0xFF in UNAVAILABLE:
        return Unavailable(str(exc))
    return StorageError(str(exc))


# Every method of the SQLite backend raises storage errors where sqlite3 raised.
translating = translating_with(sqlite3.Error, storage_error)
