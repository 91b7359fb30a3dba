"""How commands print: rich tables and colour on a terminal, tab-separated text when piped,
JSON with --json. Results go to stdout; progress, notices and errors to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

OUTCOME_STYLES = {"ok": "green", "exception": "red", "canceled": "yellow"}


def jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):  # a pydantic model of the client
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def short_time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


class Output:
    def __init__(self, json_mode: bool) -> None:
        self.json = json_mode
        self.stdout = Console(highlight=False, soft_wrap=True)
        self.stderr = Console(stderr=True, highlight=False, soft_wrap=True)
        self.tty = self.stdout.is_terminal

    def data(self, value: Any, *, compact: bool = False) -> None:
        """JSON on stdout (one line when `compact`)."""
        text = json.dumps(jsonable(value), separators=(",", ":") if compact else None, indent=None if compact else 2, ensure_ascii=False)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def text(self, message: str) -> None:
        """A plain line on stdout (never markup)."""
        sys.stdout.write(message + "\n")
        sys.stdout.flush()

    def rich(self, markup: str) -> None:
        """A line of rich markup on stdout when it is a terminal (styles dropped otherwise)."""
        self.stdout.print(markup)

    def notice(self, markup: str) -> None:
        if not self.json:
            self.stderr.print(markup)

    def deleted(self, fields: dict[str, Any], notice: str) -> None:
        """A finished deletion: its fields with `"deleted": true` as JSON, else a notice."""
        if self.json:
            self.data({**fields, "deleted": True})
        else:
            self.notice(escape(notice))

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None) -> None:
        cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
        if not self.tty:
            self.text("\t".join(column.upper() for column in columns))
            for row in cells:
                self.text("\t".join(row))
            return
        table = Table(title=title, header_style="bold", title_justify="left")
        for column in columns:
            table.add_column(column, overflow="fold")  # ids stay whole, folded if need be
        for row in cells:
            table.add_row(*(escape(cell) for cell in row))
        self.stdout.print(table)

    @contextmanager
    def status(self, message: str) -> Iterator[None]:
        """A spinner on stderr while a long operation runs, when stderr is a terminal."""
        if self.json or not self.stderr.is_terminal:
            with nullcontext():
                yield
            return
        with self.stderr.status(message):
            yield


def style_outcome(outcome: str) -> str:
    return f"[{OUTCOME_STYLES.get(outcome, 'red')}]{escape(outcome)}[/]"
