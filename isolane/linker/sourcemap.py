"""Source maps (version 3): positions in a linked script back to the module they came from."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import orjson

_BASE64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def _decode_vlq(segment: str) -> list[int]:
    values: list[int] = []
    value = shift = 0
    for char in segment:
        digit = _BASE64[char]
        value += (digit & 31) << shift
        if digit & 32:
            shift += 5
            continue
        values.append(-(value >> 1) if value & 1 else value >> 1)
        value = shift = 0
    return values


@dataclass(frozen=True, slots=True)
class Position:
    source: str
    line: int  # 1-based
    column: int  # 1-based


class SourceMap:
    """Maps generated (line, column) to original positions; lines may be offset by a wrapper."""

    def __init__(self, sources: list[str], lines: list[list[tuple[int, int, int, int]]], line_offset: int = 0) -> None:
        self.sources = sources
        self._lines = lines  # per generated line: (column, source, line, column), 0-based, sorted
        self._columns = [[segment[0] for segment in line] for line in lines]
        self.line_offset = line_offset

    @classmethod
    def parse(cls, text: str | bytes) -> SourceMap:
        """Parse a map; `x_isolane_line_offset` counts lines a wrapper put before the code."""
        data = orjson.loads(text)
        sources = [str(name) for name in data.get("sources", [])]
        lines: list[list[tuple[int, int, int, int]]] = []
        source = line = column = 0
        for encoded_line in str(data.get("mappings", "")).split(";"):
            generated_column = 0
            segments: list[tuple[int, int, int, int]] = []
            for encoded in encoded_line.split(","):
                if not encoded:
                    continue
                fields = _decode_vlq(encoded)
                generated_column += fields[0]
                if len(fields) >= 4:
                    source += fields[1]
                    line += fields[2]
                    column += fields[3]
                    segments.append((generated_column, source, line, column))
            segments.sort()
            lines.append(segments)
        return cls(sources, lines, int(data.get("x_isolane_line_offset", 0)))

    def original(self, line: int, column: int) -> Position | None:
        """The original position of generated 1-based (line, column), if it maps anywhere."""
        index = line - 1 - self.line_offset
        if not 0 <= index < len(self._lines) or not self._lines[index]:
            return None
        at = bisect.bisect_right(self._columns[index], column - 1) - 1
        segment = self._lines[index][max(at, 0)]
        if not 0 <= segment[1] < len(self.sources):
            return None
        return Position(self.sources[segment[1]], segment[2] + 1, segment[3] + 1 if at >= 0 else 1)
