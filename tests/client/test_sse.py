"""The SSE decoder on the standard's edge cases (the live tail itself is tested against the
server in test_tail.py)."""

from __future__ import annotations

from isolane.client._sse import ServerSentEvent, SSEDecoder, tail_event
from isolane.client import InvocationRecord, TailConnected, TailDropped


def decode(text: str) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events = [decoder.feed(line) for line in text.split("\n")]
    return [event for event in events if event is not None]


def test_events_comments_multiline_data_and_ids() -> None:
    events = decode(": keep-alive\n\nevent: one\nid: 7\ndata: a\ndata:b\n\ndata: plain\n\n")
    assert events == [ServerSentEvent("one", "a\nb", "7"), ServerSentEvent("message", "plain", "7")]


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
