"""`isolane ls`, `rm`, `versions`, `rollback`, `ns`, `kv`, `token` and `usage` against a
real server: plain tables when piped, JSON with --json."""

from __future__ import annotations

import json
import time
from pathlib import Path

from isolane.client import Client
from isolane.testing import Server
from tests.cli.conftest import Run
from tests.conftest import ADMIN_TOKEN


def script(tmp_path: Path, text: str) -> str:
    path = tmp_path / "app.js"
    path.write_text(f"export default {{ fetch: () => new Response({json.dumps(text)}) }};")
    return str(path)


def test_namespaces_scripts_versions_and_rollback(run: Run, tmp_path: Path) -> None:
    assert run("ns", "create", "cli-manage").code == 0
    assert "cli-manage" in [item["name"] for item in json.loads(run("ls", "--json").stdout)]
    first = run("deploy", script(tmp_path, "one"), "-n", "cli-manage", "--tag", "blue").stdout.strip()
    second = run("deploy", script(tmp_path, "two"), "-n", "cli-manage").stdout.strip()
    assert first != second

    listing = run("ls", "cli-manage").stdout.splitlines()
    assert listing[0].split("\t") == ["SCRIPT", "VERSION", "HANDLERS", "TAGS", "SIZE", "MODIFIED"]
    assert listing[1].split("\t")[:4] == ["app", second, "fetch", "blue"]
    namespaces = run("ls").stdout
    assert any(line.split("\t")[:2] == ["cli-manage", "1"] for line in namespaces.splitlines())

    versions = run("versions", "cli-manage/app").stdout.splitlines()
    assert [line.split("\t")[0] for line in versions[1:]] == [second, first]
    assert versions[1].split("\t")[2] == "100%" and versions[2].split("\t")[2] == ""
    assert [item["id"] for item in json.loads(run("versions", "cli-manage/app", "--json").stdout)] == [second, first]

    rolled = run("rollback", "cli-manage/app")
    assert rolled.code == 0 and rolled.stdout.strip() == first
    assert run("invoke", "cli-manage/app").stdout == "one"
    explicit = json.loads(run("rollback", "cli-manage/app", second, "--json").stdout)
    assert explicit["current"] and explicit["versions"] == [{"version_id": second, "percentage": 100.0}]
    assert run("invoke", "cli-manage/app").stdout == "two"
    assert run("rollback", "cli-manage/app", "0" * 32).code == 4

    # Piped, with no terminal to ask on: refused unless --yes, whatever stdin says.
    refused = run("rm", "cli-manage/app", input="n\n")
    assert refused.code == 2 and "--yes" in refused.stderr and "confirmation_required" in refused.stderr, refused
    assert run("rm", "cli-manage/app", input="y\n").code == 2
    assert run("invoke", "cli-manage/app").code == 0  # still there
    assert run("rm", "cli-manage/app", "--yes").code == 0
    assert run("invoke", "cli-manage/app").code == 4
    assert run("rm", "cli-manage/app", "-y").code == 4
    assert run("deploy", script(tmp_path, "x"), "-n", "cli-manage", "--name", "lonely").code == 0
    nothing = run("rollback", "cli-manage/lonely")
    assert nothing.code == 1 and "no_previous_version" in nothing.stderr and "VERSION_ID" in nothing.stderr
    json_refused = run("ns", "rm", "cli-manage", "--json")
    assert json_refused.code == 2 and json.loads(json_refused.stderr)["error"]["code"] == "confirmation_required"
    assert run("ns", "rm", "cli-manage", "--json", "--yes").code == 0
    assert run("usage", "cli-manage").code == 4


def test_kv_commands(run: Run, tmp_path: Path) -> None:
    run("ns", "create", "cli-kv")
    kv_id = run("kv", "namespace", "create", "cache", "-n", "cli-kv").stdout.strip()
    assert len(kv_id) == 32
    assert run("kv", "namespace", "create", "cache", "-n", "cli-kv").code == 1  # the title is taken
    listed = json.loads(run("kv", "namespace", "list", "-n", "cli-kv", "--json").stdout)
    assert [(item["id"], item["title"]) for item in listed] == [(kv_id, "cache")]

    assert run("kv", "key", "put", kv_id, "greeting", "hola", "--ttl", "3600", "--metadata", '{"by": "cli"}').code == 0
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01binary")
    assert run("kv", "key", "put", kv_id, "blob", "--path", str(tmp_path / "blob.bin")).code == 0
    assert run("kv", "key", "put", kv_id, "piped", input="from stdin").code == 0
    assert run("kv", "key", "put", kv_id, "bad", "x", "--metadata", "{not json").code == 2
    assert run("kv", "key", "get", kv_id, "greeting").stdout == "hola"
    assert run("kv", "key", "get", kv_id, "piped").stdout == "from stdin"
    described = json.loads(run("kv", "key", "get", kv_id, "greeting", "--json").stdout)
    assert described["value"] == "hola" and described["metadata"] == {"by": "cli"} and described["expiration"]
    keys = run("kv", "key", "list", kv_id).stdout.splitlines()
    assert [line.split("\t")[0] for line in keys] == ["KEY", "blob", "greeting", "piped"]
    assert [item["name"] for item in json.loads(run("kv", "key", "list", kv_id, "--prefix", "g", "--json").stdout)] == ["greeting"]
    assert run("kv", "key", "delete", kv_id, "greeting").code == 0
    missing = run("kv", "key", "get", kv_id, "greeting")
    assert missing.code == 4 and "key_not_found" in missing.stderr
    assert run("kv", "namespace", "delete", kv_id).code == 2
    assert run("kv", "namespace", "delete", kv_id, "--yes").code == 0
    assert run("kv", "key", "list", kv_id).code == 4


