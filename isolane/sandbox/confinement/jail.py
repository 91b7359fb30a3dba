"""How executor processes start on this host: probed once when the server starts, then
every executor (and every escape drill) is spawned through the same `Jail`.

The layers (`layers.LAYERS`): bubblewrap gives the namespaces, the read-only root and, as
root with setpriv, a uid of the executor's own; `lockdown` (run by the process itself
before any tenant code) gives rlimits, closed descriptors, no_new_privs and the seccomp
filter compiled here; `cgroups` gives memory and pids limits. The probe runs a confined
process once with everything asked for and reads back what it got, so what the start-up
log and /readyz report is what a process really had."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from isolane.sandbox.confinement import bubblewrap, filesystem, lockdown, syscalls
from isolane.sandbox.confinement.cgroups import CgroupLimits, CgroupUnavailable, Cgroups, ExecutorGroup
from isolane.sandbox.confinement.layers import LAYERS, Layers, SandboxMode, SandboxUnavailable

log = logging.getLogger("isolane.sandbox")

# Executors as root run as uid/gid UID_BASE + slot: a range no distribution hands out
# (systemd leaves 1879048192-2147483647 unused).
DEFAULT_UID_BASE = 1_879_048_192
PROBE_TIMEOUT_SECONDS = 20.0
INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)"
_PROBE = (
    "import json, os; from isolane.sandbox.confinement import lockdown as l; "
    "i = l.Instructions.from_env(os.environ.get(l.ENV)); l.begin(i); l.apply(i); "
    "print(json.dumps(l.status()))"
)


def base_environment() -> dict[str, str]:
    """The whole environment a confined process gets: nothing of the server's."""
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(filesystem.package_root()),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


@dataclass(frozen=True)
class ProcessLimits:
    """What one confined process may use."""

    memory_mb: int  # the cgroup's hard limit
    pids: int  # threads included; also RLIMIT_NPROC when the process has a uid of its own
    open_files: int = 4096


@dataclass
class Confined:
    """A confined process and the cgroup it lives in. `pid` is the host pid of the process
    itself; `process` is what the server started (bubblewrap, when confined)."""

    process: asyncio.subprocess.Process
    pid: int
    group: ExecutorGroup | None = None

    def kill(self) -> None:
        for pid in {self.pid, self.process.pid}:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    async def release(self) -> None:
        """Once the process has exited: remove its cgroup."""
        if self.group is not None:
            group, self.group = self.group, None
            await asyncio.to_thread(group.remove)


