"""The sandbox as an ordinary user: no uid of its own to give, so executors keep the
user's uid inside a user namespace; every other layer but the cgroup (an ordinary user
cannot write one here) still holds.

The test runs as root, so it becomes `nobody` for real: in a mount namespace of its own
where the interpreter (under /root, which nobody may enter) is made reachable, then
`setpriv` to uid 65534, and from there the same `Jail` and drill the server would use."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
NOBODY = 65534

PROGRAM = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    from isolane.sandbox.confinement.jail import Jail
    from isolane.sandbox.confinement.layers import SandboxMode
    from tests.sandbox.confinement.test_escape_drills import run_drill
    data = Path(sys.argv[1])
    jail = Jail.probe(SandboxMode.AUTO, private=[data])
    code, result, err = run_drill(jail, """
    from isolane.sandbox.confinement import lockdown
    result = {
        "status": lockdown.status(),
        "secret": attempt(lambda: open(DATA + "/secrets.key").read()),
        "socket": attempt(lambda: socket.socket().fileno()),
        "fork": attempt(lambda: os.fork() or os._exit(0)),
        "processes": sorted(p for p in os.listdir("/proc") if p.isdigit()),
    }
    """, DATA=str(data))
    print(json.dumps({"layers": jail.layers.as_dict(), "code": code, "result": result, "err": err[-2000:]}))
''')


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root (as an ordinary user, run the drills themselves)")
def test_an_ordinary_user_gets_every_layer_but_its_own_uid_and_the_cgroup(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if shutil.which("unshare") is None or shutil.which("setpriv") is None:
        pytest.fail("util-linux's unshare and setpriv are needed")
    # The user's own data dir (so the user could read it, were it visible), where the
    # user can reach it: pytest's tmp_path is root's.
    data = Path(tempfile.mkdtemp(prefix="isolane-nobody-data-"))
    request.addfinalizer(lambda: shutil.rmtree(data, ignore_errors=True))
    (data / "secrets.key").write_text("k" * 32)
    for path in (data, data / "secrets.key"):
        os.chown(path, NOBODY, NOBODY)
    base = os.path.realpath(sys.base_prefix)
    # /root is 0700: in a private mount namespace, a 0755 tmpfs over it with the
    # interpreter's directory bound back in (nothing else of /root is there).
    reach = ""
    if base.startswith("/root/"):
        keep = tmp_path / "interpreter"
        keep.mkdir()
        reach = (
            f"mount --bind {base} {keep} && mount -t tmpfs -o mode=0755 none /root && "
            f"mkdir -p {base} && mount --bind {keep} {base} && "
        )
    command = (
        f"{reach}cd / && exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups "
        f"env -i PATH=/usr/bin:/bin PYTHONPATH={ROOT} {sys.executable} -c '{PROGRAM}' {data}"
    )
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", command], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    layers = report["layers"]
    assert set(layers["missing"]) <= {"cgroup"}, layers
    assert {"uid", "namespaces", "filesystem", "capabilities", "seccomp", "rlimits", "file_descriptors"} <= set(layers["active"])
    assert report["code"] == 0, report["err"]
    result = report["result"]
    status = result["status"]
    assert status["Uid"].split()[0] == str(NOBODY)  # the user's uid, mapped into its namespace
    assert status["CapEff"] == "0000000000000000" and status["NoNewPrivs"] == "1" and status["Seccomp"] == "2"
    assert not result["secret"]["ok"] and not result["socket"]["ok"] and not result["fork"]["ok"], result
    assert result["processes"] == ["1"]
