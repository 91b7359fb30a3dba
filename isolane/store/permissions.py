"""The data dir is the server's alone: the directory and every directory under it 0700,
every file 0600 (the database and its -wal/-shm/-journal files, the secrets key, blobs).

Files are created owner-only wherever they are made (`private_file`, `private_dir`, and
SQLite copies the database file's mode to its -wal, -shm and -journal files); `isolane
serve` also sets the umask to 0077, so whatever else a library may write there is too.
An existing data dir made by an older version (0755/0644) is corrected at start by
`secure_data_dir`: one walk that only changes what gives group or others any access.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
OPEN_TO_OTHERS = 0o077  # group and other bits: none may be set
PRIVATE_UMASK = 0o077  # `isolane serve`'s umask
EXAMPLES_LOGGED = 5


def private_dir(path: Path) -> None:
    """Create `path` (not its parents) with mode 0700 unless it exists."""
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        pass


def private_file(path: Path) -> None:
    """Create `path` as an empty file with mode 0600 unless it exists (SQLite then opens
    it as an empty database and gives its -wal and -shm files the same mode)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


@dataclass
class Corrections:
    """What `secure_data_dir` found: entries checked, corrected and left as they were."""

    checked: int = 0
    corrected: list[tuple[str, int, int]] = field(default_factory=list)  # (path, before, after)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def secure_data_dir(data_dir: Path) -> Corrections:
    """Create the data dir 0700 (its parents as the umask says), then remove group and
    other access from it and from everything under it; logs a warning when it changed
    anything. Symbolic links are not followed (nor changed): what they point to is not
    the data dir's."""
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    private_dir(data_dir)
    found = Corrections()
    _correct(str(data_dir), os.stat(data_dir).st_mode, found)
    pending = [str(data_dir)]
    while pending:
        directory = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            found.failed.append((directory, exc.strerror or str(exc)))
            continue
        for entry in entries:
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError as exc:  # removed meanwhile (a blob's temporary file)
                if not isinstance(exc, FileNotFoundError):
                    found.failed.append((entry.path, exc.strerror or str(exc)))
                continue
            if stat.S_ISLNK(mode):
                continue
            _correct(entry.path, mode, found)
            if stat.S_ISDIR(mode):
                pending.append(entry.path)
    _report(data_dir, found)
    return found


def _correct(path: str, mode: int, found: Corrections) -> None:
    found.checked += 1
    if not mode & OPEN_TO_OTHERS:
        return
    wanted = stat.S_IMODE(mode) & ~OPEN_TO_OTHERS
    try:
        os.chmod(path, wanted)  # not a symbolic link: checked by the caller
    except OSError as exc:  # e.g. owned by another user
        found.failed.append((path, exc.strerror or str(exc)))
        return
    found.corrected.append((path, stat.S_IMODE(mode), wanted))


def _report(data_dir: Path, found: Corrections) -> None:
    if found.corrected:
        examples = ", ".join(
            f"{os.path.relpath(path, data_dir)} ({before:04o} -> {after:04o})" for path, before, after in found.corrected[:EXAMPLES_LOGGED]
        )
        more = len(found.corrected) - EXAMPLES_LOGGED
        log.warning(
            "the data dir %s was open to other users: removed group and other access from %d entries: %s%s",
            data_dir,
            len(found.corrected),
            examples,
            f" and {more} more" if more > 0 else "",
        )
    for path, why in found.failed[:EXAMPLES_LOGGED]:
        log.warning("cannot make %s private to this user: %s (fix its owner or mode by hand)", path, why)
    if len(found.failed) > EXAMPLES_LOGGED:
        log.warning("and %d more entries of the data dir %s could not be checked or corrected", len(found.failed) - EXAMPLES_LOGGED, data_dir)
