"""Every API operation as a `Call`: the request to send and how to read its answer.

Built once here and sent by either client (`_sync.py`, `_async.py`), so the two differ only
in how they send. Nothing here does I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote, unquote, urlencode

import httpx
from pydantic import BaseModel

from isolane.client._models import (
    CreatedToken,
    Deployment,
    ExecuteResult,
    Executors,
    InvocationRecord,
    KVKey,
    KVNamespace,
    Namespace,
    Page,
    Schedule,
    ScheduleTestResult,
    Script,
    ScriptContent,
    ScriptSummary,
    Secret,
    SecretChange,
    Token,
    UploadResult,
    Usage,
    Version,
)
from isolane.client._uploads import UploadBody

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""A keyword left out (as opposed to an explicit None, which the API reads as "remove")."""


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = UNSET
    content: bytes | None = None
    files: Any = None
    headers: Mapping[str, str] | None = None
    check: bool = True
    """Raise the typed error for an error answer (False: hand every answer to `parse`)."""
    authenticated: bool = True
    """Send the client's token (False for invocations: their headers reach tenant code)."""
    route: str | None = None
    """The path the sent URL must start with (default: `path` without its query)."""

    def build(self, http: httpx.Client | httpx.AsyncClient, token: str | None, **extra: Any) -> httpx.Request:
        """The request, with the token when the call is authenticated, checked to go where
        it was built to go (httpx normalises dot segments; none may move it elsewhere)."""
        kwargs = self.request_kwargs()
        headers = httpx.Headers({"authorization": f"Bearer {token}"} if self.authenticated and token else None)
        headers.update(kwargs.pop("headers", None) or {})
        request = http.build_request(**kwargs, headers=headers, **extra)
        if not self.authenticated and request.url.userinfo:  # httpx would send it as Basic auth
            request.url = request.url.copy_with(username=None, password=None)
        route = (self.route or self.path.partition("?")[0]).encode()
        expected = http.base_url.raw_path.rstrip(b"/") + route
        if not request.url.raw_path.partition(b"?")[0].startswith(expected):
            raise ValueError(f"refusing to send {self.method} {self.path!r}: it would reach {request.url.path!r}")
        return request

    def request_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"method": self.method, "url": self.path}
        params = {key: value for key, value in (self.params or {}).items() if value is not None}
        if params:
            kwargs["params"] = params
        if self.json is not UNSET:
            kwargs["json"] = self.json
        if self.content is not None:
            kwargs["content"] = self.content
        if self.files is not None:
            kwargs["files"] = self.files
        if self.headers:
            kwargs["headers"] = dict(self.headers)
        return kwargs


# How answers are read


def _model(cls: type[M]) -> Callable[[httpx.Response], M]:
    return lambda response: cls.model_validate(response.json())


def _page(cls: type[M]) -> Callable[[httpx.Response], Page[M]]:
    def parse(response: httpx.Response) -> Page[M]:
        body = response.json()
        return Page([cls.model_validate(item) for item in body["items"]], body.get("cursor"))

    return parse


def _items(cls: type[M]) -> Callable[[httpx.Response], list[M]]:
    return lambda response: [cls.model_validate(item) for item in response.json()["items"]]


def _nothing(response: httpx.Response) -> None:
    return None


def _content(response: httpx.Response) -> ScriptContent:
    return ScriptContent(response.content, response.headers.get("content-type", "application/octet-stream"))


def _segment(value: str) -> str:
    """A path segment, quoted so that no value can reach another endpoint (`.` and `..`
    too: httpx would resolve them as dot segments)."""
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


def _script(ns: str, name: str) -> str:
    return f"/v1/namespaces/{_segment(ns)}/scripts/{_segment(name)}"


def _time(value: str | datetime | None) -> str | None:
    """ISO 8601 in UTC; a naive datetime is local time (as `datetime.now()` gives it)."""
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def _tags(tags: str | Sequence[str] | None) -> str | None:
    return tags if tags is None or isinstance(tags, str) else ",".join(tags)


# Tokens


