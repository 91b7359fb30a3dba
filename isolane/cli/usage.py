"""`isolane usage`: a namespace's invocations, errors and time, per script."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from isolane.cli.session import Session, client_command

if TYPE_CHECKING:
    from isolane.client import UsageFigures


def _errors(figures: UsageFigures) -> int:
    return sum(figures.errors.values())


@client_command
def usage(
    session: Session,
    namespace: Annotated[str, typer.Argument(help="The namespace.", show_default=False)],
    since: Annotated[str | None, typer.Option("--since", help="ISO 8601 (default: 24 hours before --until).", show_default=False)] = None,
    until: Annotated[str | None, typer.Option("--until", help="ISO 8601 (default: now).", show_default=False)] = None,
    script: Annotated[str | None, typer.Option("--script", help="Only this script.", show_default=False)] = None,
) -> None:
    """Show a namespace's usage over whole hours: invocations, errors, CPU and wall time."""
    with session.client() as client:
        report = client.get_usage(namespace, since=since, until=until, script=script)
    if session.out.json:
        session.out.data(report)
        return
    rows = [(item.script, item.invocations, _errors(item), f"{item.cpu_ms:.1f}", f"{item.wall_ms:.1f}", item.subrequests) for item in report.scripts or []]
    totals = report.totals
    rows.append(("(total)", totals.invocations, _errors(totals), f"{totals.cpu_ms:.1f}", f"{totals.wall_ms:.1f}", totals.subrequests))
    title = f"Usage of {namespace}{' / ' + script if script else ''}, {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC"
    if not session.out.tty:
        session.out.notice(title)
    session.out.table(["script", "invocations", "errors", "cpu ms", "wall ms", "subrequests"], rows, title=title if session.out.tty else None)
