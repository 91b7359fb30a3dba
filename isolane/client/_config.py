"""Where a client connects, with what token, and the settings both clients share."""

from __future__ import annotations

import os

import httpx

from isolane import __version__

DEFAULT_URL = "http://127.0.0.1:8787"
DEFAULT_TIMEOUT = 30.0
# The tail's server sends a keep-alive every 15 s: a read waiting longer means a dead link.
TAIL_READ_TIMEOUT = 60.0
USER_AGENT = f"isolane-python/{__version__}"


def resolve_url(url: str | None) -> str:
    return (url or os.environ.get("ISOLANE_URL") or DEFAULT_URL).rstrip("/")


def resolve_token(token: str | None) -> str | None:
    return token or os.environ.get("ISOLANE_TOKEN") or None


def base_headers(token: str | None) -> dict[str, str]:
    headers = {"user-agent": USER_AGENT}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return headers


def timeout_of(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    return timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)


def tail_timeout(timeout: httpx.Timeout) -> httpx.Timeout:
    return httpx.Timeout(connect=timeout.connect, read=TAIL_READ_TIMEOUT, write=timeout.write, pool=timeout.pool)
