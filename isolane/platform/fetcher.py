"""fetch() for scripts: the server performs subrequests under the egress policy.

Redirects follow the Fetch standard (`follow` up to 20 hops, each hop checked by the policy
when it connects; `manual` returns the 3xx response; `error` fails). Each invocation may
make `subrequests` of them (default 50); a response may be at most `max_response_bytes`.
Every failure reaches JavaScript as a TypeError the script can catch.
"""

from __future__ import annotations

import base64
import ssl
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore

from isolane.platform.calls import CallContext, server_operation
from isolane.platform.egress import EgressBackend, EgressDenied, EgressPolicy
from isolane.runtime.host import HostError

MAX_REDIRECTS = 20
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 30.0
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding", "content-language", "content-location"})


def _failure(message: str) -> HostError:
    return HostError("TypeError", f"fetch failed: {message}")


class Fetcher:
    def __init__(self, policy: EgressPolicy, *, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self._max_response_bytes = max_response_bytes
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(),
            network_backend=EgressBackend(policy),
            max_connections=256,
            keepalive_expiry=30.0,
        )

    async def close(self) -> None:
        await self._pool.aclose()

    async def fetch(self, method: str, url: str, headers: list[list[str]], body: bytes | None, redirect: str) -> dict[str, Any]:
        redirected = False
        for _ in range(MAX_REDIRECTS + 1):
            scheme = urlsplit(url).scheme
            if scheme not in ("http", "https"):
                raise _failure(f"unsupported URL scheme {scheme!r}")
            response = await self._send(method, url, headers, body)
            location = _header(response["headers"], "location")
            if response["status"] not in REDIRECT_STATUSES or location is None or redirect == "manual":
                return {**response, "url": url, "redirected": redirected}
            if redirect == "error":
                raise _failure(f"redirected to {location} with redirect: 'error'")
            next_url = urljoin(url, location)
            if response["status"] == 303 and method != "HEAD" or response["status"] in (301, 302) and method == "POST":
                method, body = "GET", None
                headers = [pair for pair in headers if pair[0].lower() not in _BODY_HEADERS]
            if urlsplit(next_url)[:2] != urlsplit(url)[:2]:  # cross-origin: credentials stay behind
                headers = [pair for pair in headers if pair[0].lower() not in ("authorization", "cookie")]
            url, redirected = next_url, True
        raise _failure(f"more than {MAX_REDIRECTS} redirects")

    async def _send(self, method: str, url: str, headers: list[list[str]], body: bytes | None) -> dict[str, Any]:
        host = urlsplit(url).netloc
        sent = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers if name.lower() != "host"]
        sent.insert(0, (b"host", host.encode("idna")))
        try:
            async with self._pool.stream(
                method.encode("ascii"),
                url,
                headers=sent,
                content=body or b"",
                extensions={"timeout": {"connect": 10.0, "read": DEFAULT_TIMEOUT_SECONDS, "write": DEFAULT_TIMEOUT_SECONDS, "pool": 10.0}},
            ) as response:
                chunks, size = [], 0
                async for chunk in response.aiter_stream():
                    size += len(chunk)
                    if size > self._max_response_bytes:
                        raise _failure(f"the response is larger than {self._max_response_bytes} bytes")
                    chunks.append(chunk)
        except EgressDenied as exc:
            raise _failure(str(exc)) from exc
        except httpcore.TimeoutException as exc:
            raise _failure(f"{url} timed out") from exc
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol, UnicodeError, ValueError) as exc:
            raise _failure(f"{url}: {exc or type(exc).__name__}") from exc
        reason = response.extensions.get("reason_phrase", b"")
        return {
            "status": response.status,
            "statusText": reason.decode("latin-1") if isinstance(reason, bytes) else str(reason),
            "headers": [[name.decode("latin-1").lower(), value.decode("latin-1")] for name, value in response.headers],
            "body": base64.b64encode(b"".join(chunks)).decode("ascii"),
        }


def _header(headers: list[list[str]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value
    return None


@server_operation("fetch")
async def fetch_operation(context: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    """One subrequest of a script: {method, url, headers, body (base64|null), redirect}."""
    if context.usage.subrequests >= context.max_subrequests:
        raise _failure(f"too many subrequests (the limit is {context.max_subrequests} per invocation)")
    context.usage.subrequests += 1
    redirect = args.get("redirect", "follow")
    if redirect not in ("follow", "manual", "error"):
        raise HostError("TypeError", f"invalid redirect mode {str(redirect)[:20]!r}")
    body = args.get("body")
    try:
        content = base64.b64decode(body, validate=True) if body is not None else None
        headers = [[str(name), str(value)] for name, value in args.get("headers", [])]
        method, url = str(args["method"]).upper(), str(args["url"])
    except (ValueError, TypeError, KeyError) as exc:
        raise HostError("TypeError", f"fetch: bad arguments ({exc})") from exc
    return await context.services.fetcher.fetch(method, url, headers, content, redirect)
