"""What an HTTP client may cost the server before and while its request reaches the app.

uvicorn's httptools protocol bounds none of it. A request head of any size is buffered,
and at quadratic cost: httptools joins the pieces of a header (and uvicorn those of the
URL) with `bytes +=`, so a long header sent over many reads stalls the event loop every
request shares. A connection that never completes a head, or a body it stops sending,
stays open for ever, until the process runs out of file descriptors.

`LimitedHttpProtocol` adds, per connection:

- a cap on the request head (request line and headers), counted as bytes arrive: the
  parser is never fed more than the cap of a head (give or take one read for pipelined
  requests). Beyond it, or beyond the number of header fields allowed, the client gets
  431 `request_header_too_large`;
- a head timeout: a head must be complete within it after the connection opens, or after
  the first byte of the next request on a kept-alive connection (idle time between
  requests is uvicorn's keep-alive timeout), or after a response sent before the body
  was read (the rest of the body counts). A client that sent part of a head gets 408
  `request_header_timeout`; an idle connection is just closed;
- a body timeout: when the app waits for request body bytes and none come for that long,
  the request ends (408 `request_body_timeout` if no response has started) and the
  connection closes. The app sees the client go away.

Error responses are Isolane's JSON errors, written straight to the transport (no request
reached the app), with `connection: close`. The hot path stays cheap: bytes are counted
only while a head is open, and timers are lazy (a deadline is an attribute set per request;
one timer per connection and kind re-arms itself when it fires early).

This relies on uvicorn's internals (pinned in pyproject.toml): the parser callbacks,
`parser`, `headers`, `cycle`, `flow`, `server_state` and the upgrade and keep-alive
helpers; tests/server/test_http_limits.py and tests/abuse/test_http_edge.py exercise
them: run them on any upgrade of uvicorn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httptools
import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from isolane.config import DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_HEADER_FIELDS

log = logging.getLogger("isolane.access")

# After an error response, what the client still sends is read and dropped, up to this
# much and for this long, before the close: closing a socket that holds unread bytes makes
# the kernel send a reset, which can destroy the response before the client reads it.
LINGER_BYTES = 64 * 1024
LINGER_SECONDS = 2.0


@dataclass(frozen=True)
class HttpLimits:
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_header_fields: int = DEFAULT_MAX_HEADER_FIELDS
    header_timeout: float = DEFAULT_HEADER_TIMEOUT  # seconds
    body_timeout: float = DEFAULT_BODY_TIMEOUT  # seconds


def protocol_class(chosen: HttpLimits) -> type[LimitedHttpProtocol]:
    """The protocol class to hand uvicorn (`Config(http=...)`), with these limits."""

    class ConfiguredHttpProtocol(LimitedHttpProtocol):
        limits = chosen

    return ConfiguredHttpProtocol


class _HeadRefused(Exception):
    """Raised from a parser callback: stops parsing a head that is refused."""


class _BodyWaitFlow(FlowControl):
    """uvicorn's flow control, which also tells the protocol when the app asks for body.

    uvicorn's `receive()` calls `resume_reading()` right before it waits for body bytes:
    the one place a protocol can learn that the app is waiting for the client.
    """

    def __init__(self, transport: asyncio.Transport, on_resume: Callable[[], None]) -> None:
        super().__init__(transport)
        self._on_resume = on_resume

    def resume_reading(self) -> None:
        if self.read_paused:  # uvicorn's, inlined: this runs twice per request
            self.read_paused = False
            self._transport.resume_reading()
        self._on_resume()


class LimitedHttpProtocol(HttpToolsProtocol):
    limits: HttpLimits = HttpLimits()

    # Slots, not instance attributes: uvicorn's protocol already has 28, and past 30 an
    # instance dict stops sharing its keys, which makes every attribute access in uvicorn's
    # code slower too (CPython 3.11: +12% of the protocol's instructions per request).
    __slots__ = (
        "_head_open",
        "_head_bytes",
        "_head_deadline",
        "_head_timer",
        "_body_wait_since",
        "_body_timer",
        "_refusal",
        "_lingering",
        "_linger_left",
        "_linger_timer",
    )

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # The head being read: True from the end of a message (or the connection's start)
        # to the end of the next head; its bytes so far.
        self._head_open = True
        self._head_bytes = 0
        self._head_deadline: float | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        # Since when the app has waited for body bytes that have not come (None: it is not).
        self._body_wait_since: float | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        # Set by a parser callback that refuses the head, for data_received to answer.
        self._refusal: tuple[int, str, str] | None = None
        # After a refusal: the connection only drops what comes until it closes.
        self._lingering = False
        self._linger_left = 0
        self._linger_timer: asyncio.TimerHandle | None = None

    # Connection events

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.flow = _BodyWaitFlow(transport, self._app_awaits_body)
        self._start_head_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._body_timer, self._linger_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = self._linger_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes | memoryview) -> None:
        if self._lingering:
            self._linger_left -= len(data)
            if self._linger_left <= 0:
                self.transport.close()
            return
        self._body_wait_since = None  # bytes came: a wait for body, if any, is over
        # Counted: reads that start within a head. A head that starts within a read after
        # the end of an earlier message (pipelining) is counted from the next read, so it
        # may pass the cap by up to one read (uvloop reads 256 KiB at most): linear cost.
        if self._head_open:
            if self._head_deadline is None:  # the first byte of a request on a kept-alive connection
                self._start_head_clock()
            room = self.limits.max_header_bytes - self._head_bytes
            if len(data) > room:
                self._feed_up_to_cap(memoryview(data), room)  # a view: slices without copies
                return
            self._head_bytes += len(data)
        self._feed(data)

    def _feed_up_to_cap(self, data: memoryview, room: int) -> None:
        """Feed the head's remaining allowance only; if that does not end the head, refuse it."""
        cap = self.limits.max_header_bytes
        self._head_bytes = cap  # reset to 0 if a message ends within the allowance
        self._feed(data[:room])
        if self._lingering or self.transport.is_closing():
            return
        if self._head_open and self._head_bytes == cap:
            self._refuse(431, "request_header_too_large", f"the request head is over the limit of {cap} bytes")
        else:
            self.data_received(data[room:])

    def _feed(self, data: bytes | memoryview) -> None:
        """uvicorn's data_received, with its 400 in Isolane's error format and our refusals."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError:
            refusal, self._refusal = self._refusal, None
            self._refuse(*(refusal or (400, "bad_request", "invalid HTTP request")))

    # Parser callbacks

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._head_deadline = None
        if len(self.headers) > self.limits.max_header_fields:
            limit = self.limits.max_header_fields
            self._refusal = (431, "request_header_too_large", f"the request has more than {limit} header fields")
            raise _HeadRefused
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_open = True
        self._head_bytes = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing() or not self.cycle.response_complete:
            return  # closed, or the next pipelined request's response is on its way
        if not self._head_open:
            # The app answered before reading the whole body: the rest of it and the next
            # head must come within the head timeout (the keep-alive one stops at a byte).
            self._start_head_clock()

    # The head timeout

    def _start_head_clock(self) -> None:
        self._head_deadline = self.loop.time() + self.limits.header_timeout
        if self._head_timer is None:  # a running timer fires before this deadline
            self._head_timer = self.loop.call_at(self._head_deadline, self._check_head)

    def _check_head(self) -> None:
        self._head_timer = None
        deadline = self._head_deadline
        if deadline is None or self._lingering or self.transport.is_closing():
            return
        if self.loop.time() < deadline:
            self._head_timer = self.loop.call_at(deadline, self._check_head)
            return
        if self._head_open and self._head_bytes:
            timeout = self.limits.header_timeout
            self._refuse(408, "request_header_timeout", f"the request head did not arrive within {timeout:g} s")
        else:  # idle, or the rest of a body the app did not want: nothing to answer
            log.debug("connection closed: no request within the head timeout")
            self.transport.close()

    # The body timeout

    def _app_awaits_body(self) -> None:
        cycle = self.cycle
        if self._head_open or cycle is None or cycle.response_complete or cycle.message_event.is_set():
            return  # no body to wait for, or some is already there
        self._body_wait_since = self.loop.time()
        if self._body_timer is None:
            self._body_timer = self.loop.call_at(self._body_wait_since + self.limits.body_timeout, self._check_body)

    def _check_body(self) -> None:
        self._body_timer = None
        since = self._body_wait_since
        if since is None or self._head_open or self._lingering or self.transport.is_closing() or self.flow.read_paused:
            return
        due = since + self.limits.body_timeout
        if self.loop.time() < due:
            self._body_timer = self.loop.call_at(due, self._check_body)
            return
        cycle = self.cycle
        timeout = self.limits.body_timeout
        log.info("request refused", extra={"status": 408, "reason": "request_body_timeout"})
        # The app's receive() returns http.disconnect and its later sends are dropped.
        cycle.disconnected = True
        cycle.message_event.set()
        if cycle.response_started:
            self.transport.close()
        else:
            self._send_error_and_close(408, "request_body_timeout", f"no request body bytes came for {timeout:g} s")

    # Refusals

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer `status` and close. With a response in flight (pipelined requests), that
        one and those queued before the refused head are finished, then the connection
        closes without an answer to it: two responses cannot be written at once."""
        log.info("request refused", extra={"status": status, "reason": code})
        self._lingering = True  # the parser is done with this connection
        self._linger_left = LINGER_BYTES
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.keep_alive = False
            return
        self._send_error_and_close(status, code, message)

    def _send_error_and_close(self, status: int, code: str, message: str) -> None:
        body = orjson.dumps({"error": {"code": code, "message": message}})
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        self._lingering = True
        self._linger_left = LINGER_BYTES
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the client sees the response end now, not at the close
        self.flow.resume_reading()  # drop what comes, rather than leave it unread
        self._linger_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)
