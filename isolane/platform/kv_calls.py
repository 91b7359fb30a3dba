"""The `kv.*` host calls behind a script's `kv_namespace` binding (prelude `61-kv.js`).

JavaScript names the binding, never the KV namespace: its id comes from the running
version's own bindings, and the KV namespace must still belong to the script's tenant
namespace. Bad input comes back as a TypeError with the same message the REST API gives.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from isolane.errors import IsolaneError
from isolane.platform.calls import CallContext, server_operation
from isolane.platform.kv import (
    KV_BINDING,
    MAX_VALUE_BYTES,
    KVService,
    check_key,
    check_value_size,
    parse_metadata,
    resolve_expiration,
)
from isolane.runtime.host import HostError

_MAX_BASE64_CHARS = (MAX_VALUE_BYTES + 2) // 3 * 4


def _service(context: CallContext) -> KVService:
    return context.services.kv


async def _kv_id(context: CallContext, args: dict[str, Any]) -> str:
    """The id of the KV namespace behind the binding JavaScript named."""
    binding = context.binding(args.get("binding"), KV_BINDING)
    kv_id = binding.get("namespace_id")
    found = await _service(context).find_namespace(kv_id)
    if found is None or found["namespace"] != context.namespace:
        raise HostError("Error", f"KV namespace {str(kv_id)[:80]!r} of binding {binding['name']!r} no longer exists")
    return str(kv_id)


def _type_error(exc: IsolaneError, method: str) -> HostError:
    return HostError("TypeError", f"KV {method}(): {exc.message}")


@server_operation("kv.get")
async def kv_get(context: CallContext, args: dict[str, Any]) -> dict[str, Any] | None:
    """{binding, key} -> {value: base64, metadata} or null."""
    kv_id = await _kv_id(context, args)
    try:
        row = await _service(context).get(kv_id, check_key(args.get("key")))
    except IsolaneError as exc:
        raise _type_error(exc, "get") from exc
    if row is None:
        return None
    return {
        "value": base64.b64encode(row.value).decode("ascii"),
        "metadata": orjson.loads(row.metadata) if row.metadata is not None else None,
    }


@server_operation("kv.put")
async def kv_put(context: CallContext, args: dict[str, Any]) -> None:
    """{binding, key, value: base64, expiration?, expirationTtl?, metadata?: JSON text}."""
    kv_id = await _kv_id(context, args)
    encoded = args.get("value")
    if not isinstance(encoded, str):
        raise HostError("TypeError", "KV put(): the value must be bytes")
    try:
        key = check_key(args.get("key"))
        if len(encoded) > _MAX_BASE64_CHARS:
            check_value_size(len(encoded) * 3 // 4)
        try:
            value = base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise HostError("TypeError", "KV put(): the value must be bytes") from exc
        check_value_size(len(value))
        expiration = resolve_expiration(args.get("expiration"), args.get("expirationTtl"), ttl_name="expirationTtl")
        metadata = args.get("metadata")
        if metadata is not None and not isinstance(metadata, str):
            raise HostError("TypeError", "KV put(): metadata must be serialized as JSON")
        await _service(context).put(kv_id, key, value, expiration, parse_metadata(metadata))
    except IsolaneError as exc:
        raise _type_error(exc, "put") from exc


@server_operation("kv.delete")
async def kv_delete(context: CallContext, args: dict[str, Any]) -> None:
    kv_id = await _kv_id(context, args)
    try:
        await _service(context).delete(kv_id, check_key(args.get("key")))
    except IsolaneError as exc:
        raise _type_error(exc, "delete") from exc


@server_operation("kv.list")
async def kv_list(context: CallContext, args: dict[str, Any]) -> dict[str, Any]:
    """{binding, prefix?, limit?, cursor?} -> {keys, list_complete, cursor?} as in Workers:
    `expiration` and `metadata` only on keys that have them, `cursor` only when more follow."""
    kv_id = await _kv_id(context, args)
    try:
        items, cursor = await _service(context).list_keys(kv_id, args.get("prefix"), args.get("limit"), args.get("cursor"))
    except IsolaneError as exc:
        raise _type_error(exc, "list") from exc
    keys = []
    for item in items:
        key: dict[str, Any] = {"name": item["name"]}
        if item["expiration"] is not None:
            key["expiration"] = item["expiration"]
        if item["metadata"] is not None:
            key["metadata"] = item["metadata"]
        keys.append(key)
    result: dict[str, Any] = {"keys": keys, "list_complete": cursor is None}
    if cursor is not None:
        result["cursor"] = cursor
    return result

