"""Link an upload's modules into one classic script (see the package docstring)."""

from __future__ import annotations

import base64
import posixpath
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson

from isolane.linker.bundler import BundleFailure, bundle, transpile_failure, write_guard_files
from isolane.linker.errors import LinkError
from isolane.linker.imports import UnreadableSyntax, find_imports, resolve
from isolane.linker.modules import MAX_MODULES, Module, ModuleType, validate_module_name
from isolane.linker.sourcemap import with_checkpoints

ENTRY = "entry.js"
EXPORTS_HOOK = "__isolane_exports"
# The linked script is one expression: a function the runtime calls with a callback that
# receives the main module's namespace object. The wrapper adds one line before the bundle.
_WRAPPER_HEAD = f"(function ({EXPORTS_HOOK}) {{\n"
_WRAPPER_TAIL = "\n})"
_DROPPED_COMMENTS = ("//# sourceMappingURL=", "//# debugId=")

_DISK_EXTENSION = {
    ModuleType.ESM: ".js",
    ModuleType.TYPESCRIPT: ".ts",
    ModuleType.TEXT: ".txt",
    ModuleType.JSON: ".json",
    ModuleType.DATA: ".js",  # generated: see _data_module
}


@dataclass(frozen=True, slots=True)
class LinkedScript:
    code: str
    source_map: bytes  # version 3, sources named as uploaded, without their contents
    modules: tuple[str, ...]


def _data_module(content: bytes) -> str:
    encoded = base64.b64encode(content).decode("ascii")
    return f'export default Uint8Array.from(atob("{encoded}"), (c) => c.charCodeAt(0)).buffer;\n'


def _check(modules: list[Module], main: str) -> dict[str, Module]:
    if not modules:
        raise LinkError("the upload holds no modules", code="empty_script")
    if len(modules) > MAX_MODULES:
        raise LinkError(f"an upload may hold at most {MAX_MODULES} modules", code="too_many_modules")
    by_name: dict[str, Module] = {}
    for module in modules:
        validate_module_name(module.name)
        if module.name in by_name:
            raise LinkError(f"module {module.name!r} appears twice", code="duplicate_module", module=module.name)
        by_name[module.name] = module
    if main not in by_name:
        raise LinkError(f"the main module {main!r} is not among the uploaded modules", code="main_module_missing", module=main)
    if not by_name[main].type.is_code:
        raise LinkError(f"the main module {main!r} must be JavaScript or TypeScript", code="main_module_invalid", module=main)
    return by_name


def _disk_names(by_name: dict[str, Module]) -> dict[str, str]:
    return {name: f"{index}{_DISK_EXTENSION[m.type]}" for index, (name, m) in enumerate(by_name.items())}


def _prepare(by_name: dict[str, Module], main: str) -> tuple[dict[str, bytes], dict[str, str]]:
    """The files the bundler gets: opaque names (`3.ts`), imports rewritten to them."""
    disk_names = _disk_names(by_name)
    names = set(by_name)
    files: dict[str, bytes] = {}
    for name, module in by_name.items():
        if module.type is ModuleType.DATA:
            files[disk_names[name]] = _data_module(module.content).encode()
            continue
        text = module.text()
        if module.type is ModuleType.JSON:
            try:
                orjson.loads(module.content)
            except orjson.JSONDecodeError as exc:
                raise LinkError(f"module {name!r} is not valid JSON: {exc}", code="invalid_json_module", module=name) from exc
        if not module.type.is_code:
            files[disk_names[name]] = text.encode()
            continue
        content = module.content
        pieces: list[bytes] = []
        done = 0
        for site in sorted(find_imports(module), key=lambda s: s.start):
            target = resolve(site, module, names)
            quote = content[site.start : site.start + 1]
            replacement = quote + f"./{disk_names[target]}".encode() + quote
            # Pad to the original width so columns after the import stay where they were.
            replacement += b" " * max(site.end - site.start - len(replacement), 0)
            pieces += (content[done : site.start], replacement)
            done = site.end
        pieces.append(content[done:])
        files[disk_names[name]] = b"".join(pieces)
    files[ENTRY] = f'import * as main from "./{disk_names[main]}";\n{EXPORTS_HOOK}(main);\n'.encode()
    return files, {disk: name for name, disk in disk_names.items()}


