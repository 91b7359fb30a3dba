"""`isolane deploy`: upload a script (its modules, bindings, tags, crons), then its secrets."""

from __future__ import annotations

import dataclasses
import getpass
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from isolane.cli.errors import UsageError
from isolane.cli.inputs import read_file
from isolane.cli.project import open_project, reachable_modules
from isolane.cli.session import Session, api_failure, client_command

if TYPE_CHECKING:
    from isolane.client import Module

NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
# An ES module has an import or export statement: at a line's start, or after `;`, `}`, `)`
# or a block comment (minified and bundled code: `const h={...};export default h;`).
MODULE_SYNTAX = re.compile(rb"(?:^|[;})]|\*/)\s*(?:import(?:\s+[\w{*]|\s*[{*'\"])|export[\s{*])", re.M)
FORMATS = ("auto", "modules", "service-worker")


def is_service_worker(main: Module, format: str) -> bool:
    """As wrangler decides: a plain .js entry with no import or export statement is a service
    worker (`addEventListener("fetch", ...)`), unless --format says otherwise."""
    if format != "auto":
        return format == "service-worker"
    content = main.content.encode() if isinstance(main.content, str) else main.content
    return Path(main.name).suffix.lower() in (".js", ".cjs") and MODULE_SYNTAX.search(content) is None


def parse_pairs(values: list[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        key, equals, rest = value.partition("=")
        if not equals or not key:
            raise UsageError(f"{option} takes KEY=VALUE, got {value!r}")
        pairs[key] = rest
    return pairs


def modules_from_files(files: list[Path]) -> tuple[Module, list[Module], str | None]:
    """The modules to upload, the main one first, and the project's name if it has one.
    A directory is a project (`project.py`: its wrangler config's `main`, or a usual entry
    file); a file is the main module. Either way the modules its relative imports reach are
    added to those given, each named by its path relative to the project (or the main
    module's directory), as the imports name them."""
    from isolane.client import Module, content_type_for

    project_name = None
    if len(files) == 1 and files[0].is_dir():
        project = open_project(files[0])
        root, project_name, given = project.root, project.name, [project.entry]
    else:
        root, given = files[0].resolve().parent, [path.resolve() for path in files]
    paths = list(given)
    for path in reachable_modules(given[0], root) if given[0].is_file() else []:
        if path not in paths:
            paths.append(path)
    modules = []
    for path in paths:
        content = read_file(path)
        try:
            name = path.resolve().relative_to(root).as_posix()
        except ValueError:
            raise UsageError(f"{path} is not under {root}, the main module's directory (modules are named relative to it)") from None
        modules.append(Module(name, content, content_type_for(name)))
    return modules[0], modules[1:], project_name


def read_secret(name: str) -> str:
    """From the environment variable of the same name, else a hidden prompt on a terminal,
    else the next line of stdin."""
    if name in os.environ:
        return os.environ[name]
    if sys.stdin.isatty():
        return getpass.getpass(f"Value of secret {name}: ")
    line = sys.stdin.readline()
    if not line:
        raise UsageError(f"no value for secret {name}: set the environment variable {name}, or pass one line per secret on stdin")
    return line.rstrip("\r\n")


@client_command
def deploy(
    session: Session,
    files: Annotated[
        list[Path],
        typer.Argument(
            help="A project directory (its wrangler.toml/jsonc `main`, or src/index.*), or the main module; the modules"
            " their relative imports reach are found and uploaded too.",
            show_default=False,
        ),
    ],
    namespace: Annotated[str, typer.Option("--namespace", "-n", help="Namespace to deploy into.")] = "default",
    name: Annotated[str | None, typer.Option("--name", help="Script name (default: the main file's name without suffix).", show_default=False)] = None,
    var: Annotated[list[str], typer.Option("--var", help="A plain_text binding KEY=VALUE (repeatable).", show_default=False)] = [],  # noqa: B006
    secret: Annotated[
        list[str],
        typer.Option("--secret", help="A secret's name (repeatable); its value comes from the environment variable of that name, a prompt, or stdin.", show_default=False),
    ] = [],  # noqa: B006
    kv: Annotated[list[str], typer.Option("--kv", help="A KV binding BINDING=KV_NAMESPACE_ID (repeatable).", show_default=False)] = [],  # noqa: B006
    tag: Annotated[list[str], typer.Option("--tag", help="A tag (repeatable); given tags replace the script's.", show_default=False)] = [],  # noqa: B006
    cron: Annotated[list[str], typer.Option("--cron", help="A cron trigger (repeatable); given crons replace the script's.", show_default=False)] = [],  # noqa: B006
    compatibility_date: Annotated[str | None, typer.Option("--compatibility-date", help="e.g. 2026-11-27.", show_default=False)] = None,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="modules (export default { fetch }), service-worker (addEventListener), or auto: a .js file"
            " without import or export statements is a service worker.",
        ),
    ] = "auto",
) -> None:
    """Deploy a script: upload its modules as a new version and serve it at once.

    Bindings are exactly the --var and --kv given. Tags and crons are replaced when given and
    kept otherwise. Each --secret is set after the upload (each a new version). Prints the
    version id that serves.
    """
    if format not in FORMATS:
        raise UsageError(f"--format is one of {', '.join(FORMATS)}, not {format!r}")
    main, others, project_name = modules_from_files(files)
    service_worker = is_service_worker(main, format)
    if service_worker:
        if others:
            raise UsageError("a service worker is one file (imports need ES modules: export default { fetch })")
        if var or kv or secret:
            raise UsageError(
                "service workers get no bindings (--var, --kv, --secret): write an ES module (export default { fetch(request, env) })"
                " or pass --format modules"
            )
        from isolane.client import SERVICE_WORKER_JS

        main = dataclasses.replace(main, content_type=SERVICE_WORKER_JS)
    script = name or project_name or (files[0].resolve().name.lower() if files[0].is_dir() else Path(main.name).stem.lower())
    if not NAME.fullmatch(script):
        raise UsageError(f"{script!r} is not a valid script name (a DNS label: a-z, 0-9, -): pass --name")
    variables = parse_pairs(var, "--var")
    kv_bindings = parse_pairs(kv, "--kv")
    secrets = {key: read_secret(key) for key in secret}
    from isolane.client import BadRequest

    with session.client() as client:
        size = sum(len(module.content) for module in (main, *others))
        with session.out.status(f"Uploading {namespace}/{script} ({1 + len(others)} modules, {size:,} bytes)…"):
            try:
                uploaded = client.upload_script(
                    namespace, script, main, modules=others, vars=variables, kv=kv_bindings,
                    tags=tag or None, crons=cron or None, compatibility_date=compatibility_date,
                )  # fmt: skip
            except BadRequest as error:
                if service_worker and format == "auto" and error.code == "syntax_error":
                    raise api_failure(
                        session, error, next_step=f"{main.name} was taken for a service worker (no import or export statement found):"
                        " if it is an ES module, deploy it with --format modules",
                    ) from None  # fmt: skip
                raise
        version_id = uploaded.version_id
        for key, value in secrets.items():
            with session.out.status(f"Setting secret {key}…"):
                version_id = client.put_secret(namespace, script, key, value).version_id
    if session.out.json:
        session.out.data({**uploaded.model_dump(mode="json"), "version_id": version_id, "secrets": list(secrets), "crons": cron or None})
    elif session.out.tty:
        session.out.rich(f"[green]Deployed[/] {namespace}/{script}: version [bold]{version_id}[/] (handlers: {', '.join(uploaded.handlers) or 'none'})")
    else:
        session.out.text(version_id)
