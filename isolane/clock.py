"""Time as the store keeps it (integer epoch milliseconds) and as the API shows it."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_iso(ms: int) -> str:
    """RFC 3339 / ISO 8601 in UTC with milliseconds, e.g. 2026-11-27T18:00:00.123Z."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
