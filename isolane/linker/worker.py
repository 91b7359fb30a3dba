"""A link worker: a process of its own that links uploads one at a time for the server.

`python -m isolane.linker.worker --memory-mb N` reads jobs on stdin and answers on stdout
(linker/wire.py). Linking a large upload is seconds of CPU that holds the GIL (tree-sitter
parses without releasing it), so it cannot run in the server's process without stalling
every other request; here it runs at a lower CPU priority, under a memory ceiling
(RLIMIT_AS, which Bun inherits), and the server kills the whole process group when a job
overruns its time bound (linker/pool.py). The worker dies with the server (parent-death
signal) and holds none of its secrets: it starts with a scrubbed environment.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import resource
import signal
import sys
import traceback
from typing import Any, BinaryIO

import orjson

from isolane.linker import wire
from isolane.linker.bundler import BundlerUnavailable
from isolane.linker.errors import LinkError
from isolane.linker.link import link

NICENESS = 10  # uploads are batch work: invocations come first on a busy machine
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _confine(memory_mb: int) -> None:
    _die_with_parent()
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    ceiling = memory_mb * 1024 * 1024
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size > 0:
        chunk = stream.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _answer(header: dict[str, Any], payload: bytes) -> bytes:
    modules, main = wire.read_job(header, payload)
    try:
        return wire.linked(asyncio.run(link(modules, main)))
    except LinkError as error:
        return wire.link_error(error)
    except BundlerUnavailable as exc:
        return wire.unavailable(str(exc))


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    while True:
        prefix = _read_exactly(stdin, wire.PREFIX)
        if prefix is None:
            return  # the server closed the pipe: done
        encoded = _read_exactly(stdin, wire.header_length(prefix))
        header = orjson.loads(encoded) if encoded is not None else None
        payload = _read_exactly(stdin, wire.job_payload_size(header)) if header is not None else None
        if payload is None:
            return  # cut off mid-job: the server has given up on this worker
        try:
            answer = _answer(header, payload)
        except MemoryError:
            raise  # over the ceiling: die without answering, and the server says so (link_failed)
        except Exception:  # a bug: say so, and stay up for the next job
            traceback.print_exc(file=sys.stderr)
            answer = wire.unavailable("the link worker failed")
        stdout.write(answer)
        stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description="Link uploads for an Isolane server (started by it).")
    parser.add_argument("--memory-mb", type=int, required=True)
    arguments = parser.parse_args()
    _confine(arguments.memory_mb)
    serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
