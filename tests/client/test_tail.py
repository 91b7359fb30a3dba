"""`Client.tail` and `AsyncClient.tail` against the server's live tail (Server-Sent Events)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from isolane.client import (
    AsyncClient,
    AuthenticationError,
    BadRequest,
    Client,
    InvocationRecord,
    NotFound,
    StreamClosed,
    TailConnected,
    TransportError,
)
from isolane.testing import Server
from tests.conftest import ADMIN_TOKEN

CODE = "export default { fetch(request) { console.log('seen', new URL(request.url).pathname);"
CODE += " if (new URL(request.url).pathname === '/fail') throw new Error('nope'); return new Response('ok'); } };"


@pytest.fixture()
def client(server: Server) -> Iterator[Client]:
    with Client(server.url, ADMIN_TOKEN) as instance:
        instance.create_namespace("client-tail")
        instance.upload_script("client-tail", "app", CODE)
        yield instance


def test_tail_yields_records_as_they_complete(client: Client) -> None:
    events = client.tail("client-tail", "app")
    connected = next(events)
    assert isinstance(connected, TailConnected) and connected.script == "app" and connected.outcomes is None
    response = client.invoke("client-tail", "app", "/one")
    record = next(events)
    assert isinstance(record, InvocationRecord)
    assert record.id == response.headers["x-isolane-invocation"] and record.outcome == "ok"
    assert [log.message for log in record.logs] == ["seen /one"]
    events.close()


def test_tail_filters_by_outcome(client: Client) -> None:
    events = client.tail("client-tail", "app", outcome=["exception"], sample=1)
    connected = next(events)
    assert isinstance(connected, TailConnected) and connected.outcomes == ["exception"]
    client.invoke("client-tail", "app", "/fine")
    failed = client.invoke("client-tail", "app", "/fail")
    record = next(events)
    assert isinstance(record, InvocationRecord) and record.outcome == "exception"
    assert record.id == failed.headers["x-isolane-invocation"] and record.error is not None and record.error.message == "nope"
    events.close()


def test_tail_errors_come_before_the_stream(client: Client) -> None:
    with pytest.raises(BadRequest) as bad:
        next(client.tail("client-tail", "app", sample=2))
    assert bad.value.code == "invalid_sample"
    with pytest.raises(BadRequest):
        next(client.tail("client-tail", "app", outcome="bogus"))
    with pytest.raises(NotFound):
        next(client.tail("no-such-namespace", "app"))


def test_async_tail(client: Client, server: Server) -> None:
    async def scenario() -> None:
        async with AsyncClient(server.url, ADMIN_TOKEN) as isolane:
            events = isolane.tail("client-tail", "app")
            assert isinstance(await anext(events), TailConnected)
            response = await isolane.invoke("client-tail", "app", "/async")
            record = await anext(events)
            assert isinstance(record, InvocationRecord) and record.id == response.headers["x-isolane-invocation"]
            await events.aclose()

    asyncio.run(scenario())


def test_tail_raises_stream_closed_when_the_server_ends_it(client: Client, server: Server) -> None:
    """Revoking the tail's token makes the server end the stream: the caller is told so, it
    does not look like a quiet script."""
    created = client.create_token("client-tail-revoked", "namespace:client-tail", read_only=True)
    with Client(server.url, created.token) as reader:
        events = reader.tail("client-tail", "app")
        assert isinstance(next(events), TailConnected)
        client.revoke_token(created.id)
        deadline = time.monotonic() + 30
        with pytest.raises(StreamClosed) as closed:
            while time.monotonic() < deadline:  # the revocation is seen through a short cache
                client.invoke("client-tail", "app", "/after-revoke")
                next(events)
        assert closed.value.code == "stream_closed" and isinstance(closed.value, TransportError)
        with pytest.raises(AuthenticationError):
            reader.list_scripts("client-tail")
