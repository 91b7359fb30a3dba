"""`isolane token create|list|revoke`."""

from __future__ import annotations

from typing import Annotated

import typer

from isolane.cli.output import short_time
from isolane.cli.session import Session, client_command

token_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)


@token_app.command("create")
@client_command
def create(
    session: Session,
    name: Annotated[str, typer.Argument(help="A name to recognise it by.", show_default=False)],
    scope: Annotated[str, typer.Option("--scope", help="'admin' or 'namespace:NS'.", show_default=False)],
    read_only: Annotated[bool, typer.Option("--read-only", help="It may only read (GET).")] = False,
) -> None:
    """Create a token; prints its secret, which is shown this once."""
    with session.client() as client:
        created = client.create_token(name, scope, read_only=read_only)
    if session.out.json:
        session.out.data(created)
        return
    session.out.text(created.token)
    session.out.notice(f"[dim]Token {created.id} ({created.scope}{', read-only' if created.read_only else ''}): keep the secret above, it is not shown again.[/]")


@token_app.command("list")
@client_command
def list_tokens(session: Session) -> None:
    """List the tokens the token can see (never their secrets)."""
    with session.client() as client:
        items = client.list_tokens()
    if session.out.json:
        session.out.data(items)
        return
    rows = [(t.id, t.name, t.scope, "yes" if t.read_only else "", short_time(t.created_at)) for t in items]
    session.out.table(["id", "name", "scope", "read-only", "created"], rows)


@token_app.command("revoke")
@client_command
def revoke(session: Session, token_id: Annotated[str, typer.Argument(metavar="TOKEN_ID", help="The token's id (see `token list`).", show_default=False)]) -> None:
    """Revoke a token: it stops working at once here, within 2 s on other servers."""
    with session.client() as client:
        client.revoke_token(token_id)
    session.out.deleted({"id": token_id}, f"Revoked token {token_id}.")
