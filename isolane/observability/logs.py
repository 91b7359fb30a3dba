"""The server's own logs: one JSON object per line for machines, readable lines on a TTY.

Every line logged while a request is served carries that request's id (`request_id`), so
an operator can follow one request through the server. What is logged is chosen with care:
methods, paths without their query strings, statuses, timings, ids; never request or
response bodies, headers, tokens or secrets. Tenant scripts' console output is not server
logging: it goes to invocation records.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.orjson import OrjsonFormatter

FORMATS = ("auto", "json", "text")
# LogRecord attributes that are not fields of the line (uvicorn adds `color_message`).
NOT_FIELDS = frozenset(RESERVED_ATTRS) | {"taskName", "color_message"}

# The id of the request being served, set by the request-id middleware.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request it was logged for (if any)."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id.get()
        if rid is not None and not hasattr(record, "request_id"):
            record.request_id = rid
        return True


def json_formatter() -> logging.Formatter:
    return OrjsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        reserved_attrs=sorted(NOT_FIELDS),
    )


def readable_handler() -> logging.Handler:
    """Colour and columns on a terminal (rich); elsewhere plain lines that never wrap."""
    if sys.stderr.isatty():
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(show_path=False, markup=False, log_time_format="%H:%M:%S")
        handler.setFormatter(_ReadableFormatter())
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_ReadableFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    return handler


class _ReadableFormatter(logging.Formatter):
    """The message, then the fields that JSON lines carry apart (`extra=`), as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        fields = {key: value for key, value in record.__dict__.items() if key not in NOT_FIELDS and value is not None}
        if not fields:
            return message
        return message + "  " + " ".join(f"{key}={_shown(value)}" for key, value in fields.items())


def _shown(value: object) -> str:
    """A field's value on one line: text with control characters (a path's %0a, decoded)
    is quoted with escapes, so it cannot forge a line of its own."""
    text = str(value)
    return repr(text) if any(char < " " or char == "\x7f" for char in text) else text


def configure(level: str = "info", fmt: str = "auto") -> None:
    """Send every logger (ours, uvicorn's) to stderr in the chosen format: `json`, `text`
    (readable), or `auto` (readable on a terminal, JSON otherwise)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    readable = fmt == "text" or (fmt == "auto" and sys.stderr.isatty())
    if readable:
        handler = readable_handler()
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
