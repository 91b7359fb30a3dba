"""The OpenAPI document: FastAPI's, plus what FastAPI cannot know.

- the invocation endpoints, which the gateway serves outside FastAPI;
- the error responses that the app-wide access check produces (401, 403 and 429 on every
  route that needs a token, 404 on a namespace's routes), from each route's declaration;
- Isolane's own 400 (`invalid_request`, the error body) where FastAPI would document its
  422 validation error, which the error handlers never send;
- the JSON bodies that routes read themselves (size-limited), declared with
  `json_body(Model)` and validated with the same model (`server/bodies.parse_json`).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from isolane.server.access import ACCESS_KEY, Access
from isolane.server.models.common import ERROR_MEANINGS, ErrorBody

INVOKE_PATHS = (
    "/v1/namespaces/{ns}/scripts/{name}/invoke",
    "/v1/namespaces/{ns}/scripts/{name}/invoke/{path}",
)
INVOKE_METHODS = ("get", "head", "post", "put", "patch", "delete", "options")
COMPONENT = "#/components/schemas/{model}"
ERROR_REF = {"$ref": COMPONENT.format(model=ErrorBody.__name__)}

# The models of bodies declared with `json_body`, added to the document's components.
_BODY_MODELS: dict[str, type[BaseModel]] = {}


def schema_ref(model: type[BaseModel]) -> dict[str, str]:
    """A reference to `model`'s schema, which the document's components will hold."""
    _BODY_MODELS[model.__name__] = model
    return {"$ref": COMPONENT.format(model=model.__name__)}


def json_body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` for a route that reads a JSON body itself: documented by `model`."""
    return {"requestBody": {"required": required, "content": {"application/json": {"schema": schema_ref(model)}}}}


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
            "403": _error(
                403,
                "`subresource_refused`: a page of the platform's origin asked for the response as a script, stylesheet"
                " or worker (`Sec-Fetch-Dest`), which a script served by path never is",
            ),
            "404": _error(404, "`script_not_found`, or `no_fetch_handler`"),
            "413": _error(413, "`request_too_large`: the body is over --max-request-bytes"),
            "429": _error(429, "`rate_limited`: the namespace is over its request rate (`Retry-After` says when to retry)"),
            "500": _error(500, "`worker_exception`: the script threw (`x-isolane-outcome: exception`)"),
            "503": _error(
                503,
                "`exceeded_cpu`, `exceeded_memory`, `canceled` (`x-isolane-outcome` names the outcome), or"
                " `dispatcher_unavailable`: the namespace's dispatch worker is not deployed",
            ),
            "504": _error(504, "`exceeded_wall_time`: the script ran past its wall-clock limit"),
        },
        ACCESS_KEY: Access.PUBLIC.value,
    }


def _error(status: int, description: str | None = None) -> dict[str, Any]:
    return {"description": description or ERROR_MEANINGS[status], "content": {"application/json": {"schema": ERROR_REF}}}


def _access_errors(level: str | None) -> tuple[int, ...]:
    """What `server/access.authorize` answers before the handler runs."""
    if level in (None, Access.PUBLIC.value):
        return ()
    if level == Access.NAMESPACE.value:
        return (401, 403, 404, 429)
    return (401, 403, 429)


# A token route's 429 when it has none of its own: the address's failed token checks.
TOO_MANY_ATTEMPTS = "`too_many_attempts`: too many failed token checks from this address (`Retry-After` says when to retry)"


BEARER = "bearer"


def _complete_operation(operation: dict[str, Any]) -> None:
    if operation.get(ACCESS_KEY) not in (None, Access.PUBLIC.value):
        operation["security"] = [{BEARER: []}]  # so /docs asks for the token ("Authorize")
    responses: dict[str, Any] = operation["responses"]
    if responses.pop("422", None) is not None:  # the validation handler answers 400
        responses.setdefault("400", _error(400))
    for status in _access_errors(operation.get(ACCESS_KEY)):
        responses.setdefault(str(status), _error(status, TOO_MANY_ATTEMPTS if status == 429 else None))
    operation["responses"] = dict(sorted(responses.items()))


def _complete(schema: dict[str, Any]) -> dict[str, Any]:
    schema.setdefault("components", {})["securitySchemes"] = {
        BEARER: {"type": "http", "scheme": "bearer", "description": "An Isolane token (admin or namespace)"}
    }
    components = schema["components"].setdefault("schemas", {})
    for operations in schema["paths"].values():
        for operation in operations.values():
            _complete_operation(operation)
    # FastAPI's validation error shapes: no response has them.
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    models = [(model, "validation") for model in _BODY_MODELS.values()] + [(ErrorBody, "serialization")]
    _, defined = models_json_schema(models, ref_template=COMPONENT)
    for name, definition in defined.get("$defs", {}).items():
        components.setdefault(name, definition)
    for path in INVOKE_PATHS:
        schema["paths"][path] = {method: _invoke_operation(path, method) for method in INVOKE_METHODS}
    return schema


def complete_document(app: FastAPI) -> None:
    """Complete the generated document (see the module's docstring) once, when first asked."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _complete(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
