"""What a Workers upload says: its modules, its main module, its metadata.

Two shapes arrive at `PUT /v1/namespaces/{ns}/scripts/{name}`:
- a raw body whose content type names the format (ES module, TypeScript module, or a
  service-worker script), and
- Cloudflare's multipart upload: a `metadata` JSON part (`main_module` or `body_part`,
  `bindings`, `tags`, `limits`, `compatibility_date`, `triggers`, ...) plus one part per module.
Unknown metadata keys are ignored, as wrangler sends several we have no use for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from isolane.errors import BadRequest, IsolaneError
from isolane.linker import LinkError, Module, ModuleType
from isolane.linker.modules import module_type_for
from isolane.platform.triggers import parse_crons

MAX_TAGS = 8
MAX_TAG_LENGTH = 64
MAX_BINDINGS = 64
LIMIT_NAMES = ("cpu_ms", "memory_mb", "wall_ms", "subrequests")
_BINDING_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]{0,63}")
TAG = re.compile(r"[^,\s][^,]{0,63}")  # 1-64 characters, no commas, not starting with a space
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class UnsupportedMediaType(IsolaneError):
    status, code = 415, "unsupported_media_type"


class WorkerFormat(StrEnum):
    MODULE = "module"  # ES modules, linked into one script
    SERVICE_WORKER = "service-worker"  # one classic script using addEventListener


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a multipart upload."""

    name: str
    filename: str | None
    content_type: str | None
    content: bytes


@dataclass(frozen=True, slots=True)
class Metadata:
    bindings: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    limits: dict[str, int] = field(default_factory=dict)
    compatibility_date: str | None = None
    compatibility_flags: list[str] = field(default_factory=list)
    has_tags: bool = False  # whether the upload said which tags (a raw upload does not)
    # Cron triggers (`triggers: {"crons": [...]}`): script settings, not part of the version;
    # None when the upload did not say (the script's schedules stay as they are).
    crons: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "bindings": self.bindings,
            "tags": self.tags,
            "limits": self.limits,
            "compatibility_date": self.compatibility_date,
            "compatibility_flags": self.compatibility_flags,
        }


@dataclass(frozen=True, slots=True)
class Upload:
    format: WorkerFormat
    modules: list[Module]
    main: str
    metadata: Metadata
    layout: str  # "raw" or "multipart": how GET .../content gives the source back
    content_type: str | None = None  # of a raw upload

    @property
    def size(self) -> int:
        return sum(len(module.content) for module in self.modules)


_RAW_FORMATS = {
    "application/javascript+module": (WorkerFormat.MODULE, "worker.js", ModuleType.ESM),
    "text/javascript+module": (WorkerFormat.MODULE, "worker.js", ModuleType.ESM),
    "application/typescript": (WorkerFormat.MODULE, "worker.ts", ModuleType.TYPESCRIPT),
    "application/x-typescript": (WorkerFormat.MODULE, "worker.ts", ModuleType.TYPESCRIPT),
    "text/typescript": (WorkerFormat.MODULE, "worker.ts", ModuleType.TYPESCRIPT),
    "application/javascript": (WorkerFormat.SERVICE_WORKER, "worker.js", ModuleType.ESM),
    "text/javascript": (WorkerFormat.SERVICE_WORKER, "worker.js", ModuleType.ESM),
}


