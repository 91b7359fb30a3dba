"""Errors told in the tenant's own terms: positions in a linked script mapped back to the
uploaded module and line through the version's source map."""

from __future__ import annotations

import re
from typing import Any

from isolane.linker import SourceMap


def map_error(error: dict[str, Any] | None, script_name: str, source_map: SourceMap | None) -> dict[str, Any] | None:
    """`error` with every `script_name:line:column` replaced by `module:line:column`."""
    if error is None or source_map is None:
        return error
    pattern = re.compile(re.escape(script_name) + r":(\d+):(\d+)")

    def replace(found: re.Match[str]) -> str:
        position = source_map.original(int(found[1]), int(found[2]))
        if position is None:
            return found[0]
        return f"{position.source}:{position.line}:{position.column}"

    mapped = dict(error)
    for field in ("message", "stack"):
        if isinstance(mapped.get(field), str):
            mapped[field] = pattern.sub(replace, mapped[field])
    return mapped
