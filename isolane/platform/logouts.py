"""Dashboard sessions ended by logging out.

A dashboard session is a signed cookie (isolane/dashboard/session.py): nothing about it is
stored, so logging out must remember the session's nonce until the session would have
expired, or a copy of the cookie taken earlier would still work. Rows past their expiry
are deleted whenever someone logs out.
"""

from __future__ import annotations

import time

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from isolane.store.database import Database
from isolane.store.schema import dashboard_logouts


class LogoutService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def end(self, nonce: str, expires_at: int) -> None:
        """Refuse the session with this nonce from now on (on every server)."""
        try:
            async with self._db.transaction() as conn:
                await conn.execute(delete(dashboard_logouts).where(dashboard_logouts.c.expires_at < int(time.time())))
                await conn.execute(dashboard_logouts.insert().values(nonce=nonce, expires_at=expires_at))
        except IntegrityError:
            pass  # logged out already (a second tab, a double submit)

    async def ended(self, nonce: str) -> bool:
        async with self._db.connect() as conn:
            found = await conn.execute(select(dashboard_logouts.c.nonce).where(dashboard_logouts.c.nonce == nonce))
            return found.first() is not None
