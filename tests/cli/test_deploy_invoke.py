"""`isolane deploy`, `invoke` and `logs` end to end against a real server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from isolane.client import Client
from isolane.testing import Server
from tests.cli.conftest import Run
from tests.conftest import ADMIN_TOKEN

MAIN = """import { word } from "./lib/word.js";
export default {
  async fetch(request: Request, env: any): Promise<Response> {
    const url = new URL(request.url);
    console.log("got", request.method, url.pathname);
    const body = JSON.stringify({ word, greeting: env.GREETING ?? null, key: env.KEY ?? null, other: env.OTHER ?? null,
      method: request.method, path: url.pathname, query: url.search, body: await request.text(), header: request.headers.get("x-test") });
    return new Response(body, { status: url.pathname === "/teapot" ? 418 : 200, headers: { "content-type": "application/json" } });
  },
  async scheduled() {},
};
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "app" / "lib").mkdir(parents=True)
    (tmp_path / "app" / "main.ts").write_text(MAIN)
    (tmp_path / "app" / "lib" / "word.js").write_text('export const word = "hi";')
    return tmp_path / "app"


@pytest.fixture()
def client(server: Server) -> Client:
    instance = Client(server.url, ADMIN_TOKEN)
    instance.create_namespace("cli-deploy")
    return instance


def wait_for_logs(run: Run, target: str, count: int) -> list[dict]:
    deadline = time.monotonic() + 10
    while True:
        result = run("logs", target, "--json")
        assert result.code == 0, result.stderr
        records = json.loads(result.stdout)
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.1)


def test_deploy_invoke_logs(run: Run, project: Path, client: Client) -> None:
    deployed = run(
        "deploy", str(project / "main.ts"), str(project / "lib" / "word.js"), "--namespace", "cli-deploy", "--name", "app",
        "--var", "GREETING=hola", "--var", "OTHER=a=b", "--secret", "KEY", "--tag", "web", "--tag", "v1", "--cron", "*/5 * * * *",
        env={"KEY": "from-env"},
    )  # fmt: skip
    assert deployed.code == 0, deployed.stderr
    version_id = deployed.stdout.strip()
    script = client.get_script("cli-deploy", "app")
    assert script.version_id == version_id and len(version_id) == 32  # the version with the secret
    assert sorted(script.tags) == ["v1", "web"] and [module.name for module in script.modules] == ["main.ts", "lib/word.js"]
    assert [schedule.cron for schedule in client.get_schedules("cli-deploy", "app")] == ["*/5 * * * *"]

    invoked = run("invoke", "cli-deploy/app", "/greet?name=ada")
    assert invoked.code == 0, invoked.stderr
    answer = json.loads(invoked.stdout)
    assert answer == {
        "word": "hi", "greeting": "hola", "key": "from-env", "other": "a=b", "method": "GET",
        "path": "/greet", "query": "?name=ada", "body": "", "header": None,
    }  # fmt: skip
    posted = json.loads(run("invoke", "cli-deploy/app", "/p", "-d", "payload", "-H", "x-test: yes").stdout)
    assert posted["method"] == "POST" and posted["body"] == "payload" and posted["header"] == "yes"
    (project / "body.txt").write_text("from a file")
    put = json.loads(run("invoke", "cli-deploy/app", "-X", "put", "-d", f"@{project / 'body.txt'}").stdout)
    assert put["method"] == "PUT" and put["body"] == "from a file" and put["path"] == "/"
    assert json.loads(run("invoke", "cli-deploy/app", "-d", "@-", input="piped").stdout)["body"] == "piped"

    teapot = run("invoke", "cli-deploy/app", "/teapot", "-i")
    assert teapot.code == 0  # the script answered: its status is not an error of the command
    head, _, body = teapot.stdout.partition("\n\n")
    assert head.startswith("HTTP/1.1 418") and "x-isolane-invocation:" in head and json.loads(body)["path"] == "/teapot"
    as_json = json.loads(run("invoke", "cli-deploy/app", "/teapot", "--json").stdout)
    assert as_json["status"] == 418 and as_json["invocation_id"] and as_json["outcome"] is None

    records = wait_for_logs(run, "cli-deploy/app", 6)
    assert len(records) == 6 and records[0]["id"] == as_json["invocation_id"]  # newest first
    text = run("logs", "cli-deploy/app", "--limit", "2")
    lines = text.stdout.splitlines()
    assert text.code == 0 and " ok 418 fetch " in lines[0] and lines[1] == "  [log] got GET /teapot"
    assert lines[0].endswith(records[1]["id"]) and lines[2].endswith(records[0]["id"])  # oldest first


