"""The trust boundary (isolane.sandbox.boundary): what an isolate reports, read as hostile."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from isolane.sandbox import boundary
from isolane.sandbox.boundary import BoundaryViolation, read_state
from isolane.sandbox.engine import Isolate, ScriptError
from isolane.sandbox.hostwork import HostWork
from isolane.sandbox.invocation import Invocation
from isolane.sandbox.limits import Limits


def state(**fields: object) -> str:
    return orjson.dumps({"done": False, **fields}).decode()


def head(**fields: object) -> dict:
    return {"status": 200, "headers": [["content-type", "text/plain"]], "body": {"text": "hi"}, **fields}


def test_a_well_formed_state_is_read() -> None:
    read = read_state(state(response=head(), calls=[{"id": 1, "op": "kv.get", "args": {"key": "k"}}], chunks=["aGk="], next=1.5e12))
    assert read.response is not None and read.response.status == 200 and read.response.body == ("text", "hi")
    assert read.response.to_wire() == {"status": 200, "headers": [["content-type", "text/plain"]], "body": {"text": "hi"}}
    assert [call.op for call in read.calls] == ["kv.get"] and read.chunk_bytes == 2 and read.next_at_ms == 1.5e12
    done = read_state(orjson.dumps({"done": True, "result": "[1]", "error": None, "logs": [{"level": "log", "message": "x", "time": 1}]}).decode())
    assert done.done and done.result == [1] and done.logs == [{"level": "log", "message": "x", "time": 1}]


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '"a string"',
        "[]",
        '{"done": "yes"}',
        state(response="abc"),
        state(response=head(status="abc")),
        state(response=head(status=[1])),
        state(response=head(status=101)),
        state(response=head(status=600)),
        state(response=head(status=True)),
        state(response=head(status=200.5)),
        state(response=head(headers="x")),
        state(response=head(headers=[["bad name", "v"]])),
        state(response=head(headers=[["x-a", "line\r\nbreak"]])),
        state(response=head(headers=[["x-a", "\u0100"]])),
        state(response=head(headers=[["x-a"]])),
        state(response=head(headers=[["x-a", 1]])),
        state(response=head(headers=[["x-a", "v"]] * 300)),
        state(response=head(headers=[["x-a", "v" * 70_000], ["x-b", "v" * 70_000]])),
        state(response=head(body={"base64": "!!"})),
        state(response=head(body={"text": 1})),
        state(response=head(body={"stream": "yes"})),
        state(response=head(body={"text": "x" * (2 * 1024 * 1024)})),
        state(chunks=["not base64!"]),
        state(chunks=[1]),
        state(chunks=["A" * 100_000]),
        state(calls=[{"id": "1", "op": "kv.get"}]),
        state(calls=[{"id": 1, "op": ""}]),
        state(calls="x"),
        state(next="soon"),
        state(next="1e999"),
        orjson.dumps({"done": True, "error": "boom"}).decode(),
        orjson.dumps({"done": True, "result": [1]}).decode(),
        orjson.dumps({"done": True, "result": "{not json"}).decode(),
        orjson.dumps({"done": True, "result": "1" * (1024 * 1024 + 1)}).decode(),
        orjson.dumps({"done": True, "logs": [{"level": "shout", "message": "x", "time": 1}]}).decode(),
        orjson.dumps({"done": True, "logs": [{"level": "log", "message": 1, "time": 1}]}).decode(),
        orjson.dumps({"done": True, "logs": {"level": "log"}}).decode(),
    ],
)
def test_malformed_states_are_refused(text: str) -> None:
    with pytest.raises(BoundaryViolation):
        read_state(text)


def test_logs_and_errors_are_cut_to_their_bounds() -> None:
    logs = [{"level": "log", "message": "m" * 100_000, "time": 1}] * 3 + [{"level": "info", "message": "x", "time": 2}] * 5000
    read = read_state(orjson.dumps({"done": True, "logs": logs, "error": {"name": "E", "message": "z" * 100_000, "stack": None}}).decode())
    assert sum(len(entry["message"]) for entry in read.logs) <= boundary.MAX_LOG_CHARS + boundary.MAX_LOG_MESSAGE_CHARS + 200
    assert len(read.logs) <= boundary.MAX_LOG_ENTRIES + 1 and "dropped" in read.logs[-1]["message"]
    assert read.error is not None and len(read.error["message"]) < boundary.MAX_ERROR_CHARS + 100


def test_a_forged_state_from_a_real_isolate_ends_the_invocation() -> None:
    # The step's result comes from JavaScript; whatever it is, the host refuses it as a
    # boundary violation rather than failing anywhere else.
    async def drive(first_step: str) -> BaseException | None:
        isolate = Isolate()
        isolate.bind(asyncio.get_running_loop(), lambda: None)
        isolate.max_result_bytes = boundary.MAX_STATE_BYTES
        work = HostWork(threads=1)
        try:
            await Invocation(isolate, Limits(), "ns", work).drive(first_step, lambda event: None)
        except (BoundaryViolation, ScriptError) as exc:
            return exc
        finally:
            work.stop()
            isolate.close()
        return None

    forged = ["'{\"done\":false,\"response\":{\"status\":\"abc\"}}'", "42", "'x'.repeat(50 * 1024 * 1024)"]
    for step in forged:
        assert isinstance(asyncio.run(drive(step)), BoundaryViolation), step
    # Not a primitive at all: the engine refuses it before the boundary reads it.
    assert isinstance(asyncio.run(drive("({})")), ScriptError)
