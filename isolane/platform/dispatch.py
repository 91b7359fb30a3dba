"""Workers for Platforms routing: dispatch workers and outbound workers.

A namespace's settings may name two platform-owned scripts of other namespaces
(`PUT /v1/namespaces/{ns}` with `{"dispatcher": "p/router", "outbound": "p/egress"}`):

- the **dispatcher** receives every request for the namespace (by hostname and by path;
  server/gateway.py), with `env.DISPATCHER` bound to the namespace: `DISPATCHER.get(name,
  {}, {limits})` returns a stub whose `fetch()` runs that tenant script (`dispatch.fetch`);
- the **outbound** worker receives every `fetch()` of the namespace's scripts first
  (platform/fetcher.py calls `outbound_fetch`), with `env.ISOLANE_CALLER_NAMESPACE` and
  `env.ISOLANE_CALLER_SCRIPT`; its own fetches go straight out under the egress policy.

Both are nested invocations with records of their own (trigger "dispatch" / "outbound").
Their extra environment is per caller, so they run as a *variant* of the deployed version
(`ScriptRef.variant`): isolates holding one caller's values never serve another's.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from typing import Any

from isolane.errors import IsolaneError
from isolane.observability.records import new_record_id
from isolane.platform.calls import CallContext, server_operation
from isolane.platform.scripts import Deployment
from isolane.runtime.host import HostError
from isolane.sandbox.limits import Limits
from isolane.sandbox.outcomes import Outcome

DISPATCH_BINDING = "dispatch_namespace"
DISPATCHER_NAME = "DISPATCHER"
CALLER_NAMESPACE = "ISOLANE_CALLER_NAMESPACE"
CALLER_SCRIPT = "ISOLANE_CALLER_SCRIPT"

# What a dispatcher or outbound worker sees when the script it runs failed.
_FAILURES = {
    Outcome.EXCEPTION: "Worker threw exception",
    Outcome.EXCEEDED_CPU: "Worker exceeded CPU time limit",
    Outcome.EXCEEDED_MEMORY: "Worker exceeded memory limit",
    Outcome.EXCEEDED_WALL_TIME: "Worker exceeded wall-clock time limit",
    Outcome.CANCELED: "Worker invocation was canceled",
}


def as_dispatcher(deployment: Deployment, namespace: str) -> Deployment:
    """The dispatch script with `env.DISPATCHER` bound to `namespace`."""
    binding = {"type": DISPATCH_BINDING, "name": DISPATCHER_NAME, "namespace": namespace}
    bindings = tuple(b for b in deployment.bindings if b.get("name") != DISPATCHER_NAME) + (binding,)
    return dataclasses.replace(deployment, bindings=bindings, variant=f"dispatch:{namespace}")


def as_outbound(deployment: Deployment, caller: CallContext) -> Deployment:
    """The outbound script with its caller's namespace and name on `env`."""
    env = {**deployment.env, CALLER_NAMESPACE: caller.namespace, CALLER_SCRIPT: caller.script}
    return dataclasses.replace(deployment, env=env, variant=f"outbound:{caller.namespace}/{caller.script}")


def context_for(deployment: Deployment, services: Any, *, direct_egress: bool = False) -> CallContext:
    return CallContext(
        deployment.namespace,
        deployment.script,
        deployment.version,
        deployment.bindings,
        services,
        max_subrequests=deployment.subrequests,
        max_fetch_bytes=services.settings.max_fetch_bytes,
        direct_egress=direct_egress,
    )


async def run_nested(
    caller: CallContext,
    deployment: Deployment,
    request: dict[str, Any],
    trigger: str,
    *,
    direct_egress: bool = False,
) -> dict[str, Any]:
    """Run `deployment`'s fetch handler on `request` ({method, url, headers, body: base64 |
    None}) as an invocation of its own, and return its response as `fetch` answers one
    ({status, statusText, headers, body: base64, url, redirected}). A streamed body is
    collected whole (counted against the caller's fetched bytes). Any failure is an Error."""
    services = caller.services
    if "fetch" not in deployment.handlers:
        raise HostError("Error", f"Worker {deployment.script!r} has no fetch handler")
    loop = asyncio.get_running_loop()
    head: asyncio.Future[dict[str, Any]] = loop.create_future()
    chunks: list[bytes] = []
    overflow: list[HostError] = []

    def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "response":
            if not head.done():
                head.set_result(event)
        elif event["event"] == "chunk":
            for chunk in event["chunks"]:
                data = base64.b64decode(chunk)
                try:
                    caller.count_fetched(len(data))
                except HostError as exc:
                    overflow.append(exc)
                    cancel = head.result()["cancel"] if head.done() else None
                    if cancel is not None:
                        cancel()
                    return
                chunks.append(data)
                event["ack"](len(data))

    async def load_code() -> Any:
        return await services.scripts.code(deployment)

    record_id = new_record_id()
    call = {"op": "fetch", "stream": False, **{k: request.get(k) for k in ("method", "url", "headers", "body")}}
    run = loop.create_task(
        services.runner.run(
            deployment.ref,
            deployment.limits,
            trigger,
            load_code,
            call=call,
            on_event=on_event,
            source_map=await services.scripts.source_map(deployment),
            record_id=record_id,
            context=context_for(deployment, services, direct_egress=direct_egress),
            nested=True,  # within the caller's admission slot
        )
    )
    # The nested run is never cancelled from outside (that would strand its executor);
    # if the caller goes away, the invocation is ended through its `cancel`.
    services.background.add(run)
    run.add_done_callback(services.background.discard)
    try:
        await asyncio.wait((head, run), return_when=asyncio.FIRST_COMPLETED)
        if not head.done():
            result, _ = run.result()
            outcome = result.outcome if result.outcome is not Outcome.OK else Outcome.EXCEPTION
            raise HostError("Error", _failure_message(outcome, result.error, record_id))
        response = head.result()["response"]
        body_spec = response.get("body")
        if body_spec is not None and "stream" in body_spec:
            await asyncio.shield(run)
            if overflow:
                raise overflow[0]
            result, _ = run.result()
            if result.outcome is not Outcome.OK:
                raise HostError("Error", _failure_message(result.outcome, result.error, record_id) + " (while sending its body)")
            body = b"".join(chunks)
        elif body_spec is None:
            body = b""
        elif "text" in body_spec:
            body = body_spec["text"].encode("utf-8")
        else:
            body = base64.b64decode(body_spec["base64"])
    except asyncio.CancelledError:
        if head.done():
            head.result()["cancel"]()
        raise
    if body_spec is None or "stream" not in body_spec:
        caller.count_fetched(len(body))
    return {
        "status": int(response.get("status", 200)),
        "statusText": str(response.get("statusText") or ""),
        "headers": [[str(name).lower(), str(value)] for name, value in response.get("headers", [])],
        "body": base64.b64encode(body).decode("ascii"),
        "url": request.get("url"),
        "redirected": False,
    }


