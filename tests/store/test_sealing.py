"""Sealing secrets at rest: AES-256-GCM, a fresh nonce per value, the context as associated
data, a key id that names a wrong key; the key's configured form and its file."""

from __future__ import annotations

import base64
import os
import stat

import pytest

from isolane.platform.secrets import secret_context
from isolane.store.sealing import KeyMismatch, SealError, Sealer, load_key, parse_key


def test_round_trip_with_a_fresh_nonce_each_time() -> None:
    sealer = Sealer(os.urandom(32))
    context = secret_context("ns", "script", "API_KEY")
    first, second = sealer.seal(b"value", context), sealer.seal(b"value", context)
    assert first != second and b"value" not in first
    assert sealer.open(first, context) == sealer.open(second, context) == b"value"


def test_a_ciphertext_opens_only_in_its_own_context() -> None:
    sealer = Sealer(os.urandom(32))
    sealed = sealer.seal(b"value", secret_context("ns", "script", "API_KEY"))
    for namespace, script, name in [("ns", "other", "API_KEY"), ("other", "script", "API_KEY"), ("ns", "script", "OTHER")]:
        with pytest.raises(SealError, match="moved from another script or name"):
            sealer.open(sealed, secret_context(namespace, script, name))
    tampered = bytearray(sealed)
    tampered[-1] ^= 1
    with pytest.raises(SealError):
        sealer.open(bytes(tampered), secret_context("ns", "script", "API_KEY"))
    with pytest.raises(SealError, match="unknown format"):
        sealer.open(b"\x02" + sealed[1:], secret_context("ns", "script", "API_KEY"))


def test_another_key_is_named_not_guessed() -> None:
    ours, theirs = Sealer(os.urandom(32)), Sealer(os.urandom(32))
    sealed = theirs.seal(b"value", b"context")
    with pytest.raises(KeyMismatch) as mismatch:
        ours.open(sealed, b"context")
    assert theirs.key_id.hex() in str(mismatch.value) and ours.key_id.hex() in str(mismatch.value)
    assert "ISOLANE_SECRETS_KEY" in str(mismatch.value)


def test_configured_key_form() -> None:
    key = os.urandom(32)
    assert parse_key(base64.b64encode(key).decode() + "\n") == key
    for bad in ("", "not base64!", base64.b64encode(os.urandom(16)).decode(), base64.b64encode(os.urandom(33)).decode()):
        with pytest.raises(ValueError) as refused:
            parse_key(bad)
        assert bad.strip() == "" or bad not in str(refused.value)


def test_key_file_is_generated_once_with_mode_0600(tmp_path) -> None:
    data = tmp_path / "data"
    key = load_key(None, data)
    path = data / "secrets.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(None, data) == key and len(key) == 32
    assert [p.name for p in data.iterdir()] == ["secrets.key"]  # no temporary file left
    configured = base64.b64encode(os.urandom(32)).decode()
    assert load_key(configured, data) == base64.b64decode(configured)  # configuration wins
    path.write_text("garbage")
    with pytest.raises(ValueError, match="secrets.key"):
        load_key(None, data)
