"""`--sandbox strict|auto|off`: what each starts with, and what /readyz and the log say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from isolane.sandbox.confinement.layers import LAYERS


def test_strict_refuses_to_start_without_a_layer_and_says_how_to_get_it(tmp_path: Path) -> None:
    env = {"PATH": "/nonexistent", "HOME": str(tmp_path)}  # no bubblewrap to be found
    done = subprocess.run(
        [sys.executable, "-m", "isolane", "serve", "--data-dir", str(tmp_path / "data"), "--sandbox", "strict"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "--sandbox strict" in done.stderr and "apt-get install bubblewrap" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_auto_is_the_default_and_readyz_lists_the_layers(make_server) -> None:
    server = make_server("--executors", "1")
    sandbox = httpx.get(f"{server.url}/readyz").json()["sandbox"]
    assert sandbox["mode"] == "auto"
    if os.geteuid() == 0:  # this machine as root, bubblewrap installed (CI installs it)
        assert sandbox == {"mode": "auto", "active": list(LAYERS), "missing": {}}
    assert "sandbox auto: " in server.log()


def test_off_runs_unconfined_and_says_so(make_server) -> None:
    server = make_server("--executors", "1", "--sandbox", "off")
    sandbox = httpx.get(f"{server.url}/readyz").json()["sandbox"]
    assert sandbox == {"mode": "off", "active": [], "missing": {}}
    assert "sandbox OFF" in server.log()
    with server.admin() as admin:
        [executor] = admin.get("/v1/system/executors").json()["items"]
    status = Path(f"/proc/{executor['pid']}/status").read_text()
    assert f"Uid:\t{os.getuid()}" in status and "Seccomp:\t0" in status
