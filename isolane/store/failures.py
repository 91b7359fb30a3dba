"""What the store's failures mean to a client: a busy SQLite file or an unreachable
database is `503` with `Retry-After` (retrying helps), a full disk `507`, never a generic
500."""

from __future__ import annotations

import errno

from sqlalchemy import exc as sa

from isolane.errors import IsolaneError, Unavailable

RETRY_AFTER_SECONDS = 1


class DatabaseBusy(Unavailable):
    """Another writer held the database longer than this one could wait."""

    code = "database_busy"

    def __init__(self, message: str = "the database is busy with other writes: retry shortly") -> None:
        super().__init__(message, retry_after=RETRY_AFTER_SECONDS)


class DatabaseUnavailable(Unavailable):
    code = "database_unavailable"

    def __init__(self, message: str = "the database does not answer: retry shortly") -> None:
        super().__init__(message, retry_after=RETRY_AFTER_SECONDS)


class StorageFull(IsolaneError):
    """The disk (or quota) under the data dir or the database is full: nothing was changed;
    the same request succeeds once space is freed."""

    status, code = 507, "insufficient_storage"

    def __init__(self) -> None:
        super().__init__("the server's storage is full: nothing was changed; retry once space is freed")


_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_FULL = ("database or disk is full", "no space left on device", "disk quota exceeded", "could not extend file")
_BUSY = ("database is locked", "database is busy", "database table is locked", "could not obtain lock", "lock timeout", "deadlock detected")


def translate(error: BaseException) -> IsolaneError | None:
    """The error a client should get for a database failure, or None if it is not one that
    is understood (a bug: 500)."""
    if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
        return StorageFull()
    if isinstance(error, sa.TimeoutError):  # no pooled connection came free in time
        return DatabaseBusy("every database connection is busy: retry shortly")
    if isinstance(error, sa.DBAPIError):
        text = str(error.orig if error.orig is not None else error).lower()
        if any(marker in text for marker in _FULL):
            return StorageFull()
        if any(marker in text for marker in _BUSY):
            return DatabaseBusy()
        if error.connection_invalidated or isinstance(error, (sa.OperationalError, sa.InterfaceError)) and "connect" in text:
            return DatabaseUnavailable()
    return None
