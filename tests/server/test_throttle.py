"""The per-address throttle of secret guesses (isolane/server/throttle.py), in process with
a clock the test moves; tests/abuse/test_auth_throttle.py attacks a real server."""

from __future__ import annotations

import pytest

from isolane.errors import TooManyRequests
from isolane.server.throttle import GuessThrottle, address_of

ATTACKER = ("203.0.113.7", 40000)
ADMIN = ("198.51.100.1", 40000)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: GuessThrottle, client: tuple[str, int], secret: str) -> None:
    throttle.settle(throttle.admit(client), secret)


def test_a_burst_of_failures_then_one_guess_a_second() -> None:
    clock = Clock()
    throttle = GuessThrottle(burst=20, per_second=1.0, clock=clock)
    for n in range(20):
        fail(throttle, ATTACKER, f"guess-{n}")
    with pytest.raises(TooManyRequests) as refused:
        throttle.admit(ATTACKER)
    assert refused.value.code == "too_many_attempts" and refused.value.headers == {"retry-after": "1"}
    # The right secret is refused too: nothing is learnt while throttled.
    with pytest.raises(TooManyRequests):
        throttle.admit(ATTACKER)
    # Another address is untouched.
    throttle.settle(throttle.admit(ADMIN), None)
    clock.now += 1.0
    fail(throttle, ATTACKER, "guess-20")
    with pytest.raises(TooManyRequests):
        throttle.admit(ATTACKER)
    clock.now += 1.0
    throttle.settle(throttle.admit(ATTACKER), None)  # the admin at that address gets in


def test_success_gives_the_guess_back_and_leaves_nothing_behind() -> None:
    throttle = GuessThrottle(burst=3, clock=Clock())
    for _ in range(100):
        throttle.settle(throttle.admit(ADMIN), None)
    assert len(throttle) == 0


def test_concurrent_checks_are_bounded_by_the_burst() -> None:
    throttle = GuessThrottle(burst=5, clock=Clock())
    admitted = [throttle.admit(ATTACKER) for _ in range(5)]
    with pytest.raises(TooManyRequests):
        throttle.admit(ATTACKER)
    for n, guess in enumerate(admitted):
        throttle.settle(guess, f"guess-{n}")


def test_repeating_a_wrong_secret_is_no_new_guess() -> None:
    throttle = GuessThrottle(burst=3, clock=Clock())
    for _ in range(50):
        fail(throttle, ATTACKER, "a revoked token")
    fail(throttle, ATTACKER, "another")
    fail(throttle, ATTACKER, "a third")
    with pytest.raises(TooManyRequests):
        throttle.admit(ATTACKER)


def test_a_check_that_could_not_be_made_is_no_guess() -> None:
    throttle = GuessThrottle(burst=2, clock=Clock())
    for _ in range(10):
        throttle.settle(throttle.admit(ATTACKER), None)
    fail(throttle, ATTACKER, "one")
    throttle.settle(throttle.admit(ATTACKER), None)


def test_memory_is_bounded_however_many_addresses_fail() -> None:
    clock = Clock()
    throttle = GuessThrottle(burst=2, max_addresses=100, clock=clock)
    for n in range(10_000):
        fail(throttle, (f"10.{n // 65536}.{n // 256 % 256}.{n % 256}", 1), "guess")
    assert len(throttle) == 100
    # A full bucket is forgotten at its next settled check.
    clock.now += 10
    throttle.settle(throttle.admit(("10.0.39.15", 1)), None)  # the 9999th address, still kept
    assert len(throttle) == 99


def test_addresses_are_counted_by_ipv4_address_or_ipv6_64() -> None:
    assert address_of(("192.0.2.1", 5)) == "192.0.2.1"
    assert address_of(("2001:db8:1:2:aaaa::1", 5)) == address_of(("2001:db8:1:2:bbbb::2", 5)) == "20010db800010002::/64"
    assert address_of(("2001:db8:1:3::1", 5)) != address_of(("2001:db8:1:2::1", 5))
    assert address_of(("::ffff:192.0.2.1", 5)) == "192.0.2.1"
    assert address_of(None) == "-"
