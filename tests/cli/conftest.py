"""Run the `isolane` command in a subprocess, as a user would, against the test server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from isolane.testing import Server
from tests.conftest import ADMIN_TOKEN


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


Run = Callable[..., Result]


@pytest.fixture()
def cli_env(tmp_path: Path) -> dict[str, str]:
    """An environment without the developer's ISOLANE_* settings or config file."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ISOLANE_")}
    env["HOME"] = str(tmp_path / "home")
    env.pop("XDG_CONFIG_HOME", None)
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    return env


@pytest.fixture()
def run(server: Server, cli_env: dict[str, str]) -> Run:
    """`run("ls", "acme")` runs `isolane ls acme` with the admin token and the server's URL
    in the environment (override with env={...}; None removes a variable)."""

    def run_cli(*args: str, env: dict[str, str | None] | None = None, input: str | bytes | None = None, timeout: float = 60) -> Result:
        full = {**cli_env, "ISOLANE_URL": server.url, "ISOLANE_TOKEN": ADMIN_TOKEN}
        for key, value in (env or {}).items():
            if value is None:
                full.pop(key, None)
            else:
                full[key] = value
        data = input.encode() if isinstance(input, str) else (input or b"")
        done = subprocess.run([sys.executable, "-m", "isolane", *args], env=full, input=data, capture_output=True, timeout=timeout)
        return Result(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))

    return run_cli
