"""The runtime's internal fetch functions, which scripts cannot reach: those the dispatcher
(60-workers.js) calls to build a handler's Request and to send its Response, and the MIME
type parser the bodies rely on. They run in an isolate of our own (conftest `internals`)."""

from __future__ import annotations

from tests.runtime.conftest import InternalsIsolate


def test_new_incoming_request(internals: InternalsIsolate) -> None:
    result = internals.run(
        """
        (async () => {
          const newIncomingRequest = internal("newIncomingRequest");
          const attempt = (f) => { try { f(); return "ok"; } catch (e) { return e.name; } };
          const request = newIncomingRequest("POST", "https://h.test/path?q=1", [["Content-Type", "application/json"], ["X-Multi", "a"], ["x-multi", "b"]], new Uint8Array([0x7b, 0x22, 0x6b, 0x22, 0x3a, 0x31, 0x7d]));
          const headers = request.headers;
          const mutations = [() => headers.set("a", "b"), () => headers.append("a", "b"), () => headers.delete("x-multi")].map(attempt);
          const streamed = newIncomingRequest("PUT", "https://h.test/", [], new ReadableStream({ start(c) { c.enqueue(new Uint8Array([104, 105])); c.close(); } }));
          const empty = newIncomingRequest("GET", "https://h.test/", [], null);
          const copy = new Request(newIncomingRequest("GET", "https://h.test/", [["a", "1"]], null));
          copy.headers.set("a", "2");
          return {
            props: [request.method, request.url, headers.get("content-type"), headers.get("x-multi"), [...headers.keys()]],
            mutations,
            json: await request.json(),
            used: request.bodyUsed,
            streamed: await streamed.text(),
            empty: [empty.body, empty.bodyUsed],
            copyIsMutable: copy.headers.get("a"),
            isRequest: request instanceof Request,
          };
        })()
        """
    )
    assert result == {
        "props": ["POST", "https://h.test/path?q=1", "application/json", "a, b", ["content-type", "x-multi"]],
        "mutations": ["TypeError", "TypeError", "TypeError"],
        "json": {"k": 1},
        "used": True,
        "streamed": "hi",
        "empty": [None, False],
        "copyIsMutable": "2",
        "isRequest": True,
    }


def test_response_body_source_kinds(internals: InternalsIsolate) -> None:
    result = internals.run(
        """
        (async () => {
          const source = internal("responseBodySource");
          const kind = (response) => { const body = source(response).body; return body === null ? null : Object.keys(body)[0]; };
          const materialised = new Response("text");
          materialised.body;
          return {
            kinds: {
              string: kind(new Response("s")),
              json: kind(Response.json({ a: 1 })),
              params: kind(new Response(new URLSearchParams("a=1"))),
              bytes: kind(new Response(new Uint8Array([1]))),
              arrayBuffer: kind(new Response(new ArrayBuffer(2))),
              blob: kind(new Response(new Blob(["b"]))),
              formData: kind(new Response(new FormData())),
              stream: kind(new Response(new ReadableStream())),
              materialised: kind(materialised),
              clone: kind(new Response("c").clone()),
              none: kind(new Response(null, { status: 204 })),
              redirect: kind(Response.redirect("https://x.test/")),
            },
            text: source(new Response("h\\u00e9llo")).body.text,
            jsonText: source(Response.json({ a: [1] })).body.text,
            bytes: [...source(new Response(new Uint8Array([5, 6]))).body.bytes],
            streamIsReadable: source(new Response(new ReadableStream())).body.stream instanceof ReadableStream,
          };
        })()
        """
    )
    assert result == {
        "kinds": {
            "string": "text",
            "json": "text",
            "params": "text",
            "bytes": "bytes",
            "arrayBuffer": "bytes",
            "blob": "bytes",
            "formData": "bytes",
            "stream": "stream",
            "materialised": "stream",
            "clone": "text",
            "none": None,
            "redirect": None,
        },
        "text": "h\u00e9llo",
        "jsonText": '{"a":[1]}',
        "bytes": [5, 6],
        "streamIsReadable": True,
    }


