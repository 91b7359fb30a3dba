"""The trust boundary: what an isolate hands the host, read as hostile input.

Tenant JavaScript can replace any global the runtime uses, and the runtime reports to the
host through values it builds in the isolate (runtime/prelude/90-host.js: a JSON state
after each step). So everything read from an isolate is validated here, with bounds, before
anything else on the host sees it: types, the response status (200-599), header names,
values, count and size, body and chunk encodings, host calls, logs (entries, sizes), the
error and the size of the state itself. A violation raises `BoundaryViolation`; the executor
ends that invocation `exception` with a platform message, and nothing else is touched.

Logs are tenant data rather than protocol: past their caps they are cut (with a note), not
refused, the same caps the runtime keeps inside the isolate.
"""

from __future__ import annotations

import binascii
import math
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

# The state of one step, checked before it is copied out of V8 (engine.py) and parsed. Large
# enough for the largest legitimate host call (a 25 MiB KV value, base64) and a 1 MiB result.
MAX_STATE_BYTES = 40 * 1024 * 1024

MAX_HEADERS = 256
MAX_HEADER_BYTES = 128 * 1024  # names and values of one response head together
MAX_STATUS_TEXT = 1024
# A whole body travels in the head up to 1 MiB (runtime: larger ones stream): base64 of it.
MAX_WHOLE_BODY_CHARS = (1024 * 1024 + 2) // 3 * 4
MAX_CHUNK_CHARS = (64 * 1024 + 2) // 3 * 4  # one streamed piece (runtime: 64 KiB)
MAX_CHUNKS_CHARS = 2 * 1024 * 1024  # all pieces of one state (runtime: ~256 KiB + one piece)
MAX_CALLS = 10_000  # host calls started in one step (subrequests are capped at 1,000 anyway)
MAX_OP_CHARS = 64
MAX_RESULT_CHARS = 1024 * 1024  # a seed run's result, as JSON text (the runtime's cap too)

LOG_LEVELS = frozenset({"log", "info", "debug", "warn", "error"})
MAX_LOG_ENTRIES = 1001  # the runtime keeps 1000, then adds a note of what it dropped
MAX_LOG_MESSAGE_CHARS = 16 * 1024
MAX_LOG_CHARS = 256 * 1024
MAX_ERROR_CHARS = 16 * 1024  # of an error's name, message and stack each

# RFC 9110 field names (tokens); values without CR, LF or NUL. Values must also be Latin-1
# (HTTP/1.1 sends header bytes; the runtime's Headers enforce ByteString already).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_VALUE = re.compile(r"[\r\n\x00]|[^\x00-\xff]")
_KNOWN_NAMES: set[str] = set()  # header names already found to be tokens (most repeat)
_MAX_KNOWN_NAMES = 4096


class BoundaryViolation(Exception):
    """What an isolate handed the host is malformed or over a bound."""


@dataclass(slots=True)
class ResponseHead:
    status: int
    headers: list[list[str]]  # [name, value] pairs
    # None (no body), ("text", str), ("base64", str) or ("stream", None): chunks follow.
    body: tuple[str, str | None] | None
    wire: dict[str, Any]  # the head as validated, as the executor sends it on

    def to_wire(self) -> dict[str, Any]:
        """The head as the executor sends it on to the supervisor."""
        return self.wire


@dataclass(slots=True)
class HostCall:
    id: int
    op: str
    args: Any

    def to_wire(self) -> dict[str, Any]:
        return {"id": self.id, "op": self.op, "args": self.args}


@dataclass(slots=True)
class State:
    """The runtime's report after one step."""

    done: bool
    next_at_ms: float | None = None  # when the isolate's next timer is due (epoch ms)
    response: ResponseHead | None = None
    calls: list[HostCall] = field(default_factory=list)
    chunks: list[str] = field(default_factory=list)  # base64 pieces of a streamed body
    chunk_bytes: int = 0
    result: Any = None
    error: dict[str, Any] | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)


