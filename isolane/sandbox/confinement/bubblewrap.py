"""The bubblewrap (bwrap) command line that starts a process confined.

bubblewrap (Debian `bubblewrap`, what Flatpak builds on) makes the namespaces and the
read-only root; as root it runs privileged and `setpriv` (util-linux) then drops to the
executor's own uid/gid with no capabilities, an empty bounding set and no_new_privs. As an
ordinary user it maps the user's uid into a new user namespace instead (bwrap sets
no_new_privs itself there)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from isolane.sandbox.confinement.filesystem import Mount, Symlink, ancestors

SETPRIV = "/usr/bin/setpriv"
HOSTNAME = "isolane-executor"


@dataclass(frozen=True)
class Identity:
    """Who the confined process runs as: a uid/gid of its own (root only), else None."""

    uid: int
    gid: int


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def setpriv_path() -> str | None:
    return SETPRIV if shutil.which("setpriv") else None


def command(
    bwrap: str,
    argv: list[str],
    *,
    mounts: list[Mount],
    symlinks: list[Symlink],
    hidden: list[str],
    env: dict[str, str],
    identity: Identity | None,
    user_namespace: bool,
    info_fd: int | None = None,
    block_fd: int | None = None,
) -> list[str]:
    """bwrap's arguments for running `argv` confined, as `identity` (root only) or in a user
    namespace (an ordinary user) or neither (root without setpriv). `hidden` paths get an empty tmpfs over
    them (a data dir that happens to lie inside a mounted directory)."""
    args = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if user_namespace:
        args += ["--unshare-user"]  # the caller's uid, mapped; bwrap sets no_new_privs
    # --as-pid-1: the command is the namespace's first process, so the host pid bubblewrap
    # reports (--info-fd) is the process itself, for the server to signal.
    args += ["--hostname", HOSTNAME, "--die-with-parent", "--new-session", "--as-pid-1"]
    if identity is None:
        args += ["--cap-drop", "ALL"]
    else:  # setpriv needs these to change uid and empty the bounding set; it drops them all
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    for directory in ancestors([m.target for m in mounts] + [s.path for s in symlinks]):
        args += ["--perms", "0755", "--dir", directory]
    for mount in mounts:
        args += ["--ro-bind", mount.source, mount.target]
    for link in symlinks:
        args += ["--symlink", link.target, link.path]
    for path in hidden:
        args += ["--perms", "0000", "--tmpfs", path]
    args += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/", "--chdir", "/", "--clearenv"]
    for name, value in env.items():
        args += ["--setenv", name, value]
    if info_fd is not None:
        args += ["--info-fd", str(info_fd)]
    if block_fd is not None:
        args += ["--block-fd", str(block_fd)]
    args.append("--")
    if identity is not None:
        args += [
            SETPRIV, f"--reuid={identity.uid}", f"--regid={identity.gid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
        ]  # fmt: skip
    return args + argv
