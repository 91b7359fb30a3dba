"""`isolane tail` follows a script's invocations live until Ctrl-C."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import IO

from isolane.client import Client
from isolane.testing import Server
from tests.conftest import ADMIN_TOKEN

CODE = "export default { fetch(request) { console.log('path', new URL(request.url).pathname); return new Response('ok'); } };"


def lines_of(stream: IO[bytes]) -> queue.Queue[str]:
    found: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:
            found.put(line.decode().rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return found


def start_tail(server: Server, cli_env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    env = {**cli_env, "ISOLANE_URL": server.url, "ISOLANE_TOKEN": ADMIN_TOKEN}
    return subprocess.Popen([sys.executable, "-m", "isolane", "tail", "cli-tail/app", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def invoke_until_line(client: Client, lines: queue.Queue[str], path: str) -> tuple[str, str]:
    """Invoke until tail prints a line (it may still be connecting); the line and the last id."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        invocation_id = client.invoke("cli-tail", "app", path).headers["x-isolane-invocation"]
        try:
            return lines.get(timeout=1), invocation_id
        except queue.Empty:
            continue
    raise AssertionError("tail printed nothing")


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()


def test_tail_json_lines_and_ctrl_c(server: Server, cli_env: dict[str, str]) -> None:
    with Client(server.url, ADMIN_TOKEN) as client:
        client.create_namespace("cli-tail")
        client.upload_script("cli-tail", "app", CODE)
        process = start_tail(server, cli_env, "--json", "--outcome", "ok")
        try:
            assert process.stdout is not None
            line, _ = invoke_until_line(client, lines_of(process.stdout), "/json")
            record = json.loads(line)
            assert record["namespace"] == "cli-tail" and record["outcome"] == "ok" and record["logs"][0]["message"] == "path /json"
        finally:
            code = stop(process)
        assert code == 0


def test_tail_pretty_lines(server: Server, cli_env: dict[str, str]) -> None:
    with Client(server.url, ADMIN_TOKEN) as client:
        client.create_namespace("cli-tail")
        client.upload_script("cli-tail", "app", CODE)
        process = start_tail(server, cli_env)
        try:
            assert process.stdout is not None and process.stderr is not None
            lines = lines_of(process.stdout)
            first, _ = invoke_until_line(client, lines, "/pretty")
            assert " ok 200 fetch " in first
            log_line = lines.get(timeout=10)
            assert log_line == "  [log] path /pretty"
        finally:
            code = stop(process)
        assert code == 0 and "Tailing cli-tail/app" in process.stderr.read().decode()


def test_tail_bad_arguments_exit_before_streaming(server: Server, cli_env: dict[str, str]) -> None:
    env = {**cli_env, "ISOLANE_URL": server.url, "ISOLANE_TOKEN": ADMIN_TOKEN}
    done = subprocess.run([sys.executable, "-m", "isolane", "tail", "no-such-ns/app"], env=env, capture_output=True, timeout=60)
    assert done.returncode == 4
    done = subprocess.run([sys.executable, "-m", "isolane", "tail", "default/app", "--outcome", "bogus"], env=env, capture_output=True, timeout=60)
    assert done.returncode == 1 and b"invalid_outcome" in done.stderr
