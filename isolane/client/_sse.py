"""Server-Sent Events, read line by line (as the HTML standard describes), and the live
tail's events built from them."""

from __future__ import annotations

import json
from dataclasses import dataclass

from isolane.client._models import InvocationRecord, TailConnected, TailDropped, TailEvent


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None = None


class SSEDecoder:
    """Feed it the stream's lines (without line endings); it returns an event at each blank
    line that ends one. Comments (`: keep-alive`) and unknown fields are skipped."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, line: str) -> ServerSentEvent | None:
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
        elif field == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data and not self._event:
            return None
        event = ServerSentEvent(self._event or "message", "\n".join(self._data), self._id)
        self._event, self._data = "", []  # the last id persists, as in browsers
        return event


def tail_event(event: ServerSentEvent) -> TailEvent | None:
    """The typed tail event, or None for an event this client does not know."""
    if event.event == "invocation":
        return InvocationRecord.model_validate(json.loads(event.data))
    if event.event == "connected":
        return TailConnected.model_validate(json.loads(event.data))
    if event.event == "dropped":
        return TailDropped.model_validate(json.loads(event.data))
    return None