def essence(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def upload_from_raw(content_type: str | None, body: bytes) -> Upload:
    found = _RAW_FORMATS.get(essence(content_type))
    if found is None:
        raise UnsupportedMediaType(
            f"unsupported content type {essence(content_type) or '(none)'!r}: send application/javascript+module"
            " (ES module), application/typescript (TypeScript module), application/javascript (service worker)"
            " or multipart/form-data (Workers upload format)"
        )
    worker_format, name, module_type = found
    _require_code(body, name)
    return Upload(worker_format, [Module(name, module_type, body)], name, Metadata(), "raw", essence(content_type))


def upload_from_parts(parts: list[Part]) -> Upload:
    by_name: dict[str, Part] = {}
    for part in parts:
        if part.name in by_name:
            raise BadRequest(f"the part {part.name[:80]!r} appears twice", code="duplicate_module", module=part.name[:80])
        by_name[part.name] = part
    meta_part = by_name.pop("metadata", None)
    if meta_part is None:
        raise BadRequest("a multipart upload needs a 'metadata' part (JSON)", code="missing_metadata")
    try:
        raw = orjson.loads(meta_part.content)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the metadata part is not valid JSON: {exc}", code="invalid_metadata") from exc
    if not isinstance(raw, dict):
        raise BadRequest("the metadata part must be a JSON object", code="invalid_metadata")
    metadata = parse_metadata(raw)
    main_module, body_part = raw.get("main_module"), raw.get("body_part")
    if main_module is not None and body_part is not None:
        raise BadRequest("give either main_module (ES modules) or body_part (service worker), not both", code="invalid_metadata")
    if main_module is None and body_part is None:
        raise BadRequest("the metadata needs main_module (ES modules) or body_part (service worker)", code="invalid_metadata")
    if body_part is not None:
        if not isinstance(body_part, str) or body_part not in by_name:
            raise LinkError(f"the body part {str(body_part)[:80]!r} is not among the uploaded parts", code="main_module_missing")
        part = by_name[body_part]
        if len(by_name) > 1:
            raise BadRequest("a service-worker upload holds one script part (import needs ES modules)", code="invalid_metadata")
        _require_code(part.content, body_part)
        module = Module(body_part, ModuleType.ESM, part.content)
        return Upload(WorkerFormat.SERVICE_WORKER, [module], body_part, metadata, "multipart")
    if not isinstance(main_module, str):
        raise BadRequest("main_module must be a string", code="invalid_metadata")
    modules = [Module(name, module_type_for(part.content_type, name), part.content) for name, part in by_name.items()]
    if main_module in by_name:
        _require_code(by_name[main_module].content, main_module)
    return Upload(WorkerFormat.MODULE, modules, main_module, metadata, "multipart")


def _require_code(content: bytes, name: str) -> None:
    if not content.strip():
        raise BadRequest(f"the script {name!r} is empty", code="empty_script", module=name)


def parse_metadata(raw: dict[str, Any]) -> Metadata:
    return Metadata(
        bindings=_bindings(raw.get("bindings", [])),
        tags=_tags(raw.get("tags", [])),
        has_tags="tags" in raw,
        limits=_limits(raw.get("limits", {})),
        compatibility_date=_date(raw.get("compatibility_date")),
        compatibility_flags=_string_list(raw.get("compatibility_flags", []), "compatibility_flags"),
        crons=_crons(raw["triggers"]) if "triggers" in raw else None,
    )


def _crons(value: Any) -> list[str]:
    """`triggers: {"crons": ["*/5 * * * *", ...]}` (wrangler's shape)."""
    if not isinstance(value, dict):
        raise _invalid('triggers must be an object: {"crons": [...]}')
    return parse_crons(value.get("crons", []))


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code="invalid_metadata")


def _bindings(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or len(value) > MAX_BINDINGS:
        raise _invalid(f"bindings must be a list of at most {MAX_BINDINGS} objects")
    seen: set[str] = set()
    bindings: list[dict[str, Any]] = []
    for item in value:
        if not isinstance(item, dict):
            raise _invalid("each binding must be an object with a type and a name")
        name, kind = item.get("name"), item.get("type")
        if not isinstance(name, str) or not _BINDING_NAME.fullmatch(name):
            raise BadRequest(f"invalid binding name {str(name)[:80]!r}: use a JavaScript identifier", code="invalid_binding")
        if name in seen:
            raise BadRequest(f"the binding name {name!r} is used twice", code="duplicate_binding", binding=name)
        seen.add(name)
        if kind == "plain_text":
            if not isinstance(item.get("text"), str):
                raise BadRequest(f"binding {name!r}: plain_text needs a string 'text'", code="invalid_binding", binding=name)
            bindings.append({"type": kind, "name": name, "text": item["text"]})
        elif kind == "json":
            if "json" not in item:
                raise BadRequest(f"binding {name!r}: json needs a 'json' value", code="invalid_binding", binding=name)
            bindings.append({"type": kind, "name": name, "json": item["json"]})
        elif kind == "kv_namespace":  # that the KV namespace exists is checked at upload
            namespace_id = item.get("namespace_id")
            if not isinstance(namespace_id, str) or not 0 < len(namespace_id) <= 64:
                raise BadRequest(f"binding {name!r}: kv_namespace needs a string 'namespace_id'", code="invalid_binding", binding=name)
            bindings.append({"type": kind, "name": name, "namespace_id": namespace_id})
        else:
            raise BadRequest(
                f"binding {name!r} has an unsupported type {str(kind)[:40]!r} (supported: plain_text, json, kv_namespace)",
                code="unsupported_binding_type",
                binding=name,
            )
    return bindings


def _tags(value: Any) -> list[str]:
    return validate_tags(_string_list(value, "tags"))


def validate_tags(tags: list[str]) -> list[str]:
    """A script's tags: at most MAX_TAGS, each 1-64 characters without commas; sorted, unique."""
    if len(tags) > MAX_TAGS:
        raise BadRequest(f"a script may have at most {MAX_TAGS} tags", code="too_many_tags")
    for tag in tags:
        if not TAG.fullmatch(tag):
            raise BadRequest(f"invalid tag {tag[:80]!r}: 1-{MAX_TAG_LENGTH} characters, no commas", code="invalid_tag")
    return sorted(set(tags))


def _limits(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise _invalid("limits must be an object")
    limits: dict[str, int] = {}
    for name, amount in value.items():
        if name not in LIMIT_NAMES:
            raise BadRequest(f"unknown limit {str(name)[:40]!r} (known: {', '.join(LIMIT_NAMES)})", code="invalid_limit", limit=name)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise BadRequest(f"limit {name} must be a positive integer", code="invalid_limit", limit=name)
        limits[name] = amount
    return limits


def _date(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise _invalid("compatibility_date must be a date like 2026-11-27")
    return value


def _string_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _invalid(f"{what} must be a list of strings")
    return list(value)