def test_deploy_defaults_secrets_from_stdin_and_kv(run: Run, project: Path, client: Client, tmp_path: Path) -> None:
    kv = client.create_kv_namespace("cli-deploy-kv", namespace="cli-deploy")
    client.put_kv_value(kv.id, "word", "from kv")
    worker = tmp_path / "reader.js"
    worker.write_text("export default { fetch: async (r, env) => new Response(`${await env.STORE.get('word')} ${env.A} ${env.B}`) };")
    result = run("deploy", str(worker), "-n", "cli-deploy", "--kv", f"STORE={kv.id}", "--secret", "A", "--secret", "B", input="first\nsecond\n")
    assert result.code == 0, result.stderr
    assert client.get_script("cli-deploy", "reader").version_id == result.stdout.strip()  # named after the file
    assert run("invoke", "cli-deploy/reader").stdout == "from kv first second"

    as_json = json.loads(run("deploy", str(worker), "-n", "cli-deploy", "--kv", f"STORE={kv.id}", "--json").stdout)
    assert as_json["name"] == "reader" and as_json["handlers"] == ["fetch"] and as_json["secrets"] == []
    assert run("invoke", "cli-deploy/reader").stdout == "from kv first second"  # secrets are kept


def test_deploy_and_invoke_errors(run: Run, project: Path, tmp_path: Path, client: Client) -> None:
    broken = tmp_path / "broken.js"
    broken.write_text("export default { fetch( { };")
    result = run("deploy", str(broken), "-n", "cli-deploy")
    assert result.code == 1 and "syntax_error" in result.stderr and "hint:" in result.stderr
    assert run("deploy", str(tmp_path / "missing.js"), "-n", "cli-deploy").code == 2
    assert run("deploy", str(project / "main.ts"), "-n", "cli-deploy", "--name", "Bad_Name").code == 2
    assert run("deploy", str(project / "main.ts"), "-n", "cli-deploy", "--var", "NOEQUALS").code == 2
    outside = run("deploy", str(project / "lib" / "word.js"), str(project / "main.ts"), "-n", "cli-deploy")
    assert outside.code == 2 and "not under" in outside.stderr
    missing_secret = run("deploy", str(project / "main.ts"), "-n", "cli-deploy", "--secret", "NOPE_NOT_SET")
    assert missing_secret.code == 2 and "NOPE_NOT_SET" in missing_secret.stderr
    assert run("deploy", str(project / "main.ts"), "-n", "no-such-namespace-here").code == 4

    thrower = tmp_path / "thrower.js"
    thrower.write_text("export default { fetch() { throw new TypeError('boom'); } };")
    assert run("deploy", str(thrower), "-n", "cli-deploy").code == 0
    failed = run("invoke", "cli-deploy/thrower")
    assert failed.code == 6 and failed.stdout == "" and "worker_exception" in failed.stderr
    invocation_id = failed.stderr.split("(invocation ")[1].split(")")[0]
    assert "isolane logs cli-deploy/thrower --outcome exception" in failed.stderr and len(invocation_id) == 32
    # What it threw, with its stack in the uploaded module's lines (issue 17, 16).
    assert "TypeError: boom" in failed.stderr and "thrower.js:1:" in failed.stderr, failed.stderr
    as_json = run("--json", "invoke", "cli-deploy/thrower")
    error = json.loads(as_json.stderr)["error"]
    assert as_json.code == 6 and as_json.stdout == "" and error["outcome"] == "exception" and len(error["invocation_id"]) == 32
    missing = run("invoke", "cli-deploy/nothing-here")
    assert missing.code == 4 and "isolane ls NS" in missing.stderr
    missing_json = run("--json", "invoke", "cli-deploy/nothing-here")
    assert missing_json.code == 4 and missing_json.stdout == "" and json.loads(missing_json.stderr)["error"]["code"] == "script_not_found"
    assert run("invoke", "cli-deploy/app", "-H", "no colon").code == 2


