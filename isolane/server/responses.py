"""JSON responses rendered with orjson (fast, and exact about non-ASCII text)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse as StarletteJSONResponse


class JSONResponse(StarletteJSONResponse):
    """A JSON response class as far as FastAPI is concerned (its OpenAPI document then shows
    routes' response models), rendered with orjson."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
