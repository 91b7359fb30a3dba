"""Isolane: self-hosted functions for platforms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from isolane.client import (
        AsyncClient,
        AuthenticationError,
        Client,
        Conflict,
        ConnectError,
        IsolaneError,
        NotFound,
        PermissionDenied,
        RateLimited,
        ServerError,
        TransportError,
    )

# The client is imported on first use, so the server process never loads it.
_CLIENT_EXPORTS = frozenset(
    {
        "AsyncClient",
        "AuthenticationError",
        "Client",
        "Conflict",
        "ConnectError",
        "IsolaneError",
        "NotFound",
        "PermissionDenied",
        "RateLimited",
        "ServerError",
        "TransportError",
    }
)


def __getattr__(name: str) -> Any:
    if name in _CLIENT_EXPORTS:
        from isolane import client

        return getattr(client, name)
    raise AttributeError(f"module 'isolane' has no attribute {name!r}")


__all__ = ["__version__", *sorted(_CLIENT_EXPORTS)]
