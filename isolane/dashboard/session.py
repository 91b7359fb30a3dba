"""Dashboard sessions: what the cookie holds, signed so the server can trust it.

The cookie never holds the API token. It holds `v1.{token id}.{expiry}.{nonce}.{mac}`,
where the MAC (HMAC-SHA256 under a key derived from the secrets key, so every server that
shares the store's secrets shares it) covers those fields and the token's current secret
hash. Reading the cookie therefore gives no API access; deleting the token or replacing
its secret (ISOLANE_ADMIN_TOKEN changed) ends every session made with it, because the
server looks the token up by id on each request. The CSRF token of a session is an HMAC
of its nonce: it can be checked without server-side state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from isolane.server.tenant_headers import PLATFORM_COOKIE_PREFIX

SESSION_KEY_PURPOSE = "dashboard session"
# `__Host-` cookies: only this host sets them (never a tenant's host of the same site, which
# could otherwise plant its own session here), and only on Path=/. The invocation gateway
# never forwards cookies of this prefix to a script, nor lets a script set one.
COOKIE_NAME = PLATFORM_COOKIE_PREFIX + "session"
LOGIN_COOKIE_NAME = PLATFORM_COOKIE_PREFIX + "login"  # the login form's double-submit CSRF value
COOKIE_PATH = "/"  # what `__Host-` requires
SESSION_SECONDS = 8 * 3600
VERSION = "v1"
TOKEN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
NONCE = re.compile(r"[0-9a-f]{32}")
MAX_COOKIE_CHARS = 256


@dataclass(frozen=True, slots=True)
class Session:
    token_id: str
    expires_at: int  # epoch seconds
    nonce: str
    mac: str

    def signed_part(self) -> str:
        return f"{VERSION}.{self.token_id}.{self.expires_at}.{self.nonce}"

    def cookie_value(self) -> str:
        return f"{self.signed_part()}.{self.mac}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SessionSigner:
    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the session key must be at least 32 bytes")
        self._key = key

    def _mac(self, signed_part: str, secret_hash: str) -> str:
        message = f"{signed_part}|{secret_hash}".encode("ascii")
        return _b64(hmac.new(self._key, message, hashlib.sha256).digest())

    def issue(self, token_id: str, secret_hash: str, *, now: float | None = None) -> Session:
        if not TOKEN_ID.fullmatch(token_id):
            raise ValueError("unexpected token id")
        expires_at = int(now if now is not None else time.time()) + SESSION_SECONDS
        unsigned = Session(token_id, expires_at, secrets.token_hex(16), "")
        return Session(token_id, expires_at, unsigned.nonce, self._mac(unsigned.signed_part(), secret_hash))

    @staticmethod
    def parse(value: str | None) -> Session | None:
        """The cookie's fields when well-formed (not yet verified), else None."""
        if not value or len(value) > MAX_COOKIE_CHARS:
            return None
        parts = value.split(".")
        if len(parts) != 5 or parts[0] != VERSION:
            return None
        _, token_id, expires_at, nonce, mac = parts
        if not (TOKEN_ID.fullmatch(token_id) and expires_at.isdigit() and NONCE.fullmatch(nonce) and mac):
            return None
        return Session(token_id, int(expires_at), nonce, mac)

    def verify(self, session: Session, secret_hash: str, *, now: float | None = None) -> bool:
        """Whether the session was signed by us for this token's current secret and is unexpired."""
        if session.expires_at <= int(now if now is not None else time.time()):
            return False
        return same_secret(session.mac, self._mac(session.signed_part(), secret_hash))

    def csrf_token(self, session: Session) -> str:
        return _b64(hmac.new(self._key, f"csrf|{session.nonce}".encode("ascii"), hashlib.sha256).digest())

    def check_csrf(self, session: Session, presented: str | None) -> bool:
        return bool(presented) and same_secret(str(presented), self.csrf_token(session))


def same_secret(presented: str, expected: str) -> bool:
    """A constant-time comparison of what a visitor sent (any text) with a secret: as
    bytes, since `hmac.compare_digest` raises TypeError on str outside ASCII."""
    return hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))
