"""The executor's root: what is mounted, and that the data dir never is."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import isolane
from isolane.sandbox.confinement import bubblewrap, filesystem


def test_the_interpreter_the_package_and_libraries_and_nothing_else() -> None:
    """Each mount is one of: a library directory, the interpreter's installation (its
    executable, standard library, virtual environment) or the package itself. The checkout
    may live anywhere (/tmp, /home): only those directories of it are mounted."""
    mounts, _ = filesystem.mounts([])
    sources = [m.source for m in mounts]
    package = str(Path(isolane.__file__).resolve().parent)
    allowed_roots = [os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)] + [package]

    def inside(path: str, root: str) -> bool:
        return path == root or path.startswith(root.rstrip("/") + "/")

    for source in sources:
        library = source in ("/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/libx32", "/lib", "/lib64", "/lib32", "/libx32")
        assert library or any(inside(source, root) for root in allowed_roots) or source in filesystem.interpreter_paths(), source
    assert any(inside(package, source) for source in sources)
    assert any(inside(os.path.realpath(sys.executable), source) for source in sources)
    for forbidden in ("/", "/etc", "/usr", "/usr/bin", "/home", "/root", "/var", "/tmp", "/proc", "/sys", "/work"):
        assert forbidden not in sources, sources
    assert str(Path(package).parent) not in sources  # the checkout's root (its data dir, say) is not


def test_a_data_dir_inside_a_mount_is_found(tmp_path: Path) -> None:
    mounts = [filesystem.Mount("/opt/app", "/opt/app")]
    assert filesystem.exposed(Path("/opt/app/data"), mounts) == "/opt/app"
    assert filesystem.exposed(Path("/opt/application"), mounts) is None
    assert filesystem.exposed(tmp_path, filesystem.mounts([])[0]) is None


def test_ancestors_are_made_reachable_in_order() -> None:
    assert filesystem.ancestors(["/root/.pyenv/versions/3.11/lib", "/root/x"]) == [
        "/root", "/root/.pyenv", "/root/.pyenv/versions", "/root/.pyenv/versions/3.11",
    ]  # fmt: skip


def test_the_bwrap_command_as_root_and_as_a_user() -> None:
    mounts = [filesystem.Mount("/usr/lib", "/usr/lib")]
    as_root = bubblewrap.command(
        "/usr/bin/bwrap", ["python"], mounts=mounts, symlinks=[], hidden=["/d"], env={"A": "1"},
        identity=bubblewrap.Identity(1879048193, 1879048193), user_namespace=False,
    )  # fmt: skip
    assert "--unshare-user" not in as_root and "--unshare-net" in as_root and "--as-pid-1" in as_root
    tail = as_root[as_root.index("--") + 1 :]
    assert tail[0] == bubblewrap.SETPRIV and "--reuid=1879048193" in tail and "--no-new-privs" in tail and tail[-1] == "python"
    assert as_root[as_root.index("--tmpfs") + 1] == "/d" and "--clearenv" in as_root
    as_user = bubblewrap.command(
        "/usr/bin/bwrap", ["python"], mounts=mounts, symlinks=[], hidden=[], env={},
        identity=None, user_namespace=True,
    )  # fmt: skip
    assert "--unshare-user" in as_user and bubblewrap.SETPRIV not in as_user
    assert as_user[as_user.index("--cap-drop") + 1] == "ALL" and "--cap-add" not in as_user
