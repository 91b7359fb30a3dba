"""A cgroup per executor process, with a memory and a pids limit: the kernel's own backstop
under the executor's RSS watchdog and thread count. cgroup v1 (a hierarchy per controller)
and v2 (one unified hierarchy) are both handled; a host where neither can be written
(an ordinary user without delegation, a container with a read-only /sys/fs/cgroup) gets
none, and the start-up log says why.

Each executor gets a group of its own, named by the server's pid and a sequence number,
under `isolane/` in the server's own group; it is removed when the executor has exited."""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PARENT = "isolane"
_sequence = itertools.count(1)


class CgroupUnavailable(Exception):
    """Why this host gives executors no cgroup."""


@dataclass(frozen=True)
class CgroupLimits:
    memory_bytes: int
    pids: int


def _own_group(controller: str, text: str) -> str:
    """This process's group in `controller`'s hierarchy ('' for v2's) from /proc/self/cgroup."""
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers.split(",") == [controller] or (controller == "" and controllers == ""):
            return path.lstrip("/")
        if controller and controller in controllers.split(","):
            return path.lstrip("/")
    raise CgroupUnavailable(f"this process is in no {controller or 'unified'} cgroup")


class Cgroups:
    """Where executor groups are made, on this host."""

    def __init__(self, root: Path = ROOT, self_cgroup: str | None = None) -> None:
        self.root = root
        text = self_cgroup if self_cgroup is not None else Path("/proc/self/cgroup").read_text()
        self.version = self._detect(text)
        if self.version == 1:
            self.parents = {c: root / c / _own_group(c, text) / PARENT for c in ("memory", "pids")}
        else:
            self.parents = {"": root / _own_group("", text) / PARENT}
        for parent in self.parents.values():
            self._prepare(parent)

    def _detect(self, text: str) -> int:
        if (self.root / "cgroup.controllers").exists():
            controllers = (self.root / "cgroup.controllers").read_text().split()
            if not {"memory", "pids"} <= set(controllers):
                raise CgroupUnavailable(f"cgroup v2 without the memory and pids controllers ({' '.join(controllers)})")
            return 2
        if (self.root / "memory" / "cgroup.procs").exists() and (self.root / "pids" / "cgroup.procs").exists():
            return 1
        raise CgroupUnavailable(f"no cgroup v1 memory and pids hierarchies, nor cgroup v2, under {self.root}")

    def _prepare(self, parent: Path) -> None:
        try:
            parent.mkdir(exist_ok=True)
            if self.version == 2:
                # v2 lets controllers reach a child only through subtree_control, and only in
                # a group without processes of its own: `isolane/` holds none.
                (parent / "cgroup.subtree_control").write_text("+memory +pids")
            probe = parent / f"probe-{os.getpid()}"
            probe.mkdir(exist_ok=True)
            probe.rmdir()
        except OSError as exc:
            raise CgroupUnavailable(f"{parent} cannot be written: {exc.strerror or exc}") from None

    def create(self, limits: CgroupLimits) -> ExecutorGroup:
        name = f"executor-{os.getpid()}-{next(_sequence)}"
        paths = [parent / name for parent in self.parents.values()]
        for path in paths:
            path.mkdir()
        group = ExecutorGroup(self.version, paths)
        try:
            group.set_limits(limits)
        except OSError:
            group.remove()
            raise
        return group


@dataclass
class ExecutorGroup:
    version: int
    paths: list[Path]

    def set_limits(self, limits: CgroupLimits) -> None:
        for path in self.paths:
            if self.version == 2:
                (path / "memory.max").write_text(str(limits.memory_bytes))
                if (path / "memory.swap.max").exists():
                    (path / "memory.swap.max").write_text("0")
                (path / "pids.max").write_text(str(limits.pids))
            elif (path / "memory.limit_in_bytes").exists():
                (path / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
                with contextlib.suppress(OSError):  # only with swap accounting on
                    (path / "memory.memsw.limit_in_bytes").write_text(str(limits.memory_bytes))
            else:
                (path / "pids.max").write_text(str(limits.pids))

    def add(self, pid: int) -> None:
        for path in self.paths:
            (path / "cgroup.procs").write_text(str(pid))

    def remove(self) -> None:
        """Remove the groups once their processes are gone (a group empties a moment after
        its last process is reaped)."""
        for path in self.paths:
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY:
                        break
                    time.sleep(0.01)