@dataclass
class Jail:
    mode: SandboxMode
    layers: Layers
    bwrap: str | None = None
    identity_base: int | None = None  # root: executors get uid/gid base + slot
    user_namespace: bool = False
    mounts: list[filesystem.Mount] = field(default_factory=list)
    symlinks: list[filesystem.Symlink] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    seccomp: bytes | None = None
    early_seccomp: bytes | None = None
    cgroups: Cgroups | None = None

    @classmethod
    def unconfined(cls) -> Jail:
        return cls(SandboxMode.OFF, Layers(SandboxMode.OFF))

    @classmethod
    def probe(cls, mode: SandboxMode, *, private: list[Path] = (), uid_base: int = DEFAULT_UID_BASE) -> Jail:
        """Find out which layers this host gives (blocking: run it before serving).
        `private` paths (the data dir) must never be visible to a confined process."""
        if mode is SandboxMode.OFF:
            log.warning("sandbox OFF: executors run unconfined, as the server's user (debugging only)")
            return cls.unconfined()
        jail = cls(mode, Layers(mode))
        missing = jail.layers.missing
        root = os.geteuid() == 0
        try:
            jail.seccomp = syscalls.compile_filter()
            jail.early_seccomp = syscalls.compile_early_filter()
        except (ImportError, OSError, RuntimeError) as exc:
            missing["seccomp"] = f"libseccomp unavailable: {exc}"
        jail.bwrap = bubblewrap.bwrap_path()
        if jail.bwrap is None:
            for layer in ("uid", "namespaces", "filesystem") + (("capabilities",) if root else ()):
                missing[layer] = f"bubblewrap is not installed: {INSTALL_HINT}"
        else:
            jail.user_namespace = not root
            if root and bubblewrap.setpriv_path() is not None:
                jail.identity_base = uid_base
            elif root:
                missing["uid"] = "setpriv (util-linux) is not installed: executors stay root, without capabilities"
            extra = [bubblewrap.SETPRIV] if jail.identity_base is not None else []
            jail.mounts, jail.symlinks = filesystem.mounts(extra)
            jail.hidden = sorted({os.path.realpath(p) for p in private if os.path.isdir(p) and filesystem.exposed(p, jail.mounts)})
        try:
            jail.cgroups = Cgroups()
        except (CgroupUnavailable, OSError) as exc:
            missing["cgroup"] = str(exc)
        jail._check()
        jail._report()
        return jail

    def _check(self) -> None:
        """Run one confined process with every layer and read back what it got. When that
        fails, find the layer to blame: seccomp alone, then bubblewrap, then both."""
        failure = self._try_probe()
        if failure is None:
            return
        if self.seccomp is not None and self.bwrap is not None:
            program, self.seccomp = self.seccomp, None
            if self._try_probe() is None:
                self.layers.missing["seccomp"] = f"the filter could not be installed: {failure}"
                return
            self.seccomp = program
        if self.bwrap is not None:
            for layer in ("uid", "namespaces", "filesystem", "capabilities"):
                self.layers.missing.setdefault(layer, f"bubblewrap failed: {failure}")
            self.bwrap, self.identity_base, self.user_namespace = None, None, False
            failure = self._try_probe()
            if failure is None:
                return
        if self.seccomp is not None:
            self.layers.missing["seccomp"] = f"the filter could not be installed: {failure}"
            self.seccomp = None
            failure = self._try_probe()
            if failure is None:
                return
        raise SandboxUnavailable(f"a confined process does not start at all: {failure}")

    def _try_probe(self) -> str | None:
        argv, env = self._command([sys.executable, "-s", "-c", _PROBE], slot=0, limits=ProcessLimits(512, 64))
        try:
            done = subprocess.run(argv, env=env, capture_output=True, timeout=PROBE_TIMEOUT_SECONDS, cwd="/", check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        if done.returncode != 0:
            return (done.stderr.decode(errors="replace").strip().splitlines() or [f"exit code {done.returncode}"])[-1][:300]
        try:
            status = json.loads(done.stdout)
        except ValueError:
            return f"unexpected output {done.stdout[:200]!r}"
        return self._verify(status)

    def _verify(self, status: dict[str, str]) -> str | None:
        if self.seccomp is not None and status.get("Seccomp") != "2":
            return f"the process reports seccomp mode {status.get('Seccomp')}"
        if status.get("NoNewPrivs") != "1":
            return "no_new_privs is not set"
        if self.bwrap is not None and int(status.get("CapEff", "1"), 16) != 0:
            return f"the process kept capabilities {status.get('CapEff')}"
        if self.identity_base is not None and status.get("Uid", "").split()[:1] != [str(self.identity_base)]:
            return f"the process runs as uid {status.get('Uid')}"
        return None

    def _report(self) -> None:
        missing = self.layers.missing
        if self.mode is SandboxMode.STRICT and missing:
            raise SandboxUnavailable(f"--sandbox strict, and this host cannot give every layer: missing {self.layers.missing_text()}")
        active = self.layers.active
        for layer in LAYERS:
            if layer not in missing:
                active.append(layer)
        (log.warning if missing else log.info)("%s", self.layers.summary())

    def _command(self, argv: list[str], *, slot: int, limits: ProcessLimits, info_fd: int | None = None, block_fd: int | None = None) -> tuple[list[str], dict[str, str]]:
        early = self.early_seccomp if self.seccomp is not None else None
        instructions = lockdown.Instructions(self.seccomp, early, self._rlimits(limits), pid_namespace=self.bwrap is not None)
        env = base_environment() | {lockdown.ENV: instructions.to_env()}
        if self.bwrap is None:
            return argv, env
        identity = None
        if self.identity_base is not None:
            identity = bubblewrap.Identity(self.identity_base + slot, self.identity_base + slot)
        command = bubblewrap.command(
            self.bwrap, argv, mounts=self.mounts, symlinks=self.symlinks, hidden=self.hidden, env=env,
            identity=identity, user_namespace=self.user_namespace, info_fd=info_fd, block_fd=block_fd,
        )  # fmt: skip
        return command, {"PATH": "/usr/bin:/bin"}

    def _rlimits(self, limits: ProcessLimits) -> dict[str, int]:
        rlimits = {"nofile": limits.open_files, "fsize": 0, "core": 0, "memlock": 0, "msgqueue": 0}
        if self.identity_base is not None:  # RLIMIT_NPROC counts per uid: only a uid of its own
            rlimits["nproc"] = limits.pids
        return rlimits

    async def spawn(
        self, module: str, args: list[str], *, slot: int, limits: ProcessLimits, cwd: str | None = None, stdin: int | None = None
    ) -> Confined:
        """Start `python -m module args` confined, with pipes for stdout and stderr, and for
        stdin unless `stdin` gives the descriptor to read it from."""
        stdin_source: int = asyncio.subprocess.PIPE if stdin is None else stdin
        argv = [sys.executable, "-s", "-m", module, *args]
        if self.mode is SandboxMode.OFF:
            env = base_environment()
            process = await asyncio.create_subprocess_exec(
                *argv, env=env, cwd=cwd, stdin=stdin_source, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, start_new_session=True, close_fds=True,
            )  # fmt: skip
            return Confined(process, process.pid)
        group = None
        if self.cgroups is not None:
            group = await asyncio.to_thread(self.cgroups.create, CgroupLimits(limits.memory_mb * 1024 * 1024, limits.pids))
        try:
            return await self._spawn(argv, slot, limits, group, stdin_source)
        except BaseException:
            if group is not None:
                await asyncio.to_thread(group.remove)
            raise

    async def _spawn(self, argv: list[str], slot: int, limits: ProcessLimits, group: ExecutorGroup | None, stdin: int) -> Confined:
        confined = self.bwrap is not None
        # bubblewrap tells the process's host pid on one pipe and, with a cgroup to join
        # first, waits on another before it runs the command.
        info_r, info_w = os.pipe() if confined else (-1, -1)
        block_r, block_w = os.pipe() if confined and group is not None else (-1, -1)
        try:
            command, env = self._command(
                argv, slot=slot, limits=limits, info_fd=info_w if confined else None, block_fd=block_r if block_r >= 0 else None
            )
            process = await asyncio.create_subprocess_exec(
                *command, env=env, cwd="/", stdin=stdin, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, start_new_session=True, close_fds=True,
                pass_fds=tuple(fd for fd in (info_w, block_r) if fd >= 0),
            )  # fmt: skip
            if not confined:
                if group is not None:
                    group.add(process.pid)  # no bubblewrap: placed right after it started
                return Confined(process, process.pid, group)
            for fd in (info_w, block_r):
                if fd >= 0:
                    os.close(fd)
            info_w = block_r = -1
            child = await asyncio.to_thread(_read_child_pid, info_r)
            if child is None:  # bubblewrap failed: the process is gone already
                return Confined(process, process.pid, group)
            if group is not None:
                group.add(child)  # before it runs the command: everything it starts is inside
                with contextlib.suppress(OSError):
                    os.write(block_w, b"go")
            return Confined(process, child, group)
        finally:
            for fd in (info_r, info_w, block_r, block_w):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)


def _read_child_pid(fd: int) -> int | None:
    """bubblewrap's --info-fd JSON: the host pid of the sandbox's first process."""
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
        with contextlib.suppress(ValueError):
            return int(json.loads(data)["child-pid"])
    return None
