"""The storage package's own errors. Every backend raises these, whatever its driver raised, so
the code that stores (the mirror, the panels' fold, import) never sees a driver."""

from __future__ import annotations


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
