"""The dashboard at /dashboard: server-rendered pages (Jinja2, inline SVG charts, Pygments)
over the platform's services, behind a token login kept in a signed, HTTP-only cookie.
See docs/dashboard.md."""

from __future__ import annotations

from fastapi import APIRouter

from isolane.dashboard import routes, tail
from isolane.dashboard.session import SESSION_KEY_PURPOSE

router = APIRouter()
router.include_router(routes.router)
router.include_router(tail.router)
router.include_router(routes.fallback_router)

__all__ = ["SESSION_KEY_PURPOSE", "router"]
