"""Cron expressions: parse, validate, and ask whether a moment is one of their ticks.

The five standard fields, in UTC (as Cloudflare's cron triggers are):

    minute (0-59)  hour (0-23)  day-of-month (1-31)  month (1-12 or JAN-DEC)  day-of-week (0-7 or SUN-SAT)

Each field is `*`, a value, a range `a-b`, a step `*/n` or `a-b/n` or `a/n` (from `a` to the
field's end), or a comma-separated list of those. Names are case-insensitive; in
day-of-week both 0 and 7 mean Sunday. As in Vixie cron, when both day-of-month and
day-of-week are restricted (neither starts with `*`), a day matches if either matches.

Isolane extension: a sixth, leading field of seconds (0-59), `*/2 * * * * *`, as some
cron dialects (Quartz, Spring) have. A five-field expression ticks at second 0.

Not supported (400): Quartz's `?`, `L`, `W`, `#`, and `@hourly`-style macros.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

MAX_EXPRESSION_LENGTH = 100

_MONTHS = {name: i + 1 for i, name in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))}
_DAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_TERM = re.compile(r"^(?:(\*)|([A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?)(?:/(\d+))?$")


class CronError(ValueError):
    """An expression that is not valid; the message says why."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


_SECOND = _Field("second", 0, 59)
_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DOM = _Field("day-of-month", 1, 31)
_MONTH = _Field("month", 1, 12, _MONTHS)
_DOW = _Field("day-of-week", 0, 7, _DAYS)


@dataclass(frozen=True, slots=True)
class Cron:
    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    @property
    def has_seconds(self) -> bool:
        """Whether it may tick at a second other than 0 (the six-field extension)."""
        return self.seconds != frozenset({0})

    @property
    def granularity_ms(self) -> int:
        return 1000 if self.has_seconds else 60_000

    def matches(self, epoch_ms: int) -> bool:
        """Whether `epoch_ms` (a whole second) is one of its ticks."""
        moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
        if moment.second not in self.seconds or moment.minute not in self.minutes or moment.hour not in self.hours:
            return False
        if moment.month not in self.months:
            return False
        day_ok = moment.day in self.days
        weekday_ok = (moment.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day_ok or weekday_ok
        return day_ok and weekday_ok

    def ticks(self, after_ms: int, until_ms: int, limit: int = 100) -> list[int]:
        """Its ticks in (after_ms, until_ms], earliest first, at most `limit` (the latest ones)."""
        step = self.granularity_ms
        first = (after_ms // step + 1) * step
        found: list[int] = []
        for moment in range(first, until_ms + 1, step):
            if self.matches(moment):
                found.append(moment)
        return found[-limit:]


def _value(token: str, field: _Field) -> int:
    if token.isdigit():
        number = int(token)
    elif field.names is not None and token.upper() in field.names:
        number = field.names[token.upper()]
    else:
        raise CronError(f"{field.name}: {token!r} is not a number" + (" or a name" if field.names else ""))
    if not field.low <= number <= field.high:
        raise CronError(f"{field.name}: {number} is outside {field.low}-{field.high}")
    return number


def _parse_field(text: str, field: _Field) -> frozenset[int]:
    values: set[int] = set()
    for term in text.split(","):
        match = _TERM.match(term)
        if match is None:
            raise CronError(f"{field.name}: {term!r} is not a value, range, step or '*'")
        star, start, end, step = match.groups()
        if star:
            low, high = field.low, field.high
        else:
            low = _value(start, field)
            high = _value(end, field) if end is not None else (field.high if step is not None else low)
        if low > high:
            raise CronError(f"{field.name}: the range {term!r} runs backwards")
        stride = int(step) if step is not None else 1
        if stride < 1 or stride > field.high - field.low + 1:
            raise CronError(f"{field.name}: the step in {term!r} must be 1-{field.high - field.low + 1}")
        values.update(range(low, high + 1, stride))
    return frozenset(values)


def parse(expression: str) -> Cron:
    """A Cron from a five-field (or, as an Isolane extension, six-field) expression."""
    if not isinstance(expression, str):
        raise CronError("a cron expression must be a string")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise CronError(f"a cron expression has at most {MAX_EXPRESSION_LENGTH} characters")
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    elif len(fields) != 6:
        raise CronError(
            f"{expression!r} has {len(fields)} fields: expected 5 (minute hour day-of-month month day-of-week),"
            " or 6 with leading seconds"
        )
    second, minute, hour, dom, month, dow = fields
    weekdays = _parse_field(dow, _DOW)
    if 7 in weekdays:
        weekdays = (weekdays - {7}) | {0}
    return Cron(
        expression=" ".join(expression.split()),
        seconds=_parse_field(second, _SECOND),
        minutes=_parse_field(minute, _MINUTE),
        hours=_parse_field(hour, _HOUR),
        days=_parse_field(dom, _DOM),
        months=_parse_field(month, _MONTH),
        weekdays=frozenset(weekdays),
        days_restricted=not dom.startswith("*"),
        weekdays_restricted=not dow.startswith("*"),
    )
