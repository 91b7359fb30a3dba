"""fetch() for scripts: the server performs subrequests under the egress policy.

Redirects follow the Fetch standard (`follow` up to 20 hops, each hop checked by the policy
when it connects; `manual` returns the 3xx response; `error` fails). Each invocation may
make `subrequests` of them (default 50). A response body that fits in the first read comes
back with the head; a longer one stays open on the server and the script pulls it chunk by
chunk (`fetch.read`), so it streams with natural backpressure; whatever is still open when
the invocation ends is closed. Every failure reaches JavaScript as a TypeError.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore

from isolane.platform.calls import CallContext, server_operation
from isolane.platform.dispatch import outbound_fetch, outbound_worker
from isolane.platform.egress import EgressBackend, EgressDenied, EgressPolicy
from isolane.runtime.host import HostError

MAX_REDIRECTS = 20
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
UPLOAD_QUEUE_CHUNKS = 8  # streamed request body chunks buffered before the script waits
INLINE_BODY_BYTES = 64 * 1024  # a body that fits comes back with the head, in one answer
READ_TIMEOUT_SECONDS = 30.0
# Framing is the server's to write: the body is sent whole, with its own length.
_FRAMING_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "upgrade"})
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding", "content-language", "content-location"})


def _failure(message: str) -> HostError:
    return HostError("TypeError", f"fetch failed: {message}")


class Fetcher:
    def __init__(self, policy: EgressPolicy) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(),
            network_backend=EgressBackend(policy),
            max_connections=256,
            keepalive_expiry=30.0,
        )

    async def close(self) -> None:
        await self._pool.aclose()

    async def fetch(
        self,
        method: str,
        url: str,
        headers: list[list[str]],
        body: bytes | AsyncIterator[bytes] | None,
        redirect: str,
        context: CallContext,
    ) -> dict[str, Any]:
        redirected = False
        for _ in range(MAX_REDIRECTS + 1):
            scheme = urlsplit(url).scheme
            if scheme not in ("http", "https"):
                raise _failure(f"unsupported URL scheme {scheme!r}")
            response = await self._send(method, url, headers, body)
            location = _header(response["headers"], "location")
            if response["status"] not in REDIRECT_STATUSES or location is None or redirect == "manual":
                return {**await self._first_read(response, url, context), "url": url, "redirected": redirected}
            await response["open"].aclose()
            if redirect == "error":
                raise _failure(f"redirected to {location} with redirect: 'error'")
            next_url = urljoin(url, location)
            if response["status"] == 303 and method != "HEAD" or response["status"] in (301, 302) and method == "POST":
                method, body = "GET", None
                headers = [pair for pair in headers if pair[0].lower() not in _BODY_HEADERS]
            elif body is not None and not isinstance(body, bytes):
                raise _failure("cannot follow a redirect that would send a streamed request body again")
            if urlsplit(next_url)[:2] != urlsplit(url)[:2]:  # cross-origin: credentials stay behind
                headers = [pair for pair in headers if pair[0].lower() not in ("authorization", "cookie")]
            url, redirected = next_url, True
        raise _failure(f"more than {MAX_REDIRECTS} redirects")

    async def _send(self, method: str, url: str, headers: list[list[str]], body: bytes | AsyncIterator[bytes] | None) -> dict[str, Any]:
        """Send one request; the response's body is left open for `_first_read`."""
        host = urlsplit(url).netloc
        sent = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in headers
            if name.lower() not in _FRAMING_HEADERS
        ]
        sent.insert(0, (b"host", host.encode("idna")))
        if body is not None and not isinstance(body, bytes):
            sent.append((b"transfer-encoding", b"chunked"))  # a streamed body: length unknown
        elif body or method not in ("GET", "HEAD"):
            sent.append((b"content-length", str(len(body or b"")).encode()))
        try:
            response = await self._pool.handle_async_request(
                httpcore.Request(
                    method.encode("ascii"),
                    url,
                    headers=sent,
                    content=body or b"",
                    extensions={"timeout": {"connect": 10.0, "read": READ_TIMEOUT_SECONDS, "write": READ_TIMEOUT_SECONDS, "pool": 10.0}},
                )
            )
        except Exception as exc:  # noqa: BLE001 - every failure is the script's TypeError
            raise _translate(exc, url) from exc
        reason = response.extensions.get("reason_phrase", b"")
        return {
            "status": response.status,
            "statusText": reason.decode("latin-1") if isinstance(reason, bytes) else str(reason),
            "headers": [[name.decode("latin-1").lower(), value.decode("latin-1")] for name, value in response.headers],
            "open": response,
        }

    async def _first_read(self, response: dict[str, Any], url: str, context: CallContext) -> dict[str, Any]:
        """The head, with the whole body if it is short, else its first chunk and a stream id."""
        upstream = response.pop("open")
        chunks = upstream.aiter_stream()
        received, size = [], 0
        try:
            while size < INLINE_BODY_BYTES:
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    await upstream.aclose()
                    return {**response, "body": base64.b64encode(b"".join(received)).decode("ascii")}
                received.append(chunk)
                size += len(chunk)
                context.count_fetched(len(chunk))
        except Exception as exc:  # noqa: BLE001
            await upstream.aclose()
            raise _translate(exc, url) from exc
        stream_id = context.usage.open_stream(upstream, chunks, url)
        return {**response, "body": base64.b64encode(b"".join(received)).decode("ascii"), "stream": stream_id}


