"""`isolane invoke`: call a script's fetch handler and print its response, like curl."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from isolane.cli.errors import UsageError
from isolane.cli.session import Session, api_failure, client_command, split_target


def request_body(data: str | None) -> bytes | None:
    """-d DATA, -d @FILE, or -d @- for stdin (as in curl)."""
    if data is None:
        return None
    if data == "@-":
        return sys.stdin.buffer.read()
    if data.startswith("@"):
        path = Path(data[1:])
        if not path.is_file():
            raise UsageError(f"no such file: {path}")
        return path.read_bytes()
    return data.encode()


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
    (the script threw or exceeded a limit, no such script, rate limited) it prints the
    error and exits with its code.
    """
    from isolane.client import platform_error

    ns, name = split_target(target)
    body = request_body(data)
    verb = (method or ("POST" if body is not None else "GET")).upper()
    with session.client() as client:
        response = client.invoke(ns, name, path, method=verb, content=body, headers=parse_headers(header))
    error = platform_error(response)
    if session.out.json:
        session.out.data(
            {
                "status": response.status_code,
                "headers": dict(response.headers),
                "body": response.text,
                "invocation_id": response.headers.get("x-isolane-invocation"),
                "outcome": response.headers.get("x-isolane-outcome"),
            }
        )
    else:
        if include:
            head = [f"HTTP/1.1 {response.status_code} {response.reason_phrase}"]
            head += [f"{key}: {value}" for key, value in response.headers.items()]
            sys.stdout.write("\n".join(head) + "\n\n")
        if error is None or include:
            sys.stdout.buffer.write(response.content)
            sys.stdout.flush()
    if error is not None:
        raise api_failure(session, error)
