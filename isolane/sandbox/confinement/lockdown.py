"""What a confined process does to itself, after its start-up and before any tenant code:
close the file descriptors it did not open, lower its resource limits, set no_new_privs and
install the seccomp filter the server compiled for it (`syscalls.py`).

This runs in the executor, which has no libseccomp and no /usr/sbin: the filter arrives as
a compiled BPF program (base64, in the environment) and is installed with one system call.
The instructions come from the server; nothing here trusts the process's later self."""

from __future__ import annotations

import base64
import ctypes
import json
import os
import platform
import resource
from dataclasses import dataclass, field

ENV = "ISOLANE_CONFINEMENT"

_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1
_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}
_RLIMITS = {
    "nofile": resource.RLIMIT_NOFILE,
    "nproc": resource.RLIMIT_NPROC,
    "fsize": resource.RLIMIT_FSIZE,
    "core": resource.RLIMIT_CORE,
    "memlock": resource.RLIMIT_MEMLOCK,
    "msgqueue": resource.RLIMIT_MSGQUEUE,
}


class LockdownFailed(RuntimeError):
    """A layer the server asked for could not be put in place: the process must not serve."""


@dataclass
class Instructions:
    """What the server asks of the process (serialised into its environment)."""

    seccomp_bpf: bytes | None = None
    early_bpf: bytes | None = None  # installed at start-up (`begin`): io_uring refused
    rlimits: dict[str, int] = field(default_factory=dict)
    pid_namespace: bool = False  # pid 1 is bubblewrap's, so a parent pid of 1 means nothing

    def to_env(self) -> str:
        return json.dumps({
            "seccomp": base64.b64encode(self.seccomp_bpf).decode() if self.seccomp_bpf else None,
            "early": base64.b64encode(self.early_bpf).decode() if self.early_bpf else None,
            "rlimits": self.rlimits,
            "pid_namespace": self.pid_namespace,
        })  # fmt: skip

    @classmethod
    def from_env(cls, text: str | None) -> Instructions | None:
        if not text:
            return None
        data = json.loads(text)
        bpf = base64.b64decode(data["seccomp"]) if data.get("seccomp") else None
        early = base64.b64decode(data["early"]) if data.get("early") else None
        rlimits = {str(k): int(v) for k, v in data.get("rlimits", {}).items()}
        return cls(bpf, early, rlimits, bool(data.get("pid_namespace")))


def close_inherited_descriptors() -> None:
    """Close every descriptor but stdin, stdout and stderr (the pipes to the server): run
    first thing, before the process opens any of its own."""
    os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def begin(instructions: Instructions | None) -> None:
    """First thing at start-up: close what was inherited and install the early filter
    (before the event loop exists: see `syscalls.EARLY_REFUSED`)."""
    close_inherited_descriptors()
    if instructions is not None and instructions.early_bpf is not None:
        libc = ctypes.CDLL(None, use_errno=True)
        _no_new_privs(libc)
        install_filter(libc, instructions.early_bpf)


def _no_new_privs(libc: ctypes.CDLL) -> None:
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise LockdownFailed(f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(ctypes.get_errno())}")


def apply(instructions: Instructions) -> None:
    for name, value in instructions.rlimits.items():
        kind = _RLIMITS[name]
        hard = resource.getrlimit(kind)[1]
        limit = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(kind, (limit, limit))
    libc = ctypes.CDLL(None, use_errno=True)
    _no_new_privs(libc)
    if instructions.seccomp_bpf is not None:
        install_filter(libc, instructions.seccomp_bpf)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_filter(libc: ctypes.CDLL, program: bytes) -> None:
    """seccomp(SECCOMP_SET_MODE_FILTER, TSYNC): every thread of the process, now and later."""
    number = _SYS_SECCOMP.get(platform.machine())
    if number is None:
        raise LockdownFailed(f"seccomp is not wired for {platform.machine()}")
    if len(program) % 8 or not program:
        raise LockdownFailed("the seccomp program is not a whole number of BPF instructions")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    result = libc.syscall(number, _SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC, ctypes.byref(fprog))
    if result != 0:
        raise LockdownFailed(f"seccomp(SET_MODE_FILTER): {os.strerror(ctypes.get_errno()) if result < 0 else f'thread {result} refused'}")


def status() -> dict[str, str]:
    """The process's own view of its confinement (/proc/self/status), for drills and logs."""
    wanted = ("Uid", "Gid", "CapEff", "CapPrm", "CapBnd", "NoNewPrivs", "Seccomp")
    result = {}
    with open("/proc/self/status") as lines:
        for line in lines:
            name, _, value = line.partition(":")
            if name in wanted:
                result[name] = value.strip()
    return result
