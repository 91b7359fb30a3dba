"""`/v1/namespaces/{ns}/scripts/{name}/versions` and `.../deployments`: a script's immutable
versions (listed, read, their source, uploaded without deploying) and which of them serve
its traffic (rollbacks and traffic splits). See platform/deployments.py."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from isolane.server.access import Access, access
from isolane.server.bodies import parse_json, read_limited
from isolane.server.responses import JSONResponse
from isolane.server.models.common import Page, also, errors
from isolane.server.models.scripts import Deployment, DeploymentRequest, Version
from isolane.server.openapi import json_body
from isolane.server.routes.scripts import SOURCE_CONTENT, UPLOAD_BODY, UPLOAD_ERRORS, read_upload

router = APIRouter(prefix="/v1/namespaces/{ns}/scripts/{name}", tags=["versions"])

MAX_DEPLOYMENT_BODY = 16 * 1024
DEPLOYMENT_CODES = {"": "invalid_json", "versions:too_long": "too_many_versions", "versions.*.percentage": "invalid_percentage"}



@router.get("/versions", response_model=Page[Version], responses=errors(400), **access(Access.NAMESPACE))
async def list_versions(
    ns: str,
    name: str,
    request: Request,
    limit: int | None = Query(None, ge=1, le=1000),
    cursor: str | None = Query(None, max_length=100),
) -> JSONResponse:
    """The script's versions, newest first."""
    items, next_cursor = await request.app.state.services.scripts.list_versions(ns, name, limit, cursor)
    return JSONResponse({"items": items, "cursor": next_cursor})


@router.post(
    "/versions",
    status_code=201,
    response_model=Version,
    responses={**also(200, Version, "The same version exists already"), **UPLOAD_ERRORS},
    openapi_extra={**access(Access.NAMESPACE)["openapi_extra"], **UPLOAD_BODY},
)
async def post_version(ns: str, name: str, request: Request) -> JSONResponse:
    """Upload a new version of an existing script without deploying it (201; 200 when the
    same version exists already)."""
    upload = await read_upload(request)
    version, created = await request.app.state.services.scripts.upload(ns, name, upload, deploy=False)
    return JSONResponse(version, status_code=201 if created else 200)


@router.get("/versions/{version_id}", response_model=Version, **access(Access.NAMESPACE))
async def get_version(ns: str, name: str, version_id: str, request: Request) -> JSONResponse:
    """One version of the script (404 `version_not_found`)."""
    return JSONResponse(await request.app.state.services.scripts.version(ns, name, version_id))


@router.get("/versions/{version_id}/content", response_class=Response, responses={200: SOURCE_CONTENT}, **access(Access.NAMESPACE))
async def get_version_content(ns: str, name: str, version_id: str, request: Request) -> Response:
    """The version's source as uploaded (raw, or multipart for several modules)."""
    content, content_type = await request.app.state.services.scripts.version_content(ns, name, version_id)
    return Response(content, media_type=content_type)


@router.get("/deployments", response_model=Page[Deployment], responses=errors(400), **access(Access.NAMESPACE))
async def list_deployments(
    ns: str,
    name: str,
    request: Request,
    limit: int | None = Query(None, ge=1, le=1000),
    cursor: str | None = Query(None, max_length=64),
) -> JSONResponse:
    """The script's deployments, newest first; the one serving now has `"current": true`."""
    items, next_cursor = await request.app.state.services.scripts.list_deployments(ns, name, limit, cursor)
    return JSONResponse({"items": items, "cursor": next_cursor})


@router.post(
    "/deployments",
    status_code=201,
    response_model=Deployment,
    responses=errors(400, 409, 413),
    openapi_extra={**access(Access.NAMESPACE)["openapi_extra"], **json_body(DeploymentRequest)},
)
async def post_deployment(
    ns: str,
    name: str,
    request: Request,
    force: bool = Query(False, description="deploy even versions whose secrets differ from the script's current ones"),
) -> JSONResponse:
    """Deploy versions of the script: one at 100% (e.g. a rollback) or two splitting the traffic."""
    body = await read_limited(request, MAX_DEPLOYMENT_BODY, "deployment")
    requested = parse_json(DeploymentRequest, body, code="invalid_deployment", codes=DEPLOYMENT_CODES)
    deployment = await request.app.state.services.scripts.deploy(ns, name, requested, force=force)
    return JSONResponse(deployment, status_code=201)
