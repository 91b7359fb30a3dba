"""Anonymous clients at the HTTP edge: huge request heads, connections that send nothing or
trickle, bodies that stall, and enough idle connections to use up the file descriptors.

Each attack must end early and cheaply (server/http_limits.py), and leave other clients
served.
"""

from __future__ import annotations

import concurrent.futures
import os
import resource
import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from isolane.testing import Server
from tests.abuse.conftest import Victim
from tests.conftest import ADMIN_TOKEN, deploy
from tests.server.raw_http import connect, head, parse, read_response, read_until_closed

MiB = 1024 * 1024
HEADER_TIMEOUT = 1.0
MAX_HEADER_BYTES = 4096
BODY_TIMEOUT = 1.0
KEEP_ALIVE_TIMEOUT = 3


def server_read_bytes(server: Server) -> int:
    """What the server process has read so far (sockets, pipes, files: `rchar`)."""
    assert server.process is not None
    with open(f"/proc/{server.process.pid}/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("rchar:"))


def flood_one_header(server: Server, total: int = 120 * MiB) -> tuple[int, float]:
    """Send one header of `total` bytes in 64 KiB writes; (bytes the kernel took, seconds)
    until the server closed the connection (or 10 s of it reading nothing)."""
    started = time.monotonic()
    sent = 0
    chunk = b"a" * 65536
    with connect(server, timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Flood: ")
        try:
            while sent < total:
                sent += sock.send(chunk)
        except OSError:  # reset or broken pipe once the server closed; a timeout if it stopped reading
            pass
    return sent, time.monotonic() - started


def test_oversized_head_gets_431_with_a_json_error(abuse_server: Server) -> None:
    with connect(abuse_server) as sock:
        sock.sendall(head("/v1/namespaces", "X-Big: " + "b" * 40_000))
        [response] = parse(read_until_closed(sock))
    assert response.status == 431
    assert response.json() == {
        "error": {"code": "request_header_too_large", "message": "the request head is over the limit of 32768 bytes"}
    }


def test_120_mb_headers_are_cut_off_early_and_delay_no_one(abuse_server: Server, victim: Victim) -> None:
    """Two clients each stream a 120 MB header (the review's attack froze every request for
    38 s): the server reads little more than the cap of each and closes; the other tenant
    does not notice."""
    read_before = server_read_bytes(abuse_server)
    with victim.during() as measured, concurrent.futures.ThreadPoolExecutor(2) as pool:
        floods = list(pool.map(lambda _: flood_one_header(abuse_server), range(2)))
        time.sleep(0.5)  # the victim measured after the floods too
    read = server_read_bytes(abuse_server) - read_before
    for sent, seconds in floods:
        # The kernel's socket buffers take some MB before the close is noticed; 120 MB is far.
        assert sent < 24 * MiB and seconds < 8, f"the server took {sent / MiB:.1f} MiB in {seconds:.1f} s"
    # Both floods and all the victim's requests (which read a few KiB each).
    assert read < 4 * MiB, f"the server read {read / MiB:.1f} MiB"
    measured.assert_unharmed()


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Short timeouts, so that the tests wait for seconds rather than tens of them."""
    instance = Server(
        tmp_path_factory.mktemp("edge") / "data",
        "--header-timeout", str(HEADER_TIMEOUT),
        "--body-timeout", str(BODY_TIMEOUT),
        "--keep-alive-timeout", str(KEEP_ALIVE_TIMEOUT),
        "--max-header-bytes", str(MAX_HEADER_BYTES),
        admin_token=ADMIN_TOKEN,
    ).start()  # fmt: skip
    with instance.admin() as admin:
        deploy(
            admin,
            "reader",
            "export default { async fetch(request) { return new Response(`read ${(await request.text()).length}`); } };",
        )
    yield instance
    instance.stop()


def test_the_head_cap_is_the_servers_option(strict_server: Server) -> None:
    with connect(strict_server) as sock:
        sock.sendall(head("/healthz", "X-Pad: " + "p" * MAX_HEADER_BYTES))
        [response] = parse(read_until_closed(sock))
    assert response.status == 431 and f"limit of {MAX_HEADER_BYTES} bytes" in response.json()["error"]["message"]


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(strict_server: Server) -> None:
    with connect(strict_server) as sock:
        started = time.monotonic()
        assert read_until_closed(sock) == b""  # closed without a word: nothing was asked
        waited = time.monotonic() - started
    assert HEADER_TIMEOUT * 0.9 <= waited < HEADER_TIMEOUT + 4


def test_a_head_trickled_byte_by_byte_is_closed_with_408(strict_server: Server) -> None:
    request = head("/healthz", "X-Slow: " + "s" * 1000)
    with connect(strict_server) as sock:
        started = time.monotonic()
        trickled = 0
        while not select.select([sock], [], [], 0.05)[0]:  # until the server answers
            sock.send(request[trickled : trickled + 1])
            trickled += 1
            assert time.monotonic() - started < HEADER_TIMEOUT + 4, "the slow head was never cut off"
        waited = time.monotonic() - started
        [response] = parse(read_until_closed(sock))
    assert trickled < len(request)
    assert waited >= HEADER_TIMEOUT * 0.9
    assert response.status == 408 and response.json()["error"]["code"] == "request_header_timeout"


def test_a_stalled_request_body_ends_the_request(strict_server: Server) -> None:
    path = "/v1/namespaces/default/scripts/reader/invoke"
    with connect(strict_server) as sock:
        sock.sendall(head(path, "Content-Length: 1000", method="POST") + b"only ten b")
        started = time.monotonic()
        [response] = parse(read_until_closed(sock))
        waited = time.monotonic() - started
    assert response.status == 408 and response.json()["error"]["code"] == "request_body_timeout"
    assert BODY_TIMEOUT * 0.9 <= waited < BODY_TIMEOUT + 4
    with strict_server.client() as client:  # the server goes on
        assert client.post(path, content=b"x" * 10).text == "read 10"


def test_a_slow_body_within_the_body_timeout_streams_on(strict_server: Server) -> None:
    """The body timeout bounds each wait for bytes, not the whole body."""

    def slow_body() -> Iterator[bytes]:
        for _ in range(4):
            yield b"y" * 1000
            time.sleep(BODY_TIMEOUT * 0.6)

    with strict_server.client() as client:
        response = client.post("/v1/namespaces/default/scripts/reader/invoke", content=slow_body())
    assert response.status_code == 200 and response.text == "read 4000"


def test_a_body_trickled_after_an_early_response_is_cut_off(strict_server: Server) -> None:
    """A response sent before the body was read (401 here) leaves the rest of the body, and
    the next head, the head timeout: trickling the body does not hold the connection."""
    request = head("/upload", "Content-Type: text/plain", "Content-Length: 1000000", method="POST")
    with connect(strict_server) as sock:
        sock.sendall(request + b"z" * 1000)
        assert read_response(sock).status == 401
        started = time.monotonic()
        try:
            while not select.select([sock], [], [], 0.1)[0]:  # until the server closes
                sock.send(b"z")
                assert time.monotonic() - started < HEADER_TIMEOUT + 4, "the trickled body held the connection"
            assert read_until_closed(sock) == b""
        except (BrokenPipeError, ConnectionResetError):
            pass
    assert time.monotonic() - started >= HEADER_TIMEOUT * 0.9


def test_keep_alive_connections_idle_between_requests_until_the_keep_alive_timeout(strict_server: Server) -> None:
    """The head timeout starts at a request's first byte on a kept-alive connection: idle
    time between requests is the keep-alive timeout's (longer here)."""
    with connect(strict_server) as sock:
        sock.sendall(head())
        assert read_response(sock).status == 200
        time.sleep(HEADER_TIMEOUT + 0.5)
        sock.sendall(head())
        assert read_response(sock).status == 200
        started = time.monotonic()
        assert read_until_closed(sock) == b""
        waited = time.monotonic() - started
    assert KEEP_ALIVE_TIMEOUT * 0.9 <= waited < KEEP_ALIVE_TIMEOUT + 4


def test_idle_connections_past_the_open_files_limit_lock_no_one_out(fresh_server) -> None:
    """1,100 connections that send nothing, against a server limited to 1,024 descriptors
    (soft and hard, so that raising the soft limit cannot help): a legitimate client is
    served again once the header timeout has closed them."""
    header_timeout = 2.0
    server = fresh_server("--header-timeout", str(header_timeout))
    assert server.process is not None
    resource.prlimit(server.process.pid, resource.RLIMIT_NOFILE, (1024, 1024))
    idle = []
    try:
        for _ in range(1100):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", server.port))
            idle.append(sock)
        time.sleep(0.3)
        held = len(os.listdir(f"/proc/{server.process.pid}/fd"))
        assert held >= 1000, f"the attack did not use up the server's descriptors ({held})"
        started = time.monotonic()
        while True:
            try:
                response = httpx.get(f"{server.url}/healthz", timeout=header_timeout + 5)
                break
            except httpx.TransportError:  # accepted and dropped, or refused, while none are free
                assert time.monotonic() - started < header_timeout + 6, "the client stayed locked out"
                time.sleep(0.1)
        assert response.status_code == 200
    finally:
        for sock in idle:
            sock.close()