SERVICE_WORKER = 'addEventListener("fetch", (event) => event.respondWith(new Response("service worker here")));\n'


def test_deploy_detects_a_service_worker(run: Run, tmp_path: Path, client: Client) -> None:
    (tmp_path / "sw.js").write_text(SERVICE_WORKER)
    deployed = run("deploy", str(tmp_path / "sw.js"), "--namespace", "cli-deploy", "--tag", "legacy")
    assert deployed.code == 0, deployed.stderr
    assert run("invoke", "cli-deploy/sw").stdout == "service worker here"
    assert client.get_script("cli-deploy", "sw").tags == ["legacy"]
    # As a module the same file fails at startup (modules cannot addEventListener), and
    # bindings are refused for a service worker before anything is uploaded.
    forced = run("deploy", str(tmp_path / "sw.js"), "--namespace", "cli-deploy", "--name", "sw-module", "--format", "modules")
    assert forced.code == 1 and "script_startup_failed" in forced.stderr
    refused = run("deploy", str(tmp_path / "sw.js"), "--namespace", "cli-deploy", "--name", "sw-vars", "--var", "A=b")
    assert refused.code == 2 and "service workers get no bindings" in refused.stderr
    assert run("invoke", "cli-deploy/sw-vars").code == 4
    bad = run("deploy", str(tmp_path / "sw.js"), "--format", "classic")
    assert bad.code == 2 and "--format" in bad.stderr


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("import x from './a.js';", True),
        ("  import {a} from 'b';", True),
        ('import"./side-effect.js";', True),
        ("export default {};", True),
        ("export{a};", True),
        ("const h={fetch(){return new Response('x')}};export default h;", True),
        ("/* banner */ export default {fetch(){}};", True),
        ("/*! bundle */export{h as default};", True),
        ("f();import'./side-effect.js';", True),
        ("if(a){b()}export default {};", True),
            ("x.import(y); obj.export = 1;", False),
        ("important = 1;", False),
        ("exports.x = 1;", False),
        (SERVICE_WORKER, False),
    ],
)
def test_service_worker_detection(source: str, module: bool) -> None:
    from isolane.cli.deploy import is_service_worker
    from isolane.client import Module

    assert is_service_worker(Module("entry.js", source), "auto") is not module
    assert is_service_worker(Module("entry.ts", "addEventListener('fetch', () => {});"), "auto") is False


