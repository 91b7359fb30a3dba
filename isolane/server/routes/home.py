"""`GET /`: where a person who opens the server in a browser lands (links to the dashboard
and the API docs), and for programs, the same links as JSON."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from isolane import __version__
from isolane.server.access import Access, access
from isolane.server.responses import JSONResponse

router = APIRouter(include_in_schema=False)

LINKS = {"dashboard": "/dashboard", "docs": "/docs", "openapi": "/openapi.json", "health": "/readyz"}

PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Isolane</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; line-height: 1.5">
<h1>Isolane {__version__}</h1>
<p>Self-hosted functions for platforms: tenant JavaScript in supervised V8 isolates.</p>
<ul>
<li><a href="/dashboard">Dashboard</a>: scripts, invocations, logs (sign in with a token)</li>
<li><a href="/docs">API docs</a>: every operation, to try from the browser</li>
<li><a href="/openapi.json">OpenAPI document</a></li>
</ul>
</body></html>
"""


@router.get("/", response_model=None, **access(Access.PUBLIC))
async def home(request: Request) -> Response:
    if "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(PAGE, headers={"content-security-policy": "default-src 'none'; style-src 'unsafe-inline'"})
    return JSONResponse({"name": "isolane", "version": __version__, **LINKS})
