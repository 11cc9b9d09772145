"""How the SQLite backend turns sqlite3's exceptions into the storage errors (errors.py)."""

from __future__ import annotations

import functools
import inspect
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from .errors import Conflict, SessionGone, StorageError, Unavailable

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

Class = TypeVar("Class", bound=type)


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


def translating(cls: Class) -> Class:
    """The class with each of its methods (and __init__), its bases' too, raising storage
    errors where sqlite3 raised: whatever a caller reaches the backend by, no sqlite3 exception
    gets out."""
    methods: dict[str, Any] = {}
    for klass in reversed(cls.__mro__[:-1]):  # the base class's shared queries too
        methods.update(vars(klass))
    for name, method in methods.items():
        if inspect.isfunction(method) and (name == "__init__" or not name.startswith("__")):
            setattr(cls, name, _translated(method))
    return cls


def _translated(method: Callable[..., Any]) -> Callable[..., Any]:
    """The method raising storage errors; a generator's errors while it is iterated too."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from method(*args, **kwargs)
            except sqlite3.Error as exc:
                raise storage_error(exc) from exc

        return generator

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc

    return call
