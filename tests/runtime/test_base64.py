"""atob / btoa (HTML standard, forgiving-base64) and the DOMException they throw (Web IDL)."""

from __future__ import annotations

import base64
import json

import httpx

from tests.conftest import run_js

HELPERS = """
const attempt = (f) => { try { return f(); } catch (e) { return `${e.name}:${e.code ?? ""}:${e instanceof DOMException}`; } };
"""
INVALID = "InvalidCharacterError:5:true"


def js(admin: httpx.Client, code: str) -> object:
    body = run_js(admin, HELPERS + code)
    assert body["error"] is None, body["error"]
    return body["result"]


# (input, output or None for InvalidCharacterError), following the forgiving-base64 decode.
ATOB_CASES = [
    ("", ""),
    ("YQ==", "a"),
    ("YWI=", "ab"),
    ("YWJj", "abc"),
    ("YQ", "a"),  # padding is optional
    ("YWI", "ab"),
    ("YR", "a"),  # leftover bits of a partial final group are ignored
    ("YWJ", "ab"),
    ("//79", "\u00ff\u00fe\u00fd"),
    ("+/+/", "\u00fb\u00ff\u00bf"),
    (" Y W\tJ\nj\f\r", "abc"),  # ASCII whitespace anywhere, removed first
    ("YQ= =", "a"),
    ("Y\nQ\n=\n=\n", "a"),
    ("Y", None),  # one character left over
    ("YWJjZ", None),
    ("YQ=", None),  # padding only counts when the length is a multiple of 4
    ("YQ===", None),
    ("Y===", None),
    ("=", None),
    ("==", None),
    ("====", None),
    ("YQ==YQ==", None),  # padding in the middle
    ("YQ=a", None),
    ("YWJj=", None),
    ("YWJ=j", None),
    ("YQ\u000b==", None),  # vertical tab is not ASCII whitespace
    ("YQ\u00a0", None),
    ("YQ\u3000", None),
    ("YW-_", None),  # base64url is not accepted
    ("YW*j", None),
    ("Y\u0000Q=", None),
    ("YWJj\u0100", None),
]


def test_atob(admin: httpx.Client) -> None:
    inputs = [case[0] for case in ATOB_CASES]
    code = f"""
    [{json.dumps(inputs)}.map((s) => attempt(() => atob(s))),
     attempt(() => atob(undefined)), attempt(() => atob(null)), attempt(() => atob(12)),
     attempt(() => atob({{ toString: () => "YWJj" }})), attempt(() => atob()), attempt(() => atob(Symbol()))]
    """
    decoded, *others = js(admin, code)
    for (data, expected), actual in zip(ATOB_CASES, decoded, strict=True):
        assert actual == (INVALID if expected is None else expected), repr(data)
    assert others == [
        INVALID,  # "undefined": 9 characters
        "\u009e\u00e9\u0065",  # "null" is valid base64
        "\u00d7",
        "abc",
        "TypeError::false",
        "TypeError::false",
    ]


def test_btoa(admin: httpx.Client) -> None:
    code = """
    [btoa(""), btoa("a"), btoa("ab"), btoa("abc"), btoa("\\u00ff\\u00fe\\u00fd"), btoa("\\u0000"),
     btoa(undefined), btoa(null), btoa(1.5), btoa({ toString: () => "x" }),
     attempt(() => btoa("\\u0100")), attempt(() => btoa("abc\\u20ac")), attempt(() => btoa("\\ud83d\\ude00")),
     attempt(() => btoa("\\ud800")), attempt(() => btoa()), attempt(() => btoa(Symbol()))]
    """
    assert js(admin, code) == [
        "",
        "YQ==",
        "YWI=",
        "YWJj",
        "//79",
        "AA==",
        "dW5kZWZpbmVk",
        "bnVsbA==",
        "MS41",
        "eA==",
        INVALID,
        INVALID,
        INVALID,
        INVALID,
        "TypeError::false",
        "TypeError::false",
    ]


def test_round_trip_of_every_byte_and_large_input(admin: httpx.Client) -> None:
    every_byte = bytes(range(256)) * 400  # 100 KiB
    code = """
    let binary = "";
    for (let i = 0; i < 256; i++) binary += String.fromCharCode(i);
    binary = binary.repeat(400);
    const encoded = btoa(binary);
    const spaced = encoded.replace(/(.{76})/g, "$1\\r\\n");  // MIME-style line breaks
    [encoded.length, encoded.slice(0, 16), encoded.slice(-8), atob(encoded) === binary, atob(spaced) === binary]
    """
    expected = base64.b64encode(every_byte).decode()
    assert js(admin, code) == [len(expected), expected[:16], expected[-8:], True, True]


def test_globals(admin: httpx.Client) -> None:
    code = """
    const shape = (name) => {
      const d = Object.getOwnPropertyDescriptor(globalThis, name);
      return [typeof d.value, d.writable, d.enumerable, d.configurable, d.value.length];
    };
    [shape("atob"), shape("btoa"), shape("DOMException")]
    """
    assert js(admin, code) == [["function", True, False, True, 1], ["function", True, False, True, 1], ["function", True, False, True, 0]]


def test_uncaught_invalid_character_error_is_reported(admin: httpx.Client) -> None:
    body = run_js(admin, "atob('***')")
    assert body["outcome"] == "exception"
    assert body["error"]["name"] == "InvalidCharacterError"
    assert body["error"]["message"] == "The string to be decoded is not correctly encoded."


def test_dom_exception(admin: httpx.Client) -> None:
    code = """
    const e = new DOMException("gone", "NotFoundError");
    const plain = new DOMException();
    class Custom extends DOMException {}
    const custom = new Custom("c", "AbortError");
    const getter = (name) => attempt(() => Object.getOwnPropertyDescriptor(DOMException.prototype, name).get.call({}));
    [[e.name, e.message, e.code], [plain.name, plain.message, plain.code],
     [new DOMException("x", "SyntaxError").code, new DOMException("x", "DataCloneError").code,
      new DOMException("x", "InvalidCharacterError").code, new DOMException("x", "EncodingError").code,
      new DOMException("x", "constructor").code, new DOMException("x", "toString").code],
     [new DOMException(undefined, undefined).name, new DOMException(null, null).message, new DOMException(null, null).name],
     [e instanceof DOMException, e instanceof Error, Error.isError(e), Object.getPrototypeOf(DOMException.prototype) === Error.prototype,
      Object.getPrototypeOf(DOMException) === Function.prototype],
     [String(e), Object.prototype.toString.call(e), Object.getOwnPropertyNames(e), e.stack.split("\\n")[0]],
     [custom instanceof Custom, custom instanceof DOMException, custom.name, custom.code],
     [DOMException.INVALID_CHARACTER_ERR, e.DATA_CLONE_ERR, DOMException.VALIDATION_ERR,
      Object.getOwnPropertyDescriptor(DOMException, "ABORT_ERR"), Object.keys(DOMException).length],
     [getter("name"), getter("message"), getter("code"), attempt(() => DOMException("x")),
      attempt(() => new DOMException(Symbol()))]]
    """
    assert js(admin, code) == [
        ["NotFoundError", "gone", 8],
        ["Error", "", 0],
        [12, 25, 5, 0, 0, 0],
        ["Error", "null", "null"],
        [True, True, True, True, True],
        ["NotFoundError: gone", "[object DOMException]", ["stack"], "NotFoundError: gone"],
        [True, True, "AbortError", 20],
        [5, 25, 16, {"value": 20, "writable": False, "enumerable": True, "configurable": False}, 25],
        ["TypeError::false"] * 5,
    ]
