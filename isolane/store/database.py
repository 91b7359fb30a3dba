"""The metadata database: an async SQLAlchemy engine, migrated to head on start.

SQLite (the embedded default) runs in WAL mode with a busy timeout so several server
processes can share one file; PostgreSQL is a change of URL. With SQLite, this process's
write transactions take turns (one waits on the file's write lock, not every pooled
connection: reads and invocations keep theirs), and a writer that cannot get its turn in
time fails with `database_busy` (503, Retry-After). A SQLite file is created with
mode 0600 before SQLite opens it: SQLite gives its -wal, -shm and -journal files the
database file's mode, so they are owner-only too (tenants' KV values and logs are in them).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from isolane.store.failures import DatabaseBusy
from isolane.store.permissions import FILE_MODE, private_file

BUSY_TIMEOUT_MS = 10_000  # SQLite waits this long for another process's write lock
WRITE_TURN_SECONDS = BUSY_TIMEOUT_MS / 1000  # and a writer this long for its turn here
_writing: ContextVar[bool] = ContextVar("writing", default=False)  # this task holds the turn


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine: AsyncEngine = create_async_engine(self.url, pool_pre_ping=not self.is_sqlite)
        self._write_turn = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    async def migrate(self) -> None:
        """Bring the schema to the newest revision (serialized across processes)."""
        await asyncio.to_thread(self._migrate_sync)

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database's file, when it is one (not in memory)."""
        if not self.is_sqlite or not self.url.database or self.url.database == ":memory:" or self.url.database.startswith("file:"):
            return None
        return Path(self.url.database)

    def _migrate_sync(self) -> None:
        path = self.sqlite_path
        if path is not None:  # owner-only from the first start, before SQLite creates it 0644
            path.parent.mkdir(parents=True, exist_ok=True)
            private_file(path)
        sync_url = self.url.set(drivername=self.url.get_backend_name())
        engine = create_engine(sync_url)
        if self.is_sqlite:
            event.listen(engine, "connect", _sqlite_pragmas)
        try:
            with _migration_lock(self), engine.begin() as connection:
                _run_alembic(connection)
        finally:
            engine.dispose()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        if self._write_turn is None or _writing.get():  # PostgreSQL, or a transaction within one
            async with self.engine.begin() as connection:
                yield connection
            return
        try:
            async with asyncio.timeout(WRITE_TURN_SECONDS):
                await self._write_turn.acquire()
        except TimeoutError:
            raise DatabaseBusy() from None
        holding = _writing.set(True)
        try:
            async with self.engine.begin() as connection:
                yield connection
        finally:
            _writing.reset(holding)
            self._write_turn.release()

    async def close(self) -> None:
        await self.engine.dispose()


def _run_alembic(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(resources.files("isolane.store") / "migrations"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class _migration_lock:  # noqa: N801 - used as a context manager
    """Only one process migrates a SQLite database at a time: a file lock beside it."""

    def __init__(self, database: Database) -> None:
        database_path = database.sqlite_path
        self._path = database_path.with_suffix(".migrate.lock") if database_path is not None else None
        self._fd: int | None = None

    def __enter__(self) -> None:
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
