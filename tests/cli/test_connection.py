"""Where the CLI connects and with which token (flag > environment > config file > default),
the documented exit codes, JSON errors, and the server commands left as they were."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from isolane.testing import Server, free_port
from tests.cli.conftest import Run
from tests.conftest import ADMIN_TOKEN


def write_config(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_flag_beats_environment_beats_config_file(run: Run, server: Server, tmp_path: Path) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    config = write_config(tmp_path / "conf.toml", f'url = "{server.url}"\ntoken = "{ADMIN_TOKEN}"\n')
    only_config = {"ISOLANE_CONFIG": str(config), "ISOLANE_URL": None, "ISOLANE_TOKEN": None}
    assert run("ls", env=only_config).code == 0  # the config file alone is enough
    assert run("ls", env={**only_config, "ISOLANE_TOKEN": "wrong"}).code == 3  # env beats the file
    assert run("ls", "--token", ADMIN_TOKEN, env={**only_config, "ISOLANE_TOKEN": "wrong"}).code == 0  # the flag beats env
    assert run("ls", env={**only_config, "ISOLANE_URL": unreachable}).code == 5
    assert run("--url", server.url, "ls", env={**only_config, "ISOLANE_URL": unreachable}).code == 0  # before the command too
    refused = run("ls", env={**only_config, "ISOLANE_TOKEN": "wrong"})
    assert "ISOLANE_TOKEN" in refused.stderr  # says where the refused token came from


def test_the_servers_admin_token_variable_is_used_when_no_token_is_given(run: Run, server: Server) -> None:
    """The README exports ISOLANE_ADMIN_TOKEN for the server; the CLI takes it too, after
    --token and ISOLANE_TOKEN."""
    assert run("ls", env={"ISOLANE_TOKEN": None, "ISOLANE_ADMIN_TOKEN": ADMIN_TOKEN}).code == 0
    assert run("ls", env={"ISOLANE_TOKEN": None}).code == 3  # no token at all
    refused = run("ls", env={"ISOLANE_TOKEN": None, "ISOLANE_ADMIN_TOKEN": "wrong"})
    assert refused.code == 3 and "ISOLANE_ADMIN_TOKEN" in refused.stderr
    assert run("ls", env={"ISOLANE_TOKEN": "wrong", "ISOLANE_ADMIN_TOKEN": ADMIN_TOKEN}).code == 3  # ISOLANE_TOKEN first


def test_xdg_config_home_and_profiles(run: Run, server: Server, tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    write_config(
        xdg / "isolane" / "config.toml",
        f'token = "wrong"\nurl = "{server.url}"\n[profiles.good]\ntoken = "{ADMIN_TOKEN}"\n',
    )
    env = {"XDG_CONFIG_HOME": str(xdg), "ISOLANE_TOKEN": None, "ISOLANE_URL": None}
    assert run("ls", env=env).code == 3
    assert run("ls", "--profile", "good", env=env).code == 0  # the profile's token, the top level's url
    assert run("ls", env={**env, "ISOLANE_PROFILE": "good"}).code == 0
    unknown = run("ls", "--profile", "nope", env=env)
    assert unknown.code == 2 and "good" in unknown.stderr


def test_default_url_and_home_config(run: Run, server: Server, tmp_path: Path, cli_env: dict[str, str]) -> None:
    from isolane.cli.session import DEFAULT_URL
    from isolane.client._config import DEFAULT_URL as CLIENT_DEFAULT

    assert DEFAULT_URL == CLIENT_DEFAULT
    home = Path(cli_env["HOME"])
    write_config(home / ".config" / "isolane" / "config.toml", f'url = "{server.url}"\n')
    assert run("ls", env={"ISOLANE_URL": None}).code == 0  # ~/.config/isolane/config.toml
    broken = write_config(tmp_path / "broken.toml", "url = [unclosed")
    result = run("ls", env={"ISOLANE_CONFIG": str(broken)})
    assert result.code == 2 and "broken.toml" in result.stderr


@pytest.mark.parametrize("json_flag", [False, True])
def test_exit_codes_and_hints(run: Run, server: Server, json_flag: bool) -> None:
    flags = ["--json"] if json_flag else []

    def check(code: int, error_code: str, hint: str, *args: str, env: dict | None = None) -> None:
        result = run(*args, *flags, env=env)
        assert result.code == code, result.stderr
        assert result.stdout == ""
        if json_flag:
            error = json.loads(result.stderr)["error"]
            assert error["code"] == error_code and hint in error.get("hint", "")
        else:
            assert f"[{error_code}]" in result.stderr and hint in result.stderr

    check(3, "unauthorized", "ISOLANE_TOKEN", "ls", env={"ISOLANE_TOKEN": None})
    check(3, "invalid_token", "isolane token create", "ls", env={"ISOLANE_TOKEN": "nope"})
    check(4, "namespace_not_found", "isolane ls", "usage", "no-such-ns")
    check(4, "script_not_found", "isolane ls NS", "versions", "default/no-such-script")
    check(1, "invalid_outcome", "", "logs", "default/x", "--outcome", "bogus")
    check(5, "connect_error", "isolane serve", "ls", env={"ISOLANE_URL": f"http://127.0.0.1:{free_port()}"})
    usage = run("versions", "not-a-target", *flags)
    assert usage.code == 2 and "NAMESPACE/SCRIPT" in usage.stderr


def test_permission_denied_is_exit_3(run: Run) -> None:
    created = json.loads(run("token", "create", "reader", "--scope", "namespace:default", "--read-only", "--json").stdout)
    result = run("ns", "create", "cli-forbidden", env={"ISOLANE_TOKEN": created["token"]})
    assert result.code == 3 and "hint:" in result.stderr


def test_help_lists_exit_codes_and_serve_is_unchanged(run: Run, cli_env: dict[str, str]) -> None:
    top = run("--help")
    assert top.code == 0 and "Exit codes" in top.stdout and "deploy" in top.stdout and "serve" in top.stdout
    serve = run("serve", "--help")
    assert all(option in serve.stdout for option in ("--data-dir", "--dispatch-domain", "--secrets-key", "--records-max-age-days"))
    assert run("version").stdout.strip() == __import__("isolane").__version__


def test_the_command_and_package_do_not_load_the_client_until_needed(cli_env: dict[str, str]) -> None:
    code = "import sys, isolane, isolane.cli; assert 'isolane.client' not in sys.modules and 'httpx' not in sys.modules; isolane.Client"
    subprocess.run([sys.executable, "-c", code], env=cli_env, check=True)


def test_a_missing_isolane_config_file_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    result = run("ls", env={"ISOLANE_CONFIG": str(tmp_path / "nope.toml")})
    assert result.code == 2 and "nope.toml" in result.stderr and "ISOLANE_CONFIG" in result.stderr
    assert run("ls").code == 0  # the default file may be absent


@pytest.mark.parametrize("json_flag", [False, True])
def test_a_password_in_the_url_is_never_shown(run: Run, json_flag: bool) -> None:
    url = f"http://admin:hunter2@127.0.0.1:{free_port()}"
    result = run("ls", *(["--json"] if json_flag else []), env={"ISOLANE_URL": url})
    assert result.code == 5 and "hunter2" not in result.stderr and "127.0.0.1" in result.stderr, result.stderr
    assert "hunter2" not in run("ls", "--url", url).stderr


def test_admin_required_hint_and_quota_exit_code(run: Run, server: Server, tmp_path: Path) -> None:
    from isolane.client import Client

    with Client(server.url, ADMIN_TOKEN) as client:
        client.create_namespace("cli-quota", quotas={"max_scripts": 1})
        created = client.create_token("cli-quota-writer", "namespace:cli-quota")
    refused = run("ns", "create", "cli-other", env={"ISOLANE_TOKEN": created.token})
    assert refused.code == 3 and "[admin_required]" in refused.stderr
    assert "admin token" in refused.stderr and "for this namespace" not in refused.stderr
    worker = tmp_path / "one.js"
    worker.write_text("export default { fetch: () => new Response('x') };")
    assert run("deploy", str(worker), "-n", "cli-quota").code == 0
    over = run("deploy", str(worker), "-n", "cli-quota", "--name", "two")
    assert over.code == 1 and "[quota_exceeded]" in over.stderr  # the request is refused, not the token


def test_a_syntax_errors_location_is_printed_once(run: Run, tmp_path: Path) -> None:
    broken = tmp_path / "bad.js"
    broken.write_text("export default { fetch() { return new Response('x') ;; } ) };")
    result = run("deploy", str(broken))
    first_line = result.stderr.splitlines()[0]
    assert result.code == 1 and "bad.js:1:" in first_line and "(line" not in first_line and "column" not in first_line, first_line


def test_help_and_the_docs_give_the_same_exit_codes(run: Run) -> None:
    import re

    from isolane.cli.errors import Exit

    help_text = " ".join(run("--help").stdout.replace("│", " ").split())
    listed = help_text.split("Exit codes:")[1].split("Connection:")[0]
    in_help = {int(code) for code in re.findall(r"(?:^|;) (\d+) ", listed)}
    docs = (Path(__file__).parents[2] / "docs" / "cli.md").read_text()
    in_docs = {int(code) for code in re.findall(r"^\| (\d+) \|", docs, re.M)}
    assert in_help == in_docs == {int(code) for code in Exit}
