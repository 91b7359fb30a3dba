"""What commands read from files and stdin: a file's bytes, or a usage error that names it."""

from __future__ import annotations

import sys
from pathlib import Path

from isolane.cli.errors import UsageError


def read_file(path: Path) -> bytes:
    """The file's bytes; a missing or unreadable file is a usage error (exit 2)."""
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc


def read_stdin() -> bytes:
    return sys.stdin.buffer.read()


def data_argument(data: str) -> bytes:
    """curl's -d forms: DATA, @FILE, or @- for stdin."""
    if data == "@-":
        return read_stdin()
    if data.startswith("@"):
        return read_file(Path(data[1:]))
    return data.encode()
