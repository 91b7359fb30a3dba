"""The request rate of a namespace: a token bucket in the store (table `rate_buckets`), so
every server sharing the database draws from the same bucket.

The bucket holds up to `burst` tokens and refills at `requests_per_second`; each invocation
takes one. Taking is one conditional UPDATE whose refill is computed in SQL on the
database's clock (the servers' clocks never meet), so concurrent takers on any server
cannot overdraw it. A refused take learns when the next token will be there; until then
(at most a second) this server refuses without asking the store, since tokens only ever
arrive at the refill rate. Namespaces without a rate quota cost one cached lookup.
"""

from __future__ import annotations

import math
import time

from sqlalchemy import ColumnElement, Float, case, cast, literal, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from isolane.errors import TooManyRequests
from isolane.platform.namespaces import NamespaceService
from isolane.store.database import Database
from isolane.store.schema import rate_buckets

# The longest this server refuses on its own after the store said the bucket was empty:
# an admin raising the rate is then seen within the same second as other changes.
LOCAL_REFUSAL_SECONDS = 1.0
TAKE_ATTEMPTS = 3

_SQLITE_NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
_POSTGRESQL_NOW_MS = "CAST(EXTRACT(EPOCH FROM statement_timestamp()) * 1000 AS BIGINT)"


def rate_limited(namespace: str, rate: float, burst: int, wait: float) -> TooManyRequests:
    seconds = max(1, math.ceil(wait))
    return TooManyRequests(
        f"namespace {namespace!r} is over its request rate ({rate:g} per second, burst {burst}): retry in {seconds} s",
        code="rate_limited",
        retry_after=seconds,
        quota="requests_per_second",
    )


class RateLimiter:
    def __init__(self, db: Database, namespaces: NamespaceService) -> None:
        self._db = db
        self._namespaces = namespaces
        # namespace -> (refuse locally until, next token expected at), monotonic seconds
        self._empty: dict[str, tuple[float, float]] = {}
        self._now_ms = literal_column(_SQLITE_NOW_MS if db.is_sqlite else _POSTGRESQL_NOW_MS)
        self._insert = sqlite_insert if db.is_sqlite else postgresql_insert

    async def admit(self, namespace: str) -> None:
        """Take a token for one invocation in `namespace`, or raise 429 `rate_limited`."""
        policy = await self._namespaces.policy(namespace)
        if policy is None or policy.rate is None:
            return
        now = time.monotonic()
        empty = self._empty.get(namespace)
        if empty is not None:
            if now < empty[0]:
                raise rate_limited(namespace, policy.rate, policy.burst, empty[1] - now)
            self._empty.pop(namespace, None)
        wait = await self.take(namespace, policy.rate, policy.burst)
        if wait is not None:
            if len(self._empty) > 100_000:
                self._empty.clear()
            self._empty[namespace] = (now + min(wait, LOCAL_REFUSAL_SECONDS), now + wait)
            raise rate_limited(namespace, policy.rate, policy.burst, wait)

    def forget(self, namespace: str) -> None:
        """Drop what this server remembers of the namespace's bucket (its quota changed)."""
        self._empty.pop(namespace, None)

    def _available(self, rate: float, burst: int) -> ColumnElement[float]:
        """The bucket's tokens now: refilled since `updated_at`, at most `burst`."""
        bucket = rate_buckets.c
        now = self._now_ms
        elapsed = case((now > bucket.updated_at, now - bucket.updated_at), else_=0)
        refilled = cast(bucket.tokens, Float) + elapsed * literal(rate / 1000.0, Float)
        full = literal(float(burst), Float)
        return case((refilled > full, full), else_=refilled)

    async def take(self, namespace: str, rate: float, burst: int) -> float | None:
        """Take one token from the namespace's bucket (a full one if it has none yet):
        None when taken, else the seconds until the next token."""
        bucket = rate_buckets.c
        available = self._available(rate, burst)
        async with self._db.transaction() as conn:
            for _attempt in range(TAKE_ATTEMPTS):
                taken = await conn.execute(
                    update(rate_buckets)
                    .where(bucket.namespace == namespace, available >= 1)
                    .values(
                        tokens=available - 1,
                        updated_at=case((self._now_ms > bucket.updated_at, self._now_ms), else_=bucket.updated_at),
                    )
                )
                if taken.rowcount:
                    return None
                left = (await conn.execute(select(available).where(bucket.namespace == namespace))).scalar_one_or_none()
                if left is not None:
                    if float(left) < 1:
                        return (1.0 - float(left)) / rate
                    continue  # a token arrived between the two statements
                created = await conn.execute(
                    self._insert(rate_buckets)
                    .values(namespace=namespace, tokens=float(burst - 1), updated_at=self._now_ms)
                    .on_conflict_do_nothing(index_elements=["namespace"])
                )
                if created.rowcount:
                    return None
        return 1.0 / rate  # the bucket kept appearing and vanishing: call it empty
