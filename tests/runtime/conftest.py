"""Helpers for runtime tests: run a script in the real server and get its result, or reach
the runtime's internal functions (those the dispatcher uses) in an isolate of our own."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from isolane.runtime import prelude_source
from isolane.sandbox.engine import Isolate
from isolane.sandbox.isolates import DOORBELL_GLOBAL
from tests.conftest import run_js


@pytest.fixture()
def js(admin: httpx.Client) -> Callable[[str], Any]:
    """Run a script through the server; return its completion value (promises awaited)."""

    def run(code: str) -> Any:
        body = run_js(admin, code)
        assert body["outcome"] == "ok", body
        return body["result"]

    return run


class InternalsIsolate:
    """An isolate whose prelude also defines `internal(name)`, returning the runtime's
    private top-level binding of that name: for testing functions scripts cannot reach."""

    HOOK = "\nglobalThis.internal = (name) => eval(name);\n})();\n//# sourceURL"

    def __init__(self) -> None:
        source = prelude_source()
        assert source.count("\n})();\n//# sourceURL") == 1
        self.isolate = Isolate()
        self.isolate.install_doorbell(DOORBELL_GLOBAL)
        self.isolate.eval_blocking(source.replace("\n})();\n//# sourceURL", self.HOOK))

    def run(self, code: str) -> Any:
        """The JSON value of `code`'s completion value, promises awaited; errors re-raised."""
        self.isolate.eval_blocking(
            "globalThis.__outcome = undefined;"
            f"Promise.resolve((0, eval)({json.dumps(code)})).then("
            "  (value) => { __outcome = JSON.stringify({ value: value === undefined ? null : value }); },"
            "  (error) => { __outcome = JSON.stringify({ error: String(error) }); });"
            "undefined;"
        )
        for _ in range(1000):
            outcome = self.isolate.eval_blocking("globalThis.__outcome")
            if outcome is not None:
                decoded = json.loads(outcome)
                if "error" in decoded:
                    raise AssertionError(f"the script failed: {decoded['error']}")
                return decoded["value"]
        raise AssertionError("the script's promise never settled")

    def close(self) -> None:
        self.isolate.close()


@pytest.fixture(scope="module")
def internals() -> Iterator[InternalsIsolate]:
    isolate = InternalsIsolate()
    yield isolate
    isolate.close()
