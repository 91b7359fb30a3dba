"""The dashboard tail's session watcher, driven directly with a real subscription and a
short period: a stream ends when its session no longer holds, and also when the check
itself fails. (Over HTTP the period is 30 s, too long for the suite; the page and stream
are covered in test_pages.py.)"""

from __future__ import annotations

import asyncio
import logging

import pytest

from isolane.dashboard import tail
from isolane.dashboard.rendering import LoginRequired
from isolane.observability.tail import TailSubscription

PERIOD = 0.01


@pytest.fixture(autouse=True)
def short_period(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tail, "SESSION_RECHECK_SECONDS", PERIOD)


def watch(check_failure: BaseException | None, seconds: float = 5.0) -> tuple[TailSubscription, int]:
    """Run the watcher until it ends (or `seconds` pass), its check failing from the third
    on; the subscription and the checks made."""
    subscription = TailSubscription("ns", "script", None, 1.0)
    checks = 0

    async def check() -> None:
        nonlocal checks
        checks += 1
        if check_failure is not None and checks > 2:
            raise check_failure

    async def scenario() -> None:
        watcher = asyncio.ensure_future(tail._end_when_signed_out(check, subscription))
        try:
            await asyncio.wait_for(asyncio.shield(watcher), seconds)
        except TimeoutError:
            watcher.cancel()

    asyncio.run(scenario())
    return subscription, checks


def test_the_stream_ends_when_the_session_no_longer_holds() -> None:
    subscription, checks = watch(LoginRequired())
    assert subscription.closed and checks == 3


def test_the_stream_ends_when_the_check_fails_and_the_failure_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger=tail.__name__):
        subscription, checks = watch(RuntimeError("database is locked"))
    assert subscription.closed and checks == 3
    assert any("session check failed" in entry.message and entry.exc_info for entry in caplog.records)


def test_a_session_that_holds_is_checked_every_period() -> None:
    subscription, checks = watch(None, seconds=0.5)
    assert not subscription.closed
    assert checks >= 5  # 0.5 s at 10 ms (about 50): the module's period is the one used
