"""Source maps (version 3): positions in a linked script back to the module they came from.

A map is only read when an error's stack is mapped, and then for a few positions; the map
of a 10 MB upload is ~12 MB of mappings, which took 6 s of Python (and a few hundred MB)
to decode whole. So a `SourceMap` keeps the mappings as text and decodes only the lines it
is asked about, starting from a checkpoint: the decoder's state every `CHECKPOINT_LINES`
generated lines, computed once at link time (off the event loop, in a link worker) and
stored in the map as `x_isolane_checkpoints`. Maps stored before that have none: they are
read the same way once their checkpoints are computed, unless they are so large that
computing them would stall the caller (then positions stay unmapped).
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

CHECKPOINT_LINES = 64
# Decoding budget of one lookup, in characters of mappings (a generated line can be huge).
MAX_DECODED = 1 << 20
# Largest mappings whose checkpoints are computed when asked (stored maps without them).
MAX_UNINDEXED = 2 << 20

_BASE64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


@lru_cache(maxsize=1 << 16)  # segments repeat: most lookups hit
def _decode_vlq(segment: str) -> tuple[int, ...]:
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
    return tuple(values)


def checkpoints(mappings: str) -> list[int]:
    """The decoder's state at every CHECKPOINT_LINES-th generated line, flattened:
    [offset in `mappings`, source, original line, original column] per checkpoint.
    Segments repeat a lot, so each run of lines is summed by distinct segment."""
    lines = mappings.split(";")
    source = line = column = 0
    offset = 0
    found: list[int] = []
    for start in range(0, len(lines), CHECKPOINT_LINES):
        found += (offset, source, line, column)
        joined = ",".join(lines[start : start + CHECKPOINT_LINES])
        for segment, count in Counter(joined.split(",")).items():
            if not segment:
                continue
            fields = _decode_vlq(segment)
            if len(fields) >= 4:
                source += count * fields[1]
                line += count * fields[2]
                column += count * fields[3]
        offset += len(joined) + 1
    return found


def with_checkpoints(data: dict[str, Any]) -> dict[str, Any]:
    """A parsed map with its checkpoints added (done at link time)."""
    return {**data, "x_isolane_checkpoints": checkpoints(str(data.get("mappings", "")))}


@dataclass(frozen=True, slots=True)
class Position:
    source: str
    line: int  # 1-based
    column: int  # 1-based


class SourceMap:
    """Maps generated (line, column) to original positions; lines may be offset by a wrapper.
    The map's text is parsed when a position is first asked for: most invocations that
    hold a map never need it."""

    def __init__(self, text: str | bytes) -> None:
        self._text: str | bytes | None = text
        self._size = len(text)
        self._sources: list[str] = []
        self._line_offset = 0
        self._mappings = ""
        self._checkpoints: list[int] | None = None

    @classmethod
    def parse(cls, text: str | bytes) -> SourceMap:
        """A map from its JSON text; `x_isolane_line_offset` counts lines a wrapper put
        before the code, `x_isolane_checkpoints` are the stored checkpoints."""
        return cls(text)

    def _load(self) -> None:
        if self._text is None:
            return
        text, self._text = self._text, None
        try:
            data = orjson.loads(text)
            self._sources = [str(name) for name in data.get("sources", [])]
            self._mappings = str(data.get("mappings", ""))
            self._line_offset = int(data.get("x_isolane_line_offset", 0))
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            return  # no map: positions stay unmapped
        stored = data.get("x_isolane_checkpoints")
        if isinstance(stored, list) and len(stored) % 4 == 0 and all(type(value) is int for value in stored):
            self._checkpoints = stored

    @property
    def sources(self) -> list[str]:
        self._load()
        return self._sources

    @property
    def line_offset(self) -> int:
        self._load()
        return self._line_offset

    @property
    def size(self) -> int:
        """Bytes of map text held (what a cache of maps counts)."""
        return self._size

    def original(self, line: int, column: int) -> Position | None:
        """The original position of generated 1-based (line, column), if it maps anywhere."""
        self._load()
        index = line - 1 - self._line_offset
        segments = self._line(index) if index >= 0 else None
        if not segments:
            return None
        at = bisect.bisect_right([segment[0] for segment in segments], column - 1) - 1
        segment = segments[max(at, 0)]
        if not 0 <= segment[1] < len(self._sources):
            return None
        return Position(self._sources[segment[1]], segment[2] + 1, segment[3] + 1 if at >= 0 else 1)

    def _line(self, index: int) -> list[tuple[int, int, int, int]] | None:
        """The segments of generated line `index` (0-based): (column, source, line, column)."""
        try:
            return self._decode_line(index)
        except (KeyError, IndexError, ValueError):  # not base64 VLQ: no position
            return None

    def _decode_line(self, index: int) -> list[tuple[int, int, int, int]] | None:
        if self._checkpoints is None:
            if len(self._mappings) > MAX_UNINDEXED:
                return None
            self._checkpoints = checkpoints(self._mappings)
        slot = index // CHECKPOINT_LINES
        if 4 * slot + 3 >= len(self._checkpoints):
            return None
        offset, source, line, column = self._checkpoints[4 * slot : 4 * slot + 4]
        mappings = self._mappings
        budget = MAX_DECODED
        for _ in range(index - slot * CHECKPOINT_LINES):  # to the start of the wanted line
            end = mappings.find(";", offset)
            budget -= end - offset
            if end < 0 or budget < 0:
                return None
            for encoded in mappings[offset:end].split(","):
                fields = _decode_vlq(encoded) if encoded else ()
                if len(fields) >= 4:
                    source, line, column = source + fields[1], line + fields[2], column + fields[3]
            offset = end + 1
        end = mappings.find(";", offset)
        end = len(mappings) if end < 0 else end
        if offset > len(mappings) or end - offset > budget:
            return None
        segments: list[tuple[int, int, int, int]] = []
        generated = 0
        for encoded in mappings[offset:end].split(","):
            if not encoded:
                continue
            fields = _decode_vlq(encoded)
            generated += fields[0]
            if len(fields) >= 4:
                source, line, column = source + fields[1], line + fields[2], column + fields[3]
                segments.append((generated, source, line, column))
        segments.sort()
        return segments
