"""fetch() from scripts: performed by the server, under the egress policy and limits."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from isolane.testing import Server
from tests.conftest import deploy, invoke


class Upstream(BaseHTTPRequestHandler):
    """The test's own upstream on 127.0.0.1."""

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
        if self.path == "/hello":
            self._reply(200, b"hello from upstream", {"content-type": "text/plain", "x-upstream": "yes"})
        elif self.path == "/redirect":
            self._reply(302, b"", {"location": "/hello"})
        elif self.path == "/see-other":
            self._reply(303, b"", {"location": "/echo"})
        else:
            echo = {"method": self.command, "path": self.path, "body": body.decode(), "x-test": self.headers.get("x-test")}
            self._reply(200, json.dumps(echo).encode(), {"content-type": "application/json"})

    def _read_chunked(self) -> bytes:
        body = b""
        while (size := int(self.rfile.readline().split(b";")[0], 16)) > 0:
            body += self.rfile.read(size)
            self.rfile.readline()
        self.rfile.readline()  # the blank line after the last chunk
        return body

    do_GET = do_POST = do_PUT = do_HEAD = _handle


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def fetching(upstream: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from tests.conftest import ADMIN_TOKEN, TEST_SERVER_ARGS

    instance = Server(
        tmp_path_factory.mktemp("fetch") / "data",
        *TEST_SERVER_ARGS,
        "--egress-allow",
        f"127.0.0.1:{upstream}",
        "--subrequests",
        "5",
        admin_token=ADMIN_TOKEN,
    ).start()
    yield instance
    instance.stop()


def run_fetch(server: Server, name: str, body: str) -> httpx.Response:
    with server.admin() as admin:
        deploy(admin, name, "export default { async fetch(request, env, ctx) { " + body + " } };")
    return invoke(server, "default", name)


def test_fetch_from_an_allowed_upstream(fetching: Server, upstream: int) -> None:
    response = run_fetch(
        fetching,
        "getter",
        f"""const r = await fetch("http://127.0.0.1:{upstream}/hello");
        return Response.json({{ status: r.status, ok: r.ok, text: await r.text(), header: r.headers.get("x-upstream"),
                               url: r.url, redirected: r.redirected, isResponse: r instanceof Response }});""",
    )
    assert response.json() == {
        "status": 200, "ok": True, "text": "hello from upstream", "header": "yes",
        "url": f"http://127.0.0.1:{upstream}/hello", "redirected": False, "isResponse": True,
    }


def test_post_with_body_and_headers(fetching: Server, upstream: int) -> None:
    response = run_fetch(
        fetching,
        "poster",
        f"""const r = await fetch("http://127.0.0.1:{upstream}/echo", {{ method: "POST", body: "payload", headers: {{ "x-test": "42" }} }});
        return new Response(await r.text());""",
    )
    assert response.json() == {"method": "POST", "path": "/echo", "body": "payload", "x-test": "42"}


def test_redirect_modes(fetching: Server, upstream: int) -> None:
    response = run_fetch(
        fetching,
        "redirects",
        f"""const base = "http://127.0.0.1:{upstream}";
        const followed = await fetch(base + "/redirect");
        const manual = await fetch(base + "/redirect", {{ redirect: "manual" }});
        let error = null;
        try {{ await fetch(base + "/redirect", {{ redirect: "error" }}); }} catch (e) {{ error = e.name; }}
        const seeOther = await fetch(base + "/see-other", {{ method: "POST", body: "x" }});
        return Response.json({{ followed: [followed.status, followed.redirected, await followed.text()],
                               manual: [manual.status, manual.headers.get("location")], error,
                               seeOther: (await seeOther.json()).method }});""",
    )
    assert response.json() == {
        "followed": [200, True, "hello from upstream"],
        "manual": [302, "/hello"],
        "error": "TypeError",
        "seeOther": "GET",
    }


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{other}/",  # another loopback port
        "http://localhost:{other}/",  # a name resolving to 127.0.0.1
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://10.0.0.1/",
        "http://[::1]:{upstream}/hello",  # loopback over IPv6 is not the allowed entry
        "file:///etc/passwd",
    ],
)
def test_denied_destinations_reject_with_a_catchable_type_error(fetching: Server, upstream: int, target: str) -> None:
    url = target.format(other=_free_port(), upstream=upstream)
    response = run_fetch(
        fetching,
        "denied",
        f"""try {{ await fetch({json.dumps(url)}); return new Response("reached"); }}
        catch (e) {{ return Response.json({{ name: e.name, message: e.message }}); }}""",
    )
    assert response.status_code == 200, response.text
    error = response.json()
    assert error["name"] == "TypeError", error


