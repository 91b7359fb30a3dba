"""`isolane tail` (live) and `isolane logs` (stored): a script's invocation records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from isolane.cli.errors import UsageError
from isolane.cli.output import Output, style_outcome
from isolane.cli.session import Session, client_command, split_target
from isolane.sandbox.outcomes import OUTCOME_NAMES

if TYPE_CHECKING:
    from isolane.client import InvocationRecord, TailDropped


def print_record(out: Output, record: InvocationRecord) -> None:
    """One record: a line of figures, then its logs and error indented."""
    if out.json:
        out.data(record, compact=True)
        return
    when = record.started_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    status = str(record.status) if record.status is not None else "-"
    if out.tty:
        out.rich(
            f"[dim]{when}[/] {style_outcome(record.outcome)} {status} [dim]{escape(record.trigger)}[/]"
            f" cpu {record.cpu_ms:.1f} ms wall {record.wall_ms:.1f} ms [dim]{record.id}[/]"
        )
    else:
        out.text(f"{when} {record.outcome} {status} {record.trigger} cpu {record.cpu_ms:.1f} ms wall {record.wall_ms:.1f} ms {record.id}")
    for log in record.logs:
        if out.tty:
            out.rich(f"  [dim]\\[{escape(log.level)}][/] {escape(log.message)}")
        else:
            out.text(f"  [{log.level}] {log.message}")
    if record.error is not None:
        line = f"{record.error.name or 'Error'}: {record.error.message or ''}"
        if out.tty:
            out.rich(f"  [red]{escape(line)}[/]")
        else:
            out.text(f"  {line}")


def print_dropped(out: Output, dropped: TailDropped) -> None:
    """The server dropped records for this slow consumer: a notice, or with --json a line
    `{"event": "dropped", ...}` among the records (which have no "event" key)."""
    if out.json:
        out.data({"event": "dropped", "dropped": dropped.dropped, "total_dropped": dropped.total_dropped}, compact=True)
    else:
        out.notice(f"[yellow]{dropped.dropped} records dropped (this consumer was too slow; {dropped.total_dropped} in all)[/]")


@client_command
def tail(
    session: Session,
    target: Annotated[str, typer.Argument(metavar="NS/NAME", help="The script.", show_default=False)],
    outcome: Annotated[list[str], typer.Option("--outcome", help=f"Only these outcomes (repeatable): {OUTCOME_NAMES}.", show_default=False)] = [],  # noqa: B006
    sample: Annotated[float | None, typer.Option("--sample", help="Fraction of invocations to show, 0 < F <= 1.", show_default=False)] = None,
) -> None:
    """Show a script's invocations live as they complete, until Ctrl-C.

    With --json, one JSON object per line: a record (as `GET /v1/invocations/{id}` shows
    it), or {"event": "dropped", "dropped": N, "total_dropped": M} when the server dropped
    records for this slow consumer. Exits 5 when the server ends the stream (3 when because
    the token was revoked).
    """
    from isolane.client import AuthenticationError, IsolaneError, StreamClosed, TailConnected, TailDropped

    ns, name = split_target(target)
    if sample is not None and not 0 < sample <= 1:
        raise UsageError(f"--sample is a fraction greater than 0 and at most 1, e.g. 0.1; got {sample:g}")
    with session.client() as client:
        try:
            for event in client.tail(ns, name, outcome=outcome or None, sample=sample):
                if isinstance(event, TailConnected):
                    session.out.notice(f"[dim]Tailing {escape(ns)}/{escape(name)}; Ctrl-C to stop.[/]")
                elif isinstance(event, TailDropped):
                    print_dropped(session.out, event)
                else:
                    print_record(session.out, event)
        except KeyboardInterrupt:
            return
        except StreamClosed as closed:
            try:  # the server also ends a tail whose token was revoked: then this is refused
                client.get_script(ns, name)
            except AuthenticationError as refused:
                raise AuthenticationError(
                    f"the server ended the live tail: the token was refused ({refused.message})", status=refused.status, code=refused.code
                ) from None
            except IsolaneError:
                pass
            raise closed from None


@client_command
def logs(
    session: Session,
    target: Annotated[str, typer.Argument(metavar="NS/NAME", help="The script.", show_default=False)],
    outcome: Annotated[str | None, typer.Option("--outcome", help=f"Only this outcome: {OUTCOME_NAMES}.", show_default=False)] = None,
    trigger: Annotated[str | None, typer.Option("--trigger", help="Only this trigger: fetch, cron, ...", show_default=False)] = None,
    since: Annotated[str | None, typer.Option("--since", help="ISO 8601 time, e.g. 2026-11-27T18:00:00Z.", show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="How many of the newest records.")] = 20,
) -> None:
    """Show a script's recent invocation records, oldest first (--json: the API's page, newest first)."""
    ns, name = split_target(target)
    with session.client() as client:
        page = client.list_invocations(ns, name, outcome=outcome, trigger=trigger, since=since, limit=limit)
    if session.out.json:
        session.out.data(page.items)
        return
    if not page.items:
        session.out.notice("No invocation records match.")
    for record in reversed(page.items):
        print_record(session.out, record)
