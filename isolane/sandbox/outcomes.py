"""How an invocation ended, in the Workers vocabulary."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    OK = "ok"
    EXCEPTION = "exception"
    EXCEEDED_CPU = "exceededCpu"
    EXCEEDED_MEMORY = "exceededMemory"
    EXCEEDED_WALL_TIME = "exceededWallTime"
    CANCELED = "canceled"  # ended by the platform, e.g. its executor was replaced


OUTCOMES = frozenset(outcome.value for outcome in Outcome)
# For help texts and error messages, in the order above.
OUTCOME_NAMES = ", ".join(outcome.value for outcome in Outcome)