def _failure_message(outcome: Outcome, error: dict[str, Any] | None, record_id: str) -> str:
    message = _FAILURES.get(outcome, "Worker failed")
    if outcome is Outcome.EXCEPTION and error:
        message += f": {error.get('name', 'Error')}: {error.get('message', '')}"
    return f"{message} (invocation {record_id})"


def _request_args(args: dict[str, Any]) -> dict[str, Any]:
    try:
        headers = [[str(name), str(value)] for name, value in args.get("headers", [])]
        body = args.get("body")
        if body is not None:
            base64.b64decode(body, validate=True)
        return {"method": str(args["method"]).upper(), "url": str(args["url"]), "headers": headers, "body": body}
    except (ValueError, TypeError, KeyError) as exc:
        raise HostError("TypeError", f"bad request arguments ({exc})") from exc


def _positive(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise HostError("TypeError", f"limits.{what} must be a positive number")
    return max(1, int(value))


@server_operation("dispatch.fetch")
async def dispatch_fetch(context: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    """{binding, script, limits: {cpuMs?, subRequests?}, method, url, headers, body}: run the
    tenant script of the binding's namespace under the tighter of its own and these limits."""
    binding = context.binding(args.get("binding"), DISPATCH_BINDING)
    namespace = str(binding["namespace"])
    name = str(args.get("script"))
    limits = args.get("limits") or {}
    if not isinstance(limits, dict):
        raise HostError("TypeError", "limits must be an object")
    cpu_ms = _positive(limits.get("cpuMs"), "cpuMs")
    subrequests = _positive(limits.get("subRequests"), "subRequests")
    request = _request_args(args)
    try:
        deployment = await context.services.scripts.deployed(namespace, name)
    except IsolaneError as exc:
        if exc.status == 404:
            raise HostError("Error", f"Worker not found: {name[:80]!r} in dispatch namespace {namespace!r}") from exc
        raise HostError("Error", f"Worker {name[:80]!r} could not be loaded") from exc
    if cpu_ms is not None and cpu_ms < deployment.limits.cpu_ms:
        deployment = dataclasses.replace(deployment, limits=Limits(cpu_ms, deployment.limits.wall_ms, deployment.limits.memory_mb))
    if subrequests is not None and subrequests < deployment.subrequests:
        deployment = dataclasses.replace(deployment, subrequests=subrequests)
    return await run_nested(context, deployment, request, "dispatch")


async def outbound_worker(context: CallContext) -> Deployment | None:
    """The outbound worker the caller's fetch() goes to first, as the caller's variant, or
    None when the request goes straight out (no outbound worker, or the caller is one)."""
    if context.direct_egress or context.services is None:
        return None
    policy = await context.services.namespaces.policy(context.namespace)
    if policy is None or policy.outbound is None:
        return None
    namespace, name = policy.outbound
    try:
        deployment = await context.services.scripts.deployed(namespace, name)
    except IsolaneError as exc:
        raise HostError("TypeError", "fetch failed: the namespace's outbound worker is not available") from exc
    return as_outbound(deployment, context)


async def outbound_fetch(context: CallContext, deployment: Deployment, request: dict[str, Any]) -> dict[str, Any]:
    """The outbound worker's response to one of the caller's subrequests; its own fetches
    go straight out under the egress policy."""
    try:
        return await run_nested(context, deployment, request, "outbound", direct_egress=True)
    except HostError as exc:
        if exc.name == "TypeError":
            raise
        raise HostError("TypeError", f"fetch failed: the outbound worker failed: {exc.message}") from exc
