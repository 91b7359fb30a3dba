"""A dashboard visitor over plain HTTP (httpx), keeping cookies by hand: the session cookie
is `Secure`, which httpx's cookie jar rightly will not send over http://."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
from playwright.sync_api import Browser, sync_playwright

from isolane.testing import Server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def set_cookies(response: httpx.Response) -> dict[str, SimpleCookie]:
    """Each Set-Cookie of the response, parsed, by cookie name."""
    found: dict[str, SimpleCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        for name in cookie:
            found[name] = cookie
    return found


class Visitor:
    def __init__(self, server: Server, local_address: str | None = None) -> None:
        """`local_address`: the loopback address to connect from (127.0.0.1 by default)."""
        self.server = server
        self.cookies: dict[str, str] = {}
        transport = httpx.HTTPTransport(local_address=local_address) if local_address else None
        self.client = httpx.Client(base_url=server.url, timeout=30, follow_redirects=False, transport=transport)

    def close(self) -> None:
        self.client.close()

    def _remember(self, response: httpx.Response) -> None:
        for name, cookie in set_cookies(response).items():
            morsel = cookie[name]
            if morsel["max-age"] == "0" or not morsel.value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"origin": self.server.url}
        if self.cookies:
            headers["cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        return {**headers, **(extra or {})}

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        response = self.client.get(path, headers=self._headers(kwargs.pop("headers", None)), **kwargs)  # type: ignore[arg-type]
        self._remember(response)
        return response

    def post(self, path: str, data: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
        response = self.client.post(path, data=data, headers=self._headers(headers))
        self._remember(response)
        return response

    def csrf(self, path: str = "/dashboard") -> str:
        match = CSRF.search(self.get(path).text)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def login(self, token: str) -> httpx.Response:
        nonce = self.csrf("/dashboard/login")
        return self.post("/dashboard/login", {"csrf": nonce, "token": token, "next": "/dashboard"})


def logged_in(server: Server, token: str) -> Visitor:
    visitor = Visitor(server)
    response = visitor.login(token)
    assert response.status_code == 303, response.text
    return visitor


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def new_token(admin: httpx.Client, scope: str, read_only: bool = False) -> tuple[str, str]:
    response = admin.post("/v1/tokens", json={"name": f"dash {scope}", "scope": scope, "read_only": read_only})
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["token"]


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium under Playwright: a missing browser fails the test, never skips it."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; .ci/run does)"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
