"""The executor's filesystem: the interpreter, the installed package and the libraries they
load, read-only, and nothing else (no /etc, no data dir, no home directories, no /usr/bin).

The paths are those of the running server: an executor runs the same interpreter and the
same package the server runs, so whatever the server imported, its executors can import."""

from __future__ import annotations

import os
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import isolane

# The shared libraries (libc, libm, libstdc++, libseccomp's neighbours) and the loader.
_LIBRARY_DIRS = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/libx32", "/lib", "/lib64", "/lib32", "/libx32")


@dataclass(frozen=True)
class Mount:
    source: str
    target: str


@dataclass(frozen=True)
class Symlink:
    target: str  # what the link points at
    path: str


def package_root() -> Path:
    """The directory that holds the `isolane` package (on PYTHONPATH inside the sandbox)."""
    return Path(isolane.__file__).resolve().parent.parent


def interpreter_paths() -> list[str]:
    """What the interpreter needs: its standard library (and libpython beside it), the
    virtual environment if any (site-packages: mini-racer, uvloop, orjson), and the
    executable with every symlink on the way to it. Never a whole /usr or /usr/bin."""
    paths: set[str] = set()
    locations = sysconfig.get_paths()
    for name in ("stdlib", "platstdlib"):
        if location := locations.get(name):
            paths.add(os.path.dirname(os.path.realpath(location)))  # .../lib: libpython too
    for name in ("purelib", "platlib"):
        if (location := locations.get(name)) and os.path.isdir(location):
            paths.add(os.path.realpath(location))
    if sys.prefix != sys.base_prefix:  # a virtual environment: pyvenv.cfg and bin/ too
        paths.add(os.path.realpath(sys.prefix))
    paths.update(_symlink_chain(sys.executable))
    return _outermost(p for p in paths if p not in ("/", ""))


def _symlink_chain(path: str) -> list[str]:
    """`path`, each link it passes through, and the file it ends at."""
    chain = []
    current = os.path.abspath(path)
    for _ in range(40):
        chain.append(current)
        if not os.path.islink(current):
            break
        current = os.path.normpath(os.path.join(os.path.dirname(current), os.readlink(current)))
    return chain


def library_layout() -> tuple[list[Mount], list[Symlink]]:
    """The host's library directories, as they are: merged-/usr hosts have /lib -> usr/lib."""
    mounts, links = [], []
    for path in _LIBRARY_DIRS:
        if os.path.islink(path):
            links.append(Symlink(os.readlink(path), path))
        elif os.path.isdir(path):
            mounts.append(Mount(path, path))
    return mounts, links


def mounts(extra_files: list[str]) -> tuple[list[Mount], list[Symlink]]:
    """Every read-only mount of the executor's root, outermost first, and the symlinks."""
    library_mounts, links = library_layout()
    wanted = [m.source for m in library_mounts] + interpreter_paths() + [str(package_root() / "isolane")]
    wanted += [os.path.realpath(f) for f in extra_files]
    return [Mount(p, p) for p in _outermost(wanted)], links


def ancestors(paths: list[str]) -> list[str]:
    """The directories to create (0755) so that the mounts below them can be reached even
    when the host's own are private (an interpreter under /root)."""
    seen: list[str] = []
    for path in paths:
        parent = Path(path).parent
        chain = []
        while str(parent) != "/":
            chain.append(str(parent))
            parent = parent.parent
        for directory in reversed(chain):
            if directory not in seen:
                seen.append(directory)
    return seen


def exposed(path: Path, mounted: list[Mount]) -> str | None:
    """The mount that would show `path` (the data dir) to an executor, if any."""
    resolved = os.path.realpath(path)
    for mount in mounted:
        if resolved == mount.source or resolved.startswith(mount.source.rstrip("/") + "/"):
            return mount.source
    return None


def _outermost(paths) -> list[str]:  # noqa: ANN001 - any iterable of str
    """Distinct paths with those inside another one dropped, sorted."""
    result: list[str] = []
    for path in sorted(set(paths), key=lambda p: (p.count("/"), p)):
        if not any(path == kept or path.startswith(kept.rstrip("/") + "/") for kept in result):
            result.append(path)
    return sorted(result)