def read_state(text: Any) -> State:
    """The state the runtime reported, validated; `BoundaryViolation` if it is not one."""
    if not isinstance(text, str):
        raise BoundaryViolation("the runtime's state is not a string")
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BoundaryViolation("the runtime's state is not JSON") from exc
    if not isinstance(raw, dict):
        raise BoundaryViolation("the runtime's state is not an object")
    done = raw.get("done")
    if not isinstance(done, bool):
        raise BoundaryViolation("the runtime's state has no done flag")
    state = State(done=done)
    if "next" in raw:
        state.next_at_ms = _next(raw["next"])
    if "response" in raw:
        state.response = response_head(raw["response"])
    if "calls" in raw:
        state.calls = _calls(raw["calls"])
    if "chunks" in raw:
        state.chunks, state.chunk_bytes = _chunks(raw["chunks"])
    if done:
        state.result = _result(raw.get("result"))
        state.error = error_info(raw.get("error"))
        state.logs = logs(raw.get("logs"))
    return state


def _next(value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise BoundaryViolation("the runtime's next timer is not a time")
    return float(value)


def response_head(value: Any) -> ResponseHead:
    if not isinstance(value, dict):
        raise BoundaryViolation("the response head is not an object")
    status = value.get("status")
    if type(status) is not int or not 200 <= status <= 599:
        raise BoundaryViolation(f"the response status {_show(status)} is not an integer from 200 to 599")
    status_text = value.get("statusText", "")
    if not isinstance(status_text, str) or len(status_text) > MAX_STATUS_TEXT:
        raise BoundaryViolation("the response status text is not a short string")
    headers = _headers(value.get("headers"))
    body = _body(value.get("body"))
    wire = {"status": status, "headers": headers, "body": value.get("body")}
    return ResponseHead(status=status, headers=headers, body=body, wire=wire)


def _headers(value: Any) -> list[list[str]]:
    if not isinstance(value, list):
        raise BoundaryViolation("the response headers are not a list")
    if len(value) > MAX_HEADERS:
        raise BoundaryViolation(f"the response has more than {MAX_HEADERS} headers")
    size = 0
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) and isinstance(pair[1], str)):
            raise BoundaryViolation("a response header is not a [name, value] pair of strings")
        name, text = pair
        size += len(name) + len(text)
        if size > MAX_HEADER_BYTES:
            raise BoundaryViolation(f"the response headers are larger than {MAX_HEADER_BYTES} bytes")
        if name not in _KNOWN_NAMES:
            if not _TOKEN.fullmatch(name):
                raise BoundaryViolation(f"the response header name {_show(name)} is not a token")
            if len(_KNOWN_NAMES) < _MAX_KNOWN_NAMES:
                _KNOWN_NAMES.add(name)
        # str methods first: the regex only for values that are not plain ASCII text.
        if (not text.isascii() or "\r" in text or "\n" in text or "\x00" in text) and _FORBIDDEN_IN_VALUE.search(text):
            raise BoundaryViolation(f"the value of response header {name!r} has characters HTTP cannot carry")
    return value


def _body(value: Any) -> tuple[str, str | None] | None:
    if value is None:
        return None
    if isinstance(value, dict) and len(value) == 1:
        if value.get("stream") is True:
            return ("stream", None)
        for kind in ("text", "base64"):
            data = value.get(kind)
            if isinstance(data, str):
                if len(data) > MAX_WHOLE_BODY_CHARS:
                    raise BoundaryViolation("the response body is too large to travel whole")
                if kind == "base64":
                    _decode_base64(data, "the response body")
                return (kind, data)
    raise BoundaryViolation("the response body is not text, base64 or a stream")