def test_an_uncaught_failure_is_an_exception_not_a_server_error(fetching: Server) -> None:
    response = run_fetch(fetching, "uncaught", 'await fetch("http://169.254.169.254/"); return new Response("no");')
    assert response.status_code == 500 and response.headers["x-isolane-outcome"] == "exception"


def test_subrequest_limit(fetching: Server, upstream: int) -> None:
    response = run_fetch(
        fetching,
        "greedy",
        f"""const results = [];
        for (let i = 0; i < 7; i++) {{
          try {{ await fetch("http://127.0.0.1:{upstream}/hello"); results.push("ok"); }}
          catch (e) {{ results.push(e.name); }}
        }}
        return Response.json(results);""",
    )
    assert response.json() == ["ok"] * 5 + ["TypeError"] * 2


def test_aborted_signal(fetching: Server, upstream: int) -> None:
    response = run_fetch(
        fetching,
        "aborter",
        f"""const controller = new AbortController();
        controller.abort();
        try {{ await fetch("http://127.0.0.1:{upstream}/hello", {{ signal: controller.signal }}); return new Response("fetched"); }}
        catch (e) {{ return new Response(e.name); }}""",
    )
    assert response.text == "AbortError"


def test_long_responses_stream_through_a_proxying_script(fetching: Server, upstream: int) -> None:
    # 600 KiB from upstream, passed through as the script's own streamed response.
    response = run_fetch(
        fetching,
        "proxy",
        f"""const r = await fetch("http://127.0.0.1:{upstream}/echo", {{ method: "POST", body: "z".repeat(600 * 1024) }});
        return new Response(r.body, {{ headers: {{ "x-proxied": "1" }} }});""",
    )
    assert response.status_code == 200 and response.headers["x-proxied"] == "1"
    assert response.json()["body"] == "z" * 600 * 1024


def test_streamed_request_body(fetching: Server, upstream: int) -> None:
    response = run_fetch(
        fetching,
        "uploader",
        f"""let n = 0;
        const body = new ReadableStream({{
          pull(controller) {{
            if (n === 50) {{ controller.close(); return; }}
            controller.enqueue(new TextEncoder().encode(`part${{n++}};`));
          }},
        }});
        const r = await fetch("http://127.0.0.1:{upstream}/echo", {{ method: "PUT", body, duplex: "half" }});
        return new Response(await r.text());""",
    )
    assert response.status_code == 200, response.text
    assert response.json()["body"] == "".join(f"part{n};" for n in range(50))


def test_response_bytes_per_invocation_are_limited(upstream: int, make_server) -> None:
    small = make_server("--egress-allow", f"127.0.0.1:{upstream}", "--max-fetch-bytes", "100000")
    response = run_fetch(
        small,
        "hungry",
        # The limit may strike while fetch() reads the first chunk or while the body is read.
        f"""try {{
          const r = await fetch("http://127.0.0.1:{upstream}/echo", {{ method: "POST", body: "z".repeat(300 * 1024) }});
          await r.text();
          return new Response("read it all");
        }} catch (e) {{ return new Response(`${{e.name}}: ${{e.message}}`); }}""",
    )
    assert response.text.startswith("TypeError") and "exceed 100000 bytes" in response.text
