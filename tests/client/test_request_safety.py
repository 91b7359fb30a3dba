"""What the client's requests carry and where they go: an invocation never carries the
client's token or cookies, a path can neither leave the script's invoke URL nor a segment
its endpoint, a query in the path survives `params`, naive times are local times."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from isolane.client import AsyncClient, BadRequest, Client, IsolaneError
from isolane.testing import Server
from tests.conftest import ADMIN_TOKEN

ECHO = """export default { async fetch(request) {
  const url = new URL(request.url);
  const headers = Object.fromEntries(request.headers);
  const init = { headers: { "content-type": "application/json" } };
  if (url.pathname === "/set-cookie") init.headers["set-cookie"] = "tenant=secret; Path=/";
  return new Response(JSON.stringify({ headers, path: url.pathname, query: url.search, method: request.method }), init);
} };"""


@pytest.fixture()
def client(server: Server) -> Iterator[Client]:
    with Client(server.url, ADMIN_TOKEN) as instance:
        instance.create_namespace("client-safety")
        instance.upload_script("client-safety", "echo", ECHO)
        yield instance


def test_an_invocation_never_carries_the_clients_token(client: Client, server: Server) -> None:
    seen = client.invoke("client-safety", "echo", "/h").json()["headers"]
    assert "authorization" not in seen and ADMIN_TOKEN not in str(seen)
    # Only a header the caller passes itself reaches the script.
    explicit = client.invoke("client-safety", "echo", "/h", headers={"Authorization": "Bearer for-the-script"}).json()
    assert explicit["headers"]["authorization"] == "Bearer for-the-script"
    assert client.list_scripts("client-safety").items  # the management calls still carry it

    async def from_async() -> dict:
        async with AsyncClient(server.url, ADMIN_TOKEN) as isolane:
            return (await isolane.invoke("client-safety", "echo", "/h")).json()["headers"]

    import asyncio

    assert "authorization" not in asyncio.run(from_async())


def test_an_invocation_never_carries_credentials_from_the_url(client: Client, server: Server) -> None:
    with Client(server.url.replace("://", "://user:hunter2@"), ADMIN_TOKEN) as with_userinfo:
        seen = with_userinfo.invoke("client-safety", "echo", "/h").json()["headers"]
    assert "authorization" not in seen


def test_a_cookie_set_by_a_script_is_not_kept(client: Client) -> None:
    assert "tenant=secret" in client.invoke("client-safety", "echo", "/set-cookie").headers["set-cookie"]
    assert "cookie" not in client.invoke("client-safety", "echo", "/h").json()["headers"]


@pytest.mark.parametrize("path", ["/../../../../../tokens", "/a/../../x", "..", "/./x", "/%2e%2E/tokens", "/a/.%2e"])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_an_invoke_path_cannot_leave_the_script(client: Client, path: str, method: str) -> None:
    with pytest.raises(ValueError, match="segment"):
        client.invoke("client-safety", "echo", path, method=method)
    assert client.list_tokens()  # nothing was reached, nothing deleted


def test_dots_that_are_not_segments_pass(client: Client) -> None:
    answer = client.invoke("client-safety", "echo", "/.well-known/a..b/c.txt?x=..").json()
    assert answer["path"] == "/.well-known/a..b/c.txt" and answer["query"] == "?x=.."


def test_a_dot_segment_value_stays_inside_its_endpoint(client: Client) -> None:
    """`..` as a key or name reaches its own endpoint, which refuses it (unquoted, httpx
    resolved it into the KV namespace's URL, which redirected: an empty "value")."""
    kv = client.create_kv_namespace("client-safety-kv", namespace="client-safety")
    for call in (lambda: client.get_kv_value(kv.id, ".."), lambda: client.delete_kv_value(kv.id, "."), lambda: client.put_kv_value(kv.id, "..", "x")):
        with pytest.raises(BadRequest) as refused:
            call()
        assert refused.value.code == "invalid_key"
    with pytest.raises(IsolaneError) as outside:
        client.get_script("..", "..")
    assert outside.value.status in (400, 404) and outside.value.code != "not_found"


def test_a_query_in_the_path_is_merged_with_params(client: Client) -> None:
    answer = client.invoke("client-safety", "echo", "/p?a=1&a=2", params={"b": "2 3", "skip": None}).json()
    assert answer["path"] == "/p" and answer["query"] == "?a=1&a=2&b=2+3"
    assert client.invoke("client-safety", "echo", "/p", params={"b": 2}).json()["query"] == "?b=2"
    assert client.invoke("client-safety", "echo", "/p?a=1").json()["query"] == "?a=1"


@pytest.fixture()
def tokyo_time() -> Iterator[None]:
    """The process's local time zone set to UTC+9 (no DST), then restored."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_a_naive_datetime_is_local_time(client: Client, tokyo_time: None) -> None:
    invoked = client.invoke("client-safety", "echo", "/timed").headers["x-isolane-invocation"]
    since = datetime.now() - timedelta(minutes=5)  # naive: Tokyo wall-clock time
    deadline = time.monotonic() + 10
    while True:
        ids = [record.id for record in client.list_invocations("client-safety", "echo", since=since).items]
        if invoked in ids or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert invoked in ids
