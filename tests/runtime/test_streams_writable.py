"""WritableStream, TransformStream, pipeTo/pipeThrough (WHATWG Streams §4.9, §5, §6) and
TextEncoderStream/TextDecoderStream (WHATWG Encoding §7), checked in a real isolate. Cases
follow the standards and the ideas of the Web Platform Tests (streams/writable-streams,
streams/transform-streams, streams/piping, encoding/streams)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import deploy, invoke

JS = Callable[[str], Any]

# Helpers every script below starts with: settle(p) describes how a promise ends, without
# waiting for it; tick() lets every pending reaction and timer of the moment run.
HELPERS = """
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const outcome = (promise) => promise.then((v) => ["ok", v === undefined ? null : v], (e) => ["error", e instanceof Error || e instanceof DOMException ? e.name : e]);
const watch = (promise) => { const state = { now: "pending" }; promise.then(() => { state.now = "fulfilled"; }, () => { state.now = "rejected"; }); return state; };
const readAll = async (readable) => { const out = []; for await (const chunk of readable) out.push(chunk); return out; };
"""


def run(js: JS, body: str) -> Any:
    return js(f"(async () => {{ {HELPERS}\n{body} }})()")


# ---- WritableStream


def test_writes_reach_the_sink_in_order_then_close(js: JS) -> None:
    result = run(
        js,
        """
        const calls = [];
        let startController;
        const stream = new WritableStream({
          start(controller) { startController = controller; calls.push("start"); },
          write(chunk, controller) { calls.push(["write", chunk, controller === startController]); },
          close() { calls.push("close"); },
        });
        const writer = stream.getWriter();
        const writes = [writer.write("a"), writer.write("b")];
        const closed = writer.close();
        const results = await Promise.all([...writes.map(outcome), outcome(closed), outcome(writer.closed)]);
        return {
          calls, results, locked: stream.locked, desiredSize: writer.desiredSize,
          afterClose: await outcome(writer.write("late")),
          controllerShape: [startController instanceof WritableStreamDefaultController, startController.signal instanceof AbortSignal],
        };
        """,
    )
    assert result == {
        "calls": ["start", ["write", "a", True], ["write", "b", True], "close"],
        "results": [["ok", None]] * 4,
        "locked": True,
        "desiredSize": 0,
        "afterClose": ["error", "TypeError"],
        "controllerShape": [True, True],
    }


def test_a_slow_sink_applies_backpressure(js: JS) -> None:
    result = run(
        js,
        """
        const pending = [];
        const stream = new WritableStream({
          write(chunk) { return new Promise((resolve) => pending.push(resolve)); },
        }, new CountQueuingStrategy({ highWaterMark: 2 }));
        const writer = stream.getWriter();
        const sizes = [writer.desiredSize];
        await tick(); // started
        writer.write("a");
        sizes.push(writer.desiredSize);
        writer.write("b");
        sizes.push(writer.desiredSize);
        const ready = watch(writer.ready);
        writer.write("c");
        sizes.push(writer.desiredSize);
        await tick();
        const readyWhileFull = ready.now;
        pending.shift()(); // "a" written: "b" goes to the sink, one chunk still waits
        await tick();
        sizes.push(writer.desiredSize);
        const readyAfterOne = ready.now;
        pending.shift()();
        await tick();
        sizes.push(writer.desiredSize);
        return { sizes, readyWhileFull, readyAfterOne, readyAfterTwo: ready.now };
        """,
    )
    # The chunk being written still counts against the high-water mark.
    assert result == {
        "sizes": [2, 1, 0, -1, 0, 1],
        "readyWhileFull": "pending",
        "readyAfterOne": "pending",
        "readyAfterTwo": "fulfilled",
    }


def test_a_size_function_and_byte_length_strategy(js: JS) -> None:
    result = run(
        js,
        """
        const stream = new WritableStream({ write() { return new Promise(() => {}); } },
          new ByteLengthQueuingStrategy({ highWaterMark: 10 }));
        const writer = stream.getWriter();
        await tick();
        writer.write(new Uint8Array(4));
        const afterFour = writer.desiredSize;
        const failing = new WritableStream({}, { size() { throw new RangeError("no size"); } });
        const failingWriter = failing.getWriter();
        const failed = await outcome(failingWriter.write("x"));
        const negative = new WritableStream({}, { size: () => -1 }).getWriter();
        return { afterFour, failed, closed: await outcome(failingWriter.closed), negative: await outcome(negative.write("x")) };
        """,
    )
    assert result == {
        "afterFour": 6,
        "failed": ["error", "RangeError"],
        "closed": ["error", "RangeError"],
        "negative": ["error", "RangeError"],
    }


def test_a_failing_write_errors_the_stream_without_aborting_the_sink(js: JS) -> None:
    result = run(
        js,
        """
        const calls = [];
        const stream = new WritableStream({
          write(chunk) { calls.push(chunk); if (chunk === 2) throw new SyntaxError("bad chunk"); },
          close() { calls.push("close"); },
          abort() { calls.push("abort"); },
        });
        const writer = stream.getWriter();
        const results = await Promise.all([1, 2, 3].map((chunk) => outcome(writer.write(chunk))));
        return {
          calls, results,
          closed: await outcome(writer.closed), ready: await outcome(writer.ready),
          desiredSize: writer.desiredSize, close: await outcome(writer.close()),
        };
        """,
    )
    assert result == {
        "calls": [1, 2],
        "results": [["ok", None], ["error", "SyntaxError"], ["error", "SyntaxError"]],
        "closed": ["error", "SyntaxError"],
        "ready": ["error", "SyntaxError"],
        "desiredSize": None,
        "close": ["error", "TypeError"],  # closing an errored stream
    }


def test_start_failures_and_controller_error(js: JS) -> None:
    result = run(
        js,
        """
        let thrown;
        try { new WritableStream({ start() { throw new URIError("sync start"); } }); } catch (e) { thrown = e.name; }
        const rejected = new WritableStream({ start() { return Promise.reject(new EvalError("async start")); } });
        const errored = new WritableStream({ start(controller) { controller.error(new RangeError("told to")); } });
        const erroredWriter = errored.getWriter();
        return {
          thrown,
          rejected: await outcome(rejected.getWriter().closed),
          errored: [await outcome(erroredWriter.write("x")), await outcome(erroredWriter.closed)],
          abortAfterError: await outcome(erroredWriter.abort("late")),
        };
        """,
    )
    assert result == {
        "thrown": "URIError",
        "rejected": ["error", "EvalError"],
        "errored": [["error", "RangeError"], ["error", "RangeError"]],
        "abortAfterError": ["ok", None],
    }


def test_abort_waits_for_the_write_in_flight_and_signals_the_sink(js: JS) -> None:
    result = run(
        js,
        """
        const calls = [];
        let finishWrite;
        let signal;
        const stream = new WritableStream({
          start(controller) { signal = controller.signal; signal.addEventListener("abort", () => calls.push(["signal", signal.reason])); },
          write(chunk) { calls.push(["write", chunk]); return new Promise((resolve) => { finishWrite = resolve; }); },
          abort(reason) { calls.push(["abort", reason]); },
        });
        const writer = stream.getWriter();
        await tick();
        const first = outcome(writer.write("first"));
        const queued = outcome(writer.write("queued"));
        const aborted = outcome(writer.abort("stop"));
        const sameAbort = outcome(writer.abort("other")); // the abort in progress
        await tick();
        const beforeWriteFinished = [...calls];
        finishWrite();
        return {
          beforeWriteFinished,
          results: [await first, await queued, await aborted, await sameAbort],
          calls, closed: await outcome(writer.closed),
          lockedAbort: await outcome(stream.abort()),
        };
        """,
    )
    assert result == {
        "beforeWriteFinished": [["write", "first"], ["signal", "stop"]],
        "results": [["ok", None], ["error", "stop"], ["ok", None], ["ok", None]],
        "calls": [["write", "first"], ["signal", "stop"], ["abort", "stop"]],
        "closed": ["error", "stop"],
        "lockedAbort": ["error", "TypeError"],
    }


def test_abort_default_reason_and_failing_sink_abort(js: JS) -> None:
    result = run(
        js,
        """
        let reason;
        const stream = new WritableStream({ abort(r) { reason = r; throw new RangeError("abort failed"); } });
        await tick();
        const aborted = await outcome(stream.abort());
        const writer = stream.getWriter();
        return { reasonIsUndefined: reason === undefined, aborted, closed: await outcome(writer.closed) };
        """,
    )
    # abort() without a reason passes undefined to the sink; the sink's failure is abort()'s.
    assert result == {"reasonIsUndefined": True, "aborted": ["error", "RangeError"], "closed": ["error", None]}


def test_close_rules(js: JS) -> None:
    result = run(
        js,
        """
        let closes = 0;
        const stream = new WritableStream({ close() { closes++; } });
        const lockedClose = (() => { const w = stream.getWriter(); const p = outcome(stream.close()); w.releaseLock(); return p; })();
        const first = stream.close();
        const second = await outcome(stream.close());
        await first;
        const closedWriter = stream.getWriter(); // a writer can still be had
        return {
          lockedClose: await lockedClose, second, closes,
          closedWriter: [await outcome(closedWriter.closed), await outcome(closedWriter.ready), closedWriter.desiredSize],
          writeAfter: await outcome(closedWriter.write(1)),
          abortAfter: await outcome(closedWriter.abort()),
        };
        """,
    )
    assert result == {
        "lockedClose": ["error", "TypeError"],
        "second": ["error", "TypeError"],
        "closes": 1,
        "closedWriter": [["ok", None], ["ok", None], 0],
        "writeAfter": ["error", "TypeError"],
        "abortAfter": ["ok", None],
    }


def test_releasing_a_writer(js: JS) -> None:
    result = run(
        js,
        """
        const stream = new WritableStream();
        const writer = stream.getWriter();
        let second;
        try { stream.getWriter(); } catch (e) { second = e.name; }
        const closed = writer.closed;
        writer.releaseLock();
        writer.releaseLock(); // a second release does nothing
        let desiredSize;
        try { writer.desiredSize; } catch (e) { desiredSize = e.name; }
        const other = new WritableStreamDefaultWriter(stream);
        return {
          second, desiredSize, locked: stream.locked,
          closed: await outcome(closed), ready: await outcome(writer.ready),
          write: await outcome(writer.write(1)), close: await outcome(writer.close()),
          other: await outcome(other.write("x")),
        };
        """,
    )
    assert result == {
        "second": "TypeError",
        "desiredSize": "TypeError",
        "locked": True,
        "closed": ["error", "TypeError"],
        "ready": ["error", "TypeError"],
        "write": ["error", "TypeError"],
        "close": ["error", "TypeError"],
        "other": ["ok", None],
    }


def test_writable_constructor_validation_and_shape(js: JS) -> None:
    result = js(
        """
        const errors = (f) => { try { f(); return "ok"; } catch (e) { return e.name; } };
        const order = [];
        new WritableStream({
          get abort() { order.push("abort"); }, get close() { order.push("close"); },
          get start() { order.push("start"); }, get type() { order.push("type"); }, get write() { order.push("write"); },
        }, { get highWaterMark() { order.push("highWaterMark"); return 1; }, get size() { order.push("size"); } });
        ({
          order,
          errors: [
            errors(() => new WritableStream({ type: "bytes" })),
            errors(() => new WritableStream({ write: 5 })),
            errors(() => new WritableStream({}, { highWaterMark: -1 })),
            errors(() => new WritableStream({}, { highWaterMark: NaN })),
            errors(() => new WritableStream(null)),
            errors(() => new WritableStream(5)),
            errors(() => new WritableStreamDefaultController()),
            errors(() => new WritableStreamDefaultWriter({})),
            errors(() => new WritableStream()),
          ],
          members: Object.keys(WritableStream.prototype),
          writerMembers: Object.keys(WritableStreamDefaultWriter.prototype).sort(),
          tags: [String(new WritableStream()), String(new WritableStream().getWriter())],
        })
        """
    )
    assert result == {
        "order": ["highWaterMark", "size", "abort", "close", "start", "type", "write"],
        "errors": ["RangeError", "TypeError", "RangeError", "RangeError", "TypeError", "TypeError", "TypeError", "TypeError", "ok"],
        "members": ["locked", "abort", "close", "getWriter"],
        "writerMembers": ["abort", "close", "closed", "desiredSize", "ready", "releaseLock", "write"],
        "tags": ["[object WritableStream]", "[object WritableStreamDefaultWriter]"],
    }


# ---- TransformStream


def test_identity_transform(js: JS) -> None:
    result = run(
        js,
        """
        const { readable, writable } = new TransformStream();
        const writer = writable.getWriter();
        writer.write("a");
        writer.write("b");
        writer.close();
        return { chunks: await readAll(readable), closed: await outcome(writer.closed) };
        """,
    )
    assert result == {"chunks": ["a", "b"], "closed": ["ok", None]}


def test_transform_flush_and_start(js: JS) -> None:
    result = run(
        js,
        """
        const calls = [];
        const transformer = {
          start(controller) { calls.push(["start", controller instanceof TransformStreamDefaultController, controller.desiredSize]); },
          transform(chunk, controller) { calls.push(["transform", chunk, this === transformer]); controller.enqueue(chunk.toUpperCase()); controller.enqueue(chunk.length); },
          flush(controller) { calls.push("flush"); controller.enqueue("end"); },
        };
        const stream = new TransformStream(transformer);
        const out = readAll(stream.readable);
        const writer = stream.writable.getWriter();
        await writer.write("ab");
        await writer.write("c");
        await writer.close();
        return { calls, chunks: await out };
        """,
    )
    assert result == {
        "calls": [["start", True, 0], ["transform", "ab", True], ["transform", "c", True], "flush"],
        "chunks": ["AB", 2, "C", 1, "end"],
    }


def test_transform_waits_for_a_reader(js: JS) -> None:
    result = run(
        js,
        """
        let transforms = 0;
        const stream = new TransformStream({ transform(chunk, controller) { transforms++; controller.enqueue(chunk); } });
        const writer = stream.writable.getWriter();
        const written = watch(writer.write("x"));
        await tick();
        const before = [transforms, written.now, writer.desiredSize];
        const reader = stream.readable.getReader();
        const { value } = await reader.read();
        await tick();
        return { before, after: [transforms, written.now], value };
        """,
    )
    # Readable high-water mark 0: nothing is transformed until somebody reads.
    assert result == {"before": [0, "pending", 0], "after": [1, "fulfilled"], "value": "x"}


def test_transform_errors_reach_both_sides(js: JS) -> None:
    result = run(
        js,
        """
        const stream = new TransformStream({ transform() { throw new RangeError("cannot transform"); } });
        const writer = stream.writable.getWriter();
        const reader = stream.readable.getReader();
        const write = outcome(writer.write("x"));
        const read = outcome(reader.read()); // the transform runs once somebody reads
        const erroring = new TransformStream({ start(c) { c.error(new SyntaxError("told to")); } });
        const flushFails = new TransformStream({ flush() { throw new EvalError("flush failed"); } });
        const flushWriter = flushFails.writable.getWriter();
        const flushClose = outcome(flushWriter.close());
        return {
          write: await write, read: await read, closed: await outcome(writer.closed),
          erroring: [await outcome(erroring.readable.getReader().read()), await outcome(erroring.writable.getWriter().write(1))],
          flush: [await flushClose, await outcome(flushFails.readable.getReader().closed)],
        };
        """,
    )
    assert result == {
        "write": ["error", "RangeError"],
        "read": ["error", "RangeError"],
        "closed": ["error", "RangeError"],
        "erroring": [["error", "SyntaxError"], ["error", "SyntaxError"]],
        "flush": [["error", "EvalError"], ["error", "EvalError"]],
    }


def test_terminate_closes_the_readable_and_errors_the_writable(js: JS) -> None:
    result = run(
        js,
        """
        const stream = new TransformStream({ transform(chunk, controller) { controller.enqueue(chunk); controller.terminate(); } });
        const writer = stream.writable.getWriter();
        const out = readAll(stream.readable);
        await writer.write("last");
        return { chunks: await out, next: await outcome(writer.write("more")), closed: await outcome(writer.closed) };
        """,
    )
    assert result == {"chunks": ["last"], "next": ["error", "TypeError"], "closed": ["error", "TypeError"]}


def test_cancel_and_abort_reach_the_transformer(js: JS) -> None:
    result = run(
        js,
        """
        const calls = [];
        const cancelled = new TransformStream({ cancel(reason) { calls.push(["cancel", reason]); } });
        const cancelWriter = cancelled.writable.getWriter();
        const cancel = await outcome(cancelled.readable.cancel("no more"));
        const cancelClosed = await outcome(cancelWriter.closed);
        const aborted = new TransformStream({ cancel(reason) { calls.push(["abort", reason]); } });
        const reader = aborted.readable.getReader();
        const abort = await outcome(aborted.writable.abort("stop"));
        return { calls, cancel, cancelClosed, abort, read: await outcome(reader.read()) };
        """,
    )
    assert result == {
        "calls": [["cancel", "no more"], ["abort", "stop"]],
        "cancel": ["ok", None],
        "cancelClosed": ["error", "no more"],
        "abort": ["ok", None],
        "read": ["error", "stop"],
    }


def test_transform_constructor_validation(js: JS) -> None:
    result = js(
        """
        const errors = (f) => { try { f(); return "ok"; } catch (e) { return e.name; } };
        const stream = new TransformStream({}, { highWaterMark: 3 }, { highWaterMark: 2 });
        ({
          errors: [
            errors(() => new TransformStream({ readableType: "bytes" })),
            errors(() => new TransformStream({ writableType: "bytes" })),
            errors(() => new TransformStream({ transform: {} })),
            errors(() => new TransformStream({}, { highWaterMark: -1 })),
            errors(() => new TransformStream({ start() { throw new URIError("x"); } })),
            errors(() => new TransformStreamDefaultController()),
          ],
          sizes: [stream.writable.getWriter().desiredSize],
          members: Object.keys(TransformStream.prototype),
          tag: String(stream),
        })
        """
    )
    assert result == {
        "errors": ["RangeError", "RangeError", "TypeError", "RangeError", "URIError", "TypeError"],
        "sizes": [3],
        "members": ["readable", "writable"],
        "tag": "[object TransformStream]",
    }


# ---- pipeTo and pipeThrough


def recording_sink() -> str:
    return """
    const log = [];
    const sink = (extra = {}) => new WritableStream({
      write(chunk) { log.push(["write", chunk]); },
      close() { log.push("close"); },
      abort(reason) { log.push(["abort", reason instanceof Error || reason instanceof DOMException ? reason.name : reason]); },
      ...extra,
    });
    """


def test_pipe_to_moves_every_chunk_and_closes(js: JS) -> None:
    result = run(
        js,
        recording_sink()
        + """
        const source = ReadableStream.from(["a", "b", "c"]);
        const dest = sink();
        const piped = source.pipeTo(dest);
        const lockedDuring = [source.locked, dest.locked];
        const result = await outcome(piped);
        return { result, log, lockedDuring, lockedAfter: [source.locked, dest.locked] };
        """,
    )
    assert result == {
        "result": ["ok", None],
        "log": [["write", "a"], ["write", "b"], ["write", "c"], "close"],
        "lockedDuring": [True, True],
        "lockedAfter": [False, False],
    }


def test_pipe_to_prevent_close(js: JS) -> None:
    result = run(
        js,
        recording_sink()
        + """
        const dest = sink();
        await ReadableStream.from([1]).pipeTo(dest, { preventClose: true });
        const writer = dest.getWriter();
        await writer.write(2);
        return log;
        """,
    )
    assert result == [["write", 1], ["write", 2]]


def test_source_errors_abort_the_destination(js: JS) -> None:
    result = run(
        js,
        recording_sink()
        + """
        const failing = () => new ReadableStream({ start(c) { c.enqueue("before"); }, pull(c) { c.error(new RangeError("source broke")); } });
        const aborted = await outcome(failing().pipeTo(sink()));
        const kept = sink();
        const prevented = await outcome(failing().pipeTo(kept, { preventAbort: true }));
        const stillWritable = await outcome(kept.getWriter().write("after"));
        return { aborted, prevented, stillWritable, log };
        """,
    )
    assert result == {
        "aborted": ["error", "RangeError"],
        "prevented": ["error", "RangeError"],
        "stillWritable": ["ok", None],
        "log": [["write", "before"], ["abort", "RangeError"], ["write", "before"], ["write", "after"]],
    }


def test_destination_errors_cancel_the_source(js: JS) -> None:
    result = run(
        js,
        """
        const cancels = [];
        const source = () => new ReadableStream({ pull(c) { c.enqueue("x"); }, cancel(reason) { cancels.push(reason.message); } });
        const failingSink = () => new WritableStream({ write() { throw new SyntaxError("sink broke"); } });
        const cancelled = await outcome(source().pipeTo(failingSink()));
        const keptSource = source();
        const prevented = await outcome(keptSource.pipeTo(failingSink(), { preventCancel: true }));
        return { cancelled, prevented, cancels, keptLocked: keptSource.locked, keptRead: (await keptSource.getReader().read()).value };
        """,
    )
    assert result == {
        "cancelled": ["error", "SyntaxError"],
        "prevented": ["error", "SyntaxError"],
        "cancels": ["sink broke"],
        "keptLocked": False,
        "keptRead": "x",
    }


def test_a_closed_destination_cancels_the_source(js: JS) -> None:
    result = run(
        js,
        """
        let cancelReason;
        const source = new ReadableStream({ cancel(reason) { cancelReason = reason; } });
        const dest = new WritableStream();
        await dest.close();
        const piped = await outcome(source.pipeTo(dest));
        // Closing (the sink's close still running) counts as closed.
        const closing = new WritableStream({ close() { return new Promise(() => {}); } });
        const closingWriter = closing.getWriter();
        closingWriter.close();
        closingWriter.releaseLock();
        const intoClosing = await outcome(new ReadableStream().pipeTo(closing));
        return { piped, cancelReason: cancelReason instanceof TypeError, intoClosing };
        """,
    )
    assert result == {"piped": ["error", "TypeError"], "cancelReason": True, "intoClosing": ["error", "TypeError"]}


def test_pipe_respects_backpressure(js: JS) -> None:
    result = run(
        js,
        """
        let pulls = 0;
        const source = new ReadableStream({ pull(c) { c.enqueue(pulls++); } }, { highWaterMark: 0 });
        const written = [];
        const dest = new WritableStream({ write(chunk) { written.push(chunk); return new Promise(() => {}); } }, { highWaterMark: 2 });
        source.pipeTo(dest);
        for (let i = 0; i < 5; i++) await tick();
        return { pulls, written };
        """,
    )
    # The sink never finishes its first write: the pipe reads only what the queue can hold.
    assert result == {"pulls": 2, "written": [0]}


def test_pipe_aborted_by_a_signal(js: JS) -> None:
    result = run(
        js,
        recording_sink()
        + """
        const cancels = [];
        const endless = () => new ReadableStream({ pull(c) { c.enqueue("tick"); return tick(); }, cancel(r) { cancels.push(r instanceof DOMException ? r.name : r); } });
        const controller = new AbortController();
        const piped = outcome(endless().pipeTo(sink(), { signal: controller.signal }));
        await tick();
        await tick();
        controller.abort();
        const aborted = await piped;
        const abortedLog = log.filter((entry) => entry[0] === "abort");

        const already = AbortSignal.abort(new RangeError("too late"));
        const untouched = endless();
        const beforeStart = await outcome(untouched.pipeTo(sink(), { signal: already, preventCancel: true, preventAbort: true }));

        const custom = new AbortController();
        const customPipe = outcome(endless().pipeTo(sink(), { signal: custom.signal, preventAbort: true }));
        custom.abort("my reason");
        return {
          aborted, abortedLog, cancels, beforeStart, untouchedLocked: untouched.locked,
          custom: await customPipe,
          wrote: log.some((entry) => entry[0] === "write"),
          badSignal: await outcome(endless().pipeTo(sink(), { signal: {} })),
        };
        """,
    )
    assert result == {
        "aborted": ["error", "AbortError"],
        "abortedLog": [["abort", "AbortError"]],
        "cancels": ["AbortError", "my reason"],
        "beforeStart": ["error", "RangeError"],
        "untouchedLocked": False,
        "custom": ["error", "my reason"],
        "wrote": True,
        "badSignal": ["error", "TypeError"],
    }


def test_an_abort_during_a_write_stops_further_reads(js: JS) -> None:
    result = run(
        js,
        recording_sink()
        + """
        const controller = new AbortController();
        const source = new ReadableStream({ start(c) { c.enqueue("a"); c.enqueue("b"); c.close(); } });
        const piped = await outcome(source.pipeTo(sink({ write(chunk) { log.push(["write", chunk]); controller.abort(); } }), { signal: controller.signal }));
        return { piped, log };
        """,
    )
    # The write in progress finishes first; then the destination is aborted, "b" never read.
    assert result == {"piped": ["error", "AbortError"], "log": [["write", "a"], ["abort", "AbortError"]]}


def test_pipe_argument_and_lock_checks(js: JS) -> None:
    result = run(
        js,
        """
        const locked = new ReadableStream();
        locked.getReader();
        const lockedDest = new WritableStream();
        lockedDest.getWriter();
        const syncErrors = [];
        for (const f of [
          () => new ReadableStream().pipeThrough({ readable: new ReadableStream() }),
          () => new ReadableStream().pipeThrough({ writable: new WritableStream() }),
          () => new ReadableStream().pipeThrough({ readable: {}, writable: new WritableStream() }),
          () => locked.pipeThrough(new TransformStream()),
          () => new ReadableStream().pipeThrough({ readable: new ReadableStream(), writable: lockedDest }),
        ]) {
          try { f(); syncErrors.push("ok"); } catch (e) { syncErrors.push(e.name); }
        }
        let pipeToReturns;
        const notThrown = (() => { try { pipeToReturns = new ReadableStream().pipeTo({}); return true; } catch { return false; } })();
        return {
          syncErrors, notThrown,
          rejections: [
            await outcome(pipeToReturns),
            await outcome(locked.pipeTo(new WritableStream())),
            await outcome(new ReadableStream().pipeTo(lockedDest)),
            await outcome(ReadableStream.prototype.pipeTo.call({}, new WritableStream())),
          ],
        };
        """,
    )
    assert result == {
        "syncErrors": ["TypeError"] * 5,
        "notThrown": True,
        "rejections": [["error", "TypeError"]] * 4,
    }


def test_pipe_through_chains(js: JS) -> None:
    result = run(
        js,
        """
        const double = () => new TransformStream({ transform(chunk, c) { c.enqueue(chunk * 2); } });
        const chunks = await readAll(ReadableStream.from([1, 2, 3]).pipeThrough(double()).pipeThrough(double()));
        const failing = new TransformStream({ transform() { throw new RangeError("no"); } });
        let cancelled;
        const source = new ReadableStream({ pull(c) { c.enqueue(1); }, cancel(r) { cancelled = r.name; } });
        const failed = await outcome(readAll(source.pipeThrough(failing)));
        await tick(); // the pipe cancels its source once the failure reached the writable side
        return { chunks, failed, cancelled };
        """,
    )
    assert result == {"chunks": [4, 8, 12], "failed": ["error", "RangeError"], "cancelled": "RangeError"}


# ---- TextEncoderStream and TextDecoderStream


def test_text_encoder_stream(js: JS) -> None:
    result = run(
        js,
        """
        const encode = async (chunks) => (await readAll(ReadableStream.from(chunks).pipeThrough(new TextEncoderStream()))).map((b) => [b.constructor.name, ...b]);
        const stream = new TextEncoderStream();
        return {
          ascii: await encode(["hi", "", 42]),
          multiByte: await encode(["é€"]),
          splitPair: await encode(["a\\uD83D", "\\uDE00"]),
          pairAcrossEmpty: await encode(["\\uD83D", "", "\\uDE00"]),
          loneAtEnd: await encode(["x\\uD83D"]),
          loneThenText: await encode(["\\uD83D", "y"]),
          loneLow: await encode(["\\uDE00"]),
          attributes: [stream.encoding, stream.readable instanceof ReadableStream, stream.writable instanceof WritableStream, String(stream)],
        };
        """,
    )
    assert result == {
        "ascii": [["Uint8Array", 104, 105], ["Uint8Array", 52, 50]],
        "multiByte": [["Uint8Array", 0xC3, 0xA9, 0xE2, 0x82, 0xAC]],
        "splitPair": [["Uint8Array", 97], ["Uint8Array", 0xF0, 0x9F, 0x98, 0x80]],
        "pairAcrossEmpty": [["Uint8Array", 0xF0, 0x9F, 0x98, 0x80]],
        "loneAtEnd": [["Uint8Array", 120], ["Uint8Array", 0xEF, 0xBF, 0xBD]],
        "loneThenText": [["Uint8Array", 0xEF, 0xBF, 0xBD, 121]],
        "loneLow": [["Uint8Array", 0xEF, 0xBF, 0xBD]],
        "attributes": ["utf-8", True, True, "[object TextEncoderStream]"],
    }


def test_text_decoder_stream_joins_characters_split_across_chunks(js: JS) -> None:
    result = run(
        js,
        """
        const bytes = new TextEncoder().encode("\\uFEFFa€😀é");
        const oneByteChunks = [...bytes].map((b) => new Uint8Array([b]));
        const decode = async (chunks, ...args) => (await readAll(ReadableStream.from(chunks).pipeThrough(new TextDecoderStream(...args)))).join("|");
        return {
          byteByByte: await decode(oneByteChunks),
          keptBom: (await decode(oneByteChunks, "utf-8", { ignoreBOM: true })).charCodeAt(0),
          views: await decode([new Uint16Array([0x6968]), new DataView(new Uint8Array([0x21]).buffer), new Uint8Array([0x3f]).buffer]),
          truncated: await decode([new Uint8Array([0x61, 0xE2, 0x82])]),
        };
        """,
    )
    # Characters come out whole, in the chunk where their last byte arrived.
    assert result == {
        "byteByByte": "a|€|😀|é",
        "keptBom": 0xFEFF,
        "views": "hi|!|?",
        "truncated": "a|\ufffd",
    }


def test_text_decoder_stream_errors(js: JS) -> None:
    result = run(
        js,
        """
        const decodeOutcome = (chunks, options) => outcome(readAll(ReadableStream.from(chunks).pipeThrough(new TextDecoderStream("utf-8", options))));
        let badLabel;
        try { new TextDecoderStream("latin1"); } catch (e) { badLabel = e.name; }
        const stream = new TextDecoderStream(" UTF8 ", { fatal: true });
        return {
          fatalInvalid: await decodeOutcome([new Uint8Array([0xFF])], { fatal: true }),
          fatalTruncated: await decodeOutcome([new Uint8Array([0xE2, 0x82])], { fatal: true }),
          replaced: await decodeOutcome([new Uint8Array([0x61, 0xFF])]),
          notBytes: await decodeOutcome(["text"]),
          undefinedChunk: await decodeOutcome([undefined]),
          badLabel,
          attributes: [stream.encoding, stream.fatal, stream.ignoreBOM, String(stream)],
        };
        """,
    )
    assert result == {
        "fatalInvalid": ["error", "TypeError"],
        "fatalTruncated": ["error", "TypeError"],
        "replaced": ["ok", ["a\ufffd"]],
        "notBytes": ["error", "TypeError"],
        "undefinedChunk": ["error", "TypeError"],
        "badLabel": "RangeError",
        "attributes": ["utf-8", True, False, "[object TextDecoderStream]"],
    }


def test_text_streams_round_trip(js: JS) -> None:
    result = run(
        js,
        """
        const text = "Grüße, 世界! 🌍🚀 ".repeat(50);
        const pieces = [];
        for (let i = 0; i < text.length; i += 7) pieces.push(text.slice(i, i + 7)); // splits surrogate pairs too
        const chunks = await readAll(ReadableStream.from(pieces).pipeThrough(new TextEncoderStream()).pipeThrough(new TextDecoderStream()));
        return chunks.join("") === text;
        """,
    )
    assert result is True


# ---- through a Workers fetch handler


def test_a_fetch_handler_streams_a_piped_body(server, admin: httpx.Client) -> None:
    deploy(
        admin,
        "text-stream",
        """
        export default {
          fetch(request) {
            const readable = new ReadableStream({
              start(controller) {
                for (const piece of ["héllo", " wörld ", "\\uD83D", "\\uDE00", "!"]) controller.enqueue(piece);
                controller.close();
              },
            });
            const upper = new TransformStream({ transform(chunk, controller) { controller.enqueue(chunk.toUpperCase()); } });
            return new Response(readable.pipeThrough(upper).pipeThrough(new TextEncoderStream()), {
              headers: { "content-type": "text/plain; charset=utf-8" },
            });
          },
        };
        """,
    )
    response = invoke(server, "default", "text-stream")
    assert response.status_code == 200, response.text
    assert response.content == "HÉLLO WÖRLD 😀!".encode()
