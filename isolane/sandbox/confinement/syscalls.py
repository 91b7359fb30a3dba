"""The executor's seccomp filter: the system calls Python, uvloop and V8 make once the
executor serves, and nothing else.

An allowlist, compiled by libseccomp (PyPI `pyseccomp`, ctypes over Debian's libseccomp2)
in the server and installed by the executor itself (`lockdown.py`) after its start-up and
before any tenant code: so start-up may exec the interpreter, and nothing after it may.
A call outside the list fails with EPERM (the process lives on and reports the failure);
the list was taken from `strace -f` of executors running the whole test suite.
"""

from __future__ import annotations

import errno
import tempfile

# Allowed with any arguments. Grouped by what needs them.
ALLOWED = (
    # files and descriptors (the root is read-only; the pipes to the server are 0 and 1)
    "read", "write", "readv", "writev", "pread64", "pwrite64", "close", "close_range",
    "openat", "open", "lseek", "fstat", "newfstatat", "stat", "lstat", "statx", "statfs", "fstatfs",
    "access", "faccessat", "faccessat2", "getdents64", "getcwd", "readlink", "readlinkat",
    "fcntl", "dup", "dup2", "dup3", "pipe", "pipe2", "fadvise64",
    # the event loop (uvloop/libuv) and threads waiting
    "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2",
    "poll", "ppoll", "select", "pselect6", "futex", "futex_waitv",
    "nanosleep", "clock_nanosleep", "sched_yield",
    # memory (V8's heap and JIT code, Python's allocator)
    "mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "mincore", "membarrier",
    # threads and signals within the process
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "sigaltstack",
    "tgkill", "tkill", "set_robust_list", "get_robust_list", "rseq", "set_tid_address",
    "arch_prctl", "exit", "exit_group", "restart_syscall",
    # who and what time it is, and what the machine offers
    "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
    "getresgid", "getgroups", "getpgrp", "getsid", "getrandom", "clock_gettime", "clock_getres",
    "gettimeofday", "time", "times", "getrusage", "uname", "sysinfo", "getrlimit", "prlimit64",
    "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_getscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "getpriority", "setpriority", "getcpu",
)  # fmt: skip

# Allowed only with these arguments (see `_restricted`).
RESTRICTED = ("clone", "ioctl", "prctl")

# Refused with ENOSYS rather than EPERM: the C library falls back to an older call it is
# allowed to make (clone3's arguments are in memory, where a filter cannot look at them).
FALL_BACK = ("clone3",)

# What a V8 escape would want first, named so that the tests can check each is refused.
REFUSED_EXAMPLES = (
    "socket", "socketpair", "connect", "bind", "listen", "accept4", "sendmsg", "execve",
    "execveat", "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev", "kill",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "keyctl", "add_key",
    "request_key", "bpf", "perf_event_open", "userfaultfd", "init_module", "finit_module",
    "kexec_load", "open_by_handle_at", "setuid", "setgid", "setresuid", "capset",
    "io_uring_setup", "memfd_create", "pidfd_open", "pidfd_getfd", "kcmp", "chmod", "unlinkat",
)  # fmt: skip

_CLONE_THREAD = 0x00010000
# ioctl requests on the pipes and on a terminal's settings (isatty), never TIOCSTI & co.
_IOCTLS = (0x5401, 0x5413, 0x541B, 0x5421, 0x5450, 0x5451)  # TCGETS TIOCGWINSZ FIONREAD FIONBIO FIONCLEX FIOCLEX
# prctl options threads use for their names and V8 for its memory regions' names.
_PRCTLS = (15, 16, 3, 23, 0x53564D41)  # PR_SET_NAME PR_GET_NAME PR_GET_DUMPABLE PR_CAPBSET_READ PR_SET_VMA


# Refused from the first instruction on, before the event loop exists: libuv sets up an
# io_uring to batch epoll_ctl when it creates a loop, and once the main filter refuses
# io_uring_enter, libuv aborts the process at its next batch. Without a ring (ENOSYS here)
# libuv calls epoll_ctl itself. A ring is also a way around any filter: its operations
# (openat, socket, connect) are not system calls a filter sees.
EARLY_REFUSED = ("io_uring_setup", "io_uring_enter", "io_uring_register")


def compile_early_filter() -> bytes:
    """The filter installed first thing at start-up: everything but io_uring allowed."""
    import pyseccomp as seccomp

    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in EARLY_REFUSED:
        _add(rules, seccomp.ERRNO(errno.ENOSYS), name)
    return _export(rules)


def compile_filter() -> bytes:
    """The filter as a BPF program (raises ImportError/OSError without libseccomp)."""
    import pyseccomp as seccomp  # the server only: the executor installs the bytes

    rules = seccomp.SyscallFilter(seccomp.ERRNO(errno.EPERM))
    # A binary tree of the allowed calls rather than a list: each call the executor makes
    # is checked in ~8 comparisons, not up to ~130.
    rules.set_attr(seccomp.Attr.CTL_OPTIMIZE, 2)
    for name in ALLOWED:
        _add(rules, seccomp.ALLOW, name)
    _add(rules, seccomp.ALLOW, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_THREAD, _CLONE_THREAD))
    for request in _IOCTLS:
        _add(rules, seccomp.ALLOW, "ioctl", seccomp.Arg(1, seccomp.EQ, request))
    for option in _PRCTLS:
        _add(rules, seccomp.ALLOW, "prctl", seccomp.Arg(0, seccomp.EQ, option))
    for name in FALL_BACK:
        _add(rules, seccomp.ERRNO(errno.ENOSYS), name)
    return _export(rules)


def _export(rules) -> bytes:  # noqa: ANN001 - a pyseccomp.SyscallFilter
    with tempfile.TemporaryFile() as out:
        rules.export_bpf(out)
        out.seek(0)
        return out.read()


def _add(rules, action: int, name: str, *args) -> None:  # noqa: ANN001 - pyseccomp's types
    """Add a rule; a call this architecture does not have (EINVAL from libseccomp) is skipped."""
    try:
        rules.add_rule(action, name, *args)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
