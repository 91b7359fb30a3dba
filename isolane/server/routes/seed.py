"""The seed contract: `POST /upload` stores JavaScript, `POST /execute` runs it by id."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request

from isolane.errors import BadRequest, NotFound
from isolane.platform.calls import CallContext
from isolane.platform.namespaces import DEFAULT_NAMESPACE
from isolane.platform.quotas import NO_POLICY
from isolane.platform.seed import ID_LENGTH, SEED_KIND, decode_source
from isolane.sandbox.supervisor import ScriptCode, ScriptRef
from isolane.server.access import Access, access
from isolane.server.bodies import read_limited
from isolane.server.responses import JSONResponse

router = APIRouter(tags=["seed"])

MAX_EXECUTE_BODY = 64 * 1024
HEX = frozenset("0123456789abcdef")
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/plain": {"schema": {"type": "string", "description": "JavaScript source (UTF-8)"}}},
    }
}
EXECUTE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/plain": {"schema": {"type": "string", "description": "The id `POST /upload` answered"}},
            "application/json": {"schema": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}},
        },
    }
}


@router.post("/upload", status_code=201, openapi_extra={**access(Access.SEED)["openapi_extra"], **UPLOAD_BODY})
async def upload(request: Request) -> JSONResponse:
    """Store the body (JavaScript source) and return its content-derived id."""
    services = request.app.state.services
    body = await read_limited(request, services.settings.max_script_bytes, "script", code="script_too_large")
    source = decode_source(body)
    check = await services.supervisor.check(source)
    if not check.ok:
        where = f" (line {check.line}, column {check.column})" if check.line else ""
        raise BadRequest(f"{check.message}{where}", code="syntax_error", line=check.line, column=check.column)
    script = await services.seeds.store(body)
    return JSONResponse({"id": script.id}, status_code=201)


def _requested_id(body: bytes, content_type: str) -> str:
    """The id from a text/plain body, or from JSON `{"id": ...}`."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        raise BadRequest('send the script id as the body, or as JSON {"id": ...}', code="missing_id")
    if content_type.startswith("application/json") or text[0] in '{["':
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}", code="invalid_json") from exc
        value = data.get("id") if isinstance(data, dict) else None
        if not isinstance(value, str) or not value.strip():
            raise BadRequest('the JSON body needs a string field "id"', code="missing_id")
        text = value.strip()
    return text


@router.post("/execute", openapi_extra={**access(Access.SEED)["openapi_extra"], **EXECUTE_BODY})
async def execute(request: Request) -> JSONResponse:
    """Run a stored script once and return its completion value, logs and outcome."""
    services = request.app.state.services
    body = await read_limited(request, MAX_EXECUTE_BODY, "body")
    script_id = _requested_id(body, request.headers.get("content-type", ""))
    if len(script_id) != ID_LENGTH or not set(script_id) <= HEX:
        raise NotFound(f"no script with id {script_id[:80]!r}", code="script_not_found")
    script = await services.seeds.find(script_id)

    async def load_code() -> ScriptCode:
        return ScriptCode(await services.seeds.source(script))

    ref = ScriptRef(DEFAULT_NAMESPACE, script.id, script.id, SEED_KIND)
    policy = await services.namespaces.policy(DEFAULT_NAMESPACE) or NO_POLICY  # the namespace's limits and rate apply too
    await services.rates.admit(DEFAULT_NAMESPACE)
    context = CallContext(
        DEFAULT_NAMESPACE,
        script.id,
        script.id,
        (),
        services,
        max_subrequests=policy.bound_subrequests(services.settings.max_subrequests),
        max_fetch_bytes=services.settings.max_fetch_bytes,
    )
    result, record = await services.runner.run(ref, policy.bound(services.settings.limits), "execute", load_code, context=context)
    return JSONResponse(
        {
            "id": script.id,
            "path": services.seeds.location(script),
            "result": result.result,
            "logs": result.logs,
            "outcome": result.outcome.value,
            "error": result.error,
            "cpu_ms": result.cpu_ms,
            "wall_ms": result.wall_ms,
            "invocation_id": record.id,
        },
        headers={"x-isolane-invocation": record.id},
    )