def create_token(name: str, scope: str, read_only: bool) -> Call[CreatedToken]:
    return Call("POST", "/v1/tokens", _model(CreatedToken), json={"name": name, "scope": scope, "read_only": read_only})


def list_tokens() -> Call[list[Token]]:
    return Call("GET", "/v1/tokens", _items(Token))


def revoke_token(token_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/tokens/{_segment(token_id)}", _nothing)


# Namespaces


def put_namespace(ns: str, limits: Any, quotas: Any, dispatcher: Any, outbound: Any) -> Call[Namespace]:
    settings = {"limits": limits, "quotas": quotas, "dispatcher": dispatcher, "outbound": outbound}
    body = {key: value for key, value in settings.items() if value is not UNSET}
    return Call("PUT", f"/v1/namespaces/{_segment(ns)}", _model(Namespace), json=body if body else UNSET)


def get_namespace(ns: str) -> Call[Namespace]:
    return Call("GET", f"/v1/namespaces/{_segment(ns)}", _model(Namespace))


def list_namespaces() -> Call[list[Namespace]]:
    return Call("GET", "/v1/namespaces", _items(Namespace))


def delete_namespace(ns: str) -> Call[None]:
    return Call("DELETE", f"/v1/namespaces/{_segment(ns)}", _nothing)


# Scripts


def upload_script(ns: str, name: str, body: UploadBody) -> Call[UploadResult]:
    return Call("PUT", _script(ns, name), _model(UploadResult), **body.request_fields())


def upload_version(ns: str, name: str, body: UploadBody) -> Call[Version]:
    return Call("POST", f"{_script(ns, name)}/versions", _model(Version), **body.request_fields())


def get_script(ns: str, name: str) -> Call[Script]:
    return Call("GET", _script(ns, name), _model(Script))


def list_scripts(ns: str, tags: str | Sequence[str] | None, limit: int | None, cursor: str | None) -> Call[Page[ScriptSummary]]:
    params = {"tags": _tags(tags), "limit": limit, "cursor": cursor}
    return Call("GET", f"/v1/namespaces/{_segment(ns)}/scripts", _page(ScriptSummary), params=params)


def delete_script(ns: str, name: str) -> Call[None]:
    return Call("DELETE", _script(ns, name), _nothing)


def delete_scripts(ns: str, tags: str | Sequence[str]) -> Call[list[str]]:
    def parse(response: httpx.Response) -> list[str]:
        return [item["name"] for item in response.json()["items"]]

    return Call("DELETE", f"/v1/namespaces/{_segment(ns)}/scripts", parse, params={"tags": _tags(tags)})


def script_content(ns: str, name: str) -> Call[ScriptContent]:
    return Call("GET", f"{_script(ns, name)}/content", _content)


def get_tags(ns: str, name: str) -> Call[list[str]]:
    return Call("GET", f"{_script(ns, name)}/tags", lambda response: list(response.json()["items"]))


def set_tags(ns: str, name: str, tags: Iterable[str]) -> Call[list[str]]:
    return Call("PUT", f"{_script(ns, name)}/tags", lambda response: list(response.json()["items"]), json=list(tags))


# Versions and deployments


def list_versions(ns: str, name: str, limit: int | None, cursor: str | None) -> Call[Page[Version]]:
    return Call("GET", f"{_script(ns, name)}/versions", _page(Version), params={"limit": limit, "cursor": cursor})


def get_version(ns: str, name: str, version_id: str) -> Call[Version]:
    return Call("GET", f"{_script(ns, name)}/versions/{_segment(version_id)}", _model(Version))


def version_content(ns: str, name: str, version_id: str) -> Call[ScriptContent]:
    return Call("GET", f"{_script(ns, name)}/versions/{_segment(version_id)}/content", _content)


def list_deployments(ns: str, name: str, limit: int | None, cursor: str | None) -> Call[Page[Deployment]]:
    return Call("GET", f"{_script(ns, name)}/deployments", _page(Deployment), params={"limit": limit, "cursor": cursor})


def deployment_shares(versions: str | Mapping[str, float] | Sequence[tuple[str, float]]) -> list[dict[str, Any]]:
    """A version id (100%), {version_id: percentage} or [(version_id, percentage)]."""
    if isinstance(versions, str):
        pairs: Iterable[tuple[str, float]] = [(versions, 100)]
    elif isinstance(versions, Mapping):
        pairs = versions.items()
    else:
        pairs = versions
    return [{"version_id": version_id, "percentage": percentage} for version_id, percentage in pairs]


def create_deployment(ns: str, name: str, versions: Any, force: bool) -> Call[Deployment]:
    params = {"force": "true"} if force else None
    body = {"versions": deployment_shares(versions)}
    return Call("POST", f"{_script(ns, name)}/deployments", _model(Deployment), params=params, json=body)


def previous_version(deployments: Sequence[Deployment]) -> str | None:
    """The version to roll back to: the main version of the newest deployment before the
    current one that served something else (deployments newest first)."""
    current = next((index for index, deployment in enumerate(deployments) if deployment.current), None)
    if current is None:
        return None
    serving = _main_version(deployments[current])
    for deployment in deployments[current + 1 :]:
        candidate = _main_version(deployment)
        if candidate != serving:
            return candidate
    return None


def _main_version(deployment: Deployment) -> str:
    """The version with the largest share, the first listed on a tie (as the server says)."""
    best = deployment.versions[0]
    for share in deployment.versions[1:]:
        if share.percentage > best.percentage:
            best = share
    return best.version_id


# Secrets and schedules


def put_secret(ns: str, name: str, secret: str, value: str) -> Call[SecretChange]:
    body = {"name": secret, "text": value, "type": "secret_text"}
    return Call("PUT", f"{_script(ns, name)}/secrets", _model(SecretChange), json=body)


def list_secrets(ns: str, name: str) -> Call[list[Secret]]:
    return Call("GET", f"{_script(ns, name)}/secrets", _items(Secret))


def delete_secret(ns: str, name: str, secret: str) -> Call[SecretChange]:
    return Call("DELETE", f"{_script(ns, name)}/secrets/{_segment(secret)}", _model(SecretChange))


def get_schedules(ns: str, name: str) -> Call[list[Schedule]]:
    return Call("GET", f"{_script(ns, name)}/schedules", _items(Schedule))


def set_schedules(ns: str, name: str, crons: Iterable[str]) -> Call[list[Schedule]]:
    return Call("PUT", f"{_script(ns, name)}/schedules", _items(Schedule), json={"crons": list(crons)})


def test_schedule(ns: str, name: str, cron: str | None) -> Call[ScheduleTestResult]:
    body = {"cron": cron} if cron is not None else UNSET
    return Call("POST", f"{_script(ns, name)}/schedules/test", _model(ScheduleTestResult), json=body)


# Invocations and usage


def get_invocation(invocation_id: str) -> Call[InvocationRecord]:
    return Call("GET", f"/v1/invocations/{_segment(invocation_id)}", _model(InvocationRecord))


def list_invocations(
    ns: str,
    name: str,
    outcome: str | None,
    trigger: str | None,
    since: str | datetime | None,
    until: str | datetime | None,
    limit: int | None,
    cursor: str | None,
) -> Call[Page[InvocationRecord]]:
    params = {"outcome": outcome, "trigger": trigger, "since": _time(since), "until": _time(until), "limit": limit, "cursor": cursor}
    return Call("GET", f"{_script(ns, name)}/invocations", _page(InvocationRecord), params=params)


def get_usage(ns: str, since: str | datetime | None, until: str | datetime | None, script: str | None) -> Call[Usage]:
    params = {"since": _time(since), "until": _time(until), "script": script}
    return Call("GET", f"/v1/namespaces/{_segment(ns)}/usage", _model(Usage), params=params)


# KV


def _kv(namespace_id: str) -> str:
    return f"/v1/kv/namespaces/{_segment(namespace_id)}"


def create_kv_namespace(title: str, namespace: str | None) -> Call[KVNamespace]:
    body: dict[str, Any] = {"title": title}
    if namespace is not None:
        body["namespace"] = namespace
    return Call("POST", "/v1/kv/namespaces", _model(KVNamespace), json=body)


def list_kv_namespaces(namespace: str | None, limit: int | None, cursor: str | None) -> Call[Page[KVNamespace]]:
    return Call("GET", "/v1/kv/namespaces", _page(KVNamespace), params={"namespace": namespace, "limit": limit, "cursor": cursor})


def get_kv_namespace(namespace_id: str) -> Call[KVNamespace]:
    return Call("GET", _kv(namespace_id), _model(KVNamespace))


def delete_kv_namespace(namespace_id: str) -> Call[None]:
    return Call("DELETE", _kv(namespace_id), _nothing)


def list_kv_keys(namespace_id: str, prefix: str | None, limit: int | None, cursor: str | None) -> Call[Page[KVKey]]:
    return Call("GET", f"{_kv(namespace_id)}/keys", _page(KVKey), params={"prefix": prefix, "limit": limit, "cursor": cursor})


def get_kv_value(namespace_id: str, key: str) -> Call[bytes]:
    return Call("GET", f"{_kv(namespace_id)}/values/{_segment(key)}", lambda response: response.content)


def put_kv_value(
    namespace_id: str, key: str, value: bytes | str, expiration: int | None, expiration_ttl: int | None, metadata: Any
) -> Call[KVKey]:
    params = {
        "expiration": expiration,
        "expiration_ttl": expiration_ttl,
        "metadata": json.dumps(metadata) if metadata is not None else None,
    }
    content = value.encode() if isinstance(value, str) else value
    headers = {"content-type": "application/octet-stream"}
    return Call("PUT", f"{_kv(namespace_id)}/values/{_segment(key)}", _model(KVKey), params=params, content=content, headers=headers)


def delete_kv_value(namespace_id: str, key: str) -> Call[None]:
    return Call("DELETE", f"{_kv(namespace_id)}/values/{_segment(key)}", _nothing)


def get_kv_metadata(namespace_id: str, key: str) -> Call[KVKey]:
    return Call("GET", f"{_kv(namespace_id)}/metadata/{_segment(key)}", _model(KVKey))


# The seed contract, invocation, system


def seed_upload(code: str | bytes) -> Call[str]:
    content = code.encode() if isinstance(code, str) else code
    return Call("POST", "/upload", lambda response: str(response.json()["id"]), content=content, headers={"content-type": "text/plain"})


def seed_execute(script_id: str) -> Call[ExecuteResult]:
    return Call("POST", "/execute", _model(ExecuteResult), json={"id": script_id})


def invoke(
    ns: str, name: str, path: str, method: str, content: bytes | str | None, headers: Mapping[str, str] | None, params: Mapping[str, Any] | None
) -> Call[httpx.Response]:
    """Runs the script's fetch handler; every answer is handed back as it came (no raise).
    `path` may carry a query, which `params` extend. The client's token is not sent: the
    request's headers reach the tenant's code."""
    route = f"{_script(ns, name)}/invoke"
    script_path, mark, query = path.partition("?")
    script_path = "/" + script_path.lstrip("/") if script_path else ""
    for segment in script_path.split("/"):
        if unquote(segment) in (".", ".."):
            raise ValueError(f"invoke path {path!r} has a {segment!r} segment: it would leave the script's URL")
    extra = urlencode({key: value for key, value in (params or {}).items() if value is not None}, doseq=True)
    query = "&".join(part for part in (query, extra) if part)
    body = content.encode() if isinstance(content, str) else content
    return Call(
        method.upper(), f"{route}{script_path}" + (f"?{query}" if query or mark else ""), lambda response: response,
        content=body, headers=headers, check=False, authenticated=False, route=route,
    )  # fmt: skip


def executors() -> Call[Executors]:
    return Call("GET", "/v1/system/executors", _model(Executors))


def tail_request(ns: str, name: str, outcome: str | Sequence[str] | None, sample: float | None) -> Call[None]:
    """The live tail's request (its answer is a stream, read by the client)."""
    outcomes = outcome if outcome is None or isinstance(outcome, str) else ",".join(outcome)
    params = {"outcome": outcomes, "sample": sample}
    return Call("GET", f"{_script(ns, name)}/tail", _nothing, params=params, headers={"accept": "text/event-stream"})
