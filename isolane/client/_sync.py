"""`Client`: the whole management API over a blocking httpx client."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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


class Client:
    """A blocking client for Isolane's management API.

    `url` and `token` default to `ISOLANE_URL` (else http://127.0.0.1:8787) and
    `ISOLANE_TOKEN`. Failed calls raise `IsolaneError` subclasses; `transport` swaps the
    network (any `httpx.BaseTransport`, e.g. `httpx.MockTransport`).
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = resolve_url(url)
        self.token = resolve_token(token)
        self._timeout = timeout_of(timeout)
        self._http = httpx.Client(
            base_url=self.url, headers=base_headers(), cookies=no_cookies(), timeout=self._timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _send(self, call: Call[T]) -> T:
        try:
            response = self._http.send(call.build(self._http, self.token))
        except httpx.TransportError as exc:
            raise transport_error(exc, redact_url(self.url)) from exc
        if call.check and response.is_error:
            raise error_from_response(response)
        return call.parse(response)

    def _every(self, page: Callable[[str | None], Call[Page[T]]]) -> Iterator[T]:
        cursor: str | None = None
        while True:
            result = self._send(page(cursor))
            yield from result.items
            if not result.cursor:
                return
            cursor = result.cursor

    # Tokens

    def create_token(self, name: str, scope: str, *, read_only: bool = False) -> CreatedToken:
        """A new token; `scope` is "admin" or "namespace:{ns}". Its secret is `.token`, shown once."""
        return self._send(calls.create_token(name, scope, read_only))

    def list_tokens(self) -> list[Token]:
        return self._send(calls.list_tokens())

    def revoke_token(self, token_id: str) -> None:
        return self._send(calls.revoke_token(token_id))

    # Namespaces

    def create_namespace(self, ns: str, *, limits: Any = UNSET, quotas: Any = UNSET, dispatcher: Any = UNSET, outbound: Any = UNSET) -> Namespace:
        """Create the namespace or confirm it exists; each setting given replaces the
        namespace's (None removes it), one left out stays as it was. Admin tokens only."""
        return self._send(calls.put_namespace(ns, limits, quotas, dispatcher, outbound))

    def get_namespace(self, ns: str) -> Namespace:
        return self._send(calls.get_namespace(ns))

    def list_namespaces(self) -> list[Namespace]:
        return self._send(calls.list_namespaces())

    def delete_namespace(self, ns: str) -> None:
        return self._send(calls.delete_namespace(ns))

    # Scripts

    def upload_script(
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
        return self._send(calls.upload_script(ns, name, body))

    def upload_version(
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
        return self._send(calls.upload_version(ns, name, body))

    def get_script(self, ns: str, name: str) -> Script:
        return self._send(calls.get_script(ns, name))

    def list_scripts(self, ns: str, *, tags: str | Sequence[str] | None = None, limit: int | None = None, cursor: str | None = None) -> Page[ScriptSummary]:
        """One page of the namespace's scripts; `tags` filters ("a,b:no" or ["a", "b:no"])."""
        return self._send(calls.list_scripts(ns, tags, limit, cursor))

    def iter_scripts(self, ns: str, *, tags: str | Sequence[str] | None = None) -> Iterator[ScriptSummary]:
        """Every script of the namespace, following cursors."""
        return self._every(lambda cursor: calls.list_scripts(ns, tags, None, cursor))

    def delete_script(self, ns: str, name: str) -> None:
        return self._send(calls.delete_script(ns, name))

    def delete_scripts(self, ns: str, *, tags: str | Sequence[str]) -> list[str]:
        """Delete every script the tag filter matches (it must require a tag); their names."""
        return self._send(calls.delete_scripts(ns, tags))

    def get_script_content(self, ns: str, name: str) -> ScriptContent:
        return self._send(calls.script_content(ns, name))

    def get_tags(self, ns: str, name: str) -> list[str]:
        return self._send(calls.get_tags(ns, name))

    def set_tags(self, ns: str, name: str, tags: Iterable[str]) -> list[str]:
        return self._send(calls.set_tags(ns, name, tags))

    # Versions and deployments

    def list_versions(self, ns: str, name: str, *, limit: int | None = None, cursor: str | None = None) -> Page[Version]:
        """One page of the script's versions, newest first."""
        return self._send(calls.list_versions(ns, name, limit, cursor))

    def iter_versions(self, ns: str, name: str) -> Iterator[Version]:
        return self._every(lambda cursor: calls.list_versions(ns, name, None, cursor))

    def get_version(self, ns: str, name: str, version_id: str) -> Version:
        return self._send(calls.get_version(ns, name, version_id))

    def get_version_content(self, ns: str, name: str, version_id: str) -> ScriptContent:
        return self._send(calls.version_content(ns, name, version_id))

    def list_deployments(self, ns: str, name: str, *, limit: int | None = None, cursor: str | None = None) -> Page[Deployment]:
        """One page of the script's deployments, newest first (`current` marks the serving one)."""
        return self._send(calls.list_deployments(ns, name, limit, cursor))

    def iter_deployments(self, ns: str, name: str) -> Iterator[Deployment]:
        return self._every(lambda cursor: calls.list_deployments(ns, name, None, cursor))

    def deploy(self, ns: str, name: str, versions: str | Mapping[str, float] | Sequence[tuple[str, float]], *, force: bool = False) -> Deployment:
        """Deploy versions: one id (100%) or {id: percentage} / [(id, percentage)] totalling 100.
        `force` deploys versions whose secrets differ from the script's current ones."""
        return self._send(calls.create_deployment(ns, name, versions, force))

    def rollback(self, ns: str, name: str, version_id: str | None = None, *, force: bool = False) -> Deployment:
        """Deploy `version_id` at 100%; by default the version that served before the current
        deployment. Raises `IsolaneError` (code `no_previous_version`) when there is none."""
        if version_id is None:
            version_id = calls.previous_version(list(self.iter_deployments(ns, name)))
            if version_id is None:
                raise IsolaneError(f"script {name!r} has no previous version to roll back to", code="no_previous_version")
        return self.deploy(ns, name, version_id, force=force)

    # Secrets and schedules

    def put_secret(self, ns: str, name: str, secret: str, value: str) -> SecretChange:
        """Set a secret (deploys a new version of the script)."""
        return self._send(calls.put_secret(ns, name, secret, value))

    def list_secrets(self, ns: str, name: str) -> list[Secret]:
        return self._send(calls.list_secrets(ns, name))

    def delete_secret(self, ns: str, name: str, secret: str) -> SecretChange:
        return self._send(calls.delete_secret(ns, name, secret))

    def get_schedules(self, ns: str, name: str) -> list[Schedule]:
        return self._send(calls.get_schedules(ns, name))

    def set_schedules(self, ns: str, name: str, crons: Iterable[str]) -> list[Schedule]:
        """Replace the script's cron triggers (an empty list clears them)."""
        return self._send(calls.set_schedules(ns, name, crons))

    def test_schedule(self, ns: str, name: str, cron: str | None = None) -> ScheduleTestResult:
        """Run the scheduled handler once, now."""
        return self._send(calls.test_schedule(ns, name, cron))

    # Invocations, usage, live tail

    def get_invocation(self, invocation_id: str) -> InvocationRecord:
        return self._send(calls.get_invocation(invocation_id))

    def list_invocations(
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
        return self._send(calls.list_invocations(ns, name, outcome, trigger, since, until, limit, cursor))

    def iter_invocations(
        self,
        ns: str,
        name: str,
        *,
        outcome: str | None = None,
        trigger: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
    ) -> Iterator[InvocationRecord]:
        return self._every(lambda cursor: calls.list_invocations(ns, name, outcome, trigger, since, until, None, cursor))

    def get_usage(self, ns: str, *, since: str | datetime | None = None, until: str | datetime | None = None, script: str | None = None) -> Usage:
        """The namespace's usage over whole hours (default: the last 24)."""
        return self._send(calls.get_usage(ns, since, until, script))

    def tail(self, ns: str, name: str, *, outcome: str | Sequence[str] | None = None, sample: float | None = None) -> Iterator[TailEvent]:
        """Live invocation records of the script as they complete: `TailConnected` first, then
        an `InvocationRecord` per invocation and `TailDropped` when records were dropped.
        Runs until the caller stops iterating (close the generator to disconnect); raises
        `StreamClosed` when the server ends the stream (it stopped, or the token was revoked)."""
        call = calls.tail_request(ns, name, outcome, sample)
        try:
            response = self._http.send(call.build(self._http, self.token, timeout=tail_timeout(self._timeout)), stream=True)
            try:
                if response.is_error:
                    response.read()
                    raise error_from_response(response)
                decoder = SSEDecoder()
                for line in response.iter_lines():
                    event = decoder.feed(line)
                    typed = tail_event(event) if event is not None else None
                    if typed is not None:
                        yield typed
            finally:
                response.close()
        except httpx.TransportError as exc:
            raise transport_error(exc, redact_url(self.url)) from exc
        raise StreamClosed.for_tail(ns, name)

    # KV

    def create_kv_namespace(self, title: str, *, namespace: str | None = None) -> KVNamespace:
        """A KV namespace in the token's namespace (admins: `namespace`, default "default")."""
        return self._send(calls.create_kv_namespace(title, namespace))

    def list_kv_namespaces(self, *, namespace: str | None = None, limit: int | None = None, cursor: str | None = None) -> Page[KVNamespace]:
        return self._send(calls.list_kv_namespaces(namespace, limit, cursor))

    def iter_kv_namespaces(self, *, namespace: str | None = None) -> Iterator[KVNamespace]:
        return self._every(lambda cursor: calls.list_kv_namespaces(namespace, None, cursor))

    def get_kv_namespace(self, namespace_id: str) -> KVNamespace:
        return self._send(calls.get_kv_namespace(namespace_id))

    def delete_kv_namespace(self, namespace_id: str) -> None:
        return self._send(calls.delete_kv_namespace(namespace_id))

    def list_kv_keys(self, namespace_id: str, *, prefix: str | None = None, limit: int | None = None, cursor: str | None = None) -> Page[KVKey]:
        return self._send(calls.list_kv_keys(namespace_id, prefix, limit, cursor))

    def iter_kv_keys(self, namespace_id: str, *, prefix: str | None = None) -> Iterator[KVKey]:
        return self._every(lambda cursor: calls.list_kv_keys(namespace_id, prefix, None, cursor))

    def get_kv_value(self, namespace_id: str, key: str) -> bytes:
        return self._send(calls.get_kv_value(namespace_id, key))

    def put_kv_value(
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
        return self._send(calls.put_kv_value(namespace_id, key, value, expiration, expiration_ttl, metadata))

    def delete_kv_value(self, namespace_id: str, key: str) -> None:
        return self._send(calls.delete_kv_value(namespace_id, key))

    def get_kv_metadata(self, namespace_id: str, key: str) -> KVKey:
        return self._send(calls.get_kv_metadata(namespace_id, key))

    # The seed contract, invocation, system

    def upload(self, code: str | bytes) -> str:
        """Seed `POST /upload`: store the code, return its id (same code, same id)."""
        return self._send(calls.seed_upload(code))

    def execute(self, script_id: str) -> ExecuteResult:
        """Seed `POST /execute`: run an uploaded script once."""
        return self._send(calls.seed_execute(script_id))

    def invoke(
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
        return self._send(calls.invoke(ns, name, path, method, content, headers, params))

    def executors(self) -> Executors:
        """The server's executor processes (admin tokens)."""
        return self._send(calls.executors())