def test_a_bundled_module_is_deployed_as_a_module(run: Run, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.js"
    bundle.write_text('/* built by a bundler */\nvar h={fetch(){return new Response("bundled")}};export{h as default};\n')
    deployed = run("deploy", str(bundle), "-n", "cli-deploy")
    assert deployed.code == 0, deployed.stderr
    assert run("invoke", "cli-deploy/bundle").stdout == "bundled"


def test_a_syntax_error_in_a_guessed_service_worker_suggests_format_modules(run: Run, tmp_path: Path) -> None:
    broken = tmp_path / "guess.js"
    broken.write_text('addEventListener("fetch", (event) => { event.respondWith(new Response("x")\n')
    result = run("deploy", str(broken), "-n", "cli-deploy")
    assert result.code == 1 and "syntax_error" in result.stderr and "--format modules" in result.stderr
    told = run("deploy", str(broken), "-n", "cli-deploy", "--format", "service-worker")
    assert told.code == 1 and "--format modules" not in told.stderr  # the format was not a guess


ECHO = """export default { fetch(request) {
  const url = new URL(request.url);
  return Response.json({ headers: Object.fromEntries(request.headers), path: url.pathname, query: url.search });
} };"""


def test_invoke_sends_no_token_to_the_script(run: Run, client: Client, tmp_path: Path) -> None:
    client.upload_script("cli-deploy", "echo", ECHO)
    seen = json.loads(run("invoke", "cli-deploy/echo", "/h").stdout)["headers"]
    assert "authorization" not in seen and ADMIN_TOKEN not in json.dumps(seen)
    explicit = json.loads(run("invoke", "cli-deploy/echo", "-H", "Authorization: Bearer for-the-script").stdout)["headers"]
    assert explicit["authorization"] == "Bearer for-the-script"  # only what the caller passes
    as_json = json.loads(run("--json", "invoke", "cli-deploy/echo").stdout)
    assert ADMIN_TOKEN not in as_json["body"]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_invoke_refuses_a_path_that_leaves_the_script(run: Run, client: Client, method: str) -> None:
    client.upload_script("cli-deploy", "echo", ECHO)
    tokens = len(client.list_tokens())
    for path in ("/../../../../../tokens", "/a/%2e%2e/b", ".."):
        result = run("invoke", "cli-deploy/echo", path, "-X", method)
        assert result.code == 2 and result.stdout == "" and "segment" in result.stderr, result
    assert len(client.list_tokens()) == tokens
    fine = json.loads(run("invoke", "cli-deploy/echo", "/.well-known/a..b?q=..").stdout)
    assert fine["path"] == "/.well-known/a..b" and fine["query"] == "?q=.."


def test_invoke_says_which_limit_a_run_exceeded(run: Run, client: Client) -> None:
    client.upload_script("cli-deploy", "spin", "export default { fetch() { for (;;) {} } };")
    result = run("invoke", "cli-deploy/spin")
    assert result.code == 6 and result.stdout == ""
    assert "exceeded_cpu" in result.stderr and "CPU time limit" in result.stderr
    assert "isolane logs cli-deploy/spin --outcome exceededCpu" in result.stderr


def test_deploy_a_project_directory_as_wrangler_reads_it(run: Run, tmp_path: Path) -> None:
    """Issue 17, 17: `isolane deploy DIR` takes the wrangler config's `main` and `name` (or
    a usual entry file) and follows the entry's relative imports, as wrangler does."""
    assert run("ns", "create", "cli-project").code == 0
    project = tmp_path / "shop"
    (project / "src" / "lib").mkdir(parents=True)
    (project / "wrangler.toml").write_text('name = "storefront"\nmain = "src/index.ts"\ncompatibility_date = "2026-11-27"\n')
    (project / "src" / "index.ts").write_text(
        'import { greet } from "./lib/greet";\nexport default { fetch(): Response { return new Response(greet("ada")); } };\n'
    )
    (project / "src" / "lib" / "greet.ts").write_text('import { punct } from "./punct.js";\nexport const greet = (n: string) => `hi ${n}${punct}`;\n')
    (project / "src" / "lib" / "punct.js").write_text('export const punct = "!";\n')
    (project / "src" / "unused.ts").write_text("this is not even valid TypeScript ((\n")
    deployed = run("deploy", str(project), "-n", "cli-project")
    assert deployed.code == 0, deployed.stderr
    assert run("invoke", "cli-project/storefront").stdout == "hi ada!"

    # wrangler.jsonc, with comments; the name from the config, the entry from `main`.
    jsonc = tmp_path / "jsonc"
    (jsonc / "src").mkdir(parents=True)
    (jsonc / "wrangler.jsonc").write_text('{\n  // the worker\n  "name": "from-jsonc", /* main below */ "main": "src/main.js",\n}\n')
    (jsonc / "src" / "main.js").write_text('export default { fetch() { return new Response("jsonc") } };\n')
    assert run("deploy", str(jsonc), "-n", "cli-project").code == 0
    assert run("invoke", "cli-project/from-jsonc").stdout == "jsonc"

    # No config: src/index.* and the directory's name.
    plain = tmp_path / "plain-app"
    (plain / "src").mkdir(parents=True)
    (plain / "src" / "index.js").write_text('export default { fetch() { return new Response("plain") } };\n')
    assert run("deploy", str(plain), "-n", "cli-project").code == 0
    assert run("invoke", "cli-project/plain-app").stdout == "plain"

    # A main module given alone brings the modules it imports along.
    alone = run("deploy", str(project / "src" / "index.ts"), "-n", "cli-project", "--name", "alone")
    assert alone.code == 0, alone.stderr
    assert run("invoke", "cli-project/alone").stdout == "hi ada!"

    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = run("deploy", str(empty), "-n", "cli-project")
    assert nothing.code == 2 and "wrangler.toml" in nothing.stderr and "src/index.ts" in nothing.stderr
