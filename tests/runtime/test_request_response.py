"""Request, Response and their Body mixin (WHATWG Fetch §5.3-5.5), checked in a real
isolate. Cases follow the standard and the ideas of the Web Platform Tests
(fetch/api/request, fetch/api/response, fetch/api/body)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

JS = Callable[[str], Any]


def test_response_defaults_and_init(js: JS) -> None:
    result = js(
        """
        (async () => {
          const plain = new Response();
          const full = new Response("body", { status: 201, statusText: "Created", headers: { "X-One": "1" } });
          return {
            plain: [plain.status, plain.ok, plain.statusText, plain.type, plain.url, plain.redirected, plain.body, plain.bodyUsed, [...plain.headers]],
            full: [full.status, full.ok, full.statusText, full.headers.get("x-one"), await full.text()],
            notOk: new Response(null, { status: 404 }).ok,
            wrapped: new Response(null, { status: 65736 }).status, // unsigned short: modulo 2^16
          };
        })()
        """
    )
    assert result == {
        "plain": [200, True, "", "default", "", False, None, False, []],
        "full": [201, True, "Created", "1", "body"],
        "notOk": False,
        "wrapped": 200,
    }


def test_response_status_and_status_text_validation(js: JS) -> None:
    result = js(
        """
        const attempt = (f) => { try { return f().status; } catch (e) { return e.name; } };
        ({
          statuses: [0, 100, 199, 200, 599, 600, 1000].map((status) => attempt(() => new Response(null, { status }))),
          nullBodyStatuses: [204, 205, 304].map((status) => [attempt(() => new Response("x", { status })), attempt(() => new Response(null, { status })), attempt(() => new Response("", { status }))]),
          statusTexts: ["OK", "caf\\u00e9", "a\\tb", "bad\\nline", "\\u0100"].map((statusText) => attempt(() => new Response(null, { statusText }))),
        })
        """
    )
    assert result == {
        "statuses": ["RangeError", "RangeError", "RangeError", 200, 599, "RangeError", "RangeError"],
        # an empty string is still a body
        "nullBodyStatuses": [["TypeError", 204, "TypeError"], ["TypeError", 205, "TypeError"], ["TypeError", 304, "TypeError"]],
        "statusTexts": [200, 200, 200, "TypeError", "TypeError"],
    }


def test_content_type_implied_by_each_body_kind(js: JS) -> None:
    result = js(
        """
        const type = (body, init) => new Response(body, init).headers.get("content-type");
        ({
          string: type("x"),
          params: type(new URLSearchParams("a=1")),
          typedBlob: type(new Blob(["x"], { type: "image/png" })),
          untypedBlob: type(new Blob(["x"])),
          arrayBuffer: type(new ArrayBuffer(1)),
          view: type(new Uint8Array(1)),
          formData: type(new FormData()).startsWith("multipart/form-data; boundary="),
          stream: type(new ReadableStream()),
          object: type({}),
          explicit: type("x", { headers: { "Content-Type": "application/custom" } }),
          nullBody: type(null),
        })
        """
    )
    assert result == {
        "string": "text/plain;charset=UTF-8",
        "params": "application/x-www-form-urlencoded;charset=UTF-8",
        "typedBlob": "image/png",
        "untypedBlob": None,
        "arrayBuffer": None,
        "view": None,
        "formData": True,
        "stream": None,
        "object": "text/plain;charset=UTF-8",
        "explicit": "application/custom",
        "nullBody": None,
    }


def test_body_reading_methods(js: JS) -> None:
    result = js(
        """
        (async () => {
          const json = '{"a":[1,"\\u00e9"]}';
          const source = new Uint8Array([1, 2, 3]);
          const fromBytes = new Response(source);
          source[0] = 9; // the body took a copy
          const blob = await new Response("data", { headers: { "content-type": "Text/Plain; Charset=UTF-8" } }).blob();
          const stream = new ReadableStream({ start(c) { c.enqueue(new Uint8Array([0x68, 0xc3])); c.enqueue(new Uint8Array([0xa9])); c.close(); } });
          let syntax;
          try { await new Response("{bad").json(); } catch (e) { syntax = e.name; }
          return {
            text: await new Response("h\\u00e9").text(),
            json: await new Response(json).json(),
            arrayBuffer: [...new Uint8Array(await fromBytes.arrayBuffer())],
            bytes: await new Response("ab").bytes().then((b) => [b instanceof Uint8Array, ...b]),
            blob: [blob.type, blob.size, await blob.text()],
            streamText: await new Response(stream).text(),
            syntax,
            // UTF-8 decoding drops one leading byte order mark, whatever the body's source
            bom: [await new Response("\\ufeff\\ufeffx").text(), await new Response(new Uint8Array([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf, 0x79])).text()],
            loneSurrogate: await new Response("\\ud800").text(),
            nullBody: [await new Response(null).text(), (await new Response().arrayBuffer()).byteLength],
            objectBody: await new Response({ toString: () => "stringified" }).text(),
          };
        })()
        """
    )
    assert result == {
        "text": "h\u00e9",
        "json": {"a": [1, "\u00e9"]},
        "arrayBuffer": [1, 2, 3],
        "bytes": [True, 97, 98],
        "blob": ["text/plain;charset=utf-8", 4, "data"],
        "streamText": "h\u00e9",
        "syntax": "SyntaxError",
        "bom": ["\ufeffx", "\ufeffy"],
        "loneSurrogate": "\ufffd",
        "nullBody": ["", 0],
        "objectBody": "stringified",
    }


def test_body_used_and_double_read_reject_with_type_error(js: JS) -> None:
    result = js(
        """
        (async () => {
          const outcome = (promise) => promise.then(() => "ok", (e) => e.name);
          const methods = ["text", "json", "arrayBuffer", "bytes", "blob", "formData"];
          const doubleRead = [];
          for (const method of methods) {
            const response = new Response("1", { headers: { "content-type": "application/x-www-form-urlencoded" } });
            const before = response.bodyUsed;
            await response[method]();
            doubleRead.push([method, before, response.bodyUsed, await outcome(response.text())]);
          }
          const locked = new Response("x");
          locked.body.getReader();
          const streamRead = new Response("x");
          await streamRead.body.getReader().read();
          const clonedAfterUse = new Response("x");
          await clonedAfterUse.text();
          let cloneError;
          try { clonedAfterUse.clone(); } catch (e) { cloneError = e.name; }
          const disturbed = new ReadableStream();
          disturbed.getReader().read();
          let disturbedBody;
          try { new Response(disturbed); } catch (e) { disturbedBody = e.name; }
          return {
            doubleRead,
            locked: [locked.bodyUsed, await outcome(locked.text())],
            streamRead: [streamRead.bodyUsed, await outcome(streamRead.text())],
            cloneError, disturbedBody,
            emptyBodyNeverUsed: await (async () => { const r = new Response(null); await r.text(); return [r.bodyUsed, await outcome(r.text())]; })(),
            wrongThis: await outcome(Response.prototype.text.call({})),
          };
        })()
        """
    )
    assert result == {
        "doubleRead": [[method, False, True, "TypeError"] for method in ["text", "json", "arrayBuffer", "bytes", "blob", "formData"]],
        "locked": [False, "TypeError"],
        "streamRead": [True, "TypeError"],
        "cloneError": "TypeError",
        "disturbedBody": "TypeError",
        "emptyBodyNeverUsed": [False, "ok"],
        "wrongThis": "TypeError",
    }


def test_body_stream(js: JS) -> None:
    result = js(
        """
        (async () => {
          const response = new Response("stream me");
          const body = response.body;
          const chunks = [];
          for await (const chunk of body) chunks.push(chunk instanceof Uint8Array, ...chunk);
          const given = new ReadableStream({ start(c) { c.enqueue(new Uint8Array([1])); c.close(); } });
          const notBytes = new Response(new ReadableStream({ start(c) { c.enqueue("a string"); c.close(); } }));
          let notBytesError;
          try { await notBytes.text(); } catch (e) { notBytesError = e.name; }
          return {
            isStream: body instanceof ReadableStream,
            same: response.body === body,
            used: response.bodyUsed,
            bytes: String.fromCharCode(...chunks.filter((c) => typeof c === "number")),
            allUint8Array: chunks.filter((c) => typeof c === "boolean").every(Boolean),
            givenIsKept: new Response(given).body === given,
            notBytesError,
            usedBodyStream: await (async () => { const r = new Response("x"); await r.text(); return [r.body instanceof ReadableStream, (await r.body.getReader().read()).done]; })(),
          };
        })()
        """
    )
    assert result == {
        "isStream": True,
        "same": True,
        "used": True,
        "bytes": "stream me",
        "allUint8Array": True,
        "givenIsKept": True,
        "notBytesError": "TypeError",
        "usedBodyStream": [True, True],
    }


def test_response_clone(js: JS) -> None:
    result = js(
        """
        (async () => {
          const original = new Response("twice", { status: 202, statusText: "Accepted", headers: { "x-a": "1" } });
          const copy = original.clone();
          copy.headers.set("x-a", "changed");
          const stream = new Response(new ReadableStream({ start(c) { c.enqueue(new Uint8Array([65])); c.enqueue(new Uint8Array([66])); c.close(); } }));
          const streamCopy = stream.clone();
          return {
            texts: [await original.text(), await copy.text()],
            props: [copy.status, copy.statusText, copy.type, original.headers.get("x-a"), copy.headers.get("x-a")],
            streams: [await streamCopy.text(), await stream.text()],
            nullBody: new Response(null).clone().body,
            isResponse: copy instanceof Response,
          };
        })()
        """
    )
    assert result == {
        "texts": ["twice", "twice"],
        "props": [202, "Accepted", "default", "1", "changed"],
        "streams": ["AB", "AB"],
        "nullBody": None,
        "isResponse": True,
    }


def test_response_json_redirect_and_error(js: JS) -> None:
    result = js(
        """
        (async () => {
          const attempt = (f) => { try { const r = f(); return r.status; } catch (e) { return e.name; } };
          const json = Response.json({ a: 1, b: [true, null] }, { status: 201, headers: { "X-Extra": "e" } });
          const overridden = Response.json("s", { headers: { "content-type": "application/vnd.custom+json" } });
          const redirect = Response.redirect("https://example.com/path?q", 301);
          const defaultRedirect = Response.redirect("https://example.com");
          const error = Response.error();
          let redirectImmutable, errorImmutable;
          try { redirect.headers.set("location", "elsewhere"); } catch (e) { redirectImmutable = e.name; }
          try { error.headers.append("a", "b"); } catch (e) { errorImmutable = e.name; }
          return {
            json: [json.status, json.headers.get("content-type"), json.headers.get("x-extra"), await json.json()],
            overridden: [overridden.headers.get("content-type"), await overridden.text()],
            unserializable: [() => Response.json(undefined), () => Response.json(() => 1), () => Response.json(1n), () => Response.json({}, { status: 204 })].map(attempt),
            redirect: [redirect.status, redirect.headers.get("location"), redirect.body, redirect.type, defaultRedirect.status, defaultRedirect.headers.get("location")],
            redirectStatuses: [300, 301, 302, 303, 304, 307, 308, 200].map((s) => attempt(() => Response.redirect("https://example.com/", s))),
            badRedirectUrl: attempt(() => Response.redirect("not a url")),
            error: [error.type, error.status, error.ok, error.statusText, error.body, [...error.headers]],
            redirectImmutable, errorImmutable,
          };
        })()
        """
    )
    assert result == {
        "json": [201, "application/json", "e", {"a": 1, "b": [True, None]}],
        "overridden": ["application/vnd.custom+json", '"s"'],
        "unserializable": ["TypeError", "TypeError", "TypeError", "TypeError"],
        "redirect": [301, "https://example.com/path?q", None, "default", 302, "https://example.com/"],
        "redirectStatuses": ["RangeError", 301, 302, 303, "RangeError", 307, 308, "RangeError"],
        "badRedirectUrl": "TypeError",
        "error": ["error", 0, False, "", None, []],
        "redirectImmutable": "TypeError",
        "errorImmutable": "TypeError",
    }


def test_request_basics_and_method_normalisation(js: JS) -> None:
    result = js(
        """
        (async () => {
          const attempt = (f) => { try { return f().method; } catch (e) { return e.name; } };
          const request = new Request("https://Example.COM/a/../b?x#frag", { method: "post", body: "payload", headers: { "X-H": "v" } });
          return {
            props: [request.method, request.url, request.headers.get("x-h"), request.headers.get("content-type"), request.redirect, request.bodyUsed],
            cf: ["cf" in request, request.cf === undefined],
            // an AbortSignal when the runtime has them, else null
            signal: typeof AbortSignal === "function" ? request.signal instanceof AbortSignal : request.signal === null,
            defaults: (() => { const r = new Request("https://example.com"); return [r.method, r.url, r.body, r.redirect]; })(),
            normalised: ["get", "head", "post", "put", "delete", "options", "patch", "Custom"].map((method) => attempt(() => new Request("https://x.test/", { method }))),
            forbidden: ["CONNECT", "trace", "Track", "bad method", "a,b", "", "\\u0100"].map((method) => attempt(() => new Request("https://x.test/", { method }))),
            text: await request.text(),
          };
        })()
        """
    )
    assert result == {
        "props": ["POST", "https://example.com/b?x#frag", "v", "text/plain;charset=UTF-8", "follow", False],
        "cf": [True, True],
        "signal": True,
        "defaults": ["GET", "https://example.com/", None, "follow"],
        "normalised": ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "patch", "Custom"],
        "forbidden": ["TypeError"] * 7,
        "text": "payload",
    }


def test_request_validation(js: JS) -> None:
    result = js(
        """
        const attempt = (f) => { try { f(); return "ok"; } catch (e) { return e.name; } };
        ({
          bodyWithGetOrHead: ["GET", "HEAD", "get"].map((method) => attempt(() => new Request("https://x.test/", { method, body: "b" }))),
          nullBodyWithGet: attempt(() => new Request("https://x.test/", { body: null })),
          urls: ["/relative", "no scheme", "https://user:pass@x.test/", "https://user@x.test/", "https://x.test/ok"].map((url) => attempt(() => new Request(url))),
          redirect: ["follow", "error", "manual", "other"].map((redirect) => attempt(() => new Request("https://x.test/", { redirect }))),
          signal: attempt(() => new Request("https://x.test/", { signal: {} })),
          init: attempt(() => new Request("https://x.test/", 5)),
          noArguments: attempt(() => new Request()),
          headers: attempt(() => new Request("https://x.test/", { headers: [["bad name", "v"]] })),
        })
        """
    )
    assert result == {
        "bodyWithGetOrHead": ["TypeError"] * 3,
        "nullBodyWithGet": "ok",
        "urls": ["TypeError", "TypeError", "TypeError", "TypeError", "ok"],
        "redirect": ["ok", "ok", "ok", "TypeError"],
        "signal": "TypeError",
        "init": "TypeError",
        "noArguments": "TypeError",
        "headers": "TypeError",
    }


def test_request_clone_and_construction_from_a_request(js: JS) -> None:
    result = js(
        """
        (async () => {
          const original = new Request("https://x.test/p", { method: "PUT", body: "content", headers: { a: "1" }, redirect: "manual" });
          const clone = original.clone();
          clone.headers.set("a", "2");
          const cloned = [await original.text(), await clone.text(), clone.method, clone.url, clone.redirect, original.headers.get("a"), clone.headers.get("a")];

          const input = new Request("https://x.test/in", { method: "POST", body: "moved", headers: { k: "v" } });
          const derived = new Request(input);
          const moved = [input.bodyUsed, derived.method, derived.url, derived.headers.get("k"), await derived.text()];
          let fromUsed;
          try { new Request(input); } catch (e) { fromUsed = e.name; }

          const base = new Request("https://x.test/b", { method: "POST", body: "kept", headers: { k: "v" } });
          const overridden = new Request(base, { method: "PATCH", headers: { other: "o" }, redirect: "error" });
          const overrides = [overridden.method, overridden.headers.get("k"), overridden.headers.get("other"), overridden.redirect, await overridden.text()];

          const withBody = new Request("https://x.test/", { method: "POST", body: "x" });
          let getFromBody;
          try { new Request(withBody, { method: "GET" }); } catch (e) { getFromBody = e.name; }
          const replaced = new Request(withBody, { body: "replacement" });

          const usedInput = new Request("https://x.test/", { method: "POST", body: "x" });
          await usedInput.text();
          let cloneUsed;
          try { usedInput.clone(); } catch (e) { cloneUsed = e.name; }
          return {
            cloned, moved, fromUsed, overrides, getFromBody,
            replaced: [withBody.bodyUsed, await replaced.text()],
            withNewBody: await new Request(usedInput, { body: "fresh" }).text(),
            cloneUsed,
          };
        })()
        """
    )
    assert result == {
        "cloned": ["content", "content", "PUT", "https://x.test/p", "manual", "1", "2"],
        "moved": [True, "POST", "https://x.test/in", "v", "moved"],
        "fromUsed": "TypeError",
        "overrides": ["PATCH", None, "o", "error", "kept"],
        "getFromBody": "TypeError",
        "replaced": [False, "replacement"],
        "withNewBody": "fresh",
        "cloneUsed": "TypeError",
    }


def test_interface_shapes(js: JS) -> None:
    result = js(
        """
        const global = (name) => { const d = Object.getOwnPropertyDescriptor(globalThis, name); return d && [d.enumerable, d.writable, d.configurable]; };
        ({
          globals: ["Request", "Response", "Headers", "ReadableStream", "Blob", "File", "FormData"].map(global),
          tags: [new Request("https://x.test/"), new Response()].map((o) => Object.prototype.toString.call(o)),
          ownKeys: [Reflect.ownKeys(new Request("https://x.test/")), Reflect.ownKeys(new Response())],
          lengths: [Request.length, Response.length, Headers.length, ReadableStream.length, Blob.length, File.length, FormData.length],
          requestMembers: Object.keys(Request.prototype),
          responseMembers: Object.keys(Response.prototype),
          responseStatics: Object.keys(Response),
        })
        """
    )
    assert result == {
        "globals": [[False, True, True]] * 7,
        "tags": ["[object Request]", "[object Response]"],
        "ownKeys": [[], []],
        "lengths": [1, 0, 0, 0, 0, 2, 0],
        "requestMembers": ["method", "url", "headers", "redirect", "signal", "cf", "clone", "body", "bodyUsed", "arrayBuffer", "blob", "bytes", "formData", "json", "text"],
        "responseMembers": ["type", "url", "redirected", "status", "ok", "statusText", "headers", "clone", "body", "bodyUsed", "arrayBuffer", "blob", "bytes", "formData", "json", "text"],
        "responseStatics": ["error", "redirect", "json"],
    }
