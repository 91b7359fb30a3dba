"""Run the server: uvicorn, our logging, our HTTP limits, and a clean stop.

On SIGTERM/SIGINT, uvicorn stops accepting and waits for open connections to finish;
live-tail streams never finish by themselves, so the tail hub is closed at the signal.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from types import FrameType
from typing import Any

import uvicorn

from isolane.config import Settings
from isolane.observability import logs
from isolane.server.app import create_server_app
from isolane.server.http_limits import HttpLimits, protocol_class
from isolane.server.request_log import RequestLog


log = logging.getLogger(__name__)


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


def raise_open_files_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard one: each connection is a file descriptor, and the
    usual soft default (1024) is a few hundred idle clients away from refusing everyone."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # "Unlimited" is refused: the kernel caps descriptors at fs.nr_open (2^20 by default).
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft >= target:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("could not raise the open files limit from %d to %d: %s", soft, target, exc)


def run(settings: Settings, *, log_level: str = "info", log_format: str = "auto") -> None:
    logs.configure(log_level, log_format)
    raise_open_files_limit()
    gateway = create_server_app(settings)
    limits = HttpLimits(
        max_header_bytes=settings.max_header_bytes,
        max_header_fields=settings.max_header_fields,
        header_timeout=settings.header_timeout,
        body_timeout=settings.body_timeout,
    )
    config = uvicorn.Config(
        RequestLog(gateway),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=protocol_class(limits),
        timeout_keep_alive=settings.keep_alive_timeout,
        log_level=log_level.lower(),
        log_config=None,  # ours (logs.configure) stays in place
        access_log=False,  # RequestLog writes it, with request ids
        timeout_graceful_shutdown=10,
    )
    _Server(config, gateway.app).run()
