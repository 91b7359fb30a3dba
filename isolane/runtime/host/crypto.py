"""Web Crypto's heavy lifting, for `34-subtle.js`: digests, MACs, signatures, AES-GCM,
key derivation, and parsing / serialising asymmetric keys.

The JavaScript side has already checked the arguments as the Web Crypto spec says (usages,
algorithm parameters, JWK envelopes) and keeps the CryptoKey objects; it hands key material
over on every call. Bytes travel as base64 strings. Secret keys are raw bytes; asymmetric
keys are DER, PKCS #8 for private keys and SubjectPublicKeyInfo for public ones, in the
canonical form these operations produce, so the runtime can export them as they are.

Failures the script should see raise `HostError` with the DOMException name the spec
prescribes; arguments that the runtime should never have sent raise it with "TypeError".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from isolane.runtime.host import HostError, register

# Web Crypto hash name -> (hashlib name, cryptography class).
HASHES: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    "SHA-1": ("sha1", hashes.SHA1),
    "SHA-256": ("sha256", hashes.SHA256),
    "SHA-384": ("sha384", hashes.SHA384),
    "SHA-512": ("sha512", hashes.SHA512),
}

# Web Crypto curve name -> (cryptography curve, bytes per coordinate and per r / s).
CURVES: dict[str, tuple[type[ec.EllipticCurve], int]] = {
    "P-256": (ec.SECP256R1, 32),
    "P-384": (ec.SECP384R1, 48),
    "P-521": (ec.SECP521R1, 66),
}

# What Workers allows: more iterations would let one call burn seconds of CPU. The cost also
# grows with each hash-sized block of output, hence a cap on that too (an operation cannot be
# interrupted once it runs).
PBKDF2_MAX_ITERATIONS = 100_000
PBKDF2_MAX_BITS = 2048
AES_GCM_TAG_BITS = (32, 64, 96, 104, 112, 120, 128)
ED25519_SIGNATURE_BYTES = 64

AsymmetricKey = ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey


# ---- Arguments


def _malformed(what: str) -> HostError:
    return HostError("TypeError", f"crypto: malformed argument {what}")


def _field(args: Any, name: str, kind: type) -> Any:
    value = args.get(name) if isinstance(args, dict) else None
    # A bool is an int to Python, but never a number the runtime would send.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _malformed(name)
    return value


def _bytes(args: Any, name: str) -> bytes:
    try:
        return base64.b64decode(_field(args, name, str), validate=True)
    except binascii.Error:
        raise _malformed(name) from None


def _optional_bytes(args: dict[str, Any], name: str) -> bytes | None:
    return None if args.get(name) is None else _bytes(args, name)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _hash(name: Any) -> tuple[str, type[hashes.HashAlgorithm]]:
    if name not in HASHES:
        raise _malformed(f"hash {name!r}")
    return HASHES[name]


def _algorithm(args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    algorithm = _field(args, "algorithm", dict)
    return _field(algorithm, "name", str), algorithm


def _curve(algorithm: dict[str, Any]) -> tuple[type[ec.EllipticCurve], int]:
    name = algorithm.get("namedCurve")
    if name not in CURVES:
        raise HostError("NotSupportedError", f"crypto: unsupported named curve {name!r}")
    return CURVES[name]


def _curve_name(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str | None:
    return next((name for name, (curve, _) in CURVES.items() if isinstance(key.curve, curve)), None)


# ---- Keys in the runtime's storage form (canonical DER)


def _pkcs8(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _spki(key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _is_pkcs8(data: bytes) -> bool:
    """PrivateKeyInfo is SEQUENCE { INTEGER version, SEQUENCE algorithm, ... }: the check that
    keeps cryptography from also accepting a bare SEC1 ECPrivateKey (INTEGER, OCTET STRING)."""

    def skip_header(pos: int) -> int:  # index of the contents of the element at pos
        if pos + 1 >= len(data):
            return len(data)
        length = data[pos + 1]
        return pos + 2 + (length & 0x7F if length & 0x80 else 0)

    if len(data) < 2 or data[0] != 0x30:
        return False
    version = skip_header(0)
    if version + 1 >= len(data) or data[version] != 0x02:
        return False
    after_version = version + 2 + data[version + 1]
    return after_version < len(data) and data[after_version] == 0x30


def _expect(key: object, algorithm: str, curve: str | None, private: bool) -> None:
    """DataError unless `key` is a key of that algorithm (and curve) and kind."""
    if algorithm == "ECDSA":
        kind = ec.EllipticCurvePrivateKey if private else ec.EllipticCurvePublicKey
        if not isinstance(key, kind):
            raise HostError("DataError", "crypto: the key is not an EC key")
        if _curve_name(key) != curve:
            raise HostError("DataError", f"crypto: the key is not on curve {curve}")
    else:
        kind = ed25519.Ed25519PrivateKey if private else ed25519.Ed25519PublicKey
        if not isinstance(key, kind):
            raise HostError("DataError", "crypto: the key is not an Ed25519 key")


def _stored_private(args: dict[str, Any], algorithm: str) -> ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey:
    try:
        key = serialization.load_der_private_key(_bytes(args, "key"), password=None)
    except (ValueError, UnsupportedAlgorithm):
        raise _malformed("key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey if algorithm == "ECDSA" else ed25519.Ed25519PrivateKey):
        raise _malformed("key")
    return key


def _stored_public(args: dict[str, Any], algorithm: str) -> ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey:
    try:
        key = serialization.load_der_public_key(_bytes(args, "key"))
    except (ValueError, UnsupportedAlgorithm):
        raise _malformed("key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey if algorithm == "ECDSA" else ed25519.Ed25519PublicKey):
        raise _malformed("key")
    return key


def _asymmetric_name(name: str) -> str:
    if name not in ("ECDSA", "Ed25519"):
        raise _malformed(f"algorithm {name!r}")
    return name


# ---- Operations


@register("crypto.digest")
def digest(args: dict[str, Any]) -> str:
    """{hash, data} -> the digest."""
    hashlib_name, _ = _hash(args.get("hash"))
    return _b64(hashlib.new(hashlib_name, _bytes(args, "data")).digest())


@register("crypto.sign")
def sign(args: dict[str, Any]) -> str:
    """{algorithm: {name, hash?}, key, data} -> the signature. HMAC takes the raw secret and
    its hash; ECDSA (with a hash) and Ed25519 take a PKCS #8 private key. ECDSA signatures
    are r || s, each as wide as the curve's order (Web Crypto's form, not DER)."""
    name, algorithm = _algorithm(args)
    data = _bytes(args, "data")
    if name == "HMAC":
        return _b64(hmac.digest(_bytes(args, "key"), data, _hash(algorithm.get("hash"))[0]))
    key = _stored_private(args, _asymmetric_name(name))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return _b64(key.sign(data))
    _, hash_class = _hash(algorithm.get("hash"))
    size = CURVES[_curve_name(key) or ""][1]
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hash_class())))
    return _b64(r.to_bytes(size, "big") + s.to_bytes(size, "big"))


@register("crypto.verify")
def verify(args: dict[str, Any]) -> bool:
    """{algorithm, key, signature, data} -> whether the signature is valid (as `sign`, with
    an SPKI public key for ECDSA and Ed25519). A signature of the wrong size is just invalid."""
    name, algorithm = _algorithm(args)
    data = _bytes(args, "data")
    signature = _bytes(args, "signature")
    if name == "HMAC":
        expected = hmac.digest(_bytes(args, "key"), data, _hash(algorithm.get("hash"))[0])
        return hmac.compare_digest(expected, signature)
    key = _stored_public(args, _asymmetric_name(name))
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            if len(signature) != ED25519_SIGNATURE_BYTES:
                return False
            key.verify(signature, data)
            return True
        _, hash_class = _hash(algorithm.get("hash"))
        size = CURVES[_curve_name(key) or ""][1]
        if len(signature) != 2 * size:
            return False
        r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hash_class()))
        return True
    except InvalidSignature:
        return False


def _aes_gcm(args: dict[str, Any]) -> tuple[bytes, bytes, bytes | None, int]:
    """The key, iv, additional data and tag size in bytes of an AES-GCM call."""
    name, algorithm = _algorithm(args)
    if name != "AES-GCM":
        raise _malformed(f"algorithm {name!r}")
    key = _bytes(args, "key")
    if len(key) not in (16, 24, 32):
        raise _malformed("key")
    tag_bits = _field(algorithm, "tagLength", int)
    if tag_bits not in AES_GCM_TAG_BITS:
        raise HostError("OperationError", f"crypto: {tag_bits} is not a valid AES-GCM tag length")
    iv = _bytes(algorithm, "iv")
    # cryptography's bound; the spec allows any length, but real IVs are 12 or 16 bytes.
    if not 8 <= len(iv) <= 128:
        raise HostError("OperationError", "crypto: the AES-GCM iv must be between 8 and 128 bytes long")
    return key, iv, _optional_bytes(algorithm, "additionalData"), tag_bits // 8


@register("crypto.encrypt")
def encrypt(args: dict[str, Any]) -> str:
    """{algorithm: {name: "AES-GCM", iv, additionalData?, tagLength}, key, data} ->
    ciphertext || tag."""
    key, iv, additional_data, tag_bytes = _aes_gcm(args)
    encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    if additional_data:
        encryptor.authenticate_additional_data(additional_data)
    ciphertext = encryptor.update(_bytes(args, "data")) + encryptor.finalize()
    return _b64(ciphertext + encryptor.tag[:tag_bytes])


@register("crypto.decrypt")
def decrypt(args: dict[str, Any]) -> str:
    """The inverse of `encrypt`; OperationError when the data does not authenticate."""
    key, iv, additional_data, tag_bytes = _aes_gcm(args)
    data = _bytes(args, "data")
    if len(data) < tag_bytes:
        raise HostError("OperationError", "crypto: the data is shorter than the AES-GCM tag")
    ciphertext, tag = data[: len(data) - tag_bytes], data[len(data) - tag_bytes :]
    decryptor = Cipher(algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=tag_bytes)).decryptor()
    if additional_data:
        decryptor.authenticate_additional_data(additional_data)
    try:
        return _b64(decryptor.update(ciphertext) + decryptor.finalize())
    except InvalidTag:
        raise HostError("OperationError", "crypto: decryption failed") from None


@register("crypto.generateKeyPair")
def generate_key_pair(args: dict[str, Any]) -> dict[str, str]:
    """{algorithm: {name: "ECDSA", namedCurve} | {name: "Ed25519"}} -> {privateKey: PKCS #8,
    publicKey: SPKI}."""
    name, algorithm = _algorithm(args)
    private: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
    if _asymmetric_name(name) == "ECDSA":
        curve, _ = _curve(algorithm)
        private = ec.generate_private_key(curve())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    return {"privateKey": _b64(_pkcs8(private)), "publicKey": _b64(_spki(private.public_key()))}


def _import_der(data: bytes, private: bool) -> AsymmetricKey:
    try:
        if private:
            if not _is_pkcs8(data):
                raise ValueError("not PKCS #8")
            return serialization.load_der_private_key(data, password=None)  # type: ignore[return-value]
        return serialization.load_der_public_key(data)  # type: ignore[return-value]
    except (ValueError, TypeError, UnsupportedAlgorithm):
        what = "PKCS #8 private key" if private else "SubjectPublicKeyInfo"
        raise HostError("DataError", f"crypto: the key data is not a valid {what}") from None


def _coordinate(jwk: dict[str, Any], member: str, size: int) -> bytes:
    if jwk.get(member) is None:
        raise HostError("DataError", f"crypto: the JWK has no '{member}' member")
    value = _bytes(jwk, member)
    if len(value) != size:
        raise HostError("DataError", f"crypto: the JWK's '{member}' member should be {size} bytes long")
    return value


def _import_jwk(name: str, curve_name: str | None, jwk: dict[str, Any]) -> AsymmetricKey:
    if name == "Ed25519":
        x = _coordinate(jwk, "x", 32)
        if jwk.get("d") is None:
            return ed25519.Ed25519PublicKey.from_public_bytes(x)
        private = ed25519.Ed25519PrivateKey.from_private_bytes(_coordinate(jwk, "d", 32))
        if private.public_key().public_bytes_raw() != x:
            raise HostError("DataError", "crypto: the JWK's 'x' is not the public key of its 'd'")
        return private
    curve, size = CURVES[curve_name or ""]
    x = int.from_bytes(_coordinate(jwk, "x", size), "big")
    y = int.from_bytes(_coordinate(jwk, "y", size), "big")
    try:
        public_numbers = ec.EllipticCurvePublicNumbers(x, y, curve())
        if jwk.get("d") is None:
            return public_numbers.public_key()
        d = int.from_bytes(_coordinate(jwk, "d", size), "big")
        return ec.EllipticCurvePrivateNumbers(d, public_numbers).private_key()
    except ValueError:
        raise HostError("DataError", "crypto: the JWK does not describe a valid EC key") from None


@register("crypto.importKey")
def import_key(args: dict[str, Any]) -> dict[str, str]:
    """{algorithm: {name, namedCurve?}, format, keyData} -> {type: "private" | "public", key:
    canonical DER}. keyData is base64 bytes, or for "jwk" {x, y?, d?} with each member's
    bytes in base64 (the runtime has checked the JWK's other members)."""
    name, algorithm = _algorithm(args)
    _asymmetric_name(name)
    curve_name = None
    if name == "ECDSA":
        curve_name = algorithm.get("namedCurve")
        if curve_name not in CURVES:
            raise HostError("DataError", f"crypto: unsupported named curve {curve_name!r}")
    key_format = args.get("format")
    key: AsymmetricKey
    if key_format == "jwk":
        key = _import_jwk(name, curve_name, _field(args, "keyData", dict))
    elif key_format == "raw":
        data = _bytes(args, "keyData")
        try:
            if name == "Ed25519":
                key = ed25519.Ed25519PublicKey.from_public_bytes(data)
            else:
                key = ec.EllipticCurvePublicKey.from_encoded_point(CURVES[curve_name or ""][0](), data)
        except ValueError:
            raise HostError("DataError", f"crypto: the key data is not a valid {name} public key") from None
    elif key_format in ("pkcs8", "spki"):
        key = _import_der(_bytes(args, "keyData"), key_format == "pkcs8")
        _expect(key, name, curve_name, key_format == "pkcs8")
    else:
        raise _malformed(f"format {key_format!r}")
    if isinstance(key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
        return {"type": "private", "key": _b64(_pkcs8(key))}
    return {"type": "public", "key": _b64(_spki(key))}


@register("crypto.exportKey")
def export_key(args: dict[str, Any]) -> str | dict[str, str]:
    """{algorithm: {name}, type, key, format: "raw" | "jwk"} -> the raw public key (an
    uncompressed point for ECDSA), or the JWK's key members {x, y?, d?} in base64. (PKCS #8
    and SPKI exports are the stored DER itself: the runtime needs no help for those.)"""
    name, _ = _algorithm(args)
    _asymmetric_name(name)
    private = args.get("type") == "private"
    key = _stored_private(args, name) if private else _stored_public(args, name)
    public = key.public_key() if isinstance(key, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)) else key
    key_format = args.get("format")
    if key_format == "raw":
        if private:
            raise _malformed("type")
        if isinstance(public, ed25519.Ed25519PublicKey):
            return _b64(public.public_bytes_raw())
        return _b64(public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
    if key_format != "jwk":
        raise _malformed(f"format {key_format!r}")
    if isinstance(public, ed25519.Ed25519PublicKey):
        members = {"x": _b64(public.public_bytes_raw())}
        if isinstance(key, ed25519.Ed25519PrivateKey):
            members["d"] = _b64(key.private_bytes_raw())
        return members
    size = CURVES[_curve_name(public) or ""][1]
    numbers = public.public_numbers()
    members = {"x": _b64(numbers.x.to_bytes(size, "big")), "y": _b64(numbers.y.to_bytes(size, "big"))}
    if isinstance(key, ec.EllipticCurvePrivateKey):
        members["d"] = _b64(key.private_numbers().private_value.to_bytes(size, "big"))
    return members


@register("crypto.deriveBits")
def derive_bits(args: dict[str, Any]) -> str:
    """{algorithm: {name: "PBKDF2", hash, salt, iterations} | {name: "HKDF", hash, salt, info},
    key, length} -> `length` bits (a multiple of 8) derived from the raw secret `key`."""
    name, algorithm = _algorithm(args)
    key = _bytes(args, "key")
    length = _field(args, "length", int)
    if length < 0 or length % 8:
        raise HostError("OperationError", "crypto: the length must be a multiple of 8")
    if length == 0:
        return ""
    hashlib_name, hash_class = _hash(algorithm.get("hash"))
    salt = _bytes(algorithm, "salt")
    if name == "PBKDF2":
        iterations = _field(algorithm, "iterations", int)
        if iterations <= 0:
            raise HostError("OperationError", "crypto: PBKDF2 needs at least one iteration")
        if iterations > PBKDF2_MAX_ITERATIONS:
            raise HostError(
                "NotSupportedError",
                f"crypto: PBKDF2 iteration counts above {PBKDF2_MAX_ITERATIONS} are not supported (requested {iterations})",
            )
        if length > PBKDF2_MAX_BITS:
            raise HostError("NotSupportedError", f"crypto: PBKDF2 derives at most {PBKDF2_MAX_BITS} bits (requested {length})")
        return _b64(hashlib.pbkdf2_hmac(hashlib_name, key, salt, iterations, length // 8))
    if name == "HKDF":
        hkdf_max = 255 * hash_class.digest_size
        if length // 8 > hkdf_max:
            raise HostError("OperationError", f"crypto: HKDF with {algorithm['hash']} derives at most {hkdf_max * 8} bits")
        return _b64(HKDF(hash_class(), length // 8, salt, _bytes(algorithm, "info")).derive(key))
    raise _malformed(f"algorithm {name!r}")
