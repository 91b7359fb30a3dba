"""Server-Sent Events, read line by line (as the HTML standard describes), and the live
tail's events built from them."""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import ValidationError

from isolane.client._errors import TransportError
from isolane.client._models import InvocationRecord, TailConnected, TailDropped, TailEvent

BOM = "\ufeff"


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str


class SSEDecoder:
    """Feed it the stream's lines (without line endings); it returns an event at each blank
    line that ends one with data. Comments (`: keep-alive`), unknown fields and `id` (the
    tail does not resume, and its records carry their ids) are skipped."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._first = True

    def feed(self, line: str) -> ServerSentEvent | None:
        if self._first:  # the standard ignores one byte order mark at the stream's start
            self._first = False
            line = line.removeprefix(BOM)
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        event_type, data = self._event, self._data
        self._event, self._data = "", []
        if not data:  # an event without data is dropped, its type too (as the standard says)
            return None
        return ServerSentEvent(event_type or "message", "\n".join(data))


_TAIL_EVENTS: dict[str, type[InvocationRecord] | type[TailConnected] | type[TailDropped]] = {
    "invocation": InvocationRecord,
    "connected": TailConnected,
    "dropped": TailDropped,
}


def tail_event(event: ServerSentEvent) -> TailEvent | None:
    """The typed tail event, or None for an event this client does not know. Raises
    `TransportError` (code `invalid_event`) for a payload it cannot read."""
    model = _TAIL_EVENTS.get(event.event)
    if model is None:
        return None
    try:
        return model.model_validate(json.loads(event.data))
    except (ValueError, ValidationError) as exc:  # json.JSONDecodeError is a ValueError
        raise TransportError(f"the server sent a {event.event!r} event this client cannot read: {exc}", code="invalid_event") from exc
