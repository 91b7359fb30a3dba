"""Benchmark of the start-up walk that keeps the data dir owner-only (store/permissions.py):
how long `secure_data_dir` takes over a data dir with N blob files, when everything is open
(an older version's 0755/0644, all corrected) and when everything is already private (every
later start).

Prints one line per case. Run: `python bench/data_dir.py [--blobs 20000]`.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path

from isolane.store.permissions import secure_data_dir


def make_data_dir(root: Path, blobs: int) -> None:
    """A data dir as an older version left it: blobs in their fan-out directories, 0755/0644."""
    previous = os.umask(0o022)
    try:
        for n in range(blobs):
            digest = hashlib.sha256(str(n).encode()).hexdigest()
            directory = root / "blobs" / "sha256" / digest[:2]
            directory.mkdir(parents=True, exist_ok=True)
            (directory / digest).write_bytes(b"export default {}")
        (root / "isolane.db").write_bytes(b"")
    finally:
        os.umask(previous)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blobs", type=int, default=20_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the correction's warning is not the point here
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        make_data_dir(root, args.blobs)
        for case in ("open (0755/0644)", "already private", "already private"):
            started = time.perf_counter()
            found = secure_data_dir(root)
            elapsed = time.perf_counter() - started
            print(
                f"{case:<18} {found.checked:>7} entries checked, {len(found.corrected):>7} corrected"
                f" in {elapsed * 1000:6.0f} ms ({elapsed / found.checked * 1e6:.1f} µs an entry)"
            )


if __name__ == "__main__":
    main()