def _chunks(value: Any) -> tuple[list[str], int]:
    if not isinstance(value, list):
        raise BoundaryViolation("the streamed body's chunks are not a list")
    total_chars = 0
    total_bytes = 0
    for chunk in value:
        if not isinstance(chunk, str) or len(chunk) > MAX_CHUNK_CHARS:
            raise BoundaryViolation("a streamed body chunk is not a piece of base64 of at most 64 KiB")
        total_chars += len(chunk)
        if total_chars > MAX_CHUNKS_CHARS:
            raise BoundaryViolation("the streamed body's chunks of one step are too large")
        total_bytes += len(_decode_base64(chunk, "a streamed body chunk"))
    return value, total_bytes


def _decode_base64(text: str, what: str) -> bytes:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise BoundaryViolation(f"{what} is not base64") from exc


def _calls(value: Any) -> list[HostCall]:
    if not isinstance(value, list):
        raise BoundaryViolation("the host calls of one step are not a list")
    if len(value) > MAX_CALLS:
        raise BoundaryViolation(f"more than {MAX_CALLS} calls to the host (fetch, KV, crypto...) in one step")
    calls = []
    for call in value:
        if not isinstance(call, dict):
            raise BoundaryViolation("a host call is not an object")
        call_id, op = call.get("id"), call.get("op")
        if type(call_id) is not int or not 0 < call_id < 2**53:
            raise BoundaryViolation("a host call has no valid id")
        if not isinstance(op, str) or not 0 < len(op) <= MAX_OP_CHARS:
            raise BoundaryViolation("a host call has no valid operation name")
        calls.append(HostCall(call_id, op, call.get("args")))
    return calls


def _result(value: Any) -> Any:
    """The completion value: JSON text in a string, at most MAX_RESULT_CHARS."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_RESULT_CHARS:
        raise BoundaryViolation(f"the result is not JSON text of at most {MAX_RESULT_CHARS} characters")
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise BoundaryViolation("the result is not JSON") from exc


def error_info(value: Any) -> dict[str, Any] | None:
    """A script error `{name, message, stack}`: strings, cut to their bounds."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BoundaryViolation("the script's error is not an object")
    name, message, stack = value.get("name"), value.get("message"), value.get("stack")
    if not isinstance(name, str) or not isinstance(message, str) or not (stack is None or isinstance(stack, str)):
        raise BoundaryViolation("the script's error is not {name, message, stack} strings")
    return {"name": _cut(name, MAX_ERROR_CHARS), "message": _cut(message, MAX_ERROR_CHARS), "stack": None if stack is None else _cut(stack, MAX_ERROR_CHARS)}


def logs(value: Any) -> list[dict[str, Any]]:
    """The invocation's log entries within the caps: at most MAX_LOG_ENTRIES, messages cut at
    MAX_LOG_MESSAGE_CHARS, MAX_LOG_CHARS in all; past them a note says what was dropped."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise BoundaryViolation("the logs are not a list")
    kept: list[dict[str, Any]] = []
    chars = 0
    dropped = 0
    for entry in value:
        if not isinstance(entry, dict):
            raise BoundaryViolation("a log entry is not an object")
        level, message, time = entry.get("level"), entry.get("message"), entry.get("time")
        if level not in LOG_LEVELS or not isinstance(message, str):
            raise BoundaryViolation("a log entry has no valid level or message")
        if not isinstance(time, (int, float)) or isinstance(time, bool) or not math.isfinite(time):
            raise BoundaryViolation("a log entry has no valid time")
        if len(kept) >= MAX_LOG_ENTRIES or chars >= MAX_LOG_CHARS:
            dropped += 1
            continue
        if len(message) > MAX_LOG_MESSAGE_CHARS:
            message = f"{message[:MAX_LOG_MESSAGE_CHARS]}... [{len(message) - MAX_LOG_MESSAGE_CHARS} chars truncated]"
        chars += len(message)
        kept.append({"level": level, "message": message, "time": time})
    if dropped:
        kept.append({"level": "warn", "message": f"[isolane] log output truncated: {dropped} more entries dropped", "time": kept[-1]["time"] if kept else 0})
    return kept


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... [{len(text) - limit} chars truncated]"


def _show(value: Any) -> str:
    """A short, safe rendering of a bad value for a message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
