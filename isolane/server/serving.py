"""Run the server: uvicorn, our logging, and a clean stop.

On SIGTERM/SIGINT, uvicorn stops accepting and waits for open connections to finish;
live-tail streams never finish by themselves, so the tail hub is closed at the signal.
"""

from __future__ import annotations

import asyncio
from types import FrameType
from typing import Any

import uvicorn

from isolane.config import Settings
from isolane.observability import logs
from isolane.server.app import create_server_app
from isolane.server.request_log import RequestLog


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, api: Any) -> None:
        super().__init__(config)
        self._api = api
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        services = getattr(self._api.state, "services", None)
        if services is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(services.tail.close)


def run(settings: Settings, *, log_level: str = "info", log_format: str = "auto") -> None:
    logs.configure(log_level, log_format)
    gateway = create_server_app(settings)
    config = uvicorn.Config(
        RequestLog(gateway),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_level=log_level.lower(),
        log_config=None,  # ours (logs.configure) stays in place
        access_log=False,  # RequestLog writes it, with request ids
        timeout_graceful_shutdown=10,
    )
    _Server(config, gateway.app).run()
