"""HTTP/1.1 over a plain socket, for tests that must send what no HTTP client would."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

from isolane.testing import Server


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def connect(server: Server, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def head(path: str = "/healthz", *fields: str, method: str = "GET") -> bytes:
    """A request head: request line, Host, the given `Name: value` fields, blank line."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *fields, "", ""]
    return "\r\n".join(lines).encode("latin-1")


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (a reset counts as the end)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def read_response(sock: socket.socket) -> RawResponse:
    """One response with a content-length, read off a connection that may stay open."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed before a response head: {data!r}"
        data += chunk
    raw_head, _, body = data.partition(b"\r\n\r\n")
    response = parse_head(raw_head)
    length = int(response.headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed within a response body"
        body += chunk
    response.body = body[:length]
    return response


def parse(raw: bytes) -> list[RawResponse]:
    """Responses (with content-length) one after another, as read until the close."""
    responses = []
    while raw:
        raw_head, _, rest = raw.partition(b"\r\n\r\n")
        response = parse_head(raw_head)
        length = int(response.headers["content-length"])
        response.body, raw = rest[:length], rest[length:]
        responses.append(response)
    return responses


def parse_head(raw_head: bytes) -> RawResponse:
    status_line, *lines = raw_head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split(" ")[1]), headers, b"")
