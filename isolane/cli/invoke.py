"""`isolane invoke`: call a script's fetch handler and print its response, like curl."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from isolane.cli.errors import UsageError, script_failed
from isolane.cli.inputs import data_argument
from isolane.cli.session import Session, api_failure, client_command, split_target

if TYPE_CHECKING:
    from isolane.client import IsolaneError

_LIMITS = {"exceededCpu": "CPU time", "exceededMemory": "memory", "exceededWallTime": "wall-clock time"}


def failed_run_hint(target: str, error: IsolaneError) -> str:
    """Where to read why the script's run failed: its record, by id and by outcome."""
    outcome = str(error.details.get("outcome", "exception"))
    record = f"`isolane logs {target} --outcome {outcome}` shows the run (invocation {error.details.get('invocation_id')})"
    if outcome in _LIMITS:
        return f"the run went over its {_LIMITS[outcome]} limit; {record}; an admin can raise the namespace's limits"
    if outcome == "canceled":
        return f"the platform canceled the run; {record}"
    return f"{record} with its console output and stack"


def parse_headers(values: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for value in values:
        key, colon, rest = value.partition(":")
        if not colon or not key.strip():
            raise UsageError(f"-H takes 'Name: value', got {value!r}")
        headers[key.strip()] = rest.strip()
    return headers


@client_command
def invoke(
    session: Session,
    target: Annotated[str, typer.Argument(metavar="NS/NAME", help="The script.", show_default=False)],
    path: Annotated[str, typer.Argument(help="Path (and ?query) the script sees, e.g. /greet?name=ada.")] = "/",
    method: Annotated[str | None, typer.Option("--request", "-X", help="HTTP method (default: GET, POST with -d).", show_default=False)] = None,
    data: Annotated[str | None, typer.Option("--data", "-d", help="Request body: DATA, @FILE or @- (stdin).", show_default=False)] = None,
    header: Annotated[list[str], typer.Option("--header", "-H", help="A request header 'Name: value' (repeatable).", show_default=False)] = [],  # noqa: B006
    include: Annotated[bool, typer.Option("--include", "-i", help="Print the response's status line and headers first.")] = False,
) -> None:
    """Invoke a script's fetch handler and print the response body.

    Exits 0 whenever the script answered, whatever the status; when Isolane itself answered
    it prints the error and exits with its code: 6 when the script threw or exceeded a
    limit, 4 for no such script, 1 when rate limited. Your token is not sent to the script.
    """
    from isolane.client import platform_error

    ns, name = split_target(target)
    body = data_argument(data) if data is not None else None
    verb = (method or ("POST" if body is not None else "GET")).upper()
    with session.client() as client:
        try:
            response = client.invoke(ns, name, path, method=verb, content=body, headers=parse_headers(header))
        except ValueError as exc:  # a `..` in the path: it would leave the script's URL
            raise UsageError(str(exc)) from None
    error = platform_error(response)
    if session.out.json:
        if error is None:  # on an error stdout stays empty: the error is the JSON on stderr
            session.out.data(
                {
                    "status": response.status_code,
                    "headers": dict(response.headers),
                    "body": response.text,
                    "invocation_id": response.headers.get("x-isolane-invocation"),
                    "outcome": response.headers.get("x-isolane-outcome"),
                }
            )
    elif include or error is None:  # -i shows Isolane's error answer too, as curl -i would
        if include:
            head = [f"HTTP/1.1 {response.status_code} {response.reason_phrase}"]
            head += [f"{key}: {value}" for key, value in response.headers.items()]
            sys.stdout.write("\n".join(head) + "\n\n")
        sys.stdout.buffer.write(response.content)
        sys.stdout.flush()
    if error is not None:
        if script_failed(error) and not session.out.json:
            show_thrown(session, error)
        raise api_failure(session, error, next_step=failed_run_hint(target, error) if script_failed(error) else None)


RECORD_WAIT_SECONDS = 2.0  # records are stored in batches, ~50 ms after the run


def show_thrown(session: Session, error: IsolaneError) -> None:
    """What the script threw, with its stack mapped to the uploaded modules, from the run's
    record (the caller's HTTP answer stays opaque: docs/scripts.md). Nothing if the record
    cannot be read (a token that may invoke may not read records)."""
    from isolane.client import IsolaneError as ClientError
    from isolane.client import NotFound

    invocation_id = error.details.get("invocation_id")
    if error.details.get("outcome") != "exception" or not invocation_id:
        return
    deadline = time.monotonic() + RECORD_WAIT_SECONDS
    with session.client() as client:
        while True:
            try:
                record = client.get_invocation(str(invocation_id))
                break
            except NotFound:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.05)
            except ClientError:
                return
    thrown = record.error
    if thrown is None:
        return
    text = thrown.stack or f"{thrown.name or 'Error'}: {thrown.message or ''}"
    session.out.stderr.print(text, markup=False, highlight=False)
