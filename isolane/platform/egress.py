"""Where scripts' subrequests may go. Checked on the resolved address, when connecting.

Denied by default: loopback, private, link-local (cloud metadata lives there), multicast,
unspecified and reserved addresses, IPv4 ones hidden in IPv6 included. `--egress-allow`
lists `host:port` entries that are allowed anyway; a destination matches one by its name or
by the address it resolved to. Because the check happens on the address about to be
connected to, a name that resolves differently later (DNS rebinding) gains nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore


class EgressDenied(httpcore.ConnectError):
    """The destination is not one scripts may reach."""


def parse_allow_list(text: str | None) -> frozenset[tuple[str, int]]:
    """`"api.example.com:443,127.0.0.1:8080"` -> {(name, port)}; brackets for IPv6."""
    entries = set()
    for raw in (text or "").split(","):
        item = raw.strip().lower()
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ValueError(f"egress allow entry {raw.strip()!r} is not host:port")
        entries.add((host.strip("[]"), int(port)))
    return frozenset(entries)


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or (isinstance(address, ipaddress.IPv4Address) and address in _SHARED_ADDRESS_SPACE)
    )


_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT


class EgressPolicy:
    def __init__(self, allow: Iterable[tuple[str, int]] = ()) -> None:
        self._allow = frozenset((host.lower(), port) for host, port in allow)

    def allows(self, name: str, port: int, address: str) -> bool:
        if (name.lower(), port) in self._allow or (address, port) in self._allow:
            return True
        return _public(ipaddress.ip_address(address.split("%", 1)[0]))


class EgressBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses the policy allows."""

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"could not resolve {host}") from exc
        addresses = [info[4][0] for info in infos]
        allowed = [address for address in dict.fromkeys(addresses) if self._policy.allows(host, port, address)]
        if not allowed:
            raise EgressDenied(f"egress to {host}:{port} is not allowed")
        failure: Exception | None = None
        for address in allowed:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise httpcore.ConnectError(f"could not connect to {host}:{port}") from failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise EgressDenied("unix sockets are not reachable from scripts")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
