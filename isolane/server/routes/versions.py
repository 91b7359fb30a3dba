"""`/v1/namespaces/{ns}/scripts/{name}/versions` and `.../deployments`: a script's immutable
versions (listed, read, their source, uploaded without deploying) and which of them serve
its traffic (rollbacks and traffic splits). See platform/deployments.py."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from isolane.platform.deployments import MAX_VERSIONS
from isolane.server.access import Access, access
from isolane.server.bodies import read_limited
from isolane.server.responses import JSONResponse
from isolane.server.routes.scripts import UPLOAD_BODY, read_upload

router = APIRouter(prefix="/v1/namespaces/{ns}/scripts/{name}", tags=["versions"])

MAX_DEPLOYMENT_BODY = 16 * 1024

DEPLOYMENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["versions"],
                    "properties": {
                        "versions": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": MAX_VERSIONS,
                            "items": {
                                "type": "object",
                                "required": ["version_id", "percentage"],
                                "properties": {
                                    "version_id": {"type": "string"},
                                    "percentage": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
                                },
                            },
                            "description": "percentages total 100",
                        }
                    },
                }
            }
        },
    }
}


@router.get("/versions", **access(Access.NAMESPACE))
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


@router.post("/versions", openapi_extra={**access(Access.NAMESPACE)["openapi_extra"], **UPLOAD_BODY})
async def post_version(ns: str, name: str, request: Request) -> JSONResponse:
    """Upload a new version of an existing script without deploying it (201; 200 when the
    same version exists already)."""
    upload = await read_upload(request)
    version, created = await request.app.state.services.scripts.upload(ns, name, upload, deploy=False)
    return JSONResponse(version, status_code=201 if created else 200)


@router.get("/versions/{version_id}", **access(Access.NAMESPACE))
async def get_version(ns: str, name: str, version_id: str, request: Request) -> JSONResponse:
    """One version of the script (404 `version_not_found`)."""
    return JSONResponse(await request.app.state.services.scripts.version(ns, name, version_id))


@router.get("/versions/{version_id}/content", **access(Access.NAMESPACE))
async def get_version_content(ns: str, name: str, version_id: str, request: Request) -> Response:
    """The version's source as uploaded (raw, or multipart for several modules)."""
    content, content_type = await request.app.state.services.scripts.version_content(ns, name, version_id)
    return Response(content, media_type=content_type)


@router.get("/deployments", **access(Access.NAMESPACE))
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


@router.post("/deployments", openapi_extra={**access(Access.NAMESPACE)["openapi_extra"], **DEPLOYMENT_BODY})
async def post_deployment(
    ns: str,
    name: str,
    request: Request,
    force: bool = Query(False, description="deploy even versions whose secrets differ from the script's current ones"),
) -> JSONResponse:
    """Deploy versions of the script: one at 100% (e.g. a rollback) or two splitting the traffic."""
    body = await read_limited(request, MAX_DEPLOYMENT_BODY, "deployment")
    deployment = await request.app.state.services.scripts.deploy(ns, name, body, force=force)
    return JSONResponse(deployment, status_code=201)
