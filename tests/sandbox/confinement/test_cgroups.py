"""Executor cgroups: v2 on a directory laid out as the kernel lays it out (this machine has
v1 only: the drills exercise v1 for real), v1's detection, and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from isolane.sandbox.confinement.cgroups import CgroupLimits, CgroupUnavailable, Cgroups


def unified(root: Path, controllers: str = "cpu memory pids") -> Path:
    """A cgroup v2 mount with the server in /system.slice/isolane.service."""
    (root / "cgroup.controllers").write_text(controllers + "\n")
    own = root / "system.slice" / "isolane.service"
    own.mkdir(parents=True)
    return own


def test_v2_groups_live_under_the_servers_own_with_memory_and_pids_delegated(tmp_path: Path) -> None:
    own = unified(tmp_path)
    cgroups = Cgroups(tmp_path, "0::/system.slice/isolane.service\n")
    assert cgroups.version == 2
    parent = own / "isolane"
    assert (parent / "cgroup.subtree_control").read_text() == "+memory +pids"
    group = cgroups.create(CgroupLimits(memory_bytes=3 << 30, pids=768))
    [path] = group.paths
    assert path.parent == parent and path.name.startswith("executor-")
    assert (path / "memory.max").read_text() == str(3 << 30) and (path / "pids.max").read_text() == "768"
    group.add(4242)
    assert (path / "cgroup.procs").read_text() == "4242"
    # A real cgroup directory holds only kernel files; here they are plain files.
    for child in path.iterdir():
        child.unlink()
    group.remove()
    assert not path.exists()


def test_v2_without_the_controllers_is_missing(tmp_path: Path) -> None:
    unified(tmp_path, controllers="cpu io")
    with pytest.raises(CgroupUnavailable, match="memory and pids"):
        Cgroups(tmp_path, "0::/system.slice/isolane.service\n")


def test_nothing_mounted_is_missing(tmp_path: Path) -> None:
    with pytest.raises(CgroupUnavailable, match="no cgroup"):
        Cgroups(tmp_path, "0::/\n")


def test_v1_on_this_machine(tmp_path: Path) -> None:
    """The real hierarchy: the groups go under the server's own in each controller."""
    if not Path("/sys/fs/cgroup/memory/cgroup.procs").exists():
        pytest.skip("no cgroup v1 memory hierarchy here")
    text = Path("/proc/self/cgroup").read_text()
    try:
        cgroups = Cgroups()
    except CgroupUnavailable as exc:
        pytest.skip(f"cgroups not writable here: {exc}")
    assert cgroups.version == 1 and set(cgroups.parents) == {"memory", "pids"}
    group = cgroups.create(CgroupLimits(memory_bytes=256 << 20, pids=32))
    try:
        memory, pids = group.paths
        assert (memory / "memory.limit_in_bytes").read_text().strip() == str(256 << 20)
        assert (pids / "pids.max").read_text().strip() == "32"
        own_memory = next(line.split(":", 2)[2] for line in text.splitlines() if ":memory:" in line)
        assert memory.parent == Path("/sys/fs/cgroup/memory") / own_memory.lstrip("/") / "isolane"
    finally:
        group.remove()
    assert not any(path.exists() for path in group.paths)
