"""Per-invocation resource limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Limits:
    cpu_ms: int = 50
    wall_ms: int = 30_000
    memory_mb: int = 128

    def to_wire(self) -> dict[str, Any]:
        # Plain construction: dataclasses.asdict costs microseconds on the invocation path.
        return {"cpu_ms": self.cpu_ms, "wall_ms": self.wall_ms, "memory_mb": self.memory_mb}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Limits:
        return cls(cpu_ms=int(data["cpu_ms"]), wall_ms=int(data["wall_ms"]), memory_mb=int(data["memory_mb"]))
