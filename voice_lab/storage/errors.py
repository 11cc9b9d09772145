"""The storage package's own errors. Every backend raises these, whatever its driver raised, so
the code that stores (the mirror, the panels' fold, import) never sees a driver."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

Class = TypeVar("Class", bound=type)


class StorageError(Exception):
    """The store could not do what it was asked; the message says why."""


class Unavailable(StorageError):
    """The database cannot be written or read just now (locked or busy past the wait, the disk
    full, the file not opened): nothing was stored, and the same request may succeed later."""


class SessionGone(StorageError):
    """The session written into no longer exists: it was deleted under the write."""


class Conflict(StorageError):
    """A primary key clash: another writer stored those rows (seqs, or a session id) first.
    Read what is stored now and send again only what is missing."""


def translating_with(
    driver: type[Exception], translate: Callable[[Any], StorageError]
) -> Callable[[Class], Class]:
    """A class decorator for a backend: each of the class's methods (and __init__), its bases'
    too, raises the storage error `translate` gives where the driver raised `driver`. Whatever
    a caller reaches the backend by, no driver exception gets out."""

    def translated(method: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.isgeneratorfunction(method):  # its errors while it is iterated too

            @functools.wraps(method)
            def generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
                try:
                    yield from method(*args, **kwargs)
                except driver as exc:
                    raise translate(exc) from exc

            return generator

        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except driver as exc:
                raise translate(exc) from exc

        return call

    def decorate(cls: Class) -> Class:
        methods: dict[str, Any] = {}
        for klass in reversed(cls.__mro__[:-1]):  # the base class's shared queries too
            methods.update(vars(klass))
        for name, method in methods.items():
            if inspect.isfunction(method) and (name == "__init__" or not name.startswith("__")):
                setattr(cls, name, translated(method))
        return cls

    return decorate
