"""`isolane kv namespace ...` and `isolane kv key ...`: Workers KV from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from isolane.cli.errors import UsageError
from isolane.cli.inputs import read_file, read_stdin
from isolane.cli.output import short_time
from isolane.cli.scripts import YesOption, confirm
from isolane.cli.session import Session, client_command

kv_app = typer.Typer(help="Workers KV: namespaces and keys.", no_args_is_help=True)
namespace_app = typer.Typer(help="KV namespaces.", no_args_is_help=True)
key_app = typer.Typer(help="Keys and values of a KV namespace.", no_args_is_help=True)
kv_app.add_typer(namespace_app, name="namespace")
kv_app.add_typer(key_app, name="key")

IdArgument = Annotated[str, typer.Argument(metavar="KV_ID", help="The KV namespace's id.", show_default=False)]
KeyArgument = Annotated[str, typer.Argument(metavar="KEY", help="The key.", show_default=False)]


@namespace_app.command("create")
@client_command
def namespace_create(
    session: Session,
    title: Annotated[str, typer.Argument(help="Its title (unique in the namespace).", show_default=False)],
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Owning namespace (admin tokens; default: default).", show_default=False)] = None,
) -> None:
    """Create a KV namespace; prints its id (bind it with `deploy --kv BINDING=ID`)."""
    with session.client() as client:
        created = client.create_kv_namespace(title, namespace=namespace)
    if session.out.json:
        session.out.data(created)
    else:
        session.out.text(created.id)


@namespace_app.command("list")
@client_command
def namespace_list(
    session: Session,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Only this namespace's.", show_default=False)] = None,
) -> None:
    """List the KV namespaces the token can see."""
    with session.client() as client:
        items = list(client.iter_kv_namespaces(namespace=namespace))
    if session.out.json:
        session.out.data(items)
        return
    session.out.table(["id", "title", "namespace", "created"], [(i.id, i.title, i.namespace, short_time(i.created_at)) for i in items])


@namespace_app.command("delete")
@client_command
def namespace_delete(session: Session, kv_id: IdArgument, yes: YesOption = False) -> None:
    """Delete a KV namespace and all its values."""
    confirm(session, f"Delete KV namespace {kv_id} and all its values?", yes)
    with session.client() as client:
        client.delete_kv_namespace(kv_id)
    session.out.deleted({"id": kv_id}, f"Deleted KV namespace {kv_id}.")


@key_app.command("put")
@client_command
def key_put(
    session: Session,
    kv_id: IdArgument,
    key: KeyArgument,
    value: Annotated[str | None, typer.Argument(help="The value (or --path, or stdin when neither is given).", show_default=False)] = None,
    path: Annotated[Path | None, typer.Option("--path", help="Read the value from this file.", show_default=False)] = None,
    ttl: Annotated[int | None, typer.Option("--ttl", min=60, help="Expire after this many seconds.", show_default=False)] = None,
    expiration: Annotated[int | None, typer.Option("--expiration", help="Expire at this time (epoch seconds).", show_default=False)] = None,
    metadata: Annotated[str | None, typer.Option("--metadata", help="JSON metadata, at most 1024 bytes.", show_default=False)] = None,
) -> None:
    """Write a value."""
    if value is not None and path is not None:
        raise UsageError("give the value or --path, not both")
    if path is not None:
        data = read_file(path)
    elif value is not None:
        data = value.encode()
    else:
        data = read_stdin()
    parsed: Any = None
    if metadata is not None:
        try:
            parsed = json.loads(metadata)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--metadata is not JSON: {exc}") from exc
    with session.client() as client:
        stored = client.put_kv_value(kv_id, key, data, expiration=expiration, expiration_ttl=ttl, metadata=parsed)
    if session.out.json:
        session.out.data(stored)
    else:
        session.out.notice(f"Wrote {key} ({len(data):,} bytes).")


@key_app.command("get")
@client_command
def key_get(session: Session, kv_id: IdArgument, key: KeyArgument) -> None:
    """Print a value as stored (raw bytes; --json: with its metadata, the value as text)."""
    with session.client() as client:
        value = client.get_kv_value(kv_id, key)
        if session.out.json:
            described = client.get_kv_metadata(kv_id, key)
            session.out.data({**described.model_dump(mode="json"), "value": value.decode("utf-8", errors="replace")})
            return
    sys.stdout.buffer.write(value)
    sys.stdout.flush()


@key_app.command("list")
@client_command
def key_list(
    session: Session,
    kv_id: IdArgument,
    prefix: Annotated[str | None, typer.Option("--prefix", help="Only keys starting with this.", show_default=False)] = None,
) -> None:
    """List the keys, in byte order."""
    with session.client() as client:
        items = list(client.iter_kv_keys(kv_id, prefix=prefix))
    if session.out.json:
        session.out.data(items)
        return
    rows = [(k.name, k.expiration or "", json.dumps(k.metadata) if k.metadata is not None else "") for k in items]
    session.out.table(["key", "expiration", "metadata"], rows)


@key_app.command("delete")
@client_command
def key_delete(session: Session, kv_id: IdArgument, key: KeyArgument) -> None:
    """Delete a key (deleting a missing key succeeds)."""
    with session.client() as client:
        client.delete_kv_value(kv_id, key)
    session.out.deleted({"name": key}, f"Deleted {key}.")
