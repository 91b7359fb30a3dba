"""The OpenAPI document: FastAPI's, plus the invocation endpoints the gateway serves."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from isolane.server.access import ACCESS_KEY, Access

INVOKE_PATHS = (
    "/v1/namespaces/{ns}/scripts/{name}/invoke",
    "/v1/namespaces/{ns}/scripts/{name}/invoke/{path}",
)
INVOKE_METHODS = ("get", "head", "post", "put", "patch", "delete", "options")


def _invoke_operation(path: str, method: str) -> dict[str, Any]:
    parameters = [
        {"name": "ns", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
    ]
    if "{path}" in path:
        parameters.append({"name": "path", "in": "path", "required": True, "schema": {"type": "string"}})
    return {
        "tags": ["invocation"],
        "summary": "Run the script's fetch handler",
        "description": "The script sees http://{name}.{ns}.{dispatch domain}/{path}?{query}; its response passes through."
        " The same handler answers any path on Host {name}.{ns}.{dispatch domain}. No token needed.",
        "operationId": f"invoke_{method}{'_path' if '{path}' in path else ''}",
        "parameters": parameters,
        "responses": {
            "default": {"description": "The script's own response"},
            "404": {"description": "No such script, or it has no fetch handler"},
            "500": {"description": "The script threw (x-isolane-outcome: exception)"},
            "503": {"description": "A limit was exceeded or the invocation was canceled"},
        },
        ACCESS_KEY: Access.PUBLIC.value,
    }


def document_invocation(app: FastAPI) -> None:
    """Extend the generated document with the gateway's endpoints."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for path in INVOKE_PATHS:
                schema["paths"][path] = {method: _invoke_operation(path, method) for method in INVOKE_METHODS}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
