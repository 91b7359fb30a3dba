"""The `isolane` command: `serve` runs the server; the other commands are its client, one
module per group, built on `isolane.client` (imported only when one of them runs)."""

from __future__ import annotations

import typer

from isolane.cli.deploy import deploy
from isolane.cli.errors import EXIT_CODES_HELP
from isolane.cli.invoke import invoke
from isolane.cli.kv import kv_app
from isolane.cli.logs import logs, tail
from isolane.cli.scripts import ls, ns_app, rm, rollback, versions
from isolane.cli.serve import serve, version
from isolane.cli.session import JsonOption, ProfileOption, TokenOption, UrlOption
from isolane.cli.tokens import token_app
from isolane.cli.usage import usage

app = typer.Typer(
    help="Isolane: run your customers' JavaScript in supervised V8 isolates.",
    epilog=EXIT_CODES_HELP + " Connection: --url / ISOLANE_URL, --token / ISOLANE_TOKEN, or the config file"
    " ($XDG_CONFIG_HOME/isolane/config.toml; ISOLANE_CONFIG overrides). See docs/cli.md.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def connection(url: UrlOption = None, token: TokenOption = None, profile: ProfileOption = None, json_output: JsonOption = False) -> None:
    """Isolane: run your customers' JavaScript in supervised V8 isolates.

    The connection options may come before the command or after it.
    """


app.command()(serve)
app.command()(version)
for _command in (deploy, invoke, tail, logs, ls, rm, versions, rollback, usage):
    app.command()(_command)
app.add_typer(kv_app, name="kv")
app.add_typer(token_app, name="token")
app.add_typer(ns_app, name="ns")


def main() -> None:
    app()