def test_token_commands(run: Run, server: Server) -> None:
    run("ns", "create", "cli-tokens")
    secret = run("token", "create", "deployer", "--scope", "namespace:cli-tokens")
    assert secret.code == 0 and secret.stdout.strip().startswith("isl_") and "not shown again" in secret.stderr
    listed = json.loads(run("token", "list", "--json").stdout)
    mine = next(item for item in listed if item["name"] == "deployer")
    assert mine["scope"] == "namespace:cli-tokens" and "token" not in mine
    scoped = {"ISOLANE_TOKEN": secret.stdout.strip()}
    assert [item["name"] for item in json.loads(run("ls", "--json", env=scoped).stdout)] == ["cli-tokens"]
    assert run("token", "create", "other", "--scope", "namespace:default", env=scoped).code == 3
    assert run("token", "create", "bad", "--scope", "nonsense").code == 1
    assert run("token", "revoke", mine["id"]).code == 0
    assert run("ls", env=scoped).code == 3
    assert run("token", "revoke", mine["id"]).code == 4


def test_usage_command(run: Run, server: Server, tmp_path: Path) -> None:
    with Client(server.url, ADMIN_TOKEN) as client:
        client.create_namespace("cli-usage")
        client.upload_script("cli-usage", "a", "export default { fetch: () => new Response('a') };")
        client.upload_script("cli-usage", "b", "export default { fetch() { throw new Error('b'); } };")
        for name in ("a", "a", "b"):
            client.invoke("cli-usage", name)
        deadline = time.monotonic() + 10  # records are counted in batches
        while client.get_usage("cli-usage").totals.invocations < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    report = json.loads(run("usage", "cli-usage", "--json").stdout)
    assert report["totals"]["invocations"] == 3 and report["totals"]["errors"]["exception"] == 1
    table = run("usage", "cli-usage").stdout.splitlines()
    rows = {line.split("\t")[0]: line.split("\t")[1:3] for line in table[1:]}
    assert rows == {"a": ["2", "0"], "b": ["1", "1"], "(total)": ["3", "1"]}
    only = json.loads(run("usage", "cli-usage", "--script", "a", "--json").stdout)
    assert only["totals"]["invocations"] == 2 and only["scripts"] is None
    assert run("usage", "cli-usage", "--since", "yesterday-ish").code == 1


def test_ls_tags_needs_a_namespace(run: Run) -> None:
    result = run("ls", "--tags", "blue")
    assert result.code == 2 and result.stdout == "" and "--tags" in result.stderr


def run_on_a_terminal(server: Server, cli_env: dict[str, str], *args: str, answer: bytes) -> tuple[int, str]:
    """Run the command with a pseudo-terminal as stdin, stdout and stderr (so it asks), type
    `answer`, and return its exit code and all it wrote."""
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    env = {**cli_env, "ISOLANE_URL": server.url, "ISOLANE_TOKEN": ADMIN_TOKEN}
    process = subprocess.Popen([sys.executable, "-m", "isolane", *args], env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    written = b""
    try:
        while b"[y/N]" not in written:
            chunk = os.read(leader, 4096)
            if not chunk:
                break
            written += chunk
        os.write(leader, answer)
        code = process.wait(timeout=30)
        try:
            while chunk := os.read(leader, 4096):
                written += chunk
        except OSError:  # the terminal is gone once the command has exited
            pass
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)
    return code, written.decode(errors="replace")


def test_declining_a_confirmation_exits_7_and_changes_nothing(run: Run, server: Server, cli_env: dict[str, str], tmp_path: Path) -> None:
    assert run("ns", "create", "cli-confirm").code == 0
    assert run("deploy", script(tmp_path, "kept"), "-n", "cli-confirm", "--name", "kept").code == 0
    code, written = run_on_a_terminal(server, cli_env, "rm", "cli-confirm/kept", answer=b"n\n")
    assert code == 7 and "aborted" in written, written
    assert run("invoke", "cli-confirm/kept").stdout == "kept"
    code, written = run_on_a_terminal(server, cli_env, "rm", "cli-confirm/kept", answer=b"y\n")
    assert code == 0 and run("invoke", "cli-confirm/kept").code == 4
