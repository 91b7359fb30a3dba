"""An exception no handler knows becomes a JSON 500 and the client's keep-alive
connection stays open (issue 17, 6: Starlette's own handler re-raised, and uvicorn then
closed the connection, failing the client's next request too). Served by a real uvicorn on
a port, with Isolane's error handling installed on a route that fails on purpose."""

from __future__ import annotations

import http.client
import threading
import time

import uvicorn
from fastapi import FastAPI

from isolane.server.errors import install_error_handlers
from isolane.testing import free_port


def test_a_500_is_json_and_the_connection_stays_open() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/fails")
    async def fails() -> None:
        raise RuntimeError("a bug")

    @app.get("/works")
    async def works() -> dict[str, str]:
        return {"ok": "yes"}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/fails")
        failed = connection.getresponse()
        body = failed.read()
        assert failed.status == 500 and b'"internal_error"' in body and failed.getheader("connection") != "close"
        connection.request("GET", "/works")  # the same connection
        worked = connection.getresponse()
        assert worked.status == 200 and worked.read() == b'{"ok":"yes"}'
        connection.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
