"""Reading request bodies without trusting their size, and JSON bodies validated by the
models that document them (see `json_body` in server/openapi.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from typing import TypeVar

from isolane.errors import BadRequest, PayloadTooLarge

# What answers a model's refusal, by where it happened (see `refusal_code`): a code, or a
# (code, detail) pair whose detail names the key under that field (e.g. `"limit": "cpu"`).
Codes = Mapping[str, str | tuple[str, str]]
M = TypeVar("M", bound=BaseModel)

# Small JSON bodies (token, KV namespace creation): read by the handler, after the token
# check, within this size; never parsed by FastAPI, which would read any size first.
SMALL_JSON_BYTES = 64 * 1024


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


def parse_json(
    model: type[BaseModel], body: bytes, *, code: str, codes: Codes | None = None, optional: bool = False, json_code: str = "invalid_json"
) -> Any:
    """The body's JSON value, once `model` accepts it; None for an empty `optional` body.

    400 `json_code` (`invalid_json`) for what is not JSON (or not UTF-8, or has lone
    surrogate escapes).
    The model validates strictly (no coercion: "100" is no number), so the value handed on
    is exactly what it accepted; a refusal is a 400 that names the field, with the code
    that `codes` gives for where it happened, else `code`. The platform then makes its own
    checks (duplicates, totals, references), with their own codes."""
    if optional and not body.strip():
        return None
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", code=json_code) from None
    try:
        model.model_validate(value, strict=True)
    except ValidationError as exc:
        raise refusal(exc.errors(include_url=False, include_input=False)[0], code, codes or {}) from None
    return value


async def read_json(request: Request, model: type[M], *, code: str = "invalid_request", limit: int = SMALL_JSON_BYTES) -> M:
    """A small JSON body, read within `limit` and validated by `model` (see `parse_json`);
    every refusal, unparsable JSON included, is 400 `code`."""
    value = parse_json(model, await read_limited(request, limit), code=code, json_code=code)
    return model.model_validate(value, strict=True)


def location(loc: tuple[int | str, ...]) -> str:
    """`versions[0].percentage`; "the body" for the body itself."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    return text[:200] or "the body"


def refusal_code(loc: tuple[int | str, ...], error_type: str, codes: Codes) -> tuple[str | tuple[str, str] | None, int]:
    """What `codes` says about an error at `loc`, and how many of loc's parts its key covers.

    Keys are field paths, list indexes written `*` (`versions.*.percentage`), optionally
    with `:error_type` (`versions:too_long`); "" is the body itself. The longest path that
    `loc` starts with wins, with its error type before without."""
    parts = ["*" if isinstance(part, int) else str(part) for part in loc]
    for length in range(len(parts), -1, -1):
        path = ".".join(parts[:length])
        if length == 0 and parts:
            break  # "" is the body itself, not a default for everything
        for key in (f"{path}:{error_type}", path):
            if key in codes:
                return codes[key], length
    return None, 0


def refusal(error: ErrorDetails, code: str, codes: Codes) -> BadRequest:
    loc = tuple(error["loc"])
    found, covered = refusal_code(loc, error["type"], codes)
    details: dict[str, str] = {}
    if isinstance(found, tuple):
        found, named = found
        if covered < len(loc):
            details[named] = str(loc[covered])[:80]
    return BadRequest(f"{location(loc)}: {error['msg']}", code=found or code, **details)
