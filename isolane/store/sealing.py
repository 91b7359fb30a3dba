"""Encryption at rest for script secrets: AES-256-GCM under the server's secrets key.

A sealed value is `format (1 byte) | key id (8) | nonce (12) | ciphertext and tag`. The
nonce is random per value. The associated data binds the header and the value's context
(namespace, script, name), so a ciphertext copied to another script or name does not open.
The key id is a fingerprint derived from the key (it reveals nothing of it) that turns a
wrong key into a clear error instead of a failed tag with no explanation.

The key comes from the configuration (`--secrets-key` / `ISOLANE_SECRETS_KEY`, base64 of
32 bytes); without one, an embedded server generates `secrets.key` in its data dir on the
first start (mode 0600) and reads it back afterwards. Servers sharing a database must
share the key: it never goes into the store, which would defeat encrypting there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from isolane.store.permissions import private_dir

log = logging.getLogger(__name__)

KEY_BYTES = 32
KEY_FILE = "secrets.key"
FORMAT = b"\x01"
KEY_ID_BYTES = 8
NONCE_BYTES = 12
HEADER_BYTES = len(FORMAT) + KEY_ID_BYTES


class SealError(Exception):
    """A sealed value cannot be opened: another key, another context, or damaged."""


class KeyMismatch(SealError):
    def __init__(self, stored: str, ours: str) -> None:
        super().__init__(
            f"a secret was encrypted with the secrets key {stored}, but this server's key is {ours}: "
            "servers sharing a database must share --secrets-key / ISOLANE_SECRETS_KEY"
        )
        self.stored = stored
        self.ours = ours


def parse_key(text: str) -> bytes:
    """The key from its configured form (base64 of 32 bytes); never echoes the value."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the secrets key must be base64 (standard alphabet) of 32 random bytes") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"the secrets key must be base64 of {KEY_BYTES} bytes (this one decodes to {len(key)})")
    return key


def key_id_of(key: bytes) -> bytes:
    return hmac.new(key, b"isolane secrets key id", hashlib.sha256).digest()[:KEY_ID_BYTES]


class Sealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the secrets key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(key)
        self.key_id = key_id_of(key)

    def __repr__(self) -> str:
        return f"Sealer(key_id={self.key_id.hex()})"

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        header = FORMAT + self.key_id
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + self._aead.encrypt(nonce, plaintext, header + context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        if len(sealed) < HEADER_BYTES + NONCE_BYTES + 16 or sealed[:1] != FORMAT:
            raise SealError("a stored secret is damaged (unknown format)")
        stored_id = sealed_key_id(sealed)
        if stored_id != self.key_id:
            raise KeyMismatch(stored_id.hex(), self.key_id.hex())
        header, nonce, body = sealed[:HEADER_BYTES], sealed[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES], sealed[HEADER_BYTES + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, header + context)
        except InvalidTag:
            raise SealError("a stored secret does not decrypt: it was damaged or moved from another script or name") from None


def derive_key(key: bytes, purpose: str) -> bytes:
    """A 32-byte key for another purpose (e.g. signing dashboard sessions), derived from
    the secrets key: servers that share the secrets key share it, and it reveals nothing
    of the secrets key."""
    return hmac.new(key, b"isolane derived key: " + purpose.encode("ascii"), hashlib.sha256).digest()


def sealed_key_id(sealed: bytes) -> bytes:
    return bytes(sealed[len(FORMAT) : HEADER_BYTES])


def load_key(configured: str | None, data_dir: Path) -> bytes:
    """The configured key, else the data dir's key file, created on the first start."""
    if configured:
        return parse_key(configured)
    path = data_dir / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    try:
        return parse_key(path.read_text("ascii"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"cannot use the secrets key file {path}: {exc}") from None


def _create_key_file(path: Path) -> None:
    """Write a fresh key with mode 0600, atomically: when two servers start at once on one
    data dir, the first link wins and both read the same key."""
    path.parent.parent.mkdir(parents=True, exist_ok=True)
    private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, base64.b64encode(os.urandom(KEY_BYTES)) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)
        log.warning(
            "generated a secrets key in %s: back it up with the database; servers sharing the database "
            "need the same key (--secrets-key / ISOLANE_SECRETS_KEY)",
            path,
        )
    except FileExistsError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
