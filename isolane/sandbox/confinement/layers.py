"""What a confined executor is wrapped in, and how the operator asks for it.

`strict` refuses to start without every layer, `auto` uses every layer this host can give
and names the missing ones, `off` runs executors as plain child processes (debugging only).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class SandboxMode(enum.StrEnum):
    STRICT = "strict"
    AUTO = "auto"
    OFF = "off"


# Every layer, in the order the start-up log and /readyz list them.
LAYERS = (
    "uid",  # a uid/gid of its own (as root), or the server's uid mapped in a user namespace
    "namespaces",  # new user (unless root), pid, net, mount, ipc and uts namespaces
    "filesystem",  # a read-only root holding the interpreter, the package and its libraries
    "capabilities",  # none, and no_new_privs
    "seccomp",  # a system-call allowlist, installed before any tenant code runs
    "rlimits",  # processes, open files, file size, core dumps
    "file_descriptors",  # only the pipes to the server
    "cgroup",  # memory and pids limits (cgroup v1 or v2)
)


class SandboxUnavailable(RuntimeError):
    """`--sandbox strict` and a layer this host cannot give: the server does not start."""


@dataclass
class Layers:
    """Which layers executors get on this host, and why the others are missing."""

    mode: SandboxMode
    active: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        if self.mode is SandboxMode.OFF:
            return "sandbox OFF: executors run unconfined, as the server's user (debugging only)"
        text = "sandbox " + self.mode.value + ": " + (", ".join(self.active) or "no layer")
        if self.missing:
            text += "; missing: " + self.missing_text()
        return text

    def missing_text(self) -> str:
        """The missing layers grouped by reason: `uid, namespaces (bubblewrap is not ...)`."""
        by_reason: dict[str, list[str]] = {}
        for name, why in self.missing.items():
            by_reason.setdefault(why, []).append(name)
        return "; ".join(f"{', '.join(names)} ({why})" for why, names in by_reason.items())

    def as_dict(self) -> dict[str, object]:
        return {"mode": self.mode.value, "active": list(self.active), "missing": dict(self.missing)}
