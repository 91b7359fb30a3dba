"""The limits on request heads, as a client meets them (server/http_limits.py); the attacks
they stop, with timeouts, are in tests/abuse/test_http_edge.py."""

from __future__ import annotations

import resource

import pytest

from isolane.config import DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_HEADER_FIELDS
from tests.server.raw_http import connect, head, parse, read_response, read_until_closed


def padded_head(total: int) -> bytes:
    """A request head of exactly `total` bytes (the final blank line included)."""
    base = len(head("/healthz", "X-Pad: "))
    request = head("/healthz", "X-Pad: " + "p" * (total - base))
    assert len(request) == total
    return request


def test_a_head_of_exactly_the_cap_is_served_one_byte_more_is_431(server) -> None:
    with connect(server) as sock:
        sock.sendall(padded_head(DEFAULT_MAX_HEADER_BYTES))
        assert read_response(sock).status == 200
    with connect(server) as sock:
        sock.sendall(padded_head(DEFAULT_MAX_HEADER_BYTES + 1))
        raw = read_until_closed(sock)  # the server closes after answering
    [response] = parse(raw)
    assert response.status == 431
    assert response.headers["content-type"] == "application/json" and response.headers["connection"] == "close"
    error = response.json()["error"]
    assert error["code"] == "request_header_too_large" and str(DEFAULT_MAX_HEADER_BYTES) in error["message"]


def test_a_long_url_counts_as_head(server) -> None:
    with connect(server) as sock:
        sock.sendall(head("/healthz?" + "q" * DEFAULT_MAX_HEADER_BYTES))
        [response] = parse(read_until_closed(sock))
    assert response.status == 431


def test_header_fields_past_the_cap_are_431(server) -> None:
    # Host is one of the fields.
    allowed = [f"X-Field-{index}: v" for index in range(DEFAULT_MAX_HEADER_FIELDS - 1)]
    with connect(server) as sock:
        sock.sendall(head("/healthz", *allowed))
        assert read_response(sock).status == 200
        sock.sendall(head("/healthz", *allowed, "X-One-Too-Many: v"))
        [response] = parse(read_until_closed(sock))
    assert response.status == 431
    assert response.json()["error"]["code"] == "request_header_too_large"
    assert f"more than {DEFAULT_MAX_HEADER_FIELDS} header fields" in response.json()["error"]["message"]


def test_the_head_count_starts_over_for_each_request(server) -> None:
    """Keep-alive requests each get the whole allowance, however many came before."""
    with connect(server) as sock:
        for _ in range(4):
            sock.sendall(padded_head(DEFAULT_MAX_HEADER_BYTES - 100))
            assert read_response(sock).status == 200


def test_pipelined_requests_are_all_answered(server) -> None:
    """Heads that arrive in one read with the end of earlier requests, bodies included."""
    body = b"x" * 50_000
    post = head("/upload", "Authorization: Bearer wrong", "Content-Type: text/plain", f"Content-Length: {len(body)}", method="POST")
    with connect(server) as sock:
        sock.sendall(head() + post + body + head() + head("/healthz", "Connection: close"))
        responses = parse(read_until_closed(sock))
    assert [response.status for response in responses] == [200, 401, 200, 200]


def test_a_request_the_parser_refuses_gets_a_json_400(server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n")
        [response] = parse(read_until_closed(sock))
    assert response.status == 400 and response.json()["error"]["code"] == "bad_request"


@pytest.fixture()
def low_soft_open_files_limit():
    """Servers started in the test inherit a soft limit of 1024 under a higher hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 1024:
        pytest.skip("the hard open files limit is not above 1024 here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        yield hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_server_raises_its_soft_open_files_limit_to_the_hard_one(make_server, low_soft_open_files_limit) -> None:
    hard = low_soft_open_files_limit
    started = make_server()
    assert started.process is not None
    expected = hard if hard != resource.RLIM_INFINITY else 1 << 20
    assert resource.prlimit(started.process.pid, resource.RLIMIT_NOFILE)[0] == expected
