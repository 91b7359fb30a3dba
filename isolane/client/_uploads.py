"""Script uploads: a raw module body, or Workers' multipart form (a `metadata` part plus one
part per module) when there is more to say than the code."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from isolane.client._models import Module

MODULE_JS = "application/javascript+module"
SERVICE_WORKER_JS = "application/javascript"  # addEventListener("fetch", ...): no exports

_TYPES_BY_SUFFIX = {
    ".js": MODULE_JS,
    ".mjs": MODULE_JS,
    ".ts": "application/typescript",
    ".mts": "application/typescript",
    ".json": "application/json",
    ".txt": "text/plain",
    ".html": "text/plain",
    ".md": "text/plain",
    ".csv": "text/plain",
}


def content_type_for(filename: str) -> str:
    """The module type Isolane gives a file by its suffix: JS and TS modules, JSON, text;
    anything else is data (an ArrayBuffer)."""
    return _TYPES_BY_SUFFIX.get(Path(filename).suffix.lower(), "application/octet-stream")


def module_from_path(path: str | Path, name: str | None = None) -> Module:
    """A module read from a file, named by `name` or the file's name."""
    path = Path(path)
    module_name = name or path.name
    return Module(module_name, path.read_bytes(), content_type_for(module_name))


@dataclass(frozen=True)
class UploadBody:
    """What an upload sends: raw `content`, or multipart `files`."""

    content: bytes | None = None
    content_type: str | None = None
    files: list[tuple[str, tuple[str | None, bytes, str]]] | None = None

    def request_fields(self) -> dict[str, Any]:
        if self.files is not None:
            return {"files": self.files}
        return {"content": self.content, "headers": {"content-type": self.content_type or MODULE_JS}}


def build_upload(
    code: str | bytes | Module,
    *,
    modules: Sequence[Module] = (),
    content_type: str = MODULE_JS,
    vars: Mapping[str, str] | None = None,
    kv: Mapping[str, str] | None = None,
    bindings: Sequence[Mapping[str, Any]] | None = None,
    tags: Sequence[str] | None = None,
    limits: Mapping[str, int] | None = None,
    compatibility_date: str | None = None,
    crons: Sequence[str] | None = None,
) -> UploadBody:
    """A raw body when `code` alone says it all, else the multipart form. `vars` become
    `plain_text` bindings, `kv` maps binding names to KV namespace ids; `bindings` are further
    bindings in Workers' shape. `tags` and `crons` replace the script's (None keeps them)."""
    wants_metadata = any(value is not None for value in (vars, kv, bindings, tags, limits, compatibility_date, crons))
    if not modules and not wants_metadata and not isinstance(code, Module):
        return UploadBody(content=code.encode() if isinstance(code, str) else code, content_type=content_type)
    main = code if isinstance(code, Module) else Module(_default_name(content_type), code, content_type)
    every_binding: list[dict[str, Any]] = [{"type": "plain_text", "name": name, "text": text} for name, text in (vars or {}).items()]
    every_binding += [{"type": "kv_namespace", "name": name, "namespace_id": kv_id} for name, kv_id in (kv or {}).items()]
    every_binding += [dict(binding) for binding in bindings or ()]
    # Workers' metadata names a service worker's script `body_part`, a module's `main_module`.
    entry = "body_part" if main.content_type == SERVICE_WORKER_JS else "main_module"
    metadata: dict[str, Any] = {entry: main.name, "bindings": every_binding}
    if tags is not None:
        metadata["tags"] = list(tags)
    if limits is not None:
        metadata["limits"] = dict(limits)
    if compatibility_date is not None:
        metadata["compatibility_date"] = compatibility_date
    if crons is not None:
        metadata["triggers"] = {"crons": list(crons)}
    files: list[tuple[str, tuple[str | None, bytes, str]]] = [("metadata", (None, json.dumps(metadata).encode(), "application/json"))]
    for module in (main, *modules):
        content = module.content.encode() if isinstance(module.content, str) else module.content
        files.append((module.name, (module.name, content, module.content_type)))
    return UploadBody(files=files)


def _default_name(content_type: str) -> str:
    return "worker.ts" if content_type == "application/typescript" else "worker.js"
