"""Cron expressions: fields, lists, ranges, steps, names, the day rule, the seconds extension."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from isolane.platform.cron import CronError, parse


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def test_every_five_minutes() -> None:
    cron = parse("*/5 * * * *")
    assert cron.minutes == frozenset(range(0, 60, 5))
    assert cron.matches(ms(2026, 1, 1, 10, 5))
    assert not cron.matches(ms(2026, 1, 1, 10, 6))
    assert not cron.matches(ms(2026, 1, 1, 10, 5, 1))  # five fields tick at second 0
    assert not cron.has_seconds


def test_lists_ranges_steps_and_names() -> None:
    cron = parse("0,30 9-17/2 * JAN-mar mon-FRI")
    assert cron.minutes == {0, 30}
    assert cron.hours == {9, 11, 13, 15, 17}
    assert cron.months == {1, 2, 3}
    assert cron.weekdays == {1, 2, 3, 4, 5}
    assert parse("0 0 * * 7").weekdays == {0}  # 7 is Sunday too
    assert parse("5/20 * * * *").minutes == {5, 25, 45}


def test_day_of_month_or_day_of_week_when_both_restricted() -> None:
    cron = parse("0 0 13 * FRI")
    assert cron.matches(ms(2026, 2, 13))  # a Friday the 13th
    assert cron.matches(ms(2026, 2, 6))  # a Friday
    assert cron.matches(ms(2026, 1, 13))  # a Tuesday the 13th
    assert not cron.matches(ms(2026, 2, 7))
    only_fridays = parse("0 0 * * FRI")
    assert only_fridays.matches(ms(2026, 2, 6)) and not only_fridays.matches(ms(2026, 1, 13))


def test_seconds_extension() -> None:
    cron = parse("*/2 * * * * *")
    assert cron.has_seconds and cron.granularity_ms == 1000
    assert cron.ticks(ms(2026, 1, 1, 0, 0, 0), ms(2026, 1, 1, 0, 0, 6)) == [ms(2026, 1, 1, 0, 0, s) for s in (2, 4, 6)]


def test_ticks_in_a_window() -> None:
    cron = parse("* * * * *")
    start = ms(2026, 1, 1, 0, 0)
    assert cron.ticks(start - 1, start + 120_000) == [start, start + 60_000, start + 120_000]
    assert cron.ticks(start, start + 59_999) == []
    assert len(cron.ticks(start, start + 3_600_000, limit=5)) == 5


@pytest.mark.parametrize(
    "expression",
    ["", "* * * *", "* * * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "*/0 * * * *",
     "5-1 * * * *", "L * * * *", "* * ? * *", "@hourly", "* * * FOO *", "MON * * * *", "1-2-3 * * * *", "*/1000 * * * *", "x" * 200],
)
def test_invalid(expression: str) -> None:
    with pytest.raises(CronError):
        parse(expression)
