"""A script's recent hours: invocations, error rate and latency per hour, for the charts.

Counts, errors and mean wall time come from the hourly usage counters (exact, whatever the
retention of records); the p50 and p95 of wall time from the script's latest records in
the window (at most SAMPLE_RECORDS, so a busy hour's percentiles are those of its newest
records)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from isolane.clock import now_ms
from isolane.observability.usage import HOUR_MS, UsageQuery, hour_of, read_usage

HOURS = 24
SAMPLE_RECORDS = 1000


@dataclass(frozen=True, slots=True)
class Hour:
    start: int  # epoch ms
    invocations: int
    errors: int
    mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None

    @property
    def error_rate(self) -> float | None:
        """Errors per invocation, in percent (None for an hour without invocations)."""
        return 100.0 * self.errors / self.invocations if self.invocations else None

    @property
    def label(self) -> str:
        return datetime.fromtimestamp(self.start / 1000, UTC).strftime("%H:00")


@dataclass(frozen=True, slots=True)
class Timeline:
    hours: list[Hour]
    sampled: int  # records behind the percentiles

    @property
    def invocations(self) -> int:
        return sum(hour.invocations for hour in self.hours)

    @property
    def errors(self) -> int:
        return sum(hour.errors for hour in self.hours)


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


async def script_timeline(services: Any, namespace: str, script: str, *, now: int | None = None) -> Timeline:
    end = hour_of(now if now is not None else now_ms()) + HOUR_MS
    start = end - HOURS * HOUR_MS
    usage = await read_usage(services.db, UsageQuery(namespace, start, end, script))
    counted = {_epoch_ms(row["hour"]): row for row in usage["hours"]}
    # Only the two columns the percentiles need: a record's logs can be 256 Ki characters.
    timings = await services.records.timings(namespace, script, limit=SAMPLE_RECORDS, since=start, until=end)
    walls: dict[int, list[float]] = {}
    for started_at, wall_ms in timings:
        walls.setdefault(hour_of(started_at), []).append(wall_ms)
    hours = []
    for hour_start in range(start, end, HOUR_MS):
        row = counted.get(hour_start)
        invocations = int(row["invocations"]) if row else 0
        errors = sum(row["errors"].values()) if row else 0
        sample = sorted(walls.get(hour_start, []))
        hours.append(
            Hour(
                start=hour_start,
                invocations=invocations,
                errors=errors,
                mean_ms=row["wall_ms"] / invocations if row and invocations else None,
                p50_ms=percentile(sample, 0.50),
                p95_ms=percentile(sample, 0.95),
            )
        )
    return Timeline(hours, len(timings))


def _epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
