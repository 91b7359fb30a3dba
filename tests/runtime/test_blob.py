"""Blob and File (W3C File API), checked in a real isolate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

JS = Callable[[str], Any]


def test_parts_size_type_and_reads(js: JS) -> None:
    result = js(
        """
        (async () => {
          const buffer = new Uint8Array([0x41, 0x42, 0x43, 0x44]).buffer;
          const blob = new Blob(["h\\u00e9", buffer, new Uint8Array(buffer, 1, 2), new Blob(["!"]), new DataView(buffer, 3)], { type: "Text/Plain;Charset=UTF-8" });
          const reader = blob.stream().getReader();
          const streamed = [];
          for (;;) { const { value, done } = await reader.read(); if (done) break; streamed.push(...value); }
          const bytes = await blob.bytes();
          bytes[0] = 0; // a copy: the blob is unchanged
          return {
            size: blob.size,
            type: blob.type,
            text: await blob.text(),
            arrayBuffer: [...new Uint8Array(await blob.arrayBuffer())],
            streamed,
            bytesIsUint8Array: bytes instanceof Uint8Array,
            unchanged: await blob.text(),
            empty: [new Blob().size, new Blob().type, await new Blob([]).text()],
            lone: [...await new Blob(["\\ud800"]).bytes()],
            objects: await new Blob([1, null, { toString() { return "o"; } }]).text(),
            bom: await new Blob([new Uint8Array([0xef, 0xbb, 0xbf, 0x68])]).text(),
          };
        })()
        """
    )
    expected_bytes = [0x68, 0xC3, 0xA9, 0x41, 0x42, 0x43, 0x44, 0x42, 0x43, 0x21, 0x44]
    assert result == {
        "size": 11,
        "type": "text/plain;charset=utf-8",
        "text": "h\u00e9ABCDBC!D",
        "arrayBuffer": expected_bytes,
        "streamed": expected_bytes,
        "bytesIsUint8Array": True,
        "unchanged": "h\u00e9ABCDBC!D",
        "empty": [0, "", ""],
        "lone": [0xEF, 0xBF, 0xBD],  # a lone surrogate becomes U+FFFD
        "objects": "1nullo",
        "bom": "h",  # text() decodes as UTF-8 and drops a byte order mark
    }


def test_parts_are_copied_when_the_blob_is_made(js: JS) -> None:
    result = js(
        """
        (async () => {
          const source = new Uint8Array([1, 2, 3]);
          const blob = new Blob([source]);
          source[0] = 9;
          return [...await blob.bytes()];
        })()
        """
    )
    assert result == [1, 2, 3]


def test_slice(js: JS) -> None:
    result = js(
        """
        (async () => {
          const blob = new Blob(["0123456789"], { type: "text/plain" });
          const text = (b) => b.text();
          return {
            whole: await text(blob.slice()),
            from: await text(blob.slice(7)),
            range: await text(blob.slice(2, 5)),
            negative: await text(blob.slice(-3, -1)),
            clamped: await text(blob.slice(-100, 100)),
            reversed: await text(blob.slice(5, 2)),
            fractional: await text(blob.slice(1.5, 3.5)),
            nested: await text(blob.slice(2, 8).slice(1, -1)),
            types: [blob.slice().type, blob.slice(0, 1, "Application/JSON").type, blob.slice(0, 1, "bad\\u00e9").type],
            size: blob.slice(3, 6).size,
          };
        })()
        """
    )
    assert result == {
        "whole": "0123456789",
        "from": "789",
        "range": "234",
        "negative": "78",
        "clamped": "0123456789",
        "reversed": "",
        "fractional": "23",  # [Clamp] rounds half to even: 1.5 -> 2, 3.5 -> 4
        "nested": "3456",
        "types": ["", "application/json", ""],
        "size": 3,
    }


def test_options_and_argument_validation(js: JS) -> None:
    result = js(
        """
        (async () => {
          const attempt = (f) => { try { f(); return "ok"; } catch (e) { return e.name; } };
          return {
            native: await new Blob(["a\\r\\nb\\rc\\nd"], { endings: "native" }).text(),
            transparent: await new Blob(["a\\r\\nb"]).text(),
            types: ["text/HTML", "a\\u0000b", "\\u00e9", " x "].map((type) => new Blob([], { type }).type),
            invalid: [
              () => new Blob(null),
              () => new Blob("not a sequence"),
              () => new Blob({}),
              () => new Blob([], { endings: "other" }),
              () => new Blob([], 5),
              () => new File(["x"]),
            ].map(attempt),
          };
        })()
        """
    )
    assert result == {
        "native": "a\nb\nc\nd",
        "transparent": "a\r\nb",
        "types": ["text/html", "", "", " x "],
        "invalid": ["TypeError"] * 6,
    }


def test_file(js: JS) -> None:
    result = js(
        """
        (async () => {
          const before = Date.now();
          const file = new File(["con", "tent"], "name\\ud800.txt", { type: "text/plain", lastModified: 42 });
          const dated = new File([], "now");
          return {
            props: [file.name, file.lastModified, file.size, file.type, await file.text()],
            isBlob: file instanceof Blob && file instanceof File,
            tags: [String(file), String(new Blob())],
            defaultDate: dated.lastModified >= before && dated.lastModified <= Date.now(),
            sliceIsBlob: Object.prototype.toString.call(file.slice(0, 1)),
            ownKeys: Reflect.ownKeys(file),
            members: Object.keys(File.prototype),
          };
        })()
        """
    )
    assert result == {
        "props": ["name\ufffd.txt", 42, 7, "text/plain", "content"],
        "isBlob": True,
        "tags": ["[object File]", "[object Blob]"],
        "defaultDate": True,
        "sliceIsBlob": "[object Blob]",
        "ownKeys": [],
        "members": ["name", "lastModified"],
    }