def test_response_body_source_status_headers_and_use(internals: InternalsIsolate) -> None:
    result = internals.run(
        """
        (async () => {
          const source = internal("responseBodySource");
          const attempt = (f) => { try { f(); return "ok"; } catch (e) { return e.name; } };
          const response = new Response("body", {
            status: 418,
            statusText: "I'm a teapot",
            headers: [["Set-Cookie", "a=1; Path=/"], ["X-B", "1"], ["set-cookie", "b=2"], ["x-b", "2"], ["A", "first"]],
          });
          const sent = source(response);
          const readAfterSend = await response.text().then(() => "ok", (e) => e.name);
          const read = new Response("read");
          await read.text();
          const locked = new Response("locked");
          locked.body.getReader();
          return {
            sent: [sent.status, sent.statusText, sent.headers],
            usedAfterSend: response.bodyUsed,
            readAfterSend,
            again: attempt(() => source(response)),
            cloneAfterSend: attempt(() => response.clone()),
            alreadyRead: attempt(() => source(read)),
            locked: attempt(() => source(locked)),
            notResponses: [{}, null, new Request("https://x.test/"), "text"].map((value) => attempt(() => source(value))),
            error: (() => { const s = source(Response.error()); return [s.status, s.headers, s.body]; })(),
          };
        })()
        """
    )
    assert result == {
        "sent": [
            418,
            "I'm a teapot",
            [
                ["a", "first"],
                ["content-type", "text/plain;charset=UTF-8"],
                ["set-cookie", "a=1; Path=/"],
                ["set-cookie", "b=2"],
                ["x-b", "1, 2"],
            ],
        ],
        "usedAfterSend": True,
        "readAfterSend": "TypeError",
        "again": "TypeError",
        "cloneAfterSend": "TypeError",
        "alreadyRead": "TypeError",
        "locked": "TypeError",
        "notResponses": ["TypeError"] * 4,
        "error": [0, [], None],
    }


def test_mime_type_parsing(internals: InternalsIsolate) -> None:
    result = internals.run(
        r"""
        const parseMimeType = internal("parseMimeType");
        const serializeMimeType = internal("serializeMimeType");
        const extractMimeType = internal("extractMimeType");
        const headersRecordOf = internal("headersRecordOf");
        const show = (input) => { const mime = parseMimeType(input); return mime === null ? null : serializeMimeType(mime); };
        const extract = (values) => { const h = new Headers(); for (const v of values) h.append("content-type", v); const mime = extractMimeType(headersRecordOf(h)); return mime === null ? null : serializeMimeType(mime); };
        ({
          parsed: [
            "text/html",
            " Text/HTML ; Charset=UTF-8 ",
            'text/plain;charset="utf-8"',
            'text/plain;x="a\\"b";y=";"',
            "text/plain;a=1;A=2",
            "text/plain;empty=;ok=1",
            "text/plain;=novalue;noequals;x=1",
            'multipart/form-data; boundary="----a b"',
          ].map(show),
          invalid: ["", "text", "text/", "/html", "te xt/html", "text/ht ml", "text/html\u00e9"].map(show),
          extracted: [
            extract(["text/plain;charset=gbk", "text/plain"]),
            extract(["text/plain;charset=gbk", "text/html"]),
            extract(["text/html", "*/*"]),
            extract(["text/html, bogus"]),
            extract(['text/plain;x="a,b"']),
            extract([]),
          ],
        })
        """
    )
    assert result == {
        "parsed": [
            "text/html",
            "text/html;charset=UTF-8",
            "text/plain;charset=utf-8",
            'text/plain;x="a\\"b";y=";"',
            "text/plain;a=1",
            "text/plain;ok=1",
            "text/plain;x=1",
            'multipart/form-data;boundary="----a b"',
        ],
        "invalid": [None] * 7,
        "extracted": [
            "text/plain;charset=gbk",
            "text/html",
            "text/html",
            "text/html",
            'text/plain;x="a,b"',
            None,
        ],
    }
