"""The OpenAPI document: FastAPI's, plus the invocation endpoints the gateway serves, with
errors described as Isolane answers them (docs/api.md is rendered from it)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from isolane.server.access import ACCESS_KEY, Access

INVOKE_PATHS = (
    "/v1/namespaces/{ns}/scripts/{name}/invoke",
    "/v1/namespaces/{ns}/scripts/{name}/invoke/{path}",
)
INVOKE_METHODS = ("get", "head", "post", "put", "patch", "delete", "options")
ERROR_SCHEMA = "Error"
# FastAPI's placeholder for a response class it cannot describe (ours renders with orjson).
_UNDESCRIBED = {"type": "string"}
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "Stable snake_case code, e.g. `script_not_found`."},
                    "message": {"type": "string", "description": "What went wrong, for people."},
                },
                "additionalProperties": True,
                "description": "Some errors add details (e.g. `line` and `column`, `quota`, `limit`).",
            }
        },
    }


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}}}


def _describe_errors(schema: dict[str, Any]) -> None:
    """Say what the API really answers: a request that fails validation is 400
    `invalid_request` in Isolane's error shape (not FastAPI's 422), and JSON answers are
    JSON, not the string FastAPI assumes for our response class."""
    for operations in schema["paths"].values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", _error_response("Invalid request: `invalid_request`, or a more specific code"))
            for response in responses.values():
                json_content = response.get("content", {}).get("application/json")
                if json_content is not None and json_content.get("schema") == _UNDESCRIBED:
                    del json_content["schema"]
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas[ERROR_SCHEMA] = _error_schema()


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
            "default": {"description": "The script's own response (with `x-isolane-invocation`, its record's id)"},
            "404": _error_response("`script_not_found`, or `no_fetch_handler`"),
            "413": _error_response("`request_too_large`: the body is over --max-request-bytes"),
            "429": _error_response("`rate_limited`: the namespace is over its request rate (`Retry-After` says when to retry)"),
            "500": _error_response("`worker_exception`: the script threw (`x-isolane-outcome: exception`)"),
            "503": _error_response(
                "`exceeded_cpu`, `exceeded_memory`, `canceled` (`x-isolane-outcome` names the outcome), or"
                " `dispatcher_unavailable`: the namespace's dispatch worker is not deployed"
            ),
            "504": _error_response("`exceeded_wall_time`: the script ran past its wall-clock limit"),
        },
        ACCESS_KEY: Access.PUBLIC.value,
    }


def document_invocation(app: FastAPI) -> None:
    """Extend the generated document with the gateway's endpoints."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            _describe_errors(schema)
            for path in INVOKE_PATHS:
                schema["paths"][path] = {method: _invoke_operation(path, method) for method in INVOKE_METHODS}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
