"""`/v1/namespaces/{ns}/scripts`: upload (every upload with PUT is a new, deployed version),
read, list and delete Workers scripts (one, or in bulk by tags), and their tags. Versions
and deployments are in `routes/versions.py`; invocation is the gateway's (`server/gateway.py`)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from isolane.platform.tags import parse_tag_list
from isolane.platform.uploads import Upload, essence, upload_from_parts, upload_from_raw
from isolane.server.access import Access, access
from isolane.server.bodies import parse_json, read_limited
from isolane.server.models.common import Page, also, errors
from isolane.server.models.scripts import Script, ScriptDeleted, ScriptSummary, TagList, UploadedScript
from isolane.server.multipart import parse_multipart
from isolane.server.openapi import json_body
from isolane.server.responses import JSONResponse

router = APIRouter(prefix="/v1/namespaces/{ns}/scripts", tags=["scripts"])

# Room for multipart framing and metadata around the code itself.
MULTIPART_OVERHEAD = 64 * 1024
MAX_TAGS_BODY = 16 * 1024
# A string that is no valid tag is `invalid_tag`; anything else but a list of strings, `invalid_tags`.
TAG_CODES = {":too_long": "too_many_tags", "*": "invalid_tag", "*:string_type": "invalid_tags"}

# What an upload may send; the content routes answer the same types.
SOURCE_TYPES = ("application/javascript+module", "application/typescript", "application/javascript")
SOURCE_CONTENT = {
    "content": {**{kind: {"schema": {"type": "string"}} for kind in SOURCE_TYPES}, "multipart/form-data": {"schema": {"type": "string"}}},
    "description": "The source as uploaded: the raw body, or multipart (a `metadata` part and one part per module)",
}
# 503 `link_busy` (with Retry-After): every link worker is taken (linker/pool.py).
UPLOAD_ERRORS = errors(400, 403, 409, 413, 415, 503)
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/javascript+module": {
                "schema": {"type": "string"},
                "example": 'export default { async fetch(request) { return new Response("hello") } }',
            },
            "application/typescript": {"schema": {"type": "string"}},
            "application/javascript": {"schema": {"type": "string"}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {"metadata": {"type": "string"}}}},
        },
    }
}


async def read_upload(request: Request) -> Upload:
    services = request.app.state.services
    limit = services.settings.max_script_bytes
    content_type = request.headers.get("content-type")
    if essence(content_type) == "multipart/form-data":
        body = await read_limited(request, limit + MULTIPART_OVERHEAD, "script", code="script_too_large")
        return upload_from_parts(parse_multipart(content_type or "", body))
    body = await read_limited(request, limit, "script", code="script_too_large")
    return upload_from_raw(content_type, body)


@router.put(
    "/{name}",
    status_code=201,
    response_model=UploadedScript,
    responses={**also(200, UploadedScript, "The same version was deployed already"), **UPLOAD_ERRORS},
    openapi_extra={**access(Access.NAMESPACE)["openapi_extra"], **UPLOAD_BODY},
)
async def put_script(ns: str, name: str, request: Request) -> JSONResponse:
    """Upload a script: a new immutable version, deployed at once."""
    upload = await read_upload(request)
    info, created = await request.app.state.services.scripts.upload(ns, name, upload)
    return JSONResponse(info, status_code=201 if created else 200)


TAGS_FILTER = "comma-separated tags, each `tag` or `tag:yes` (required) or `tag:no` (excluded); all must hold"


@router.get("", response_model=Page[ScriptSummary], responses=errors(400), **access(Access.NAMESPACE))
async def list_scripts(
    ns: str,
    request: Request,
    limit: int | None = Query(None, ge=1, le=1000),
    cursor: str | None = Query(None, max_length=63),
    tags: str | None = Query(None, max_length=2000, description=TAGS_FILTER),
) -> JSONResponse:
    """The namespace's scripts, `{"items", "cursor"}`; `tags` filters as in Cloudflare (`tag`, `tag:yes`, `tag:no`,
    comma-separated, all must hold)."""
    services = request.app.state.services
    await services.namespaces.get(ns)  # 404 for a namespace that does not exist
    items, next_cursor = await services.scripts.list(ns, limit, cursor, tags)
    return JSONResponse({"items": items, "cursor": next_cursor})


@router.delete("", response_model=Page[ScriptDeleted], responses=errors(400), **access(Access.NAMESPACE))
async def delete_scripts(
    ns: str, request: Request, tags: str | None = Query(None, max_length=2000, description=f"required: {TAGS_FILTER}")
) -> JSONResponse:
    """Delete every script that the tag filter matches (it must require a tag)."""
    services = request.app.state.services
    await services.namespaces.get(ns)  # 404 for a namespace that does not exist
    names = await services.scripts.delete_tagged(ns, tags)
    return JSONResponse({"items": [{"namespace": ns, "name": name, "deleted": True} for name in names], "cursor": None})


@router.get("/{name}", response_model=Script, **access(Access.NAMESPACE))
async def get_script(ns: str, name: str, request: Request) -> JSONResponse:
    """The script's deployed version: format, handlers, modules, binding names, tags, limits."""
    return JSONResponse(await request.app.state.services.scripts.get(ns, name))


@router.get("/{name}/content", response_class=Response, responses={200: SOURCE_CONTENT}, **access(Access.NAMESPACE))
async def get_script_content(ns: str, name: str, request: Request) -> Response:
    """The deployed version's source as uploaded (raw, or multipart for several modules)."""
    content, content_type = await request.app.state.services.scripts.content(ns, name)
    return Response(content, media_type=content_type)


@router.delete("/{name}", response_model=ScriptDeleted, **access(Access.NAMESPACE))
async def delete_script(ns: str, name: str, request: Request) -> JSONResponse:
    """Delete the script with its versions, deployments, secrets and schedules; it stops serving at once."""
    await request.app.state.services.scripts.delete(ns, name)
    return JSONResponse({"namespace": ns, "name": name, "deleted": True})


@router.get("/{name}/tags", response_model=Page[str], **access(Access.NAMESPACE))
async def get_tags(ns: str, name: str, request: Request) -> JSONResponse:
    """The script's tags."""
    return JSONResponse({"items": await request.app.state.services.scripts.tags(ns, name), "cursor": None})


@router.put(
    "/{name}/tags",
    response_model=Page[str],
    responses=errors(400, 413),
    openapi_extra={**access(Access.NAMESPACE)["openapi_extra"], **json_body(TagList)},
)
async def put_tags(ns: str, name: str, request: Request) -> JSONResponse:
    """Replace the script's tags with the body's list (at most 8)."""
    body = await read_limited(request, MAX_TAGS_BODY, "tag list")
    listed = parse_json(TagList, body, code="invalid_tags", codes=TAG_CODES)
    tags = await request.app.state.services.scripts.set_tags(ns, name, parse_tag_list(listed))
    return JSONResponse({"items": tags, "cursor": None})