def _translate(exc: Exception, url: str) -> HostError:
    if isinstance(exc, HostError):
        return exc
    if isinstance(exc, EgressDenied):
        return _failure(str(exc))
    if isinstance(exc, httpcore.TimeoutException):
        return _failure(f"{url} timed out")
    return _failure(f"{url}: {str(exc) or type(exc).__name__}")


def _header(headers: list[list[str]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value
    return None


@server_operation("fetch")
async def fetch_operation(context: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    """One subrequest of a script: {method, url, headers, body (base64|null), redirect}."""
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
    fetcher = context.services.fetcher

    async def send(content: bytes | AsyncIterator[bytes] | None) -> dict[str, Any]:
        # The namespace's outbound worker, if it has one, answers first (platform/dispatch.py).
        outbound = await outbound_worker(context)
        if outbound is not None:
            if content is not None and not isinstance(content, bytes):
                content = b"".join([piece async for piece in content])  # an outbound worker gets it whole
            encoded = base64.b64encode(content).decode("ascii") if content else None
            return await outbound_fetch(context, outbound, {"method": method, "url": url, "headers": headers, "body": encoded})
        return await fetcher.fetch(method, url, headers, content, redirect, context)

    if not args.get("streaming"):
        return await send(content)
    # A ReadableStream body: the request starts now and reads its body from what the script
    # sends with fetch.write; fetch.response then waits for the response.
    chunks: asyncio.Queue[bytes | None] = asyncio.Queue(UPLOAD_QUEUE_CHUNKS)

    async def body() -> AsyncIterator[bytes]:
        while (chunk := await chunks.get()) is not None:
            yield chunk

    task = asyncio.ensure_future(send(body()))
    return {"upload": context.usage.open_upload(chunks, task)}


@server_operation("fetch.write", subrequest=False)
async def write_operation(context: CallContext, args: dict[str, Any]) -> None:
    """A piece of a streamed request body ({upload, chunk}), or its end ({upload, end: true})."""
    upload = context.usage.uploads.get(args.get("upload"))
    if upload is None:
        raise HostError("TypeError", "this request body is no longer being sent")
    chunks, task = upload
    try:
        piece = None if args.get("end") else base64.b64decode(args.get("chunk") or "", validate=True)
    except ValueError as exc:
        raise HostError("TypeError", "fetch: a request body chunk is not base64") from exc
    put = asyncio.ensure_future(chunks.put(piece))
    await asyncio.wait((put, task), return_when=asyncio.FIRST_COMPLETED)  # the request may fail early
    if not put.done():
        put.cancel()


@server_operation("fetch.response", subrequest=False)
async def response_operation(context: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    """The response to a request whose body was streamed."""
    upload = context.usage.uploads.pop(args.get("upload"), None)
    if upload is None:
        raise HostError("TypeError", "no such request")
    return await upload[1]


@server_operation("fetch.read", subrequest=False)
async def read_operation(context: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    """The next chunk of a streamed fetch() response body: {chunk} or {done: true}."""
    stream = context.usage.streams.get(args.get("stream"))
    if stream is None:
        raise HostError("TypeError", "this response body is no longer available")
    upstream, chunks, url = stream
    try:
        chunk = await chunks.__anext__()
    except StopAsyncIteration:
        await context.usage.close_stream(args.get("stream"))
        return {"done": True}
    except Exception as exc:  # noqa: BLE001
        await context.usage.close_stream(args.get("stream"))
        raise _translate(exc, url) from exc
    try:
        context.count_fetched(len(chunk))
    except HostError:
        await context.usage.close_stream(args.get("stream"))
        raise
    return {"chunk": base64.b64encode(chunk).decode("ascii")}


@server_operation("fetch.cancel", subrequest=False)
async def cancel_operation(context: CallContext, args: dict[str, Any]) -> None:
    """The script no longer wants the rest of a response body."""
    await context.usage.close_stream(args.get("stream"))
