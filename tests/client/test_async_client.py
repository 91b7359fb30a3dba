"""`isolane.AsyncClient` against a real server: the same calls as `Client`, awaited."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from isolane.client import AsyncClient, Client, ConnectError, Conflict, NotFound, ServerError, platform_error
from isolane.testing import Server, free_port
from tests.conftest import ADMIN_TOKEN


def test_same_methods_as_the_sync_client() -> None:
    public = {name for name in dir(Client) if not name.startswith("_")}
    assert public == {name for name in dir(AsyncClient) if not name.startswith("_")}
    for name in public - {"url", "token"}:
        sync_parameters = inspect.signature(getattr(Client, name)).parameters
        assert list(sync_parameters) == list(inspect.signature(getattr(AsyncClient, name)).parameters), name


def test_async_round_trip(server: Server) -> None:
    async def scenario() -> None:
        async with AsyncClient(server.url, ADMIN_TOKEN) as client:
            await client.create_namespace("async-ns")
            first = await client.upload_script("async-ns", "app", "export default { fetch: () => new Response('one') };", tags=["a"])
            await client.upload_script("async-ns", "app", "export default { fetch: () => new Response('two') };")
            assert (await client.invoke("async-ns", "app")).text == "two"
            assert (await client.get_script("async-ns", "app")).tags == ["a"]
            assert [script.name async for script in client.iter_scripts("async-ns")] == ["app"]
            assert len([version async for version in client.iter_versions("async-ns", "app")]) == 2
            rolled = await client.rollback("async-ns", "app")
            assert rolled.versions[0].version_id == first.version_id
            assert (await client.invoke("async-ns", "app")).text == "one"

            await client.upload_script("async-ns", "bad", "export default { fetch() { throw new Error('x'); } };")
            assert isinstance(platform_error(await client.invoke("async-ns", "bad")), ServerError)
            kv = await client.create_kv_namespace("cache", namespace="async-ns")
            await client.put_kv_value(kv.id, "k", "v")
            assert await client.get_kv_value(kv.id, "k") == b"v"
            assert [key.name async for key in client.iter_kv_keys(kv.id)] == ["k"]
            with pytest.raises(NotFound) as caught:
                await client.get_script("async-ns", "missing")
            assert caught.value.code == "script_not_found"
            await client.put_secret("async-ns", "app", "S", "v")
            with pytest.raises(Conflict):
                await client.deploy("async-ns", "app", first.version_id)
            await client.delete_namespace("async-ns")

    asyncio.run(scenario())


def test_async_unreachable() -> None:
    async def scenario() -> None:
        async with AsyncClient(f"http://127.0.0.1:{free_port()}", "t", timeout=2) as client:
            with pytest.raises(ConnectError):
                await client.list_tokens()

    asyncio.run(scenario())
