"""Session cookies: signed for one token's current secret, expiring, tamper-evident."""

from __future__ import annotations

import pytest

from isolane.dashboard.session import SESSION_SECONDS, SessionSigner

KEY = bytes(range(32))


def test_a_session_verifies_for_its_token_secret_until_it_expires() -> None:
    signer = SessionSigner(KEY)
    session = signer.issue("abc123", "hash-1", now=1_000_000)
    parsed = SessionSigner.parse(session.cookie_value())
    assert parsed == session
    assert signer.verify(parsed, "hash-1", now=1_000_000 + SESSION_SECONDS - 1)
    assert not signer.verify(parsed, "hash-1", now=1_000_000 + SESSION_SECONDS)
    assert not signer.verify(parsed, "hash-2", now=1_000_000)  # the token's secret was replaced
    assert not SessionSigner(bytes(32)).verify(parsed, "hash-1", now=1_000_000)  # another server key


@pytest.mark.parametrize(
    "value",
    ["", "v1.a.1.b", "v2.abc.1.0123456789abcdef0123456789abcdef.mac", "v1.a b.1.0123456789abcdef0123456789abcdef.mac", "v1." + "x" * 300],
)
def test_malformed_cookies_are_no_session(value: str) -> None:
    assert SessionSigner.parse(value) is None


def test_csrf_tokens_belong_to_one_session() -> None:
    signer = SessionSigner(KEY)
    first, second = signer.issue("abc", "h"), signer.issue("abc", "h")
    assert signer.check_csrf(first, signer.csrf_token(first))
    assert not signer.check_csrf(first, signer.csrf_token(second))
    assert not signer.check_csrf(first, None)
    assert not signer.check_csrf(first, "")


def test_non_ascii_macs_and_csrf_tokens_are_wrong_not_errors() -> None:
    signer = SessionSigner(KEY)
    session = signer.issue("abc", "h", now=1_000_000)
    forged = SessionSigner.parse(f"{session.signed_part()}.éé")
    assert forged is not None and not signer.verify(forged, "h", now=1_000_000)
    assert not signer.check_csrf(session, "éx")
    assert not signer.check_csrf(session, "\ud800")  # a lone surrogate too
