"""The modules of an upload: names, types, and what each type means to the bundler."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from isolane.linker.errors import LinkError

MAX_MODULES = 100
MAX_NAME_LENGTH = 256
# Path segments of letters, digits, `_`, `-`, `.`, `@`, `+`; never `.` or `..` (see below).
_SEGMENT = re.compile(r"[A-Za-z0-9_@+][A-Za-z0-9_.@+-]*")


class ModuleType(StrEnum):
    """Workers module types, by the content type of their upload part."""

    ESM = "esm"  # JavaScript module (ES or CommonJS syntax)
    TYPESCRIPT = "typescript"
    TEXT = "text"  # default export: string
    DATA = "data"  # default export: ArrayBuffer
    JSON = "json"  # default export: the parsed value

    @property
    def is_code(self) -> bool:
        return self in (ModuleType.ESM, ModuleType.TYPESCRIPT)


_BY_CONTENT_TYPE = {
    "application/javascript+module": ModuleType.ESM,
    "text/javascript+module": ModuleType.ESM,
    "application/javascript": ModuleType.ESM,
    "text/javascript": ModuleType.ESM,
    "application/typescript": ModuleType.TYPESCRIPT,
    "application/x-typescript": ModuleType.TYPESCRIPT,
    "text/typescript": ModuleType.TYPESCRIPT,
    "text/plain": ModuleType.TEXT,
    "application/octet-stream": ModuleType.DATA,
    "application/json": ModuleType.JSON,
}

_BY_EXTENSION = {
    ".js": ModuleType.ESM,
    ".mjs": ModuleType.ESM,
    ".cjs": ModuleType.ESM,
    ".ts": ModuleType.TYPESCRIPT,
    ".mts": ModuleType.TYPESCRIPT,
    ".cts": ModuleType.TYPESCRIPT,
    ".json": ModuleType.JSON,
    ".txt": ModuleType.TEXT,
    ".html": ModuleType.TEXT,
    ".bin": ModuleType.DATA,
}

CODE_EXTENSIONS = (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts")


def module_type_for(content_type: str | None, name: str) -> ModuleType:
    """The type of a part: its content type if it names one we know, else its extension."""
    essence = (content_type or "").split(";", 1)[0].strip().lower()
    if essence in _BY_CONTENT_TYPE:
        found = _BY_CONTENT_TYPE[essence]
        # A TypeScript file sent as JavaScript is still TypeScript.
        if found is ModuleType.ESM and name.endswith((".ts", ".mts", ".cts")):
            return ModuleType.TYPESCRIPT
        return found
    for extension, module_type in _BY_EXTENSION.items():
        if name.endswith(extension):
            return module_type
    if essence:
        raise LinkError(f"module {name!r} has an unsupported content type {essence!r}", code="unsupported_module_type", module=name)
    raise LinkError(f"module {name!r} has no content type and no known extension", code="unsupported_module_type", module=name)


def validate_module_name(name: str) -> str:
    """Module names are relative paths inside the upload: `lib/util.ts`, never `../x` or `/x`."""
    if not name or len(name) > MAX_NAME_LENGTH:
        raise LinkError(f"module names must be 1 to {MAX_NAME_LENGTH} characters", code="invalid_module_name", module=name[:80])
    segments = name.split("/")
    if not all(_SEGMENT.fullmatch(segment) for segment in segments):
        raise LinkError(
            f"invalid module name {name[:80]!r}: use relative paths of letters, digits, '_', '-', '.', '@', '+'"
            " (no empty, '.' or '..' segments, no leading '/')",
            code="invalid_module_name",
            module=name[:80],
        )
    return name


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    type: ModuleType
    content: bytes

    def text(self) -> str:
        try:
            return self.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LinkError(
                f"module {self.name!r} is not valid UTF-8 (byte {exc.start})", code="invalid_encoding", module=self.name
            ) from exc
