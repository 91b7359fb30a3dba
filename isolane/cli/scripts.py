"""`isolane ls`, `rm`, `versions`, `rollback`, and `ns create|rm`: namespaces, scripts and
their versions."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from isolane.cli.errors import Exit, UsageError
from isolane.cli.output import short_time
from isolane.cli.session import Session, client_command, fail, split_target

YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def confirm(session: Session, question: str, yes: bool) -> None:
    """Destructive commands: go ahead with --yes; else ask on a terminal, where no ends the
    command with exit code 7 (aborted). Without a terminal to ask on (piped, scripted,
    --json) and without --yes, refuse (exit code 2): nothing is changed."""
    if yes:
        return
    if session.out.json or not (sys.stdin.isatty() and session.out.tty):
        raise fail(
            session, f"{question} Not without --yes: there is no terminal to ask on.", Exit.USAGE,
            error_code="confirmation_required", next_step="add --yes (-y) to confirm",
        )  # fmt: skip
    if not typer.confirm(question, default=False):
        raise fail(session, "aborted: nothing was changed", Exit.ABORTED)


@client_command
def ls(
    session: Session,
    namespace: Annotated[str | None, typer.Argument(help="List this namespace's scripts (without: the namespaces).", show_default=False)] = None,
    tags: Annotated[str | None, typer.Option("--tags", help="Filter scripts by tags: a,b:no (see the API).", show_default=False)] = None,
) -> None:
    """List namespaces, or the scripts of NAMESPACE."""
    if namespace is None and tags is not None:
        raise UsageError("--tags filters a namespace's scripts: give the NAMESPACE too (isolane ls NS --tags ...)")
    with session.client() as client:
        if namespace is None:
            namespaces = client.list_namespaces()
            if session.out.json:
                session.out.data(namespaces)
                return
            rows = [(item.name, item.script_count, short_time(item.created_at)) for item in namespaces]
            session.out.table(["namespace", "scripts", "created"], rows)
            return
        scripts = list(client.iter_scripts(namespace, tags=tags))
    if session.out.json:
        session.out.data(scripts)
        return
    rows = [(s.name, s.version_id, ",".join(s.handlers), ",".join(s.tags), s.size, short_time(s.modified_at)) for s in scripts]
    session.out.table(["script", "version", "handlers", "tags", "size", "modified"], rows, title=f"Scripts of {namespace}")


@client_command
def rm(
    session: Session,
    target: Annotated[str, typer.Argument(metavar="NS/NAME", help="The script.", show_default=False)],
    yes: YesOption = False,
) -> None:
    """Delete a script: it stops serving at once (its records stay)."""
    ns, name = split_target(target)
    confirm(session, f"Delete script {ns}/{name} with all its versions?", yes)
    with session.client() as client:
        client.delete_script(ns, name)
    session.out.deleted({"namespace": ns, "name": name}, f"Deleted {ns}/{name}.")


@client_command
def versions(
    session: Session,
    target: Annotated[str, typer.Argument(metavar="NS/NAME", help="The script.", show_default=False)],
) -> None:
    """List a script's versions, newest first, with the share of traffic each serves."""
    ns, name = split_target(target)
    with session.client() as client:
        items = list(client.iter_versions(ns, name))
    if session.out.json:
        session.out.data(items)
        return
    rows = [
        (v.id, short_time(v.created_at), f"{v.percentage:g}%" if v.percentage is not None else "", ",".join(v.handlers), v.size, ",".join(v.tags))
        for v in items
    ]
    session.out.table(["version", "created", "serving", "handlers", "size", "tags"], rows, title=f"Versions of {ns}/{name}")


@client_command
def rollback(
    session: Session,
    target: Annotated[str, typer.Argument(metavar="NS/NAME", help="The script.", show_default=False)],
    version_id: Annotated[str | None, typer.Argument(help="Version to serve (default: the one that served before the current deployment).", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Deploy even a version whose secrets differ from the script's current ones.")] = False,
) -> None:
    """Serve an earlier version of a script at 100%."""
    ns, name = split_target(target)
    with session.client() as client:
        deployment = client.rollback(ns, name, version_id, force=force)
    serving = deployment.versions[0].version_id
    if session.out.json:
        session.out.data(deployment)
    elif session.out.tty:
        session.out.rich(f"[green]Rolled back[/] {ns}/{name}: version [bold]{serving}[/] serves 100%")
    else:
        session.out.text(serving)


ns_app = typer.Typer(help="Create and delete namespaces (admin tokens).", no_args_is_help=True)


@ns_app.command("create")
@client_command
def ns_create(
    session: Session,
    namespace: Annotated[str, typer.Argument(help="The namespace (a DNS label).", show_default=False)],
) -> None:
    """Create a namespace (or confirm it exists)."""
    with session.client() as client:
        created = client.create_namespace(namespace)
    if session.out.json:
        session.out.data(created)
    else:
        session.out.notice(f"Namespace {created.name} is ready.")


@ns_app.command("rm")
@client_command
def ns_rm(
    session: Session,
    namespace: Annotated[str, typer.Argument(help="The namespace.", show_default=False)],
    yes: YesOption = False,
) -> None:
    """Delete a namespace with its scripts and tokens."""
    confirm(session, f"Delete namespace {namespace} with all its scripts and tokens?", yes)
    with session.client() as client:
        client.delete_namespace(namespace)
    session.out.deleted({"name": namespace}, f"Deleted namespace {namespace}.")
