"""`/v1/namespaces/{ns}/scripts/{name}/secrets`: set, list and delete a script's secrets.

A secret's value goes in and is never given back: answers carry names and types only.
Each change deploys a new version of the script (see platform/secrets.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from isolane.platform.secrets import MAX_SECRET_BYTES
from isolane.server.access import Access, access
from isolane.server.bodies import parse_json, read_limited
from isolane.server.models.common import Page, also, errors
from isolane.server.models.secrets import SecretDeleted, SecretInfo, SecretPut, SecretSet
from isolane.server.openapi import json_body
from isolane.server.responses import JSONResponse

router = APIRouter(prefix="/v1/namespaces/{ns}/scripts/{name}/secrets", tags=["secrets"])

# A value of MAX_SECRET_BYTES may grow sixfold as JSON (\u escapes), plus the rest.
MAX_BODY_BYTES = 6 * MAX_SECRET_BYTES + 4096
# A body that is no JSON object keeps its code from before bodies were validated by the model.
SECRET_CODES = {"": "invalid_json", "name": "invalid_secret_name", "type": "invalid_secret_type", "text": "invalid_secret_text"}

@router.put(
    "",
    status_code=201,
    response_model=SecretSet,
    responses={**also(200, SecretSet, "The secret existed: its value replaced"), **errors(400, 409, 413)},
    openapi_extra={**access(Access.NAMESPACE)["openapi_extra"], **json_body(SecretPut)},
)
async def put_secret(ns: str, name: str, request: Request) -> JSONResponse:
    """Set a secret (201 new, 200 replaced) and deploy the script's version that has it."""
    body = await read_limited(request, MAX_BODY_BYTES, "secret", code="secret_too_large")
    secret = parse_json(SecretPut, body, code="invalid_request", codes=SECRET_CODES)
    info, created = await request.app.state.services.secrets.put(ns, name, secret)
    return JSONResponse(info, status_code=201 if created else 200)


@router.get("", response_model=Page[SecretInfo], **access(Access.NAMESPACE))
async def list_secrets(ns: str, name: str, request: Request) -> JSONResponse:
    """The script's secrets: names and types, never values."""
    return JSONResponse({"items": await request.app.state.services.secrets.list(ns, name), "cursor": None})


@router.delete("/{secret}", response_model=SecretDeleted, responses=errors(409), **access(Access.NAMESPACE))
async def delete_secret(ns: str, name: str, secret: str, request: Request) -> JSONResponse:
    """Delete a secret and deploy the script's version without it."""
    return JSONResponse(await request.app.state.services.secrets.delete(ns, name, secret))
