"""Where a client connects, with what token, and the settings both clients share."""

from __future__ import annotations

import os
from http.cookiejar import CookieJar, DefaultCookiePolicy

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


def base_headers() -> dict[str, str]:
    """Headers of every request; the token goes per call (`Call.build`), never to scripts."""
    return {"user-agent": USER_AGENT}


def no_cookies() -> CookieJar:
    """A jar that keeps nothing: the API uses no cookies, and one set by a tenant's script
    must not ride along to the API or to another tenant's script."""
    return CookieJar(DefaultCookiePolicy(allowed_domains=[]))


def redact_url(url: str) -> str:
    """The URL without a password in it, to be shown in messages."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(username=None, password=None)) if parsed.userinfo else url


def timeout_of(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    return timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)


def tail_timeout(timeout: httpx.Timeout) -> httpx.Timeout:
    return httpx.Timeout(connect=timeout.connect, read=TAIL_READ_TIMEOUT, write=timeout.write, pool=timeout.pool)
