"""Frames between the supervisor and an executor: a 4-byte big-endian length, then JSON.

Requests carry an `id` chosen by the supervisor; every reply echoes it. Operations:
- `invoke`: run a script version (`key`, `kind`, `code` unless the executor has it, `limits`);
  reply `{outcome, result, error, logs, cpu_ms, wall_ms, cold}` or `{need_code: true}`.
- `check`: compile `code` without running it; reply `{ok}` or `{ok: false, message, line}`.
- `stats`: reply with the executor's isolate counts and memory.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import orjson

HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 256 * 1024 * 1024


class ProtocolError(Exception):
    pass


def encode(message: dict[str, Any]) -> bytes:
    body = orjson.dumps(message)
    return HEADER.pack(len(body)) + body


async def read_message(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next message, or None at a clean end of stream."""
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError("stream ended inside a frame header") from exc
        return None
    (length,) = HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {length} bytes is over the limit")
    try:
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError("stream ended inside a frame") from exc
    message = orjson.loads(body)
    if not isinstance(message, dict):
        raise ProtocolError("a frame must hold a JSON object")
    return message
