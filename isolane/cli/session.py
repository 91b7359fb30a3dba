"""What every client command shares: where to connect, with which token, how to print and
how failures end the process. `client_command` adds the connection options to a command."""

from __future__ import annotations

import functools
import inspect
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.markup import escape

from isolane.cli.config import ConfigError, config_path, read_config
from isolane.cli.errors import Exit, UsageError, exit_code, hint
from isolane.cli.output import Output

if TYPE_CHECKING:
    from isolane.client import Client, IsolaneError

# The client is imported when a command runs, so `isolane serve` never loads it.
DEFAULT_URL = "http://127.0.0.1:8787"  # the client's default too (a test checks)

F = TypeVar("F", bound=Callable[..., Any])

UrlOption = Annotated[str | None, typer.Option("--url", envvar="ISOLANE_URL", help=f"Server URL (default: {DEFAULT_URL}).", show_default=False)]
TokenOption = Annotated[str | None, typer.Option("--token", envvar="ISOLANE_TOKEN", help="API token.", show_default=False)]
ProfileOption = Annotated[str | None, typer.Option("--profile", envvar="ISOLANE_PROFILE", help="Profile of the config file.", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]

_OPTION_NAMES = ("url", "token", "profile", "json_output")
_ENV_NAMES = {"url": "ISOLANE_URL", "token": "ISOLANE_TOKEN"}


@dataclass
class Session:
    url: str
    token: str | None
    url_source: str
    token_source: str
    config_path: Path
    out: Output

    def client(self) -> Client:
        from isolane.client import Client

        return Client(self.url, self.token)


def _given(ctx: typer.Context | None, name: str) -> tuple[Any, str] | None:
    """The option's value and where it came from, if a flag (after the command or before
    it: `isolane --url U ls`) or its environment variable set it; a flag wins."""
    contexts = []
    while ctx is not None:
        contexts.append(ctx)
        ctx = ctx.parent  # type: ignore[assignment]
    for wanted in ("COMMANDLINE", "ENVIRONMENT"):
        for context in contexts:
            value = context.params.get(name)
            if value not in (None, False) and getattr(context.get_parameter_source(name), "name", None) == wanted:
                return value, f"--{name.removesuffix('_output')}" if wanted == "COMMANDLINE" else _ENV_NAMES.get(name, name)
    return None


def open_session(ctx: typer.Context) -> Session:
    json_mode = _given(ctx, "json_output") is not None
    out = Output(json_mode)
    path, named = config_path()
    profile = _given(ctx, "profile")
    try:
        config = read_config(path, profile[0] if profile else None, required=named)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    found: dict[str, tuple[str | None, str]] = {}
    for name in ("url", "token"):
        given = _given(ctx, name)
        if given is not None:
            found[name] = given
        elif name == "token" and os.environ.get("ISOLANE_ADMIN_TOKEN"):
            # The variable the server takes its admin token from (the README exports it).
            found[name] = (os.environ["ISOLANE_ADMIN_TOKEN"], "ISOLANE_ADMIN_TOKEN")
        elif name in config:
            found[name] = (config[name], str(path))
        else:
            found[name] = (None, "the default")
    url = (found["url"][0] or DEFAULT_URL).rstrip("/")
    return Session(url, found["token"][0], found["url"][1], found["token"][1], path, out)


def fail(
    session_or_out: Session | Output,
    message: str,
    code: Exit,
    *,
    error_code: str = "error",
    next_step: str | None = None,
    status: int | None = None,
    details: dict[str, Any] | None = None,
) -> typer.Exit:
    out = session_or_out.out if isinstance(session_or_out, Session) else session_or_out
    if out.json:
        body: dict[str, Any] = {**(details or {}), "code": error_code, "message": message, "status": status}
        if next_step:
            body["hint"] = next_step
        sys.stderr.write(json.dumps({"error": body}) + "\n")
    else:
        label = f"{message} [{error_code}]" if status is not None or error_code not in ("error", "usage_error") else message
        out.stderr.print(f"[bold red]error:[/] {escape(label)}", markup=True, highlight=False)
        if next_step:
            out.stderr.print(f"[yellow]hint:[/] {escape(next_step)}", markup=True, highlight=False)
    return typer.Exit(int(code))


def _unsaid_details(error: IsolaneError) -> dict[str, Any]:
    """The error's details worth adding to its message: those it does not already say (the
    server often writes `main.js:1:25: ...` and also sends line, column and module)."""
    shown = {key: error.details[key] for key in ("line", "column", "module", "quota", "limit", "binding") if error.details.get(key) is not None}
    line, column = shown.get("line"), shown.get("column")
    if line is not None and (f"{line}:{column}" in error.message or f"line {line}, column {column}" in error.message):
        shown.pop("line")
        shown.pop("column", None)
    return {key: value for key, value in shown.items() if key in ("line", "column") or str(value) not in error.message}


def api_failure(session: Session, error: IsolaneError, *, next_step: str | None = None) -> typer.Exit:
    """Print an API error (its hint: `next_step`, else the usual one) and the exit to raise."""
    message = error.message
    unsaid = _unsaid_details(error)
    if unsaid:
        message += " (" + ", ".join(f"{key} {value}" for key, value in unsaid.items()) + ")"
    return fail(
        session, message, exit_code(error), error_code=error.code, next_step=next_step or hint(error, session),
        status=error.status, details=error.details,
    )  # fmt: skip


def client_command(func: F) -> F:
    """Give a command --url, --token, --profile and --json, and turn its failures into
    messages and exit codes. The command takes the `Session` as its first argument."""
    signature = inspect.signature(func, eval_str=True)
    own = [parameter for parameter in signature.parameters.values() if parameter.name != "session"]
    extra = [
        inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context),
        inspect.Parameter("url", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=UrlOption),
        inspect.Parameter("token", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=TokenOption),
        inspect.Parameter("profile", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ProfileOption),
        inspect.Parameter("json_output", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=JsonOption),
    ]

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        from isolane.client import IsolaneError

        ctx: typer.Context = kwargs.pop("ctx")
        for name in _OPTION_NAMES:
            kwargs.pop(name, None)
        out = Output(_given(ctx, "json_output") is not None)
        try:
            session = open_session(ctx)
        except UsageError as exc:
            raise fail(out, str(exc), Exit.USAGE, error_code="usage_error") from None
        try:
            return func(session, **kwargs)
        except IsolaneError as error:
            raise api_failure(session, error) from None
        except UsageError as exc:
            raise fail(session, str(exc), Exit.USAGE, error_code="usage_error") from None
        except KeyboardInterrupt:
            raise typer.Exit(int(Exit.INTERRUPTED)) from None

    command.__signature__ = signature.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
    return command  # type: ignore[return-value]


def split_target(target: str) -> tuple[str, str]:
    """NS/NAME -> (NS, NAME)."""
    ns, slash, name = target.partition("/")
    if not slash or not ns or not name or "/" in name:
        raise UsageError(f"expected NAMESPACE/SCRIPT, e.g. default/hello; got {target!r}")
    return ns, name
