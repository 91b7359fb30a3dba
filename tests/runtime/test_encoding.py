"""TextEncoder / TextDecoder and the runtime's utf8Encode / utf8Decode (WHATWG Encoding Standard)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import httpx
import pytest

from isolane.runtime import prelude_source
from isolane.sandbox.engine import Isolate
from tests.conftest import run_js

# Helpers prepended to the scripts: code points of a string, bytes of a Uint8Array.
HELPERS = """
const cps = (s) => Array.from(s, (c) => c.codePointAt(0));
const list = (bytes) => Array.from(bytes);
const dec = (bytes, options) => cps(new TextDecoder("utf-8", options).decode(new Uint8Array(bytes)));
const errorName = (f) => { try { f(); return "no error"; } catch (e) { return e.name; } };
"""


def js(admin: httpx.Client, code: str) -> object:
    body = run_js(admin, HELPERS + code)
    assert body["error"] is None, body["error"]
    return body["result"]


def test_globals_are_web_idl_shaped(admin: httpx.Client) -> None:
    code = """
    const shape = (name) => {
      const d = Object.getOwnPropertyDescriptor(globalThis, name);
      return [typeof d.value, d.writable, d.enumerable, d.configurable];
    };
    const decoder = new TextDecoder();
    [shape("TextEncoder"), shape("TextDecoder"),
     String(new TextEncoder()), String(decoder), new TextEncoder().encoding,
     decoder.encoding, decoder.fatal, decoder.ignoreBOM,
     new TextDecoder("utf8", {fatal: 1, ignoreBOM: "yes"}).fatal,
     new TextDecoder(undefined, null).encoding,
     errorName(() => TextEncoder()), errorName(() => TextDecoder.prototype.decode.call({}, new Uint8Array(1))),
     errorName(() => Object.getOwnPropertyDescriptor(TextDecoder.prototype, "fatal").get.call({})),
     errorName(() => new TextDecoder("utf-8", 5)),
     typeof utf8Encode, typeof utf8Decode, typeof Utf8Decoder]
    """
    assert js(admin, code) == [
        ["function", True, False, True],
        ["function", True, False, True],
        "[object TextEncoder]",
        "[object TextDecoder]",
        "utf-8",
        "utf-8",
        False,
        False,
        True,
        "utf-8",
        "TypeError",
        "TypeError",
        "TypeError",
        "TypeError",
        "undefined",
        "undefined",
        "undefined",
    ]


def test_labels(admin: httpx.Client) -> None:
    accepted = ["utf-8", "UTF-8", "utf8", " \t\n\f\rUtF8\r\n", "unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "x-unicode20utf8"]
    # Unknown labels, labels of other encodings (only UTF-8 is available here), near misses.
    rejected = ["", "utf-16le", "latin1", "utf 8", "utf-8\v", "\u00a0utf-8", "utf-8\u0000", "ascii"]
    code = f"""
    [{json.dumps(accepted)}.map((label) => new TextDecoder(label).encoding),
     {json.dumps(rejected)}.map((label) => errorName(() => new TextDecoder(label)))]
    """
    assert js(admin, code) == [["utf-8"] * len(accepted), ["RangeError"] * len(rejected)]


def test_encode(admin: httpx.Client) -> None:
    code = """
    const e = new TextEncoder();
    const out = e.encode("h\\u00e9\\u20ac\\ud83d\\ude00");
    [list(out), out instanceof Uint8Array, out.buffer.byteLength,
     list(e.encode()), list(e.encode(undefined)), list(e.encode(null)), list(e.encode(12)), list(e.encode("")),
     list(e.encode("\\ud800")), list(e.encode("\\udc00")), list(e.encode("a\\udc00\\ud800b")),
     list(e.encode("\\ud83d")), list(e.encode("\\ud83d\\ud83d\\ude00")),
     list(e.encode("\\u007f\\u0080\\u07ff\\u0800\\uffff")), list(e.encode("\\udbff\\udfff")),
     errorName(() => e.encode(Symbol()))]
    """
    assert js(admin, code) == [
        [0x68, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80],
        True,
        10,
        [],
        [],
        list(b"null"),
        list(b"12"),
        [],
        # Lone surrogates become U+FFFD (USVString conversion).
        [0xEF, 0xBF, 0xBD],
        [0xEF, 0xBF, 0xBD],
        [0x61, 0xEF, 0xBF, 0xBD, 0xEF, 0xBF, 0xBD, 0x62],
        [0xEF, 0xBF, 0xBD],
        [0xEF, 0xBF, 0xBD, 0xF0, 0x9F, 0x98, 0x80],
        [0x7F, 0xC2, 0x80, 0xDF, 0xBF, 0xE0, 0xA0, 0x80, 0xEF, 0xBF, 0xBF],
        [0xF4, 0x8F, 0xBF, 0xBF],
        "TypeError",
    ]


def test_encode_into(admin: httpx.Client) -> None:
    # Whole code points only: one that does not fit stops the encoding.
    code = """
    const e = new TextEncoder();
    const into = (text, size) => {
      const dest = new Uint8Array(size).fill(0xee);
      const { read, written } = e.encodeInto(text, dest);
      return [read, written, list(dest)];
    };
    const backing = new Uint8Array(6);
    const result = e.encodeInto("\\u00e9\\u00e9", backing.subarray(2, 5));
    [into("abc", 2), into("a\\u20ac", 3), into("a\\u20ac", 4), into("\\ud83d\\ude00", 3), into("\\ud83d\\ude00x", 5),
     into("\\ud800x", 4), into("", 2), into("x", 0),
     [result.read, result.written, list(backing)], Object.keys(result),
     errorName(() => e.encodeInto("a", new Uint16Array(2))), errorName(() => e.encodeInto("a", new ArrayBuffer(2))),
     errorName(() => e.encodeInto("a", new DataView(new ArrayBuffer(2)))), errorName(() => e.encodeInto("a")),
     into(undefined, 9)]
    """
    assert js(admin, code) == [
        [2, 2, [0x61, 0x62]],
        [1, 1, [0x61, 0xEE, 0xEE]],
        [2, 4, [0x61, 0xE2, 0x82, 0xAC]],
        [0, 0, [0xEE, 0xEE, 0xEE]],
        [3, 5, [0xF0, 0x9F, 0x98, 0x80, 0x78]],
        [2, 4, [0xEF, 0xBF, 0xBD, 0x78]],
        [0, 0, [0xEE, 0xEE]],
        [0, 0, []],
        [1, 2, [0, 0, 0xC3, 0xA9, 0, 0]],
        ["read", "written"],
        "TypeError",
        "TypeError",
        "TypeError",
        "TypeError",
        [9, 9, list(b"undefined")],
    ]


def test_decode_accepts_buffer_sources(admin: httpx.Client) -> None:
    code = """
    const d = new TextDecoder();
    const bytes = new TextEncoder().encode("xx\\u00e9\\u00e9yy");  // 8 bytes, "éé" at 2..6
    const detached = new Uint8Array([0x61]).buffer;
    detached.transfer();
    const shared = new SharedArrayBuffer(2);
    new Uint8Array(shared).set([0x68, 0x69]);
    [d.decode(bytes), d.decode(bytes.buffer), d.decode(bytes.subarray(2, 6)),
     d.decode(new DataView(bytes.buffer, 2, 4)), d.decode(new Uint16Array(bytes.buffer, 2, 2)),
     d.decode(new Int8Array([0x61, -61, -87])), d.decode(new Float32Array(0)),
     d.decode(), d.decode(undefined), d.decode(undefined, {stream: true}), d.decode(detached), d.decode(shared),
     errorName(() => d.decode("abc")), errorName(() => d.decode([0x61])), errorName(() => d.decode(null)),
     errorName(() => d.decode({ byteLength: 1 })), errorName(() => d.decode(new Uint8Array(1), 1))]
    """
    assert js(admin, code) == [
        "xx\u00e9\u00e9yy",
        "xx\u00e9\u00e9yy",
        "\u00e9\u00e9",
        "\u00e9\u00e9",
        "\u00e9\u00e9",
        "a\u00e9",
        "",
        "",
        "",
        "",
        "",
        "hi",
        "TypeError",
        "TypeError",
        "TypeError",
        "TypeError",
        "TypeError",
    ]


def test_bom_handling(admin: httpx.Client) -> None:
    code = """
    const BOM = [0xef, 0xbb, 0xbf];
    const streamed = (decoder, chunks) => {
      let text = "";
      for (const chunk of chunks) text += decoder.decode(new Uint8Array(chunk), { stream: true });
      return cps(text + decoder.decode());
    };
    const reused = new TextDecoder();
    const first = cps(reused.decode(new Uint8Array([...BOM, 0x61])));
    [dec([...BOM, 0x61]), dec([...BOM, ...BOM, 0x61]), dec([0x61, ...BOM]), dec(BOM), dec([...BOM, 0xff]),
     dec([0xff, ...BOM]), dec([...BOM, 0x61], { ignoreBOM: true }),
     streamed(new TextDecoder(), [[0xef], [0xbb], [0xbf, 0x61]]),
     streamed(new TextDecoder(), [[0x61], [...BOM]]),
     streamed(new TextDecoder(), [[], [...BOM], [...BOM]]),
     streamed(new TextDecoder("utf-8", { ignoreBOM: true }), [[0xef, 0xbb], [0xbf]]),
     first, cps(reused.decode(new Uint8Array([...BOM, 0x62])))]
    """
    assert js(admin, code) == [
        [0x61],
        [0xFEFF, 0x61],
        [0x61, 0xFEFF],
        [],
        [0xFFFD],
        [0xFFFD, 0xFEFF],
        [0xFEFF, 0x61],
        [0x61],
        [0x61, 0xFEFF],
        [0xFEFF],
        [0xFEFF],
        [0x61],
        # A new stream starts after every non-streaming decode(): its BOM is stripped again.
        [0x62],
    ]


# Each maximal subpart of an ill-formed sequence is one U+FFFD (Encoding Standard; Unicode
# chapter 3, "U+FFFD Substitution of Maximal Subparts", tables 3-8 to 3-11).
MAXIMAL_SUBPARTS = [
    ([0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2, 0x62, 0x80, 0x63, 0x80, 0xBF, 0x64], "a\ufffd\ufffd\ufffdb\ufffdc\ufffd\ufffdd"),
    ([0xC0, 0xAF, 0xE0, 0x80, 0xBF, 0xF0, 0x81, 0x82, 0x41], "\ufffd" * 8 + "A"),
    ([0xED, 0xA0, 0x80, 0xED, 0xBF, 0xBF, 0xED, 0xAF, 0x41], "\ufffd" * 8 + "A"),
    ([0xF4, 0x91, 0x92, 0x93, 0xFF, 0x41, 0x80, 0xBF, 0x42], "\ufffd" * 5 + "A\ufffd\ufffdB"),
    ([0xE1, 0x80, 0xE2, 0xF0, 0x91, 0x92, 0xF1, 0xBF, 0x41], "\ufffd\ufffd\ufffd\ufffdA"),
    ([0x80], "\ufffd"),
    ([0xC2], "\ufffd"),
    ([0xC2, 0x41], "\ufffdA"),
    ([0xE2, 0x82], "\ufffd"),
    ([0xF0, 0x9F, 0x98], "\ufffd"),
    ([0xF0, 0x9F, 0x98, 0x41], "\ufffdA"),
    ([0xF8, 0x88, 0x80, 0x80, 0x80], "\ufffd" * 5),
    ([0xF4, 0x90, 0x80, 0x80], "\ufffd" * 4),
    ([0xF4, 0x8F, 0xBF, 0xBF], "\U0010ffff"),
    ([0xED, 0x9F, 0xBF, 0xEE, 0x80, 0x80], "\ud7ff\ue000"),
    ([0xEF, 0xBF, 0xBE, 0xEF, 0xBF, 0xBF], "\ufffe\uffff"),  # noncharacters are valid
    ([0x00, 0x7F, 0xC2, 0x80, 0xDF, 0xBF], "\u0000\u007f\u0080\u07ff"),
]


def test_replacement_of_maximal_subparts(admin: httpx.Client) -> None:
    inputs = [case[0] for case in MAXIMAL_SUBPARTS]
    code = f"""
    {json.dumps(inputs)}.map((bytes) => [
      new TextDecoder().decode(new Uint8Array(bytes)),
      errorName(() => new TextDecoder("utf-8", {{ fatal: true }}).decode(new Uint8Array(bytes))),
    ])
    """
    results = js(admin, code)
    for (data, expected), (decoded, fatal) in zip(MAXIMAL_SUBPARTS, results, strict=True):
        assert decoded == expected, bytes(data)
        assert fatal == ("TypeError" if "\ufffd" in expected else "no error"), bytes(data)


def test_fatal_mode(admin: httpx.Client) -> None:
    code = """
    const fatal = new TextDecoder("utf-8", { fatal: true });
    const decode = (bytes, options) => { try { return fatal.decode(new Uint8Array(bytes), options); } catch (e) { return e.name; } };
    [decode([0x61, 0xe2, 0x82, 0xac]), decode([0xff]), decode([0x61]),
     decode([0xe2, 0x82], { stream: true }), decode([0xac]),
     decode([0xe2, 0x82], { stream: true }), decode([]),
     decode([0xe2], { stream: true }), decode([0x41]),
     decode([0xf0, 0x9f]), decode([0xef, 0xbb, 0xbf, 0x62]),
     errorName(() => new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xed, 0xa0, 0x80])))]
    """
    assert js(admin, code) == [
        "a\u20ac",
        "TypeError",
        "a",
        "",
        "\u20ac",
        "",
        "TypeError",  # the stream ended inside a sequence
        "",
        "TypeError",  # 0x41 cannot continue 0xE2
        "TypeError",
        "b",  # a fresh stream after the error, BOM stripped
        "TypeError",
    ]


def test_streaming_split_sequences(admin: httpx.Client) -> None:
    # Every way of cutting a text of 1- to 4-byte sequences into two or three chunks decodes
    # to the same text, and byte-by-byte streaming too.
    code = """
    const text = "a\\u00e9\\u20ac\\ud83d\\ude00z";
    const bytes = new TextEncoder().encode(text);
    const failures = [];
    for (let i = 0; i <= bytes.length; i++) {
      for (let j = i; j <= bytes.length; j++) {
        const d = new TextDecoder("utf-8", { fatal: true });
        const out = d.decode(bytes.subarray(0, i), { stream: true }) + d.decode(bytes.subarray(i, j), { stream: true }) + d.decode(bytes.subarray(j));
        if (out !== text) failures.push([i, j, out]);
      }
    }
    const d = new TextDecoder();
    let byByte = "";
    for (const b of bytes) byByte += d.decode(new Uint8Array([b]), { stream: true });
    byByte += d.decode();
    const pending = new TextDecoder();
    const partial = [pending.decode(new Uint8Array([0xf0, 0x9f, 0x98]), { stream: true }), pending.decode()];
    const broken = new TextDecoder();
    const interrupted = [broken.decode(new Uint8Array([0xf0, 0x9f]), { stream: true }), broken.decode(new Uint8Array([0x41]), { stream: true }), broken.decode()];
    [failures, byByte === text, partial, interrupted]
    """
    assert js(admin, code) == [[], True, ["", "\ufffd"], ["", "\ufffdA", ""]]


def test_decoder_agrees_with_python_on_random_bytes(admin: httpx.Client) -> None:
    # Python's "replace" error handler substitutes maximal subparts too.
    rng = random.Random(20240601)
    pieces = [b"\xef\xbb\xbf", b"a", b"\x80", b"\xbf", b"\xc2", b"\xc3\xa9", b"\xe0", b"\xe0\xa0", b"\xed\xa0\x80", b"\xed\x9f\xbf",
              b"\xf0\x90\x80\x80", b"\xf4\x8f\xbf\xbf", b"\xf4\x90", b"\xf0", b"\xf0\x9f\x98", b"\xff", b"\xc0\x80", b"\xe2\x82\xac"]
    cases = []
    for _ in range(400):
        data = b"".join(rng.choice(pieces) if rng.random() < 0.8 else bytes([rng.randrange(256)]) for _ in range(rng.randrange(12)))
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, rng.randrange(4))))
        cases.append((list(data), cuts))
    code = f"""
    {json.dumps(cases)}.map(([data, cuts]) => {{
      const bytes = new Uint8Array(data);
      const decoder = new TextDecoder("utf-8", {{ ignoreBOM: true }});
      let streamed = "", last = 0;
      for (const cut of cuts) {{ streamed += decoder.decode(bytes.subarray(last, cut), {{ stream: true }}); last = cut; }}
      streamed += decoder.decode(bytes.subarray(last));
      return [new TextDecoder("utf-8", {{ ignoreBOM: true }}).decode(bytes), streamed];
    }})
    """
    results = js(admin, code)
    for (data, cuts), (whole, streamed) in zip(cases, results, strict=True):
        expected = bytes(data).decode("utf-8", "replace")
        assert whole == expected, bytes(data)
        assert streamed == expected, (bytes(data), cuts)


def test_large_round_trips(admin: httpx.Client) -> None:
    # Long enough to cross the chunking of the string building many times.
    code = """
    const ascii = "{\\"key\\": 12345, \\"list\\": [1, 2, 3]}\\n".repeat(4000);
    const mixed = "Gr\\u00fc\\u00dfe \\u043f\\u0440\\u0438\\u0432\\u0435\\u0442 \\u4f60\\u597d \\ud83d\\ude00! ".repeat(4000);
    const e = new TextEncoder(), d = new TextDecoder();
    const a = e.encode(ascii), m = e.encode(mixed);
    const chunked = new TextDecoder();
    let streamed = "";
    for (let i = 0; i < m.length; i += 1000) streamed += chunked.decode(m.subarray(i, i + 1000), { stream: true });
    streamed += chunked.decode();
    [a.length === ascii.length, d.decode(a) === ascii, m.length, d.decode(m) === mixed, streamed === mixed]
    """
    assert js(admin, code) == [True, True, 4000 * len("Grüße привет 你好 😀! ".encode()), True, True]


# ---- The internal helpers other runtime files call (not reachable from scripts).


@pytest.fixture(scope="module")
def internals() -> Iterator[Isolate]:
    """A bare isolate whose prelude also publishes its utf8Encode / utf8Decode for testing."""
    source = prelude_source()
    marker = "\n})();\n//# sourceURL="
    assert marker in source
    source = source.replace(marker, "\nglobalThis.internals = { utf8Encode, utf8Decode };" + marker)
    isolate = Isolate()
    isolate.eval_blocking(source)
    yield isolate
    isolate.close()


def test_utf8_helpers(internals: Isolate) -> None:
    code = HELPERS + """
    const { utf8Encode, utf8Decode } = internals;
    const big = "x".repeat(100000) + "\\u00e9" + "y".repeat(100000);
    const bigBytes = utf8Encode(big);
    JSON.stringify([
      list(utf8Encode("a\\u00e9\\ud800\\ud83d\\ude00")), utf8Encode("abc") instanceof Uint8Array, utf8Encode("").length,
      cps(utf8Decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x61, 0xff, 0xe2, 0x82]))),
      cps(utf8Decode(new Uint8Array([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]))), utf8Decode(new Uint8Array(0)),
      cps(utf8Decode(new Uint8Array([0xef, 0xbb]))),
      utf8Decode(new Uint8Array([0x68, 0x69, 0x21]).subarray(1)),
      bigBytes.length, bigBytes.buffer.byteLength, utf8Decode(bigBytes) === big,
    ])
    """
    assert json.loads(internals.eval_blocking(code)) == [
        [0x61, 0xC3, 0xA9, 0xEF, 0xBF, 0xBD, 0xF0, 0x9F, 0x98, 0x80],
        True,
        0,
        [0x61, 0xFFFD, 0xFFFD],
        [0xFEFF],
        "",
        [0xFFFD],
        "i!",
        200002,
        200002,
        True,
    ]
