"""Reading request bodies without trusting their size."""

from __future__ import annotations

from fastapi import Request

from isolane.errors import PayloadTooLarge


async def read_limited(request: Request, limit: int, what: str = "body", code: str = "payload_too_large") -> bytes:
    """The whole body, refusing (413) anything over `limit` bytes before reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the {what} is over the limit of {limit} bytes", code=code, limit=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the {what} is over the limit of {limit} bytes", code=code, limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)
