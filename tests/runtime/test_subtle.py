"""crypto.subtle and CryptoKey (W3C Web Cryptography API), end to end: scripts in a real
server, whose cryptography runs in the host. Known answers come from the standards'
vectors (tests/runtime/crypto_vectors.py); errors follow the spec's names."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.runtime.crypto_vectors import (
    AES_GCM,
    ECDSA_P256,
    ED25519_CASES,
    HKDF_CASE,
    HMAC_CASES,
    PBKDF2_CASES,
    SHA_ABC,
)

JS = Callable[[str], Any]

# `attempt` reports a failure as "<class>:<name>", e.g. "DOMException:DataError".
HELPERS = """
const subtle = crypto.subtle;
const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (text) => new Uint8Array((text.match(/../g) || []).map((h) => parseInt(h, 16)));
const text = (string) => new TextEncoder().encode(string);
const b64url = (bytes) => bytes.toBase64({ alphabet: "base64url", omitPadding: true });
const attempt = async (f) => {
  try { await f(); return "ok"; } catch (e) { return `${e instanceof DOMException ? "DOMException" : e.constructor.name}:${e.name}`; }
};
"""


def b64url(hex_text: str) -> str:
    return base64.urlsafe_b64encode(bytes.fromhex(hex_text)).decode().rstrip("=")


def run(js: JS, body: str, **values: Any) -> Any:
    """Run `body` inside an async function, with HELPERS and each keyword as a constant."""
    constants = "".join(f"const {name} = {json.dumps(value)};\n" for name, value in values.items())
    return js(f"{HELPERS}{constants}(async () => {{\n{body}\n}})()")


# ---- digest


def test_digest_known_answers(js: JS) -> None:
    result = run(
        js,
        """
        const out = {};
        for (const name of Object.keys(SHA_ABC)) out[name] = hex(await subtle.digest(name, text("abc")));
        out.lowercase = hex(await subtle.digest("sha-256", text("abc").buffer));
        out.object = hex(await subtle.digest({ name: "SHA-256" }, new DataView(text("xabc").buffer, 1)));
        out.empty = hex(await subtle.digest("SHA-1", new Uint8Array(0)));
        out.isArrayBuffer = (await subtle.digest("SHA-1", new Uint8Array(0))) instanceof ArrayBuffer;
        return out;
        """,
        SHA_ABC=SHA_ABC,
    )
    assert result == {
        **SHA_ABC,
        "lowercase": SHA_ABC["SHA-256"],
        "object": SHA_ABC["SHA-256"],
        "empty": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "isArrayBuffer": True,
    }


def test_digest_errors_reject(js: JS) -> None:
    result = run(
        js,
        """
        const pending = subtle.digest();
        return {
          isPromise: pending instanceof Promise,
          noArguments: await attempt(() => pending),
          unknown: await attempt(() => subtle.digest("MD5", text("abc"))),
          unicodeFolding: await attempt(() => subtle.digest("ſha-1", text("abc"))), // only ASCII case folds
          noName: await attempt(() => subtle.digest({}, text("abc"))),
          notBytes: await attempt(() => subtle.digest("SHA-256", "abc")),
          shared: await attempt(() => subtle.digest("SHA-256", new SharedArrayBuffer(4))),
          foreignThis: await attempt(() => subtle.digest.call({}, "SHA-256", text("abc"))),
        };
        """,
    )
    assert result == {
        "isPromise": True,
        "noArguments": "TypeError:TypeError",
        "unknown": "DOMException:NotSupportedError",
        "unicodeFolding": "DOMException:NotSupportedError",
        "noName": "TypeError:TypeError",
        "notBytes": "TypeError:TypeError",
        "shared": "TypeError:TypeError",
        "foreignThis": "TypeError:TypeError",
    }


# ---- HMAC


def test_hmac_rfc4231(js: JS) -> None:
    result = run(
        js,
        """
        const out = [];
        for (const [key, data, macs] of CASES) {
          for (const [hash, mac] of Object.entries(macs)) {
            const k = await subtle.importKey("raw", unhex(key), { name: "HMAC", hash }, false, ["sign", "verify"]);
            const signature = hex(await subtle.sign("HMAC", k, unhex(data)));
            const good = await subtle.verify("HMAC", k, unhex(mac), unhex(data));
            const bad = await subtle.verify({ name: "HMAC" }, k, unhex(mac.slice(0, -2) + "00"), unhex(data));
            out.push([signature === mac, good, bad]);
          }
        }
        return out;
        """,
        CASES=HMAC_CASES,
    )
    assert result == [[True, True, False]] * 4


def test_hmac_keys(js: JS) -> None:
    key_hex = HMAC_CASES[0][0]
    result = run(
        js,
        """
        const raw = await subtle.importKey("raw", unhex(KEY), { name: "HMAC", hash: { name: "SHA-256" } }, true, ["verify", "sign", "sign"]);
        const jwk = await subtle.exportKey("jwk", raw);
        const again = await subtle.importKey("jwk", jwk, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
        const generated = await subtle.generateKey({ name: "HMAC", hash: "SHA-512" }, true, ["sign"]);
        const short = await subtle.generateKey({ name: "HMAC", hash: "SHA-1", length: 20 }, true, ["sign"]);
        return {
          raw: [raw.type, raw.extractable, raw.algorithm, raw.usages],
          exportedRaw: hex(await subtle.exportKey("raw", raw)),
          jwk,
          again: [again.extractable, again.usages, hex(await subtle.sign("HMAC", again, text("Hi There")))],
          generated: [generated.algorithm, (await subtle.exportKey("raw", generated)).byteLength],
          short: [short.algorithm.length, hex(await subtle.exportKey("raw", short)).length],
        };
        """,
        KEY=key_hex,
    )
    assert result == {
        "raw": ["secret", True, {"name": "HMAC", "hash": {"name": "SHA-256"}, "length": 160}, ["sign", "verify"]],
        "exportedRaw": key_hex,
        "jwk": {"kty": "oct", "k": "CwsLCwsLCwsLCwsLCwsLCwsLCws", "alg": "HS256", "key_ops": ["sign", "verify"], "ext": True},
        "again": [False, ["sign"], HMAC_CASES[0][2]["SHA-256"]],
        "generated": [{"name": "HMAC", "hash": {"name": "SHA-512"}, "length": 1024}, 128],
        "short": [20, 6],  # 3 bytes, the last 4 bits zero
    }


def test_hmac_errors(js: JS) -> None:
    result = run(
        js,
        """
        const hmac = { name: "HMAC", hash: "SHA-256" };
        const signOnly = await subtle.importKey("raw", unhex(KEY), hmac, false, ["sign"]);
        const aes = await subtle.generateKey({ name: "AES-GCM", length: 128 }, true, ["encrypt"]);
        const jwk = { kty: "oct", k: b64url(unhex(KEY)) };
        return {
          noUsages: await attempt(() => subtle.importKey("raw", unhex(KEY), hmac, false, [])),
          wrongUsage: await attempt(() => subtle.importKey("raw", unhex(KEY), hmac, false, ["encrypt"])),
          unknownUsage: await attempt(() => subtle.importKey("raw", unhex(KEY), hmac, false, ["fly"])),
          noHash: await attempt(() => subtle.importKey("raw", unhex(KEY), { name: "HMAC" }, false, ["sign"])),
          badHash: await attempt(() => subtle.importKey("raw", unhex(KEY), { name: "HMAC", hash: "SHA-3" }, false, ["sign"])),
          emptyKey: await attempt(() => subtle.importKey("raw", new Uint8Array(0), hmac, false, ["sign"])),
          lengthTooLong: await attempt(() => subtle.importKey("raw", unhex(KEY), { ...hmac, length: 168 }, false, ["sign"])),
          lengthTooShort: await attempt(() => subtle.importKey("raw", unhex(KEY), { ...hmac, length: 152 }, false, ["sign"])),
          lengthRange: await attempt(() => subtle.importKey("raw", unhex(KEY), { ...hmac, length: -1 }, false, ["sign"])),
          spki: await attempt(() => subtle.importKey("spki", unhex(KEY), hmac, false, ["sign"])),
          jwkAsBytes: await attempt(() => subtle.importKey("jwk", unhex(KEY), hmac, false, ["sign"])),
          badFormat: await attempt(() => subtle.importKey("pem", unhex(KEY), hmac, false, ["sign"])),
          jwkKty: await attempt(() => subtle.importKey("jwk", { ...jwk, kty: "EC" }, hmac, false, ["sign"])),
          jwkNoK: await attempt(() => subtle.importKey("jwk", { kty: "oct" }, hmac, false, ["sign"])),
          jwkBadK: await attempt(() => subtle.importKey("jwk", { kty: "oct", k: "a+b/" }, hmac, false, ["sign"])),
          jwkAlg: await attempt(() => subtle.importKey("jwk", { ...jwk, alg: "HS512" }, hmac, false, ["sign"])),
          jwkUse: await attempt(() => subtle.importKey("jwk", { ...jwk, use: "enc" }, hmac, false, ["sign"])),
          jwkKeyOps: await attempt(() => subtle.importKey("jwk", { ...jwk, key_ops: ["verify"] }, hmac, false, ["sign"])),
          jwkExt: await attempt(() => subtle.importKey("jwk", { ...jwk, ext: false }, hmac, true, ["sign"])),
          verifyWithoutUsage: await attempt(() => subtle.verify("HMAC", signOnly, new Uint8Array(32), text("x"))),
          aesKeyForHmac: await attempt(() => subtle.sign("HMAC", aes, text("x"))),
          notAKey: await attempt(() => subtle.sign("HMAC", { type: "secret" }, text("x"))),
          exportNotExtractable: await attempt(() => subtle.exportKey("raw", signOnly)),
          generateZeroLength: await attempt(() => subtle.generateKey({ ...hmac, length: 0 }, true, ["sign"])),
          generateNoUsages: await attempt(() => subtle.generateKey(hmac, true, [])),
        };
        """,
        KEY=HMAC_CASES[0][0],
    )
    syntax, data, access = "DOMException:SyntaxError", "DOMException:DataError", "DOMException:InvalidAccessError"
    assert result == {
        "noUsages": syntax,
        "wrongUsage": syntax,
        "unknownUsage": "TypeError:TypeError",
        "noHash": "TypeError:TypeError",
        "badHash": "DOMException:NotSupportedError",
        "emptyKey": data,
        "lengthTooLong": data,
        "lengthTooShort": data,
        "lengthRange": "TypeError:TypeError",
        "spki": "DOMException:NotSupportedError",
        "jwkAsBytes": "TypeError:TypeError",
        "badFormat": "TypeError:TypeError",
        "jwkKty": data,
        "jwkNoK": data,
        "jwkBadK": data,
        "jwkAlg": data,
        "jwkUse": data,
        "jwkKeyOps": data,
        "jwkExt": data,
        "verifyWithoutUsage": access,
        "aesKeyForHmac": access,
        "notAKey": "TypeError:TypeError",
        "exportNotExtractable": access,
        "generateZeroLength": "DOMException:OperationError",
        "generateNoUsages": syntax,
    }


# ---- AES-GCM


def test_aes_gcm_known_answer(js: JS) -> None:
    result = run(
        js,
        """
        const key = await subtle.importKey("raw", unhex(V.key), "AES-GCM", true, ["encrypt", "decrypt"]);
        const params = { name: "AES-GCM", iv: unhex(V.iv), additionalData: unhex(V.additionalData) };
        const sealed = await subtle.encrypt(params, key, unhex(V.plaintext));
        const opened = await subtle.decrypt({ ...params, tagLength: 128 }, key, sealed);
        const tampered = new Uint8Array(sealed.slice(0));
        tampered[0] ^= 1;
        return {
          algorithm: key.algorithm,
          sealed: hex(sealed),
          opened: hex(opened),
          tampered: await attempt(() => subtle.decrypt(params, key, tampered)),
          otherData: await attempt(() => subtle.decrypt({ ...params, additionalData: text("x") }, key, sealed)),
          tooShort: await attempt(() => subtle.decrypt(params, key, new Uint8Array(15))),
          jwk: await subtle.exportKey("jwk", key),
        };
        """,
        V=AES_GCM,
    )
    assert result == {
        "algorithm": {"name": "AES-GCM", "length": 128},
        "sealed": AES_GCM["ciphertext"] + AES_GCM["tag"],
        "opened": AES_GCM["plaintext"],
        "tampered": "DOMException:OperationError",
        "otherData": "DOMException:OperationError",
        "tooShort": "DOMException:OperationError",
        "jwk": {"kty": "oct", "k": "_v_pkoZlcxxtao-UZzCDCA", "alg": "A128GCM", "key_ops": ["encrypt", "decrypt"], "ext": True},
    }


def test_aes_gcm_generated_keys_and_errors(js: JS) -> None:
    result = run(
        js,
        """
        const key = await subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt", "wrapKey"]);
        const iv = crypto.getRandomValues(new Uint8Array(12));
        const sealed = await subtle.encrypt({ name: "AES-GCM", iv, tagLength: 96 }, key, text("hello"));
        const opened = new TextDecoder().decode(await subtle.decrypt({ name: "AES-GCM", iv, tagLength: 96 }, key, sealed));
        const encryptOnly = await subtle.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["encrypt"]);
        const jwk = { kty: "oct", k: b64url(new Uint8Array(32)) };
        return {
          generated: [key.algorithm, key.usages, (await subtle.exportKey("raw", key)).byteLength],
          roundTrip: [sealed.byteLength, opened],
          badLength: await attempt(() => subtle.generateKey({ name: "AES-GCM", length: 100 }, true, ["encrypt"])),
          noLength: await attempt(() => subtle.generateKey({ name: "AES-GCM" }, true, ["encrypt"])),
          signUsage: await attempt(() => subtle.generateKey({ name: "AES-GCM", length: 128 }, true, ["sign"])),
          rawLength: await attempt(() => subtle.importKey("raw", new Uint8Array(15), "AES-GCM", true, ["encrypt"])),
          jwkAlg: await attempt(() => subtle.importKey("jwk", { ...jwk, alg: "A128GCM" }, "AES-GCM", true, ["encrypt"])),
          jwkUse: await attempt(() => subtle.importKey("jwk", { ...jwk, use: "sig" }, "AES-GCM", true, ["encrypt"])),
          jwk256: (await subtle.importKey("jwk", { ...jwk, alg: "A256GCM", use: "enc" }, "AES-GCM", true, ["encrypt"])).algorithm.length,
          noIv: await attempt(() => subtle.encrypt({ name: "AES-GCM" }, key, text("x"))),
          badTag: await attempt(() => subtle.encrypt({ name: "AES-GCM", iv, tagLength: 100 }, key, text("x"))),
          tagRange: await attempt(() => subtle.encrypt({ name: "AES-GCM", iv, tagLength: 256 }, key, text("x"))),
          decryptWithoutUsage: await attempt(() => subtle.decrypt({ name: "AES-GCM", iv }, encryptOnly, sealed)),
          otherCipher: await attempt(() => subtle.encrypt({ name: "AES-CBC", iv }, key, text("x"))),
        };
        """,
    )
    assert result == {
        "generated": [{"name": "AES-GCM", "length": 256}, ["encrypt", "decrypt", "wrapKey"], 32],
        "roundTrip": [5 + 12, "hello"],
        "badLength": "DOMException:OperationError",
        "noLength": "TypeError:TypeError",
        "signUsage": "DOMException:SyntaxError",
        "rawLength": "DOMException:DataError",
        "jwkAlg": "DOMException:DataError",
        "jwkUse": "DOMException:DataError",
        "jwk256": 256,
        "noIv": "TypeError:TypeError",
        "badTag": "DOMException:OperationError",
        "tagRange": "TypeError:TypeError",
        "decryptWithoutUsage": "DOMException:InvalidAccessError",
        "otherCipher": "DOMException:NotSupportedError",
    }


# ---- ECDSA


def test_ecdsa_rfc6979_signature_verifies(js: JS) -> None:
    result = run(
        js,
        """
        const ecdsa = { name: "ECDSA", namedCurve: "P-256" };
        const sha256 = { name: "ECDSA", hash: "SHA-256" };
        const publicKey = await subtle.importKey("raw", unhex("04" + V.x + V.y), ecdsa, true, ["verify"]);
        const jwk = { kty: "EC", crv: "P-256", x: b64url(unhex(V.x)), y: b64url(unhex(V.y)), d: b64url(unhex(V.d)) };
        const privateKey = await subtle.importKey("jwk", jwk, ecdsa, true, ["sign"]);
        const signature = await subtle.sign(sha256, privateKey, unhex(V.message));
        const other = new Uint8Array(unhex(V.signature));
        other[63] ^= 1;
        return {
          known: await subtle.verify(sha256, publicKey, unhex(V.signature), unhex(V.message)),
          tampered: await subtle.verify(sha256, publicKey, other, unhex(V.message)),
          otherHash: await subtle.verify({ name: "ECDSA", hash: "SHA-384" }, publicKey, unhex(V.signature), unhex(V.message)),
          ours: [signature.byteLength, await subtle.verify(sha256, publicKey, signature, unhex(V.message))],
          keys: [publicKey.type, publicKey.algorithm, publicKey.usages, privateKey.type, privateKey.usages],
          exportedRaw: hex(await subtle.exportKey("raw", publicKey)),
          exportedJwk: await subtle.exportKey("jwk", privateKey),
          publicJwk: await subtle.exportKey("jwk", publicKey),
        };
        """,
        V=ECDSA_P256,
    )
    assert result["known"] is True
    assert result["tampered"] is False and result["otherHash"] is False
    assert result["ours"] == [64, True]
    assert result["keys"] == ["public", {"name": "ECDSA", "namedCurve": "P-256"}, ["verify"], "private", ["sign"]]
    assert result["exportedRaw"] == "04" + ECDSA_P256["x"] + ECDSA_P256["y"]
    x, y, d = (b64url(ECDSA_P256[member]) for member in "xyd")
    assert result["exportedJwk"] == {"kty": "EC", "crv": "P-256", "x": x, "y": y, "d": d, "key_ops": ["sign"], "ext": True}
    assert result["publicJwk"] == {"kty": "EC", "crv": "P-256", "x": x, "y": y, "key_ops": ["verify"], "ext": True}


def test_ecdsa_generated_keys_round_trip_through_every_format(js: JS) -> None:
    result = run(
        js,
        """
        const out = {};
        for (const [curve, hash] of [["P-256", "SHA-256"], ["P-384", "SHA-384"], ["P-521", "SHA-512"]]) {
          const ecdsa = { name: "ECDSA", namedCurve: curve };
          const pair = await subtle.generateKey(ecdsa, true, ["sign", "verify"]);
          const pkcs8 = await subtle.exportKey("pkcs8", pair.privateKey);
          const spki = await subtle.exportKey("spki", pair.publicKey);
          const signer = await subtle.importKey("pkcs8", pkcs8, ecdsa, false, ["sign"]);
          const verifier = await subtle.importKey("spki", spki, ecdsa, true, ["verify"]);
          const signature = await subtle.sign({ name: "ECDSA", hash }, signer, text("message"));
          out[curve] = [
            signature.byteLength,
            await subtle.verify({ name: "ECDSA", hash }, verifier, signature, text("message")),
            await subtle.verify({ name: "ECDSA", hash }, pair.publicKey, signature, text("massage")),
            hex(await subtle.exportKey("spki", verifier)) === hex(spki),
            pair.publicKey.extractable,
          ];
        }
        return out;
        """,
    )
    assert result == {
        "P-256": [64, True, False, True, True],
        "P-384": [96, True, False, True, True],
        "P-521": [132, True, False, True, True],
    }


def test_ecdsa_errors(js: JS) -> None:
    result = run(
        js,
        """
        const ecdsa = { name: "ECDSA", namedCurve: "P-256" };
        const sha256 = { name: "ECDSA", hash: "SHA-256" };
        const pair = await subtle.generateKey(ecdsa, false, ["sign", "verify"]);
        const spki = await subtle.exportKey("spki", pair.publicKey);
        const jwk = await subtle.exportKey("jwk", pair.publicKey);
        return {
          signWithPublic: await attempt(() => subtle.sign(sha256, pair.publicKey, text("x"))),
          verifyWithPrivate: await attempt(() => subtle.verify(sha256, pair.privateKey, new Uint8Array(64), text("x"))),
          noHash: await attempt(() => subtle.sign({ name: "ECDSA" }, pair.privateKey, text("x"))),
          ed25519Name: await attempt(() => subtle.sign("Ed25519", pair.privateKey, text("x"))),
          shortSignature: await subtle.verify(sha256, pair.publicKey, new Uint8Array(10), text("x")),
          exportPrivate: await attempt(() => subtle.exportKey("pkcs8", pair.privateKey)),
          emptyPkcs8: await attempt(() => subtle.importKey("pkcs8", new Uint8Array(0), ecdsa, true, ["sign"])),
          spkiForSigning: await attempt(() => subtle.importKey("spki", spki, ecdsa, true, ["sign"])),
          otherCurve: await attempt(() => subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-384" }, true, ["verify"])),
          unknownCurve: await attempt(() => subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-192" }, true, ["verify"])),
          garbage: await attempt(() => subtle.importKey("spki", new Uint8Array(20), ecdsa, true, ["verify"])),
          notOnCurve: await attempt(() => subtle.importKey("raw", unhex("04" + "00".repeat(64)), ecdsa, true, ["verify"])),
          jwkCurve: await attempt(() => subtle.importKey("jwk", { ...jwk, crv: "P-384" }, ecdsa, true, ["verify"])),
          jwkAlg: await attempt(() => subtle.importKey("jwk", { ...jwk, alg: "ES384" }, ecdsa, true, ["verify"])),
          jwkKty: await attempt(() => subtle.importKey("jwk", { ...jwk, kty: "OKP" }, ecdsa, true, ["verify"])),
          jwkPublicForSigning: await attempt(() => subtle.importKey("jwk", jwk, ecdsa, true, ["sign"])),
          jwkMissingY: await attempt(() => subtle.importKey("jwk", { ...jwk, y: undefined }, ecdsa, true, ["verify"])),
          publicWithoutUsages: (await subtle.importKey("spki", spki, ecdsa, true, [])).usages,
          generateEncrypt: await attempt(() => subtle.generateKey(ecdsa, true, ["sign", "encrypt"])),
          generateVerifyOnly: await attempt(() => subtle.generateKey(ecdsa, true, ["verify"])),
          generateCurve: await attempt(() => subtle.generateKey({ name: "ECDSA", namedCurve: "P-192" }, true, ["sign"])),
          generateNoCurve: await attempt(() => subtle.generateKey({ name: "ECDSA" }, true, ["sign"])),
        };
        """,
    )
    access, data, syntax = "DOMException:InvalidAccessError", "DOMException:DataError", "DOMException:SyntaxError"
    assert result == {
        "signWithPublic": access,
        "verifyWithPrivate": access,
        "noHash": "TypeError:TypeError",
        "ed25519Name": access,
        "shortSignature": False,
        "exportPrivate": access,  # generated non-extractable
        "emptyPkcs8": data,
        "spkiForSigning": syntax,
        "otherCurve": data,
        "unknownCurve": data,
        "garbage": data,
        "notOnCurve": data,
        "jwkCurve": data,
        "jwkAlg": data,
        "jwkKty": data,
        "jwkPublicForSigning": syntax,
        "jwkMissingY": data,
        "publicWithoutUsages": [],
        "generateEncrypt": syntax,
        "generateVerifyOnly": syntax,
        "generateCurve": "DOMException:NotSupportedError",
        "generateNoCurve": "TypeError:TypeError",
    }


def test_ecdsa_raw_export_needs_a_public_key(js: JS) -> None:
    result = run(
        js,
        """
        const pair = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
        return [
          await attempt(() => subtle.exportKey("raw", pair.privateKey)),
          await attempt(() => subtle.exportKey("spki", pair.privateKey)),
          await attempt(() => subtle.exportKey("pkcs8", pair.publicKey)),
          (await subtle.exportKey("raw", pair.publicKey)).byteLength,
        ];
        """,
    )
    access = "DOMException:InvalidAccessError"
    assert result == [access, access, access, 65]


# ---- Ed25519


@pytest.mark.parametrize("case", ED25519_CASES, ids=["test1", "test2"])
def test_ed25519_rfc8032(js: JS, case: dict[str, str]) -> None:
    result = run(
        js,
        """
        const jwk = { kty: "OKP", crv: "Ed25519", x: b64url(unhex(V.public)), d: b64url(unhex(V.secret)) };
        const privateKey = await subtle.importKey("jwk", jwk, "Ed25519", true, ["sign"]);
        const publicKey = await subtle.importKey("raw", unhex(V.public), { name: "Ed25519" }, true, ["verify"]);
        const signature = await subtle.sign("Ed25519", privateKey, unhex(V.message));
        return {
          signature: hex(signature),
          verifies: await subtle.verify("Ed25519", publicKey, unhex(V.signature), unhex(V.message)),
          otherMessage: await subtle.verify("Ed25519", publicKey, unhex(V.signature), unhex(V.message + "00")),
          shortSignature: await subtle.verify("Ed25519", publicKey, unhex(V.signature).slice(1), unhex(V.message)),
          algorithm: privateKey.algorithm,
          raw: hex(await subtle.exportKey("raw", publicKey)),
          jwk: await subtle.exportKey("jwk", privateKey),
        };
        """,
        V=case,
    )

    assert result == {
        "signature": case["signature"],
        "verifies": True,
        "otherMessage": False,
        "shortSignature": False,
        "algorithm": {"name": "Ed25519"},
        "raw": case["public"],
        "jwk": {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "x": b64url(case["public"]), "d": b64url(case["secret"]), "key_ops": ["sign"], "ext": True},
    }


def test_ed25519_generated_keys_and_errors(js: JS) -> None:
    result = run(
        js,
        """
        const pair = await subtle.generateKey("Ed25519", true, ["sign", "verify"]);
        const pkcs8 = await subtle.exportKey("pkcs8", pair.privateKey);
        const spki = await subtle.exportKey("spki", pair.publicKey);
        const signer = await subtle.importKey("pkcs8", pkcs8, "Ed25519", false, ["sign"]);
        const verifier = await subtle.importKey("spki", spki, "Ed25519", false, ["verify"]);
        const signature = await subtle.sign("Ed25519", signer, text("message"));
        const jwk = await subtle.exportKey("jwk", pair.publicKey);
        const p256 = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
        return {
          usages: [pair.publicKey.usages, pair.privateKey.usages],
          roundTrip: [signature.byteLength, await subtle.verify("Ed25519", verifier, signature, text("message"))],
          pkcs8Length: pkcs8.byteLength,
          publicJwk: Object.keys(jwk).sort(),
          jwkCrv: await attempt(() => subtle.importKey("jwk", { ...jwk, crv: "Ed448" }, "Ed25519", true, ["verify"])),
          jwkAlg: await attempt(() => subtle.importKey("jwk", { ...jwk, alg: "ES256" }, "Ed25519", true, ["verify"])),
          jwkAlgEd25519: (await subtle.importKey("jwk", { ...jwk, alg: "Ed25519" }, "Ed25519", true, ["verify"])).type,
          rawLength: await attempt(() => subtle.importKey("raw", new Uint8Array(31), "Ed25519", true, ["verify"])),
          rawForSigning: await attempt(() => subtle.importKey("raw", new Uint8Array(32), "Ed25519", true, ["sign"])),
          ecdsaSpki: await attempt(async () => subtle.importKey("spki", await subtle.exportKey("spki", p256.publicKey), "Ed25519", true, ["verify"])),
          signWithPublic: await attempt(() => subtle.sign("Ed25519", pair.publicKey, text("x"))),
          pkcs8WithNoUsages: await attempt(() => subtle.importKey("pkcs8", pkcs8, "Ed25519", true, [])),
          generateDerive: await attempt(() => subtle.generateKey("Ed25519", true, ["deriveBits"])),
        };
        """,
    )
    data = "DOMException:DataError"
    assert result == {
        "usages": [["verify"], ["sign"]],
        "roundTrip": [64, True],
        "pkcs8Length": 48,
        "publicJwk": ["alg", "crv", "ext", "key_ops", "kty", "x"],
        "jwkCrv": data,
        "jwkAlg": data,
        "jwkAlgEd25519": "public",
        "rawLength": data,
        "rawForSigning": "DOMException:SyntaxError",
        "ecdsaSpki": data,
        "signWithPublic": "DOMException:InvalidAccessError",
        "pkcs8WithNoUsages": "DOMException:SyntaxError",
        "generateDerive": "DOMException:SyntaxError",
    }


# ---- PBKDF2 and HKDF


def test_pbkdf2_known_answers(js: JS) -> None:
    result = run(
        js,
        """
        const out = [];
        for (const [hash, password, salt, iterations, expected] of CASES) {
          const key = await subtle.importKey("raw", unhex(password), "PBKDF2", false, ["deriveBits"]);
          const bits = await subtle.deriveBits({ name: "PBKDF2", hash, salt: unhex(salt), iterations }, key, expected.length * 4);
          out.push(hex(bits) === expected);
        }
        return out;
        """,
        CASES=PBKDF2_CASES,
    )
    assert result == [True] * len(PBKDF2_CASES)


def test_pbkdf2_derive_key_and_errors(js: JS) -> None:
    result = run(
        js,
        """
        const password = await subtle.importKey("raw", text("password"), "PBKDF2", false, ["deriveKey", "deriveBits"]);
        const params = { name: "PBKDF2", hash: "SHA-256", salt: text("salt"), iterations: 1000 };
        const aes = await subtle.deriveKey(params, password, { name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]);
        const hmac = await subtle.deriveKey(params, password, { name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
        const bits = await subtle.deriveBits(params, password, 512);
        const bitsOnly = await subtle.importKey("raw", text("password"), "PBKDF2", false, ["deriveBits"]);
        return {
          key: [password.type, password.extractable, password.algorithm, password.usages],
          aes: [aes.algorithm, hex(await subtle.exportKey("raw", aes)) === hex(bits).slice(0, 64)],
          hmac: [hmac.algorithm, hex(await subtle.exportKey("raw", hmac)) === hex(bits)],
          zeroLength: (await subtle.deriveBits(params, password, 0)).byteLength,
          tooManyIterations: await attempt(() => subtle.deriveBits({ ...params, iterations: 100001 }, password, 256)),
          tooLong: await attempt(() => subtle.deriveBits(params, password, 2056)),
          negativeLength: await attempt(() => subtle.deriveBits(params, password, -8)), // unsigned long: 2^32 - 8
          zeroIterations: await attempt(() => subtle.deriveBits({ ...params, iterations: 0 }, password, 256)),
          noLength: await attempt(() => subtle.deriveBits(params, password)),
          nullLength: await attempt(() => subtle.deriveBits(params, password, null)),
          oddLength: await attempt(() => subtle.deriveBits(params, password, 12)),
          noSalt: await attempt(() => subtle.deriveBits({ ...params, salt: undefined }, password, 256)),
          deriveKeyWithoutUsage: await attempt(() => subtle.deriveKey(params, bitsOnly, { name: "AES-GCM", length: 128 }, true, ["encrypt"])),
          derivedNoUsages: await attempt(() => subtle.deriveKey(params, password, { name: "AES-GCM", length: 128 }, true, [])),
          derivedBadLength: await attempt(() => subtle.deriveKey(params, password, { name: "AES-GCM", length: 64 }, true, ["encrypt"])),
          derivedUnsupported: await attempt(() => subtle.deriveKey(params, password, "Ed25519", true, ["sign"])),
          hkdfParamsOnPbkdf2: await attempt(() => subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: text(""), info: text("") }, password, 256)),
          extractable: await attempt(() => subtle.importKey("raw", text("pw"), "PBKDF2", true, ["deriveBits"])),
          jwk: await attempt(() => subtle.importKey("jwk", { kty: "oct", k: "cHc" }, "PBKDF2", false, ["deriveBits"])),
          signUsage: await attempt(() => subtle.importKey("raw", text("pw"), "PBKDF2", false, ["sign"])),
          exported: await attempt(() => subtle.exportKey("raw", password)),
          generate: await attempt(() => subtle.generateKey({ name: "PBKDF2" }, false, ["deriveBits"])),
        };
        """,
    )
    operation, syntax = "DOMException:OperationError", "DOMException:SyntaxError"
    assert result == {
        "key": ["secret", False, {"name": "PBKDF2"}, ["deriveKey", "deriveBits"]],
        "aes": [{"name": "AES-GCM", "length": 256}, True],
        "hmac": [{"name": "HMAC", "hash": {"name": "SHA-256"}, "length": 512}, True],
        "zeroLength": 0,
        "tooManyIterations": "DOMException:NotSupportedError",
        "tooLong": "DOMException:NotSupportedError",
        "negativeLength": "DOMException:NotSupportedError",
        "zeroIterations": operation,
        "noLength": operation,
        "nullLength": operation,
        "oddLength": operation,
        "noSalt": "TypeError:TypeError",
        "deriveKeyWithoutUsage": "DOMException:InvalidAccessError",
        "derivedNoUsages": syntax,
        "derivedBadLength": operation,
        "derivedUnsupported": "DOMException:NotSupportedError",
        "hkdfParamsOnPbkdf2": "DOMException:InvalidAccessError",
        "extractable": syntax,
        "jwk": "DOMException:NotSupportedError",
        "signUsage": syntax,
        "exported": "DOMException:NotSupportedError",
        "generate": "DOMException:NotSupportedError",
    }


def test_hkdf_rfc5869_and_errors(js: JS) -> None:
    result = run(
        js,
        """
        const key = await subtle.importKey("raw", unhex(V.ikm), "HKDF", false, ["deriveBits", "deriveKey"]);
        const params = { name: "HKDF", hash: "SHA-256", salt: unhex(V.salt), info: unhex(V.info) };
        const hmac = await subtle.deriveKey(params, key, { name: "HMAC", hash: "SHA-1", length: 80 }, true, ["sign"]);
        return {
          okm: hex(await subtle.deriveBits(params, key, V.length * 8)),
          derived: [hmac.algorithm.length, hex(await subtle.exportKey("raw", hmac))],
          most: (await subtle.deriveBits(params, key, 255 * 256)).byteLength,
          tooLong: await attempt(() => subtle.deriveBits(params, key, 255 * 256 + 8)),
          noInfo: await attempt(() => subtle.deriveBits({ ...params, info: undefined }, key, 256)),
          noLength: await attempt(() => subtle.deriveBits(params, key)),
          derivedHkdf: await attempt(() => subtle.deriveKey(params, key, "HKDF", false, ["deriveBits"])),
        };
        """,
        V=HKDF_CASE,
    )
    assert result == {
        "okm": HKDF_CASE["okm"],
        "derived": [80, HKDF_CASE["okm"][:20]],
        "most": 255 * 32,
        "tooLong": "DOMException:OperationError",
        "noInfo": "TypeError:TypeError",
        "noLength": "DOMException:OperationError",
        "derivedHkdf": "DOMException:OperationError",  # no length to derive
    }


# ---- Wrapping, CryptoKey, the interfaces


def test_wrap_and_unwrap_with_aes_gcm(js: JS) -> None:
    result = run(
        js,
        """
        const kek = await subtle.generateKey({ name: "AES-GCM", length: 128 }, false, ["wrapKey", "unwrapKey"]);
        const hmac = await subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
        const iv = crypto.getRandomValues(new Uint8Array(12));
        const expected = hex(await subtle.sign("HMAC", hmac, text("x")));
        const out = {};
        for (const format of ["raw", "jwk"]) {
          const wrapped = await subtle.wrapKey(format, hmac, kek, { name: "AES-GCM", iv });
          const unwrapped = await subtle.unwrapKey(format, wrapped, kek, { name: "AES-GCM", iv }, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
          out[format] = [unwrapped.extractable, hex(await subtle.sign("HMAC", unwrapped, text("x"))) === expected];
        }
        const rawWrapped = await subtle.wrapKey("raw", hmac, kek, { name: "AES-GCM", iv });
        const encryptOnly = await subtle.generateKey({ name: "AES-GCM", length: 128 }, false, ["encrypt"]);
        out.withoutUsage = await attempt(() => subtle.wrapKey("raw", hmac, encryptOnly, { name: "AES-GCM", iv }));
        out.notExtractable = await attempt(() => subtle.wrapKey("raw", kek, kek, { name: "AES-GCM", iv }));
        out.notJson = await attempt(() => subtle.unwrapKey("jwk", rawWrapped, kek, { name: "AES-GCM", iv }, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]));
        return out;
        """,
    )
    assert result == {
        "raw": [False, True],
        "jwk": [False, True],
        "withoutUsage": "DOMException:InvalidAccessError",
        "notExtractable": "DOMException:InvalidAccessError",
        "notJson": "DOMException:DataError",
    }


def test_crypto_key_interface(js: JS) -> None:
    result = run(
        js,
        """
        const key = await subtle.importKey("raw", new Uint8Array(16), { name: "hmac", hash: "sha-256" }, false, ["verify", "sign", "verify"]);
        const algorithm = key.algorithm;
        algorithm.hash.name = "SHA-1"; // the attribute's object is the script's to change; the key is not
        const signature = hex(await subtle.sign("HMAC", key, text("x")));
        const reference = await subtle.importKey("raw", new Uint8Array(16), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
        return {
          tag: Object.prototype.toString.call(key),
          isKey: key instanceof CryptoKey,
          names: [key.algorithm.name, key.algorithm === algorithm, key.usages === key.usages],
          usages: key.usages,
          unchanged: signature === hex(await subtle.sign("HMAC", reference, text("x"))),
          construct: await attempt(() => new CryptoKey()),
          ownKeys: Object.keys(key),
          protoKeys: Object.keys(CryptoKey.prototype).sort(),
          subtleTag: Object.prototype.toString.call(crypto.subtle),
          sameSubtle: crypto.subtle === crypto.subtle && crypto.subtle instanceof SubtleCrypto,
          constructSubtle: await attempt(() => new SubtleCrypto()),
          globals: ["crypto", "Crypto", "SubtleCrypto", "CryptoKey"].map((name) => Object.getOwnPropertyDescriptor(globalThis, name).enumerable),
        };
        """,
    )
    assert result == {
        "tag": "[object CryptoKey]",
        "isKey": True,
        "names": ["HMAC", True, True],
        "usages": ["sign", "verify"],
        "unchanged": True,
        "construct": "TypeError:TypeError",
        "ownKeys": [],
        "protoKeys": ["algorithm", "extractable", "type", "usages"],
        "subtleTag": "[object SubtleCrypto]",
        "sameSubtle": True,
        "constructSubtle": "TypeError:TypeError",
        "globals": [False, False, False, False],
    }


def test_timing_safe_equal_and_random_values_in_scripts(js: JS) -> None:
    script = """
        return {
          equal: [subtle.timingSafeEqual(text("abc"), text("abc")), subtle.timingSafeEqual(text("abc"), text("abd"))],
          lengths: await attempt(() => subtle.timingSafeEqual(text("abc"), text("ab"))),
          random: hex(crypto.getRandomValues(new Uint8Array(16))),
          uuid: crypto.randomUUID(),
        };
    """
    first, second = run(js, script), run(js, script)
    assert first["equal"] == [True, False] and first["lengths"] == "TypeError:TypeError"
    # The host seeds every isolate afresh: no two scripts see the same values.
    assert len(first["random"]) == 32 and first["random"] != second["random"]
    assert first["uuid"] != second["uuid"]
