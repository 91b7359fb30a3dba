"""`AsyncClient`: the whole management API over an asyncio httpx client (the same calls as
`Client`, built by `_calls.py`; only the sending differs)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from isolane.client import _calls as calls
from isolane.client._calls import UNSET, Call
from isolane.client._config import DEFAULT_TIMEOUT, base_headers, no_cookies, redact_url, resolve_token, resolve_url, tail_timeout, timeout_of
from isolane.client._errors import IsolaneError, StreamClosed, error_from_response, transport_error
from isolane.client._models import (
    CreatedToken,
    Deployment,
    ExecuteResult,
    Executors,
    InvocationRecord,
    KVKey,
    KVNamespace,
    Module,
    Namespace,
    Page,
    Schedule,
    ScheduleTestResult,
    Script,
    ScriptContent,
    ScriptSummary,
    Secret,
    SecretChange,
    TailEvent,
    Token,
    UploadResult,
    Usage,
    Version,
)
from isolane.client._sse import SSEDecoder, tail_event
from isolane.client._uploads import MODULE_JS, build_upload

T = TypeVar("T")


class AsyncClient:
    """An asyncio client for Isolane's management API (every method of `Client`, awaited).

    `url` and `token` default to `ISOLANE_URL` (else http://127.0.0.1:8787) and
    `ISOLANE_TOKEN`. Failed calls raise `IsolaneError` subclasses; `transport` swaps the
    network (any `httpx.AsyncBaseTransport`, e.g. `httpx.MockTransport`).
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = resolve_url(url)
        self.token = resolve_token(token)
        self._timeout = timeout_of(timeout)
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=base_headers(), cookies=no_cookies(), timeout=self._timeout, transport=transport
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def _send(self, call: Call[T]) -> T:
        try:
            response = await self._http.send(call.build(self._http, self.token))
        except httpx.TransportError as exc:
            raise transport_error(exc, redact_url(self.url)) from exc
        if call.check and response.is_error:
            raise error_from_response(response)
        return call.parse(response)

    async def _every(self, page: Callable[[str | None], Call[Page[T]]]) -> AsyncIterator[T]:
        cursor: str | None = None
        while True:
            result = await self._send(page(cursor))
            for item in result.items:
                yield item
            if not result.cursor:
                return
            cursor = result.cursor

    # Tokens

    async def create_token(self, name: str, scope: str, *, read_only: bool = False) -> CreatedToken:
        """A new token; `scope` is "admin" or "namespace:{ns}". Its secret is `.token`, shown once."""
        return await self._send(calls.create_token(name, scope, read_only))

    async def list_tokens(self) -> list[Token]:
        return await self._send(calls.list_tokens())

    async def revoke_token(self, token_id: str) -> None:
        return await self._send(calls.revoke_token(token_id))

    # Namespaces

    async def create_namespace(self, ns: str, *, limits: Any = UNSET, quotas: Any = UNSET, dispatcher: Any = UNSET, outbound: Any = UNSET) -> Namespace:
        """Create the namespace or confirm it exists; each setting given replaces the
        namespace's (None removes it), one left out stays as it was. Admin tokens only."""
        return await self._send(calls.put_namespace(ns, limits, quotas, dispatcher, outbound))

    async def get_namespace(self, ns: str) -> Namespace:
        return await self._send(calls.get_namespace(ns))

    async def list_namespaces(self) -> list[Namespace]:
        return await self._send(calls.list_namespaces())

    async def delete_namespace(self, ns: str) -> None:
        return await self._send(calls.delete_namespace(ns))

    # Scripts

    async def upload_script(
        self,
        ns: str,
        name: str,
        code: str | bytes | Module,
        *,
        modules: Sequence[Module] = (),
        content_type: str = MODULE_JS,
        vars: Mapping[str, str] | None = None,
        kv: Mapping[str, str] | None = None,
        bindings: Sequence[Mapping[str, Any]] | None = None,
        tags: Sequence[str] | None = None,
        limits: Mapping[str, int] | None = None,
        compatibility_date: str | None = None,
        crons: Sequence[str] | None = None,
    ) -> UploadResult:
        """Upload and deploy a new version. `code` is the main module (raw code typed by
        `content_type`, or a `Module`); `modules` are further modules; `vars` become
        plain_text bindings, `kv` maps binding names to KV namespace ids. `tags` and `crons`
        replace the script's (None keeps them)."""
        body = build_upload(
            code, modules=modules, content_type=content_type, vars=vars, kv=kv, bindings=bindings,
            tags=tags, limits=limits, compatibility_date=compatibility_date, crons=crons,
        )  # fmt: skip
        return await self._send(calls.upload_script(ns, name, body))

    async def upload_version(
        self,
        ns: str,
        name: str,
        code: str | bytes | Module,
        *,
        modules: Sequence[Module] = (),
        content_type: str = MODULE_JS,
        vars: Mapping[str, str] | None = None,
        kv: Mapping[str, str] | None = None,
        bindings: Sequence[Mapping[str, Any]] | None = None,
        limits: Mapping[str, int] | None = None,
        compatibility_date: str | None = None,
    ) -> Version:
        """Upload a version of an existing script without deploying it."""
        body = build_upload(
            code, modules=modules, content_type=content_type, vars=vars, kv=kv, bindings=bindings,
            limits=limits, compatibility_date=compatibility_date,
        )  # fmt: skip
        return await self._send(calls.upload_version(ns, name, body))

    async def get_script(self, ns: str, name: str) -> Script:
        return await self._send(calls.get_script(ns, name))

    async def list_scripts(self, ns: str, *, tags: str | Sequence[str] | None = None, limit: int | None = None, cursor: str | None = None) -> Page[ScriptSummary]:
        """One page of the namespace's scripts; `tags` filters ("a,b:no" or ["a", "b:no"])."""
        return await self._send(calls.list_scripts(ns, tags, limit, cursor))

    def iter_scripts(self, ns: str, *, tags: str | Sequence[str] | None = None) -> AsyncIterator[ScriptSummary]:
        """Every script of the namespace, following cursors."""
        return self._every(lambda cursor: calls.list_scripts(ns, tags, None, cursor))

    async def delete_script(self, ns: str, name: str) -> None:
        return await self._send(calls.delete_script(ns, name))

    async def delete_scripts(self, ns: str, *, tags: str | Sequence[str]) -> list[str]:
        """Delete every script the tag filter matches (it must require a tag); their names."""
        return await self._send(calls.delete_scripts(ns, tags))

    async def get_script_content(self, ns: str, name: str) -> ScriptContent:
        return await self._send(calls.script_content(ns, name))

    async def get_tags(self, ns: str, name: str) -> list[str]:
        return await self._send(calls.get_tags(ns, name))

    async def set_tags(self, ns: str, name: str, tags: Iterable[str]) -> list[str]:
        return await self._send(calls.set_tags(ns, name, tags))

    # Versions and deployments

    async def list_versions(self, ns: str, name: str, *, limit: int | None = None, cursor: str | None = None) -> Page[Version]:
        """One page of the script's versions, newest first."""
        return await self._send(calls.list_versions(ns, name, limit, cursor))

    def iter_versions(self, ns: str, name: str) -> AsyncIterator[Version]:
        return self._every(lambda cursor: calls.list_versions(ns, name, None, cursor))

    async def get_version(self, ns: str, name: str, version_id: str) -> Version:
        return await self._send(calls.get_version(ns, name, version_id))

    async def get_version_content(self, ns: str, name: str, version_id: str) -> ScriptContent:
        return await self._send(calls.version_content(ns, name, version_id))

    async def list_deployments(self, ns: str, name: str, *, limit: int | None = None, cursor: str | None = None) -> Page[Deployment]:
        """One page of the script's deployments, newest first (`current` marks the serving one)."""
        return await self._send(calls.list_deployments(ns, name, limit, cursor))

    def iter_deployments(self, ns: str, name: str) -> AsyncIterator[Deployment]:
        return self._every(lambda cursor: calls.list_deployments(ns, name, None, cursor))

    async def deploy(self, ns: str, name: str, versions: str | Mapping[str, float] | Sequence[tuple[str, float]], *, force: bool = False) -> Deployment:
        """Deploy versions: one id (100%) or {id: percentage} / [(id, percentage)] totalling 100.
        `force` deploys versions whose secrets differ from the script's current ones."""
        return await self._send(calls.create_deployment(ns, name, versions, force))

    async def rollback(self, ns: str, name: str, version_id: str | None = None, *, force: bool = False) -> Deployment:
        """Deploy `version_id` at 100%; by default the version that served before the current
        deployment. Raises `IsolaneError` (code `no_previous_version`) when there is none."""
        if version_id is None:
            version_id = calls.previous_version([deployment async for deployment in self.iter_deployments(ns, name)])
            if version_id is None:
                raise IsolaneError(f"script {name!r} has no previous version to roll back to", code="no_previous_version")
        return await self.deploy(ns, name, version_id, force=force)

    # Secrets and schedules

    async def put_secret(self, ns: str, name: str, secret: str, value: str) -> SecretChange:
        """Set a secret (deploys a new version of the script)."""
        return await self._send(calls.put_secret(ns, name, secret, value))

    async def list_secrets(self, ns: str, name: str) -> list[Secret]:
        return await self._send(calls.list_secrets(ns, name))

    async def delete_secret(self, ns: str, name: str, secret: str) -> SecretChange:
        return await self._send(calls.delete_secret(ns, name, secret))

    async def get_schedules(self, ns: str, name: str) -> list[Schedule]:
        return await self._send(calls.get_schedules(ns, name))

    async def set_schedules(self, ns: str, name: str, crons: Iterable[str]) -> list[Schedule]:
        """Replace the script's cron triggers (an empty list clears them)."""
        return await self._send(calls.set_schedules(ns, name, crons))

    async def test_schedule(self, ns: str, name: str, cron: str | None = None) -> ScheduleTestResult:
        """Run the scheduled handler once, now."""
        return await self._send(calls.test_schedule(ns, name, cron))

    # Invocations, usage, live tail

    async def get_invocation(self, invocation_id: str) -> InvocationRecord:
        return await self._send(calls.get_invocation(invocation_id))

    async def list_invocations(
        self,
        ns: str,
        name: str,
        *,
        outcome: str | None = None,
        trigger: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[InvocationRecord]:
        """One page of the script's invocation records, newest first."""
        return await self._send(calls.list_invocations(ns, name, outcome, trigger, since, until, limit, cursor))

    def iter_invocations(
        self,
        ns: str,
        name: str,
        *,
        outcome: str | None = None,
        trigger: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
    ) -> AsyncIterator[InvocationRecord]:
        return self._every(lambda cursor: calls.list_invocations(ns, name, outcome, trigger, since, until, None, cursor))

    async def get_usage(self, ns: str, *, since: str | datetime | None = None, until: str | datetime | None = None, script: str | None = None) -> Usage:
        """The namespace's usage over whole hours (default: the last 24)."""
        return await self._send(calls.get_usage(ns, since, until, script))

    async def tail(self, ns: str, name: str, *, outcome: str | Sequence[str] | None = None, sample: float | None = None) -> AsyncIterator[TailEvent]:
        """Live invocation records of the script as they complete: `TailConnected` first, then
        an `InvocationRecord` per invocation and `TailDropped` when records were dropped.
        Runs until the caller stops iterating (close the generator to disconnect); raises
        `StreamClosed` when the server ends the stream (it stopped, or the token was revoked)."""
        call = calls.tail_request(ns, name, outcome, sample)
        try:
            response = await self._http.send(call.build(self._http, self.token, timeout=tail_timeout(self._timeout)), stream=True)
            try:
                if response.is_error:
                    await response.aread()
                    raise error_from_response(response)
                decoder = SSEDecoder()
                async for line in response.aiter_lines():
                    event = decoder.feed(line)
                    typed = tail_event(event) if event is not None else None
                    if typed is not None:
                        yield typed
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            raise transport_error(exc, redact_url(self.url)) from exc
        raise StreamClosed.for_tail(ns, name)

    # KV

    async def create_kv_namespace(self, title: str, *, namespace: str | None = None) -> KVNamespace:
        """A KV namespace in the token's namespace (admins: `namespace`, default "default")."""
        return await self._send(calls.create_kv_namespace(title, namespace))

    async def list_kv_namespaces(self, *, namespace: str | None = None, limit: int | None = None, cursor: str | None = None) -> Page[KVNamespace]:
        return await self._send(calls.list_kv_namespaces(namespace, limit, cursor))

    def iter_kv_namespaces(self, *, namespace: str | None = None) -> AsyncIterator[KVNamespace]:
        return self._every(lambda cursor: calls.list_kv_namespaces(namespace, None, cursor))

    async def get_kv_namespace(self, namespace_id: str) -> KVNamespace:
        return await self._send(calls.get_kv_namespace(namespace_id))

    async def delete_kv_namespace(self, namespace_id: str) -> None:
        return await self._send(calls.delete_kv_namespace(namespace_id))

    async def list_kv_keys(self, namespace_id: str, *, prefix: str | None = None, limit: int | None = None, cursor: str | None = None) -> Page[KVKey]:
        return await self._send(calls.list_kv_keys(namespace_id, prefix, limit, cursor))

    def iter_kv_keys(self, namespace_id: str, *, prefix: str | None = None) -> AsyncIterator[KVKey]:
        return self._every(lambda cursor: calls.list_kv_keys(namespace_id, prefix, None, cursor))

    async def get_kv_value(self, namespace_id: str, key: str) -> bytes:
        return await self._send(calls.get_kv_value(namespace_id, key))

    async def put_kv_value(
        self,
        namespace_id: str,
        key: str,
        value: bytes | str,
        *,
        expiration: int | None = None,
        expiration_ttl: int | None = None,
        metadata: Any = None,
    ) -> KVKey:
        """Write a value; `expiration` is epoch seconds, `expiration_ttl` seconds from now (≥ 60)."""
        return await self._send(calls.put_kv_value(namespace_id, key, value, expiration, expiration_ttl, metadata))

    async def delete_kv_value(self, namespace_id: str, key: str) -> None:
        return await self._send(calls.delete_kv_value(namespace_id, key))

    async def get_kv_metadata(self, namespace_id: str, key: str) -> KVKey:
        return await self._send(calls.get_kv_metadata(namespace_id, key))

    # The seed contract, invocation, system

    async def upload(self, code: str | bytes) -> str:
        """Seed `POST /upload`: store the code, return its id (same code, same id)."""
        return await self._send(calls.seed_upload(code))

    async def execute(self, script_id: str) -> ExecuteResult:
        """Seed `POST /execute`: run an uploaded script once."""
        return await self._send(calls.seed_execute(script_id))

    async def invoke(
        self,
        ns: str,
        name: str,
        path: str = "",
        *,
        method: str = "GET",
        content: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """Call the script's fetch handler and return its response whatever the status; use
        `platform_error(response)` to tell Isolane's own errors from the script's answers."""
        return await self._send(calls.invoke(ns, name, path, method, content, headers, params))

    async def executors(self) -> Executors:
        """The server's executor processes (admin tokens)."""
        return await self._send(calls.executors())
