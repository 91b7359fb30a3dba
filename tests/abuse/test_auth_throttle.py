"""Guessing tokens against a real server: through the API's bearer check and the
dashboard's login, from one address, while another tenant's requests are measured.

Each test guesses from an address of its own on the loopback network (127.0.0.x: Linux
routes the whole block to the loopback interface), so that the addresses' buckets never
meet; 127.0.0.1 is the address uvicorn trusts for `X-Forwarded-For`, never used here to
guess.
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from isolane.server.throttle import BURST, PER_SECOND
from isolane.testing import Server
from tests.abuse.conftest import Tenant, Victim
from tests.conftest import ADMIN_TOKEN
from tests.dashboard.conftest import Visitor

# Guesses the bucket refills while a burst is sent (generous: the machine is shared).
SLACK = 10


def client_from(server: Server, address: str, token: str | None = None) -> httpx.Client:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30, transport=httpx.HTTPTransport(local_address=address))


def guess(client: httpx.Client, secret: str | None = None, **headers: str) -> httpx.Response:
    secret = secret or "isl_" + secrets.token_urlsafe(32)
    return client.get("/v1/namespaces", headers={"authorization": f"Bearer {secret}", **headers})


def guess_until_refused(client: httpx.Client, **headers: str) -> tuple[int, httpx.Response]:
    """Distinct wrong tokens until a 429: how many were checked (401), and the 429."""
    for checked in range(BURST + SLACK + 1):
        response = guess(client, **headers)
        if response.status_code == 429:
            return checked, response
        assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token", response.text
    raise AssertionError(f"{BURST + SLACK + 1} wrong tokens in a row and never a 429")


def assert_too_many_attempts(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "too_many_attempts" and error["message"]
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 2 / PER_SECOND
    return retry_after


def test_a_burst_of_wrong_tokens_ends_in_429_without_locking_the_admin_out_for_long(abuse_server: Server, victim: Victim) -> None:
    with client_from(abuse_server, "127.0.0.2") as attacker, victim.during() as measured:
        checked, refused = guess_until_refused(attacker)
        assert BURST <= checked <= BURST + SLACK
        retry_after = assert_too_many_attempts(refused)
        # Throttled before the token is checked: the right one learns nothing either.
        assert_too_many_attempts(attacker.get("/v1/namespaces", headers={"authorization": f"Bearer {ADMIN_TOKEN}"}))
        # The admin elsewhere is not slowed at all.
        with client_from(abuse_server, "127.0.0.3", ADMIN_TOKEN) as admin:
            started = time.monotonic()
            assert admin.get("/v1/namespaces").status_code == 200
            assert time.monotonic() - started < 2.0
        # Once the guessing stops, the admin at the attacker's address is in after Retry-After.
        time.sleep(retry_after)
        assert attacker.get("/v1/namespaces", headers={"authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
    measured.assert_unharmed()


def test_a_forwarded_for_header_from_an_untrusted_client_changes_nothing(abuse_server: Server) -> None:
    """Only uvicorn's trusted proxies (127.0.0.1) may name another client address."""
    with client_from(abuse_server, "127.0.0.4") as attacker:
        guess_until_refused(attacker)
        for n in range(5):
            assert guess(attacker, **{"x-forwarded-for": f"198.51.100.{n}"}).status_code == 429


def test_parallel_guesses_are_bounded_by_the_burst(abuse_server: Server) -> None:
    def one(_: int) -> int:
        with client_from(abuse_server, "127.0.0.5") as client:
            return guess(client).status_code

    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(one, range(100)))
    assert set(statuses) <= {401, 429}
    assert statuses.count(401) <= BURST + SLACK, statuses


def test_a_client_retrying_a_revoked_token_is_not_guessing(abuse_server: Server, tenant: Tenant) -> None:
    with abuse_server.admin() as admin:
        created = admin.post("/v1/tokens", json={"name": "soon revoked", "scope": f"namespace:{tenant.namespace}"}).json()
        assert admin.delete(f"/v1/tokens/{created['id']}").status_code in (200, 204)
    with client_from(abuse_server, "127.0.0.6", created["token"]) as client:
        statuses = [client.get(f"/v1/namespaces/{tenant.namespace}/scripts").status_code for _ in range(BURST * 3)]
    assert set(statuses) == {401}


def test_valid_tokens_are_never_throttled(abuse_server: Server, tenant: Tenant) -> None:
    with tenant.client() as client:
        statuses = [client.get(f"/v1/namespaces/{tenant.namespace}/scripts").status_code for _ in range(BURST * 5)]
    assert set(statuses) == {200}


def test_dashboard_logins_are_throttled_with_the_api_guesses(abuse_server: Server, victim: Victim) -> None:
    attacker = Visitor(abuse_server, local_address="127.0.0.7")
    try:
        with victim.during() as measured:
            # The API's guesses and the login's share the address's budget.
            with client_from(abuse_server, "127.0.0.7") as api:
                for _ in range(BURST // 2):
                    assert guess(api).status_code == 401
            for checked in range(BURST + SLACK + 1):
                response = attacker.login("isl_" + secrets.token_urlsafe(32))
                if response.status_code == 429:
                    break
                assert response.status_code == 401, response.text
            else:
                raise AssertionError("the login never refused")
            assert BURST // 2 <= checked <= BURST // 2 + SLACK
            assert 1 <= int(response.headers["retry-after"]) <= 2 / PER_SECOND
            assert "too_many_attempts" in response.text  # a page, like every dashboard error
            refused = attacker.login(ADMIN_TOKEN)
            assert refused.status_code == 429 and "__Host-isolane_session" not in attacker.cookies
            # The admin elsewhere logs in at once.
            elsewhere = Visitor(abuse_server, local_address="127.0.0.8")
            assert elsewhere.login(ADMIN_TOKEN).status_code == 303
            elsewhere.close()
            time.sleep(int(refused.headers["retry-after"]))
            assert attacker.login(ADMIN_TOKEN).status_code == 303
            assert "__Host-isolane_session" in attacker.cookies
        measured.assert_unharmed()
    finally:
        attacker.close()
