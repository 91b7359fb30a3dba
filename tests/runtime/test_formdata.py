"""FormData (XHR §5) and the form body formats read by Body.formData() and written when a
FormData is a body (application/x-www-form-urlencoded, multipart/form-data)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

JS = Callable[[str], Any]

# Describes a FormData as JSON: strings as they are, Files as [name, type, text].
DESCRIBE = """
const describe = async (formData) => {
  const out = [];
  for (const [name, value] of formData) {
    out.push([name, typeof value === "string" ? value : [value.name, value.type, await value.text()]]);
  }
  return out;
};
"""


def test_entry_list_operations(js: JS) -> None:
    result = js(
        DESCRIBE
        + """
        (async () => {
          const fd = new FormData();
          fd.append("a", "1");
          fd.append("b", new Blob(["blob body"], { type: "text/x-b" }));
          fd.append("a", "2");
          fd.append("c", new Blob(["c"]), "chosen.bin");
          fd.append("d", new File(["f"], "original.txt", { type: "text/plain", lastModified: 7 }));
          fd.append("e", new File(["f"], "original.txt"), "renamed.txt");
          fd.append("n", 5);
          const first = { get: fd.get("a"), getAll: fd.getAll("a"), has: [fd.has("a"), fd.has("z")], missing: [fd.get("z"), fd.getAll("z")] };
          const blobEntry = fd.get("b");
          const kept = fd.get("d");
          fd.set("a", "3");
          fd.delete("c");
          fd.set("new", "x");
          return {
            ...first,
            blobEntry: [blobEntry instanceof File, blobEntry.name, blobEntry.type],
            keptFile: [kept.name, kept.lastModified],
            entries: await describe(fd),
            keys: [...fd.keys()],
          };
        })()
        """
    )
    assert result == {
        "get": "1",
        "getAll": ["1", "2"],
        "has": [True, False],
        "missing": [None, []],
        "blobEntry": [True, "blob", "text/x-b"],
        "keptFile": ["original.txt", 7],
        "entries": [
            ["a", "3"],
            ["b", ["blob", "text/x-b", "blob body"]],
            ["d", ["original.txt", "text/plain", "f"]],
            ["e", ["renamed.txt", "", "f"]],
            ["n", "5"],
            ["new", "x"],
        ],
        "keys": ["a", "b", "d", "e", "n", "new"],
    }


def test_arguments_iteration_and_shape(js: JS) -> None:
    result = js(
        """
        const attempt = (f) => { try { f(); return "ok"; } catch (e) { return e.name; } };
        const fd = new FormData();
        fd.append("x", "1");
        fd.append("y", "2");
        const seen = [];
        for (const [name] of fd) { seen.push(name); if (name === "x") fd.append("z", "3"); }
        const calls = [];
        fd.forEach((value, name, target) => calls.push([name, value, target === fd]));
        ({
          invalid: [
            () => fd.append("x"),
            () => fd.append("x", "string value", "filename"),
            () => fd.set("x", "string value", "filename"),
            () => new FormData({}),
            () => fd.get(),
          ].map(attempt),
          seen, calls,
          names: [...new FormData().entries()],
          lone: (() => { const f = new FormData(); f.append("\\ud800", "\\udc00"); return [...f][0]; })(),
          tags: [String(fd), Object.prototype.toString.call(fd.entries())],
          members: Object.keys(FormData.prototype),
        })
        """
    )
    assert result == {
        "invalid": ["TypeError"] * 5,
        "seen": ["x", "y", "z"],
        "calls": [["x", "1", True], ["y", "2", True], ["z", "3", True]],
        "names": [],
        "lone": ["\ufffd", "\ufffd"],
        "tags": ["[object FormData]", "[object FormData Iterator]"],
        "members": ["append", "delete", "get", "getAll", "has", "set", "entries", "keys", "values", "forEach"],
    }


def test_form_data_from_urlencoded_body(js: JS) -> None:
    result = js(
        DESCRIBE
        + """
        (async () => {
          const urlencoded = (body, type = "application/x-www-form-urlencoded") => new Response(body, { headers: { "content-type": type } }).formData();
          return {
            plain: await describe(await urlencoded("a=1&b=two+words&a=%C3%A9&empty=&flag&=v&x=%zz")),
            withCharset: await describe(await urlencoded("k=v", "Application/X-WWW-Form-Urlencoded; charset=UTF-8")),
            fromParams: await describe(await new Response(new URLSearchParams([["q", "a&b"], ["r", "ü"]])).formData()),
          };
        })()
        """
    )
    assert result == {
        "plain": [["a", "1"], ["b", "two words"], ["a", "\u00e9"], ["empty", ""], ["flag", ""], ["", "v"], ["x", "%zz"]],
        "withCharset": [["k", "v"]],
        "fromParams": [["q", "a&b"], ["r", "\u00fc"]],
    }


def test_form_data_from_multipart_body(js: JS) -> None:
    result = js(
        DESCRIBE
        + r"""
        (async () => {
          const body = [
            "This is the preamble, which is ignored.",
            "--AaB03x",
            'Content-Disposition: form-data; name="field"',
            "",
            "line one",
            "line two",
            "--AaB03x",
            'content-disposition: form-data; name="upload"; filename="C:\\dir\\file.txt"',
            "Content-Type: Text/Plain",
            "",
            "file contents",
            "--AaB03x",
            'Content-Disposition: form-data; name="untyped"; filename="data.bin"',
            "",
            "",
            "--AaB03x",
            'Content-Disposition: form-data; name="caf\u00e9"',
            "",
            "\u00fcber",
            "--AaB03x--",
            "epilogue, also ignored",
          ].join("\r\n");
          const parse = (text, type) => new Response(text, { headers: { "content-type": type } }).formData();
          const outcome = (promise) => promise.then(describe, (e) => e.name);
          return {
            parsed: await outcome(parse(body, 'multipart/form-data; boundary="AaB03x"')),
            noBoundary: await outcome(parse(body, "multipart/form-data")),
            wrongBoundary: await outcome(parse(body, "multipart/form-data; boundary=other")),
            truncated: await outcome(parse(body.slice(0, 120), "multipart/form-data; boundary=AaB03x")),
            noDisposition: await outcome(parse("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--", "multipart/form-data; boundary=b")),
            otherType: await outcome(parse("a=1", "text/plain")),
            noType: await outcome(new Response(new Uint8Array([97])).formData()),
          };
        })()
        """
    )
    assert result == {
        "parsed": [
            ["field", "line one\r\nline two"],
            ["upload", ["C:\\dir\\file.txt", "text/plain", "file contents"]],
            ["untyped", ["data.bin", "text/plain", ""]],
            ["caf\u00e9", "\u00fcber"],
        ],
        "noBoundary": "TypeError",
        "wrongBoundary": "TypeError",
        "truncated": "TypeError",
        "noDisposition": "TypeError",
        "otherType": "TypeError",
        "noType": "TypeError",
    }


def test_form_data_body_round_trips_as_multipart(js: JS) -> None:
    result = js(
        DESCRIBE
        + r"""
        (async () => {
          const fd = new FormData();
          fd.append("text", "multi\nline");
          fd.append('quote"d\nname', "v");
          fd.append("file", new Blob(["\u0000binary\u00ff"], { type: "application/x-thing" }), 'we"ird.bin');
          fd.append("plain", new Blob(["x"]));
          const response = new Response(fd);
          const contentType = response.headers.get("content-type");
          const raw = await response.clone().text();
          const boundary = contentType.split("boundary=")[1];
          return {
            essence: contentType.split(";")[0],
            boundaryInBody: raw.startsWith(`--${boundary}\r\n`) && raw.endsWith(`--${boundary}--\r\n`),
            escapes: [raw.includes('name="quote%22d%0D%0Aname"'), raw.includes('filename="we%22ird.bin"')],
            octetStream: raw.includes("Content-Type: application/octet-stream"),
            roundTrip: await describe(await response.formData()),
            fresh: new Response(fd).headers.get("content-type") !== contentType,
          };
        })()
        """
    )
    assert result == {
        "essence": "multipart/form-data",
        "boundaryInBody": True,
        "escapes": [True, True],
        "octetStream": True,
        "roundTrip": [
            ["text", "multi\r\nline"],  # line breaks are normalised to CRLF
            ["quote%22d%0D%0Aname", "v"],  # escapes are not decoded (as in every browser)
            ["file", ["we%22ird.bin", "application/x-thing", "\u0000binary\u00ff"]],
            ["plain", ["blob", "application/octet-stream", "x"]],
        ],
        "fresh": True,
    }
