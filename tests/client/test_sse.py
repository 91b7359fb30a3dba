"""The SSE decoder on the standard's edge cases (the live tail itself is tested against the
server in test_tail.py)."""

from __future__ import annotations

import pytest

from isolane.client import InvocationRecord, TailConnected, TailDropped, TransportError
from isolane.client._sse import ServerSentEvent, SSEDecoder, tail_event


def decode(text: str) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [decoder.feed(line) for line in text.split("\n")]
    return [event for event in events if event is not None]


def test_events_comments_multiline_data_and_ids() -> None:
    events = decode(": keep-alive\n\nevent: one\nid: 7\ndata: a\ndata:b\n\ndata: plain\n\n")
    assert events == [ServerSentEvent("one", "a\nb"), ServerSentEvent("message", "plain")]


def test_an_event_without_data_is_not_dispatched_and_forgets_its_type() -> None:
    assert decode("event: one\n\ndata: x\n\n") == [ServerSentEvent("message", "x")]
    assert decode("event: one\ndata\n\n") == [ServerSentEvent("one", "")]  # an empty data line is data


def test_a_leading_byte_order_mark_is_ignored() -> None:
    assert decode("\ufeffevent: one\ndata: a\n\n") == [ServerSentEvent("one", "a")]
    assert decode("\ufeff: comment\n\ndata: a\n\n\ufeffdata: b\n\n") == [ServerSentEvent("message", "a")]  # only at the start


@pytest.mark.parametrize("data", ["not json", '{"dropped": "many"}', "[1]"])
def test_an_unreadable_payload_is_a_typed_error(data: str) -> None:
    with pytest.raises(TransportError) as raised:
        tail_event(ServerSentEvent("dropped", data))
    assert raised.value.code == "invalid_event"


def test_an_unfinished_event_is_not_dispatched() -> None:
    assert decode("event: one\ndata: a") == []


def test_tail_events_are_typed() -> None:
    connected = tail_event(ServerSentEvent("connected", '{"namespace": "n", "script": "s", "outcomes": null, "sample": 1.0}'))
    assert isinstance(connected, TailConnected) and connected.script == "s"
    dropped = tail_event(ServerSentEvent("dropped", '{"dropped": 2, "total_dropped": 5}'))
    assert isinstance(dropped, TailDropped) and dropped.total_dropped == 5
    record = tail_event(
        ServerSentEvent(
            "invocation",
            '{"id": "1", "namespace": "n", "script": "s", "version": "v", "trigger": "fetch", "started_at": "2026-11-27T20:43:29.113Z",'
            ' "outcome": "ok", "status": 200, "cpu_ms": 1.0, "wall_ms": 2.0, "subrequests": 0, "logs": [], "error": null}',
        )
    )
    assert isinstance(record, InvocationRecord) and record.status == 200
    assert tail_event(ServerSentEvent("future-kind", "{}")) is None
