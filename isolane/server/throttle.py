"""Guesses of a secret (an API token, the dashboard's login) throttled per client address.

Each address that has failed a check has a bucket of BURST guesses that refills at
PER_SECOND. A check first takes a guess from the address's bucket; an empty bucket is a
429 `too_many_attempts` with `Retry-After`, decided before the secret is looked at, so a
throttled guess learns nothing (a right secret is refused too, until a guess is there
again: at most 1/PER_SECOND seconds after the guessing stops). A check that succeeds gives
its guess back, so an address that never fails never waits; one that fails keeps it,
unless it failed with one of the address's last few wrong secrets (a client retrying with
a revoked token is not guessing). Taking before checking also bounds concurrent guesses:
a thousand parallel requests from one address get at most BURST checks.

Buckets live in this process's memory, at most MAX_ADDRESSES (the least recently failed
go first); a bucket that is full again is forgotten. IPv6 clients are counted by /64,
the block one subscriber gets. Per process rather than in the store: a shared bucket
would cost a write per failed guess, the very load this keeps off the store, and N
servers let an attacker guess N times as fast, which changes nothing against 256-bit
tokens (see docs/operations.md).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from isolane.errors import TooManyRequests

BURST = 20
PER_SECOND = 1.0
MAX_ADDRESSES = 10_000
RECENT_SECRETS = 4

log = logging.getLogger(__name__)


class Guess:
    """One address's bucket (a check holds it between `admit` and `settle`)."""

    __slots__ = ("address", "tokens", "updated", "pending", "recent", "warned")

    def __init__(self, address: str, tokens: float, now: float) -> None:
        self.address = address
        self.tokens = tokens
        self.updated = now
        self.pending = 0  # checks admitted and not yet settled
        self.recent: tuple[int, ...] = ()  # hashes of the latest wrong secrets
        self.warned = False


def address_of(client: tuple[str, int] | list | None) -> str:
    """The address a bucket counts: the IPv4 address, or the IPv6 /64."""
    if not client:
        return "-"
    host = str(client[0])
    if ":" not in host:
        return host
    try:
        address = ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        return host
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return f"{int(address) >> 64:016x}::/64"


class GuessThrottle:
    def __init__(
        self,
        burst: int = BURST,
        per_second: float = PER_SECOND,
        max_addresses: int = MAX_ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.per_second = per_second
        self.max_addresses = max_addresses
        self._clock = clock
        self._buckets: OrderedDict[str, Guess] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def admit(self, client: tuple[str, int] | list | None) -> Guess:
        """Take a guess for one check from `client`'s address, or raise 429."""
        address = address_of(client)
        now = self._clock()
        guess = self._buckets.get(address)
        if guess is None:
            guess = Guess(address, float(self.burst), now)
            self._buckets[address] = guess
            if len(self._buckets) > self.max_addresses:
                self._buckets.popitem(last=False)
        else:
            self._refill(guess, now)
            if guess.tokens < 1:
                wait = max(1, math.ceil((1 - guess.tokens) / self.per_second))
                if not guess.warned:
                    guess.warned = True
                    log.warning("secret guesses throttled", extra={"client": address, "retry_after": wait})
                raise TooManyRequests(
                    f"too many failed attempts from your address: retry in {wait} s", code="too_many_attempts", retry_after=wait
                )
        guess.tokens -= 1
        guess.pending += 1
        return guess

    def settle(self, guess: Guess, wrong_secret: str | None) -> None:
        """After the check: `wrong_secret` is the secret that failed, None if it held (or
        the check could not be made): then the guess is given back."""
        guess.pending -= 1
        if wrong_secret is not None:
            fingerprint = hash(wrong_secret)
            if fingerprint not in guess.recent:
                guess.recent = (fingerprint, *guess.recent[: RECENT_SECRETS - 1])
                if self._buckets.get(guess.address) is guess:
                    self._buckets.move_to_end(guess.address)
                return
        self._refill(guess, self._clock())
        guess.tokens = min(guess.tokens + 1, float(self.burst))
        if guess.tokens >= self.burst and guess.pending == 0 and self._buckets.get(guess.address) is guess:
            del self._buckets[guess.address]  # as good as no bucket

    def _refill(self, guess: Guess, now: float) -> None:
        if now > guess.updated:
            guess.tokens = min(float(self.burst), guess.tokens + (now - guess.updated) * self.per_second)
            guess.updated = now
