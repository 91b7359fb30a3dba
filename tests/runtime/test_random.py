"""crypto.getRandomValues / randomUUID and their generator (ChaCha20 with fast key erasure,
keyed by the host through seedRandom), checked inside an isolate of our own, plus
crypto.subtle.timingSafeEqual."""

from __future__ import annotations

import json
import re

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from tests.runtime.conftest import InternalsIsolate

ATTEMPT = "const attempt = (f) => { try { return f(); } catch (e) { return `${e.name}: ${e.constructor.name}`; } };"


def seed(isolate: InternalsIsolate, seed_bytes: bytes) -> None:
    isolate.run(f"internal('seedRandom')(new Uint8Array({json.dumps(list(seed_bytes))}))")


def random_hex(isolate: InternalsIsolate, length: int, kind: str = "Uint8Array") -> str:
    return isolate.run(
        f"const a = crypto.getRandomValues(new {kind}({length}));"
        "Array.from(new Uint8Array(a.buffer), (b) => b.toString(16).padStart(2, '0')).join('')"
    )


def reference_output(seed_bytes: bytes, length: int) -> bytes:
    """The generator's construction, written with cryptography's ChaCha20: each refill is 16
    blocks of keystream (counter 0..15, zero nonce) whose first 32 bytes are the next key."""
    key, out = seed_bytes, b""
    while len(out) < length:
        nonce = (0).to_bytes(4, "little") + bytes(12)  # cryptography's form: counter || nonce
        keystream = Cipher(algorithms.ChaCha20(key, nonce), mode=None).encryptor().update(bytes(1024))
        key, out = keystream[:32], out + keystream[32:]
    return out[:length]


def test_chacha20_block_function_rfc8439_vector(internals):
    # RFC 8439 section 2.3.2.
    block = internals.run(
        "const key = Uint8Array.from({ length: 32 }, (_, i) => i);"
        "const nonce = Uint8Array.from([0, 0, 0, 9, 0, 0, 0, 0x4a, 0, 0, 0, 0]);"
        "Array.from(internal('chacha20Block')(key, 1, nonce), (b) => b.toString(16).padStart(2, '0')).join('')"
    )
    assert block == (
        "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
        "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e"
    )


def test_unseeded_generator_refuses():
    isolate = InternalsIsolate()
    try:
        outcome = isolate.run(
            ATTEMPT + "[attempt(() => crypto.getRandomValues(new Uint8Array(4))), attempt(() => crypto.randomUUID())]"
        )
        assert outcome == ["Error: Error", "Error: Error"]
    finally:
        isolate.close()


def test_output_is_the_chacha20_keystream_of_the_seed(internals):
    seed_bytes = bytes(range(100, 132))
    seed(internals, seed_bytes)
    # Across refills and calls, the bytes come out in keystream order.
    produced = random_hex(internals, 600) + random_hex(internals, 1500) + random_hex(internals, 3)
    assert produced == reference_output(seed_bytes, 2103).hex()
    # Reseeding starts afresh.
    seed(internals, seed_bytes)
    assert random_hex(internals, 40) == reference_output(seed_bytes, 40).hex()


def test_seed_must_be_32_bytes(internals):
    assert internals.run(ATTEMPT + "attempt(() => internal('seedRandom')(new Uint8Array(16)))") == "TypeError: TypeError"


def test_get_random_values_kinds_and_limits(internals):
    seed(internals, bytes(32))
    outcome = internals.run(
        ATTEMPT
        + """
        const u32 = new Uint32Array(4);
        const view = new Uint8Array(new ArrayBuffer(16), 4, 8);
        [
          crypto.getRandomValues(u32) === u32,
          crypto.getRandomValues(new BigUint64Array(2)).length,
          crypto.getRandomValues(new Uint8Array(65536)).length,
          crypto.getRandomValues(new Uint8Array(0)).length,
          new Uint8Array(crypto.getRandomValues(view).buffer).slice(0, 4).join() + "|" + new Uint8Array(view.buffer).slice(12).join(),
          attempt(() => crypto.getRandomValues(new Uint8Array(65537))),
          attempt(() => crypto.getRandomValues(new Uint32Array(16385))),
          attempt(() => crypto.getRandomValues(new Float32Array(4))),
          attempt(() => crypto.getRandomValues(new Float64Array(4))),
          attempt(() => crypto.getRandomValues(new DataView(new ArrayBuffer(4)))),
          attempt(() => crypto.getRandomValues(new ArrayBuffer(4))),
          attempt(() => crypto.getRandomValues([1, 2])),
          attempt(() => crypto.getRandomValues()),
          attempt(() => crypto.getRandomValues.call({}, new Uint8Array(4))),
          new DOMException("", "QuotaExceededError").code,
        ]
        """
    )
    assert outcome == [
        True,
        2,
        65536,
        0,
        "0,0,0,0|0,0,0,0",  # only the view's bytes are written
        "QuotaExceededError: DOMException",
        "QuotaExceededError: DOMException",
        "TypeMismatchError: DOMException",
        "TypeMismatchError: DOMException",
        "TypeMismatchError: DOMException",
        "TypeError: TypeError",
        "TypeError: TypeError",
        "TypeError: TypeError",
        "TypeError: TypeError",
        22,
    ]


def test_random_values_look_random(internals):
    seed(internals, bytes(range(32)))
    data = bytes.fromhex(random_hex(internals, 65536))
    # Every byte value turns up, none far more often than the 256 expected.
    counts = [data.count(value) for value in range(256)]
    assert min(counts) > 150 and max(counts) < 370


def test_random_uuid(internals):
    seed(internals, bytes(range(1, 33)))
    uuids = internals.run("Array.from({ length: 50 }, () => crypto.randomUUID())")
    assert len(set(uuids)) == 50
    for uuid in uuids:
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", uuid), uuid


def test_crypto_interface(internals):
    outcome = internals.run(
        ATTEMPT
        + """
        [
          Object.prototype.toString.call(crypto),
          crypto instanceof Crypto,
          Object.keys(globalThis).includes("crypto"),
          attempt(() => new Crypto()),
          typeof Crypto.prototype.getRandomValues,
        ]
        """
    )
    assert outcome == ["[object Crypto]", True, False, "TypeError: TypeError", "function"]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("new Uint8Array([1, 2, 3])", "new Uint8Array([1, 2, 3])", True),
        ("new Uint8Array([1, 2, 3])", "new Uint8Array([1, 2, 4])", False),
        ("new Uint8Array([1, 2, 3]).buffer", "new DataView(new Uint8Array([1, 2, 3]).buffer)", True),
        ("new Uint16Array([0x0102])", "new Uint8Array([2, 1])", True),  # bytes, not elements
        ("new ArrayBuffer(0)", "new Uint8Array(0)", True),
        ("new Uint8Array(3)", "new Uint8Array(4)", "TypeError"),
        ("'abc'", "'abc'", "TypeError"),
    ],
)
def test_timing_safe_equal(internals, a, b, expected):
    outcome = internals.run(ATTEMPT + f"attempt(() => crypto.subtle.timingSafeEqual({a}, {b}))")
    assert outcome == (expected if expected != "TypeError" else "TypeError: TypeError")
