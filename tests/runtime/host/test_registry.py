"""The host-operation registry: how results and failures are reported to JavaScript."""

from __future__ import annotations

from isolane.runtime import host


def test_results_and_failures_are_reported_never_raised() -> None:
    @host.register("test.sum")
    def add(args: dict) -> int:
        if "boom" in args:
            raise RuntimeError("a bug in an operation")
        if "refuse" in args:
            raise host.HostError("DataError", "refused")
        return sum(args["values"])

    try:
        assert host.perform("test.sum", {"values": [1, 2, 3]}) == (True, 6)
        assert host.perform("test.sum", {"refuse": 1}) == (False, {"name": "DataError", "message": "refused"})
        assert host.perform("test.sum", {"boom": 1}) == (False, {"name": "OperationError", "message": "test.sum failed"})
        assert host.perform("test.sum", [1, 2]) == (False, {"name": "TypeError", "message": "test.sum: arguments must be an object"})
        assert host.perform("test.nothing", {})[1]["name"] == "NotSupportedError"
    finally:
        del host.OPERATIONS["test.sum"]