async def link(modules: list[Module], main: str) -> LinkedScript:
    """Link `modules` (entry point `main`) into one script, or raise LinkError.
    Every import is checked before the bundler runs (imports.py)."""
    by_name = _check(modules, main)
    try:
        files, original_names = _prepare(by_name, main)
    except UnreadableSyntax as unreadable:
        raise await _unreadable(by_name, unreadable) from None
    workdir = Path(tempfile.mkdtemp(prefix="isolane-link-"))
    try:
        write_guard_files(workdir)
        for disk_name, content in files.items():
            (workdir / disk_name).write_bytes(content)
        output = await bundle(workdir, ENTRY)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if isinstance(output, BundleFailure):
        raise _failure(output, original_names)
    _verify_inputs(output.metafile, set(files))
    if output.extra_outputs:  # an asset copied in: the bundler read a file (a second line of defence)
        raise LinkError("the upload could not be linked: it refers to files outside the upload", code="forbidden_import")
    return LinkedScript(
        code=_wrap(output.code),
        source_map=_rename_sources(output.source_map, original_names),
        modules=tuple(by_name),
    )


async def _unreadable(by_name: dict[str, Module], unreadable: UnreadableSyntax) -> LinkError:
    """The error for a module the import check cannot parse: Bun's syntax error if Bun finds
    one in that module alone (transpiling it resolves nothing), else a refusal: the module
    may hold a request that the check cannot see."""
    module = by_name[unreadable.module]
    disk_name = _disk_names(by_name)[module.name]
    workdir = Path(tempfile.mkdtemp(prefix="isolane-syntax-"))
    try:
        write_guard_files(workdir)
        (workdir / disk_name).write_bytes(module.content)
        failure = await transpile_failure(workdir, disk_name)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if failure is not None and failure.path is not None and posixpath.basename(failure.path) == disk_name:
        return _failure(failure, {disk_name: module.name})
    where = f"{module.name}:{unreadable.line}:{unreadable.column}"
    return LinkError(
        f"{where}: syntax the import check cannot read. Uploads are checked for imports by a standard"
        " JavaScript/TypeScript parser before they are bundled; non-standard forms (a template literal as an"
        " import source, `export ... from ... with {...}`, proposals such as `import defer`) are refused:"
        " write them in standard syntax",
        code="unsupported_syntax",
        module=module.name,
        line=unreadable.line,
        column=unreadable.column,
    )


def _failure(failure: BundleFailure, original_names: dict[str, str]) -> LinkError:
    """A bundler error, told in the upload's own names. Errors located anywhere but in the
    upload are reported without their text: it could quote a file of the host."""
    module = original_names.get(posixpath.basename(failure.path)) if failure.path else None
    if module is None:
        return LinkError("the upload could not be linked", code="link_failed")
    message = failure.message
    for disk_name, name in original_names.items():
        message = message.replace(f'"./{disk_name}"', f'"{name}"').replace(f'"{disk_name}"', f'"{name}"')
    code = "unresolved_import" if message.startswith("Could not resolve") else "syntax_error"
    return LinkError(f"{module}:{failure.line}:{failure.column}: {message}", code=code, module=module, line=failure.line, column=failure.column)


def _verify_inputs(metafile: bytes, expected: set[str]) -> None:
    """The bundler must have read nothing but the upload (a second line of defence)."""
    try:
        inputs = set(orjson.loads(metafile).get("inputs", {}))
    except (orjson.JSONDecodeError, AttributeError) as exc:
        raise LinkError("the upload could not be linked", code="link_failed") from exc
    if not inputs <= expected:
        raise LinkError("the upload could not be linked: it refers to files outside the upload", code="forbidden_import")


def _wrap(code: str) -> str:
    kept = [line for line in code.splitlines() if not line.startswith(_DROPPED_COMMENTS)]
    return _WRAPPER_HEAD + "\n".join(kept).rstrip() + _WRAPPER_TAIL


def _rename_sources(source_map: bytes, original_names: dict[str, str]) -> bytes:
    """The map in the upload's names, without the sources' text, with the wrapper's line
    offset and the checkpoints that let it be read a few lines at a time (sourcemap.py)."""
    data = orjson.loads(source_map)
    data["sources"] = [original_names.get(posixpath.basename(s), s) for s in data.get("sources", [])]
    data.pop("sourcesContent", None)
    data["x_isolane_line_offset"] = _WRAPPER_HEAD.count("\n")
    return orjson.dumps(with_checkpoints(data))
