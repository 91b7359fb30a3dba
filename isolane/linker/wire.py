"""What the server and a link worker say to each other over the worker's stdin and stdout.

Each message is a frame: 4 bytes (big-endian) of header length, a JSON header, then the
payload bytes the header counts. Module sources and the linked script travel as raw bytes,
never inside JSON (no escaping of 10 MB of code), and never as pickles: the server reads
what a worker sends as data it validates, since a worker parses hostile input.

- job (server -> worker): {"main", "modules": [{"name", "type", "size"}]}, payload: the
  modules' contents, in order;
- result (worker -> server): {"ok": true, "modules": [...], "code": n, "map": m}, payload:
  the code (UTF-8) then the source map; or {"ok": false, "error": {"code", "message",
  "module"?, "line"?, "column"?}} for a link error, {"ok": false, "unavailable": "..."}
  when the bundler could not run (not the upload's fault).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Any

import orjson

from isolane.linker.errors import LinkError
from isolane.linker.link import LinkedScript
from isolane.linker.modules import MAX_NAME_LENGTH, Module, ModuleType

MAX_HEADER = 1 << 20
_LENGTH = struct.Struct(">I")
_CODE = re.compile(r"[a-z][a-z_]{0,63}")
_MAX_MESSAGE = 4000


class ProtocolError(Exception):
    """A frame that does not say what it should: the worker is not trusted any further."""


def frame(header: dict[str, Any], payload: bytes = b"") -> bytes:
    encoded = orjson.dumps(header)
    return _LENGTH.pack(len(encoded)) + encoded + payload


def header_length(prefix: bytes) -> int:
    (length,) = _LENGTH.unpack(prefix)
    if length > MAX_HEADER:
        raise ProtocolError(f"a header of {length} bytes")
    return length


PREFIX = _LENGTH.size


def job(modules: list[Module], main: str) -> bytes:
    header = {"main": main, "modules": [{"name": m.name, "type": m.type.value, "size": len(m.content)} for m in modules]}
    return frame(header, b"".join(m.content for m in modules))


def job_payload_size(header: dict[str, Any]) -> int:
    return sum(int(m["size"]) for m in header["modules"])


def read_job(header: dict[str, Any], payload: bytes) -> tuple[list[Module], str]:
    """The worker's side: the job's modules (it trusts the server)."""
    modules: list[Module] = []
    at = 0
    for entry in header["modules"]:
        size = int(entry["size"])
        modules.append(Module(str(entry["name"]), ModuleType(entry["type"]), payload[at : at + size]))
        at += size
    return modules, str(header["main"])


def linked(script: LinkedScript) -> bytes:
    code = script.code.encode("utf-8")
    return frame({"ok": True, "modules": list(script.modules), "code": len(code), "map": len(script.source_map)}, code + script.source_map)


def link_error(error: LinkError) -> bytes:
    body = error.to_body()["error"]
    return frame({"ok": False, "error": {key: body[key] for key in ("code", "message", "module", "line", "column") if key in body}})


def unavailable(reason: str) -> bytes:
    return frame({"ok": False, "unavailable": reason[:_MAX_MESSAGE]})


@dataclass(frozen=True, slots=True)
class Outcome:
    """A worker's answer, checked: a script, a LinkError for the tenant, or a reason the
    bundler could not run."""

    script: LinkedScript | None = None
    error: LinkError | None = None
    unavailable: str | None = None


def result_payload_size(header: dict[str, Any], limit: int) -> int:
    if header.get("ok") is not True:
        return 0
    code, source_map = header.get("code"), header.get("map")
    if type(code) is not int or type(source_map) is not int or code < 0 or source_map < 0 or code + source_map > limit:
        raise ProtocolError("a result of unexpected size")
    return code + source_map


def read_result(header: dict[str, Any], payload: bytes | memoryview, expected_modules: list[str]) -> Outcome:
    """The server's side: what a worker answered, validated field by field."""
    if header.get("ok") is True:
        modules = header.get("modules")
        if modules != expected_modules:
            raise ProtocolError("a result for other modules")
        try:
            code = str(payload[: header["code"]], "utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError("a script that is not UTF-8") from exc
        return Outcome(script=LinkedScript(code, bytes(payload[header["code"] :]), tuple(expected_modules)))
    reason = header.get("unavailable")
    if isinstance(reason, str):
        return Outcome(unavailable=reason[:_MAX_MESSAGE])
    error = header.get("error")
    if not isinstance(error, dict):
        raise ProtocolError("a result without an error")
    code, message = error.get("code"), error.get("message")
    if not isinstance(code, str) or not _CODE.fullmatch(code) or not isinstance(message, str):
        raise ProtocolError("an error without a code or message")
    module = error.get("module")
    details: dict[str, Any] = {}
    if isinstance(module, str) and len(module) <= MAX_NAME_LENGTH:
        details["module"] = module
    for key in ("line", "column"):
        value = error.get(key)
        if type(value) is int and value >= 0:
            details[key] = value
    return Outcome(error=LinkError(message[:_MAX_MESSAGE], code=code, **details))
