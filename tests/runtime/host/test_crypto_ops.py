"""The Web Crypto host operations, called directly (as the host-call mechanism would), with
known-answer vectors and the errors the runtime relies on."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from isolane.runtime.host import OPERATIONS, HostError
from isolane.runtime.host import crypto as ops
from tests.runtime.crypto_vectors import (
    AES_GCM,
    ECDSA_P256,
    ED25519_CASES,
    HKDF_CASE,
    HMAC_CASES,
    PBKDF2_CASES,
    PBKDF2_SLOW_CASE,
    SHA_ABC,
)


def b64(hex_or_bytes: str | bytes) -> str:
    data = bytes.fromhex(hex_or_bytes) if isinstance(hex_or_bytes, str) else hex_or_bytes
    return base64.b64encode(data).decode()


def unb64(text: str) -> str:
    return base64.b64decode(text).hex()


def call(op: str, args: dict[str, Any]) -> Any:
    return OPERATIONS[op](args)


def host_error(op: str, args: dict[str, Any]) -> str:
    with pytest.raises(HostError) as caught:
        call(op, args)
    return caught.value.name


def p256_keys() -> tuple[str, str]:
    """The RFC 6979 key pair as (PKCS #8, SPKI) base64."""
    private = ec.derive_private_key(int(ECDSA_P256["d"], 16), ec.SECP256R1())
    pkcs8 = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    spki = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64(pkcs8), b64(spki)


def test_operations_are_registered():
    names = {"digest", "sign", "verify", "encrypt", "decrypt", "generateKeyPair", "importKey", "exportKey", "deriveBits"}
    assert {f"crypto.{name}" for name in names} <= set(OPERATIONS)


@pytest.mark.parametrize("hash_name", sorted(SHA_ABC))
def test_digest(hash_name):
    assert unb64(call("crypto.digest", {"hash": hash_name, "data": b64(b"abc")})) == SHA_ABC[hash_name]


def test_malformed_arguments_are_type_errors():
    assert host_error("crypto.digest", {"hash": "MD5", "data": b64(b"abc")}) == "TypeError"
    assert host_error("crypto.digest", {"hash": "SHA-256", "data": "not base64!"}) == "TypeError"
    assert host_error("crypto.digest", {"hash": "SHA-256"}) == "TypeError"
    assert host_error("crypto.sign", {"algorithm": {"name": "RSA-PSS"}, "key": "", "data": ""}) == "TypeError"


@pytest.mark.parametrize(("key", "data", "macs"), HMAC_CASES)
def test_hmac(key, data, macs):
    for hash_name, mac in macs.items():
        args = {"algorithm": {"name": "HMAC", "hash": hash_name}, "key": b64(key), "data": b64(data)}
        assert unb64(call("crypto.sign", args)) == mac
        assert call("crypto.verify", {**args, "signature": b64(mac)}) is True
        assert call("crypto.verify", {**args, "signature": b64(mac[:-2] + "00")}) is False
        assert call("crypto.verify", {**args, "signature": b64(mac[:-2])}) is False


def aes_gcm_args(data: str, **algorithm: Any) -> dict[str, Any]:
    params = {"name": "AES-GCM", "iv": b64(AES_GCM["iv"]), "additionalData": b64(AES_GCM["additionalData"]), "tagLength": 128}
    return {"algorithm": {**params, **algorithm}, "key": b64(AES_GCM["key"]), "data": b64(data)}


def test_aes_gcm_known_answer():
    sealed = AES_GCM["ciphertext"] + AES_GCM["tag"]
    assert unb64(call("crypto.encrypt", aes_gcm_args(AES_GCM["plaintext"]))) == sealed
    assert unb64(call("crypto.decrypt", aes_gcm_args(sealed))) == AES_GCM["plaintext"]


def test_aes_gcm_short_tags_and_no_additional_data():
    sealed = unb64(call("crypto.encrypt", aes_gcm_args("00" * 5, tagLength=96, additionalData=None)))
    assert len(sealed) == 2 * (5 + 12)
    assert unb64(call("crypto.decrypt", aes_gcm_args(sealed, tagLength=96, additionalData=None))) == "00" * 5


def test_aes_gcm_failures():
    sealed = AES_GCM["ciphertext"] + AES_GCM["tag"]
    tampered = sealed[:-2] + ("00" if sealed[-2:] != "00" else "01")
    assert host_error("crypto.decrypt", aes_gcm_args(tampered)) == "OperationError"
    assert host_error("crypto.decrypt", aes_gcm_args(sealed, additionalData=None)) == "OperationError"
    assert host_error("crypto.decrypt", aes_gcm_args("00" * 15)) == "OperationError"  # shorter than the tag
    assert host_error("crypto.encrypt", aes_gcm_args("", tagLength=100)) == "OperationError"
    assert host_error("crypto.encrypt", aes_gcm_args("", iv=b64("00" * 4))) == "OperationError"


def test_ecdsa_known_signature_and_round_trip():
    pkcs8, spki = p256_keys()
    args = {"algorithm": {"name": "ECDSA", "hash": "SHA-256"}, "data": b64(ECDSA_P256["message"])}
    assert call("crypto.verify", {**args, "key": spki, "signature": b64(ECDSA_P256["signature"])}) is True
    signature = call("crypto.sign", {**args, "key": pkcs8})
    assert len(base64.b64decode(signature)) == 64  # r || s, not DER
    assert call("crypto.verify", {**args, "key": spki, "signature": signature}) is True
    wrong_message = {**args, "data": b64(b"other"), "key": spki, "signature": signature}
    assert call("crypto.verify", wrong_message) is False
    assert call("crypto.verify", {**args, "key": spki, "signature": b64("00" * 64)}) is False
    assert call("crypto.verify", {**args, "key": spki, "signature": b64("01" * 63)}) is False
    # A signature made with another hash does not verify under this one.
    sha384 = {"algorithm": {"name": "ECDSA", "hash": "SHA-384"}, "data": args["data"], "key": spki}
    assert call("crypto.verify", {**sha384, "signature": signature}) is False


@pytest.mark.parametrize(("curve", "size"), [("P-384", 48), ("P-521", 66)])
def test_ecdsa_other_curves(curve, size):
    pair = call("crypto.generateKeyPair", {"algorithm": {"name": "ECDSA", "namedCurve": curve}})
    args = {"algorithm": {"name": "ECDSA", "hash": "SHA-512"}, "data": b64(b"message")}
    signature = call("crypto.sign", {**args, "key": pair["privateKey"]})
    assert len(base64.b64decode(signature)) == 2 * size
    assert call("crypto.verify", {**args, "key": pair["publicKey"], "signature": signature}) is True


@pytest.mark.parametrize("case", ED25519_CASES)
def test_ed25519_known_answers(case):
    imported = call("crypto.importKey", {"algorithm": {"name": "Ed25519"}, "format": "jwk", "keyData": {"x": b64(case["public"]), "d": b64(case["secret"])}})
    assert imported["type"] == "private"
    public = call("crypto.importKey", {"algorithm": {"name": "Ed25519"}, "format": "raw", "keyData": b64(case["public"])})
    assert public["type"] == "public"
    args = {"algorithm": {"name": "Ed25519"}, "data": b64(case["message"])}
    assert unb64(call("crypto.sign", {**args, "key": imported["key"]})) == case["signature"]
    assert call("crypto.verify", {**args, "key": public["key"], "signature": b64(case["signature"])}) is True
    assert call("crypto.verify", {**args, "key": public["key"], "signature": b64(case["signature"][:-2])}) is False
    tampered = {**args, "data": b64(case["message"] + "00")}
    assert call("crypto.verify", {**tampered, "key": public["key"], "signature": b64(case["signature"])}) is False


def test_generated_key_pairs_are_canonical_der():
    pair = call("crypto.generateKeyPair", {"algorithm": {"name": "Ed25519"}})
    assert isinstance(serialization.load_der_private_key(base64.b64decode(pair["privateKey"]), None), ed25519.Ed25519PrivateKey)
    assert isinstance(serialization.load_der_public_key(base64.b64decode(pair["publicKey"])), ed25519.Ed25519PublicKey)
    assert host_error("crypto.generateKeyPair", {"algorithm": {"name": "ECDSA", "namedCurve": "P-192"}}) == "NotSupportedError"


def test_import_export_ecdsa():
    pkcs8, spki = p256_keys()
    algorithm = {"name": "ECDSA", "namedCurve": "P-256"}
    assert call("crypto.importKey", {"algorithm": algorithm, "format": "pkcs8", "keyData": pkcs8}) == {"type": "private", "key": pkcs8}
    assert call("crypto.importKey", {"algorithm": algorithm, "format": "spki", "keyData": spki}) == {"type": "public", "key": spki}
    raw = call("crypto.exportKey", {"algorithm": algorithm, "type": "public", "key": spki, "format": "raw"})
    assert unb64(raw) == "04" + ECDSA_P256["x"] + ECDSA_P256["y"]
    assert call("crypto.importKey", {"algorithm": algorithm, "format": "raw", "keyData": raw}) == {"type": "public", "key": spki}
    jwk = call("crypto.exportKey", {"algorithm": algorithm, "type": "private", "key": pkcs8, "format": "jwk"})
    assert {name: unb64(value) for name, value in jwk.items()} == {"x": ECDSA_P256["x"], "y": ECDSA_P256["y"], "d": ECDSA_P256["d"]}
    assert call("crypto.importKey", {"algorithm": algorithm, "format": "jwk", "keyData": jwk})["key"] == pkcs8
    public_jwk = {"x": jwk["x"], "y": jwk["y"]}
    assert call("crypto.exportKey", {"algorithm": algorithm, "type": "public", "key": spki, "format": "jwk"}) == public_jwk
    assert call("crypto.importKey", {"algorithm": algorithm, "format": "jwk", "keyData": public_jwk})["key"] == spki


def test_import_ecdsa_data_errors():
    pkcs8, spki = p256_keys()
    p256 = {"name": "ECDSA", "namedCurve": "P-256"}
    p384 = {"name": "ECDSA", "namedCurve": "P-384"}

    def error(algorithm: dict[str, Any], key_format: str, key_data: Any) -> str:
        return host_error("crypto.importKey", {"algorithm": algorithm, "format": key_format, "keyData": key_data})

    assert error(p384, "spki", spki) == "DataError"  # another curve
    assert error(p384, "pkcs8", pkcs8) == "DataError"
    assert error(p256, "spki", pkcs8) == "DataError"
    assert error(p256, "pkcs8", spki) == "DataError"
    assert error(p256, "spki", b64("3000")) == "DataError"
    assert error({"name": "Ed25519"}, "spki", spki) == "DataError"  # another algorithm
    assert error(p256, "raw", b64("04" + "00" * 64)) == "DataError"  # not on the curve
    assert error(p256, "raw", b64("04" + ECDSA_P256["x"])) == "DataError"
    x, y = b64(ECDSA_P256["x"]), b64(ECDSA_P256["y"])
    assert error(p256, "jwk", {"x": x}) == "DataError"
    assert error(p256, "jwk", {"x": x, "y": b64(ECDSA_P256["x"])}) == "DataError"
    assert error(p256, "jwk", {"x": x, "y": y, "d": b64("01" * 32)}) == "DataError"  # d is not x, y's
    assert error(p256, "jwk", {"x": x, "y": y, "d": b64("01" * 31)}) == "DataError"
    assert error({"name": "ECDSA", "namedCurve": "P-192"}, "raw", b64("04")) == "DataError"
    # A bare SEC1 ECPrivateKey is not PKCS #8.
    sec1 = ec.derive_private_key(int(ECDSA_P256["d"], 16), ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    assert error(p256, "pkcs8", b64(sec1)) == "DataError"


def test_import_export_ed25519():
    case = ED25519_CASES[0]
    algorithm = {"name": "Ed25519"}
    private = call("crypto.importKey", {"algorithm": algorithm, "format": "jwk", "keyData": {"x": b64(case["public"]), "d": b64(case["secret"])}})
    assert call("crypto.importKey", {"algorithm": algorithm, "format": "pkcs8", "keyData": private["key"]}) == private
    jwk = call("crypto.exportKey", {"algorithm": algorithm, "type": "private", "key": private["key"], "format": "jwk"})
    assert jwk == {"x": b64(case["public"]), "d": b64(case["secret"])}
    public = call("crypto.importKey", {"algorithm": algorithm, "format": "raw", "keyData": b64(case["public"])})
    assert unb64(call("crypto.exportKey", {"algorithm": algorithm, "type": "public", "key": public["key"], "format": "raw"})) == case["public"]
    assert call("crypto.importKey", {"algorithm": algorithm, "format": "spki", "keyData": public["key"]}) == public
    mismatched = {"x": b64(ED25519_CASES[1]["public"]), "d": b64(case["secret"])}
    assert host_error("crypto.importKey", {"algorithm": algorithm, "format": "jwk", "keyData": mismatched}) == "DataError"
    assert host_error("crypto.importKey", {"algorithm": algorithm, "format": "raw", "keyData": b64("00" * 31)}) == "DataError"


@pytest.mark.parametrize(("hash_name", "password", "salt", "iterations", "expected"), [*PBKDF2_CASES, PBKDF2_SLOW_CASE])
def test_pbkdf2(hash_name, password, salt, iterations, expected):
    args = {"algorithm": {"name": "PBKDF2", "hash": hash_name, "salt": b64(salt), "iterations": iterations}, "key": b64(password), "length": len(expected) * 4}
    assert unb64(call("crypto.deriveBits", args)) == expected


def test_pbkdf2_limits():
    args = {"algorithm": {"name": "PBKDF2", "hash": "SHA-256", "salt": b64(b"salt"), "iterations": 100_001}, "key": b64(b"pw"), "length": 256}
    assert host_error("crypto.deriveBits", args) == "NotSupportedError"
    assert host_error("crypto.deriveBits", {**args, "algorithm": {**args["algorithm"], "iterations": 0}}) == "OperationError"
    assert host_error("crypto.deriveBits", {**args, "length": 255}) == "OperationError"
    assert host_error("crypto.deriveBits", {**args, "algorithm": {**args["algorithm"], "iterations": 1}, "length": 2056}) == "NotSupportedError"
    assert call("crypto.deriveBits", {**args, "length": 0}) == ""


def test_hkdf():
    algorithm = {"name": "HKDF", "hash": "SHA-256", "salt": b64(HKDF_CASE["salt"]), "info": b64(HKDF_CASE["info"])}
    args = {"algorithm": algorithm, "key": b64(HKDF_CASE["ikm"]), "length": HKDF_CASE["length"] * 8}
    assert unb64(call("crypto.deriveBits", args)) == HKDF_CASE["okm"]
    assert len(base64.b64decode(call("crypto.deriveBits", {**args, "length": 255 * 32 * 8}))) == 255 * 32
    assert host_error("crypto.deriveBits", {**args, "length": (255 * 32 + 1) * 8}) == "OperationError"


def test_pkcs8_shape_check():
    assert ops._is_pkcs8(base64.b64decode(p256_keys()[0]))
    assert not ops._is_pkcs8(b"")
    assert not ops._is_pkcs8(b"\x30\x03\x02\x01")
