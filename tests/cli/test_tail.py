"""`isolane tail` follows a script's invocations live until Ctrl-C."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO

import pytest

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


def test_tail_sample_zero_is_a_usage_error(server: Server, cli_env: dict[str, str]) -> None:
    env = {**cli_env, "ISOLANE_URL": server.url, "ISOLANE_TOKEN": ADMIN_TOKEN}
    for fraction in ("0", "1.5", "nan"):
        done = subprocess.run([sys.executable, "-m", "isolane", "tail", "default/app", "--sample", fraction], env=env, capture_output=True, timeout=60)
        assert done.returncode == 2 and b"--sample" in done.stderr and b"Tailing" not in done.stderr


def test_tail_ends_with_exit_3_when_its_token_is_revoked(server: Server, cli_env: dict[str, str]) -> None:
    with Client(server.url, ADMIN_TOKEN) as client:
        client.create_namespace("cli-tail")
        client.upload_script("cli-tail", "app", CODE)
        created = client.create_token("cli-tail-reader", "namespace:cli-tail", read_only=True)
        env = {**cli_env, "ISOLANE_URL": server.url, "ISOLANE_TOKEN": created.token}
        process = subprocess.Popen([sys.executable, "-m", "isolane", "tail", "cli-tail/app"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert process.stdout is not None and process.stderr is not None
            invoke_until_line(client, lines_of(process.stdout), "/before")
            client.revoke_token(created.id)
            deadline = time.monotonic() + 30
            while process.poll() is None and time.monotonic() < deadline:  # ends at the next event once revoked
                client.invoke("cli-tail", "app", "/after")
                time.sleep(0.2)
            code = process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
        stderr = process.stderr.read().decode()
        assert code == 3 and "ended the live tail" in stderr and "token" in stderr, stderr


def test_tail_ends_with_exit_5_when_the_server_stops(make_server: Callable[..., Server], cli_env: dict[str, str]) -> None:
    own = make_server()
    with Client(own.url, ADMIN_TOKEN) as client:
        client.create_namespace("cli-tail")
        client.upload_script("cli-tail", "app", CODE)
        process = start_tail(own, cli_env)
        try:
            assert process.stdout is not None and process.stderr is not None
            invoke_until_line(client, lines_of(process.stdout), "/before-stop")
            own.stop()
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    stderr = process.stderr.read().decode()
    assert code == 5 and "error:" in stderr and "hint:" in stderr, stderr


def test_tail_json_prints_dropped_notices_as_events(capsys: pytest.CaptureFixture[str]) -> None:
    """The server drops records only for a consumer thousands of records behind, too slow to
    provoke here: the line printed for its notice is checked directly."""
    from isolane.cli.logs import print_dropped
    from isolane.cli.output import Output
    from isolane.client import TailDropped

    print_dropped(Output(json_mode=True), TailDropped(dropped=3, total_dropped=7))
    captured = capsys.readouterr()
    assert [json.loads(line) for line in captured.out.splitlines()] == [{"event": "dropped", "dropped": 3, "total_dropped": 7}]
    print_dropped(Output(json_mode=False), TailDropped(dropped=3, total_dropped=7))
    captured = capsys.readouterr()
    assert captured.out == "" and "3 records dropped" in captured.err and "7 in all" in captured.err
