"""Escape drills' entry point (tests only): a process started exactly as an executor is,
by the same `Jail`, that locks itself down at the same point and then runs an attacker's
payload (Python, from stdin) as code running inside an executor after a V8 escape would.

The payload leaves its findings in `result` (anything JSON can hold), printed on stdout.
Run by tests/sandbox/confinement/test_escape_drills.py; the server never starts it."""

from __future__ import annotations

import json
import os
import sys

from isolane.sandbox.confinement import lockdown


def main() -> None:
    instructions = lockdown.Instructions.from_env(os.environ.get(lockdown.ENV))
    lockdown.begin(instructions)
    payload = sys.stdin.read()
    # What the executor has loaded when it locks itself down: V8, the event loop, the runtime.
    import py_mini_racer  # noqa: F401
    import uvloop  # noqa: F401

    import isolane.sandbox.executor  # noqa: F401

    if instructions is not None:
        lockdown.apply(instructions)
    scope: dict[str, object] = {"__name__": "drill"}
    exec(compile(payload, "<payload>", "exec"), scope)  # noqa: S102 - the drill's purpose
    sys.stdout.write(json.dumps(scope.get("result"), default=str))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
