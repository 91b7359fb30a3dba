"""Escape drills: code running inside an executor (as after a V8 escape) gets nothing.

Each drill starts `isolane.sandbox.confinement.drill` through the same `Jail` the server
uses, with every layer required (`strict`): the process locks itself down where an executor
does and then runs the attacker's Python payload. The targets are a real server's: its data
dir, its port, its pid and its executors' pids."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

import isolane
from isolane.sandbox.confinement import filesystem
from isolane.sandbox.confinement.jail import DEFAULT_UID_BASE, Jail, ProcessLimits
from isolane.sandbox.confinement.layers import LAYERS, SandboxMode
from isolane.testing import Server
from tests.conftest import ADMIN_TOKEN

DRILL = "isolane.sandbox.confinement.drill"

# The attacker's tools: every attempt reports what it got instead of raising.
PRELUDE = '''
import ctypes, json, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)

def attempt(action):
    try:
        return {"ok": True, "value": action()}
    except BaseException as exc:  # the drill reports whatever stopped it
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}

def syscall(number, *args):
    got = libc.syscall(number, *args)
    if got < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return got
'''

SYS = {"socket": 41, "ptrace": 101, "tgkill": 234, "mount": 165, "unshare": 272, "keyctl": 250, "bpf": 321,
       "perf_event_open": 298, "io_uring_setup": 425, "process_vm_readv": 310, "execve": 59, "kill": 62}  # fmt: skip


def run_drill(jail: Jail, payload: str, limits: ProcessLimits | None = None, **values: object) -> tuple[int, object, str]:
    """Run `payload` confined (with `values` bound as globals): exit code, result, stderr."""
    source = PRELUDE + "".join(f"{name} = json.loads({json.dumps(json.dumps(value))})\n" for name, value in values.items())
    source += textwrap.dedent(payload)

    async def run() -> tuple[int, bytes, bytes]:
        confined = await jail.spawn(DRILL, [], slot=7, limits=limits or ProcessLimits(memory_mb=1024, pids=256))
        try:
            out, err = await asyncio.wait_for(confined.process.communicate(source.encode()), 60)
        finally:
            confined.kill()
            await confined.process.wait()
            await confined.release()
        return confined.process.returncode, out, err

    code, out, err = asyncio.run(run())
    return code, (json.loads(out) if out else None), err.decode(errors="replace")


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Server:
    """A real server, with a script deployed so that its data dir holds a blob."""
    server = Server(tmp_path_factory.mktemp("drills") / "data", "--executors", "2", admin_token=ADMIN_TOKEN).start()
    with server.admin() as client:
        made = client.post("/upload", content=b"'x'", headers={"content-type": "text/plain"})
        assert made.status_code == 201, made.text
    yield server
    server.stop()


@pytest.fixture(scope="module")
def jail(target: Server) -> Jail:
    return Jail.probe(SandboxMode.STRICT, private=[target.data_dir])


def executor_pids(server: Server) -> list[int]:
    with server.admin() as client:
        return [item["pid"] for item in client.get("/v1/system/executors").json()["items"]]


def test_every_layer_is_active(jail: Jail) -> None:
    assert jail.layers.active == list(LAYERS) and jail.layers.missing == {}
    code, status, err = run_drill(jail, "from isolane.sandbox.confinement import lockdown\nresult = lockdown.status()")
    assert code == 0, err
    # As root: a uid of its own (real, effective, saved, filesystem); else the user's, mapped.
    expected = DEFAULT_UID_BASE + 7 if os.getuid() == 0 else os.getuid()
    assert status["Uid"].split() == [str(expected)] * 4 and status["Gid"].split() == [str(expected)] * 4
    assert status["CapEff"] == status["CapPrm"] == "0000000000000000"
    assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2"


def test_the_data_dir_cannot_be_read(jail: Jail, target: Server) -> None:
    data = target.data_dir.resolve()
    assert (data / "isolane.db").exists() and (data / "secrets.key").exists() and (data / "blobs").is_dir()
    blob = next(p for p in (data / "blobs").rglob("*") if p.is_file())
    code, result, err = run_drill(jail, '''
        result = {
            "database": attempt(lambda: open(DATA + "/isolane.db", "rb").read(16).hex()),
            "secrets key": attempt(lambda: open(DATA + "/secrets.key", "rb").read().hex()),
            "blob": attempt(lambda: open(BLOB, "rb").read(16).hex()),
            "list": attempt(lambda: os.listdir(DATA)),
            "through the server's root": attempt(lambda: open(f"/proc/{SERVER}/root" + DATA + "/secrets.key", "rb").read()),
            "through the server's descriptors": attempt(lambda: os.listdir(f"/proc/{SERVER}/fd")),
        }
    ''', DATA=str(data), BLOB=str(blob), SERVER=target.process.pid)
    assert code == 0, err
    assert not any(item["ok"] for item in result.values()), result


def test_a_data_dir_inside_a_mounted_directory_is_hidden() -> None:
    """A data dir that lies inside the virtual environment (mounted for its packages) gets an
    empty, unreadable tmpfs over it."""
    venv = Path(sys.prefix).resolve()
    with tempfile.TemporaryDirectory(dir=venv, prefix="drill-data-") as data:
        Path(data, "secrets.key").write_bytes(b"k" * 32)
        jail = Jail.probe(SandboxMode.STRICT, private=[Path(data)])
        assert filesystem.exposed(Path(data), jail.mounts) and jail.hidden == [str(Path(data).resolve())]
        code, result, err = run_drill(jail, 'result = [attempt(lambda: os.listdir(DATA)), attempt(lambda: open(DATA + "/secrets.key").read())]', DATA=data)
        assert code == 0, err
        assert not any(item["ok"] for item in result), result


def test_no_network_at_all(jail: Jail, target: Server) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "s")
        listener.bind(path)
        listener.listen()
        code, result, err = run_drill(jail, '''
            result = {
                "tcp to the server": attempt(lambda: socket.create_connection(("127.0.0.1", PORT), timeout=2).fileno()),
                "udp": attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", PORT))),
                "unix socket": attempt(lambda: socket.socket(socket.AF_UNIX).connect(UNIX)),
                "abstract unix socket": attempt(lambda: socket.socket(socket.AF_UNIX).connect("\\0isolane")),
                "socketpair": attempt(lambda: socket.socketpair()[0].fileno()),
                "raw socket(2)": attempt(lambda: syscall(SYS["socket"], 2, 1, 0)),
                "netlink": attempt(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0).fileno()),
            }
        ''', PORT=target.port, UNIX=path, SYS=SYS)
        listener.close()
    assert code == 0, err
    assert not any(item["ok"] for item in result.values()), result


def test_no_program_can_be_executed(jail: Jail) -> None:
    code, result, err = run_drill(jail, '''
        result = {
            "execv": attempt(lambda: os.execv(sys.executable, [sys.executable, "-c", "print(1)"])),
            "posix_spawn": attempt(lambda: os.posix_spawn(sys.executable, [sys.executable, "-c", "pass"], {})),
            "fork": attempt(lambda: os.fork() or os._exit(0)),
            "raw execve(2)": attempt(lambda: syscall(SYS["execve"], sys.executable.encode(), None, None)),
        }
    ''', SYS=SYS)
    assert code == 0, err
    assert not any(item["ok"] for item in result.values()), result


def test_the_server_and_other_executors_are_out_of_reach(jail: Jail, target: Server) -> None:
    victims = {"server": target.process.pid, **{f"executor {i}": pid for i, pid in enumerate(executor_pids(target))}}
    code, result, err = run_drill(jail, '''
        result = {}
        for name, pid in VICTIMS.items():
            result[name] = {
                "ptrace": attempt(lambda: syscall(SYS["ptrace"], 16, pid, 0, 0)),
                "kill": attempt(lambda: os.kill(pid, 0)),
                "tgkill": attempt(lambda: syscall(SYS["tgkill"], pid, pid, 0)),
                "memory": attempt(lambda: open(f"/proc/{pid}/mem", "rb").read(1)),
                "process_vm_readv": attempt(lambda: syscall(SYS["process_vm_readv"], pid, None, 0, None, 0, 0)),
                "environment": attempt(lambda: open(f"/proc/{pid}/environ", "rb").read()),
            }
        result["processes seen"] = sorted(p for p in os.listdir("/proc") if p.isdigit())
    ''', VICTIMS=victims, SYS=SYS)
    assert code == 0, err
    assert result.pop("processes seen") == ["1"]  # itself, and nothing else
    for victim, attempts in result.items():
        assert not any(item["ok"] for item in attempts.values()), (victim, attempts)
    os.kill(target.process.pid, 0)  # all still there
    assert len(executor_pids(target)) == 2


def test_the_installed_package_and_the_filesystem_are_read_only(jail: Jail) -> None:
    code, result, err = run_drill(jail, '''
        import isolane
        result = {
            "package": attempt(lambda: open(isolane.__file__, "a").write("#")),
            "new module": attempt(lambda: open(os.path.dirname(isolane.__file__) + "/evil.py", "w").write("#")),
            "interpreter": attempt(lambda: open(os.path.realpath(sys.executable), "r+b").write(b"")),
            "site-packages": attempt(lambda: open(PURELIB + "/evil.pth", "w").write("#")),
            "root": attempt(lambda: open("/evil", "w").write("#")),
            "tmp": attempt(lambda: open("/tmp/evil", "w").write("#")),
            "etc": attempt(lambda: os.listdir("/etc")),
            "home": attempt(lambda: os.listdir(os.path.expanduser("~"))),
        }
    ''', PURELIB=str(Path(isolane.__file__).resolve().parent.parent))
    assert code == 0, err
    assert not any(item["ok"] for item in result.values()), result


def test_kernel_interfaces_an_escape_would_want_are_refused(jail: Jail) -> None:
    code, result, err = run_drill(jail, '''
        result = {
            "setuid(0)": attempt(lambda: os.setuid(0)),
            "mount": attempt(lambda: syscall(SYS["mount"], b"none", b"/", b"tmpfs", 0, None)),
            "new user namespace": attempt(lambda: syscall(SYS["unshare"], 0x10000000)),
            "keyring": attempt(lambda: syscall(SYS["keyctl"], 0, -3, 0, 0, 0)),
            "bpf": attempt(lambda: syscall(SYS["bpf"], 0, None, 0)),
            "perf_event_open": attempt(lambda: syscall(SYS["perf_event_open"], None, 0, -1, -1, 0)),
            "io_uring": attempt(lambda: syscall(SYS["io_uring_setup"], 1, None)),
        }
        result["descriptors"] = {"ok": False, "value": sorted(int(fd) for fd in os.listdir("/proc/self/fd"))}
    ''', SYS=SYS)
    assert code == 0, err
    descriptors = result.pop("descriptors")["value"]
    assert descriptors[:3] == [0, 1, 2] and len(descriptors) <= 8, descriptors  # the pipes, the event loop's own
    assert not any(item["ok"] for item in result.values()), result


def test_the_pids_limit_holds(jail: Jail) -> None:
    code, result, err = run_drill(jail, '''
        import threading
        stop = threading.Event()
        started = 0
        try:
            for _ in range(1000):
                threading.Thread(target=stop.wait, daemon=True).start()
                started += 1
        except RuntimeError as exc:
            error = str(exc)
        else:
            error = None
        result = {"started": started, "error": error}
        stop.set()
    ''', limits=ProcessLimits(memory_mb=1024, pids=64))
    assert code == 0, err
    assert result["error"] and result["started"] < 64, result


def test_the_memory_limit_holds(jail: Jail) -> None:
    # 768 MiB touched under a 256 MiB cgroup limit: the kernel kills the process.
    code, result, err = run_drill(jail, 'hog = bytearray(768 * 1024 * 1024)\nresult = len(hog)', limits=ProcessLimits(memory_mb=256, pids=256))
    assert code in (-signal.SIGKILL, 128 + signal.SIGKILL) and result is None, (code, result, err)
