"""ReadableStream (WHATWG Streams §4), checked in a real isolate. Cases follow the standard
and the ideas of the Web Platform Tests (streams/readable-streams)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

JS = Callable[[str], Any]


def test_reading_to_the_end_with_pull_and_backpressure(js: JS) -> None:
    result = js(
        """
        (async () => {
          let next = 0;
          const desired = [];
          const stream = new ReadableStream({
            pull(controller) {
              desired.push(controller.desiredSize);
              if (next < 3) controller.enqueue(next++);
              else controller.close();
            },
          }, { highWaterMark: 2 });
          const reader = stream.getReader();
          const reads = [];
          for (;;) {
            const { value, done } = await reader.read();
            reads.push(done ? "done" : value);
            if (done) break;
          }
          const afterEnd = await reader.read();
          await reader.closed;
          // A size function counts chunks in its own unit against highWaterMark.
          let sized;
          new ReadableStream({ start(c) { c.enqueue("abcd"); sized = c.desiredSize; } }, { highWaterMark: 10, size: (chunk) => chunk.length });
          return { reads, afterEnd, pulledOnlyWhileDesired: desired.every((d) => d > 0), locked: stream.locked, sized };
        })()
        """
    )
    assert result == {
        "reads": [0, 1, 2, "done"],
        "afterEnd": {"done": True},  # {value: undefined} loses its value in JSON
        "pulledOnlyWhileDesired": True,
        "locked": True,
        "sized": 6,
    }


def test_start_runs_first_and_a_start_promise_delays_pull(js: JS) -> None:
    result = js(
        """
        (async () => {
          const order = [];
          const stream = new ReadableStream({
            start() { order.push("start"); return new Promise((resolve) => setTimeout(() => { order.push("started"); resolve(); }, 5)); },
            pull(controller) { order.push("pull"); controller.enqueue("x"); controller.close(); },
          });
          order.push("constructed");
          const { value } = await stream.getReader().read();
          return { order, value };
        })()
        """
    )
    assert result == {"order": ["start", "constructed", "started", "pull"], "value": "x"}


def test_errors_reject_reads_and_closed(js: JS) -> None:
    result = js(
        """
        (async () => {
          const outcome = (promise) => promise.then((v) => ["ok", v], (e) => [e.name, e.message]);
          const errored = new ReadableStream({ start(c) { c.enqueue("lost"); c.error(new RangeError("boom")); } });
          const reader = errored.getReader();
          const erroredLater = new ReadableStream({ pull() { throw new SyntaxError("pull failed"); } });
          let startThrows;
          try { new ReadableStream({ start() { throw new URIError("start failed"); } }); } catch (e) { startThrows = e.name; }
          const startRejects = new ReadableStream({ start() { return Promise.reject(new EvalError("async start failed")); } });
          let enqueueAfterClose;
          new ReadableStream({ start(c) { c.close(); try { c.enqueue(1); } catch (e) { enqueueAfterClose = e.name; } } });
          let closeTwice;
          new ReadableStream({ start(c) { c.close(); try { c.close(); } catch (e) { closeTwice = e.name; } } });
          return {
            read: await outcome(reader.read()),
            closed: await outcome(reader.closed),
            pull: await outcome(erroredLater.getReader().read()),
            startThrows,
            startRejects: await outcome(startRejects.getReader().read()),
            enqueueAfterClose, closeTwice,
          };
        })()
        """
    )
    assert result == {
        "read": ["RangeError", "boom"],
        "closed": ["RangeError", "boom"],
        "pull": ["SyntaxError", "pull failed"],
        "startThrows": "URIError",
        "startRejects": ["EvalError", "async start failed"],
        "enqueueAfterClose": "TypeError",
        "closeTwice": "TypeError",
    }


def test_cancel_and_reader_locks(js: JS) -> None:
    result = js(
        """
        (async () => {
          const outcome = (promise) => promise.then((v) => ["ok", v === undefined ? "undefined" : v], (e) => e.name);
          let reason;
          const cancellable = new ReadableStream({ start(c) { c.enqueue("queued"); }, cancel(r) { reason = r; return "ignored"; } });
          const cancelResult = await outcome(cancellable.cancel("stop"));
          const afterCancel = await cancellable.getReader().read();

          const stream = new ReadableStream();
          const reader = stream.getReader();
          let secondReader;
          try { stream.getReader(); } catch (e) { secondReader = e.name; }
          const lockedCancel = await outcome(stream.cancel());
          const pending = reader.read();
          reader.releaseLock();
          const result = {
            cancelResult, reason, afterCancel, secondReader, lockedCancel,
            pendingRead: await outcome(pending),
            closedAfterRelease: await outcome(reader.closed),
            readAfterRelease: await outcome(reader.read()),
            unlocked: stream.locked,
            relock: stream.getReader() instanceof ReadableStreamDefaultReader,
            byob: (() => { try { new ReadableStream().getReader({ mode: "byob" }); } catch (e) { return e.name; } })(),
            badMode: (() => { try { new ReadableStream().getReader({ mode: "other" }); } catch (e) { return e.name; } })(),
          };
          const viaReader = new ReadableStream({ cancel(r) { reason = r; } });
          await viaReader.getReader().cancel("by reader");
          result.readerCancelReason = reason;
          return result;
        })()
        """
    )
    assert result == {
        "cancelResult": ["ok", "undefined"],
        "reason": "stop",
        "afterCancel": {"done": True},
        "secondReader": "TypeError",
        "lockedCancel": "TypeError",
        "pendingRead": "TypeError",
        "closedAfterRelease": "TypeError",
        "readAfterRelease": "TypeError",
        "unlocked": False,
        "relock": True,
        "byob": "TypeError",
        "badMode": "TypeError",
        "readerCancelReason": "by reader",
    }


def test_tee(js: JS) -> None:
    result = js(
        """
        (async () => {
          const drain = async (s) => { const out = []; for await (const v of s) out.push(v); return out; };
          const source = new ReadableStream({ start(c) { c.enqueue("a"); c.enqueue("b"); c.close(); } });
          const [left, right] = source.tee();
          const both = [await drain(left), await drain(right), source.locked];

          let compositeReason;
          const cancellable = new ReadableStream({ cancel(r) { compositeReason = r; } });
          const [c1, c2] = cancellable.tee();
          // A branch's cancel settles only once both branches are cancelled.
          let firstSettled = false;
          const first = c1.cancel("one").then(() => { firstSettled = true; });
          await new Promise((resolve) => setTimeout(resolve, 1));
          const afterFirst = [compositeReason === undefined, firstSettled];
          await c2.cancel("two");
          await first;

          const failing = new ReadableStream({ start(c) { c.error(new TypeError("source failed")); } });
          const [f1, f2] = failing.tee();
          const errors = await Promise.all([f1, f2].map((s) => s.getReader().read().catch((e) => e.message)));

          // One branch cancelled: the other still gets everything.
          const partial = new ReadableStream({ start(c) { c.enqueue(1); c.enqueue(2); c.close(); } });
          const [p1, p2] = partial.tee();
          p1.cancel();
          return { both, afterFirst, compositeReason, errors, rest: await drain(p2) };
        })()
        """
    )
    assert result == {
        "both": [["a", "b"], ["a", "b"], True],
        "afterFirst": [True, False],
        "compositeReason": ["one", "two"],
        "errors": ["source failed", "source failed"],
        "rest": [1, 2],
    }


def test_async_iteration(js: JS) -> None:
    result = js(
        """
        (async () => {
          const chunks = [];
          for await (const chunk of new ReadableStream({ start(c) { c.enqueue(1); c.enqueue(2); c.close(); } })) chunks.push(chunk);

          let cancelled = false;
          const endless = new ReadableStream({ pull(c) { c.enqueue("x"); }, cancel() { cancelled = true; } });
          for await (const chunk of endless) break;

          const kept = new ReadableStream({ pull(c) { c.enqueue("x"); } });
          for await (const chunk of kept.values({ preventCancel: true })) break;
          const keptReadable = (await kept.getReader().read()).value;

          const iterator = new ReadableStream({ start(c) { c.enqueue("a"); c.enqueue("b"); c.close(); } }).values();
          const concurrent = (await Promise.all([iterator.next(), iterator.next(), iterator.next()])).map((r) => (r.done ? "done" : r.value));

          let error;
          try { for await (const chunk of new ReadableStream({ start(c) { c.error(new RangeError("bad")); } })); } catch (e) { error = e.name; }
          const locked = new ReadableStream();
          locked.getReader();
          let lockedIteration;
          try { locked.values(); } catch (e) { lockedIteration = e.name; }
          return {
            chunks, cancelled, endlessUnlocked: !endless.locked, keptReadable, concurrent, error, lockedIteration,
            tag: Object.prototype.toString.call(iterator),
            sameFunction: ReadableStream.prototype[Symbol.asyncIterator] === ReadableStream.prototype.values,
          };
        })()
        """
    )
    assert result == {
        "chunks": [1, 2],
        "cancelled": True,
        "endlessUnlocked": True,
        "keptReadable": "x",
        "concurrent": ["a", "b", "done"],
        "error": "RangeError",
        "lockedIteration": "TypeError",
        "tag": "[object ReadableStream AsyncIterator]",
        "sameFunction": True,
    }


def test_from_iterables(js: JS) -> None:
    result = js(
        """
        (async () => {
          const drain = async (s) => { const out = []; for await (const v of s) out.push(v); return out; };
          async function* generate() { yield "x"; yield "y"; }
          let returned = null;
          const iterable = { [Symbol.iterator]() { let i = 0; return { next: () => ({ value: i++, done: false }), return: (r) => { returned = r; return { done: true }; } }; } };
          const endless = ReadableStream.from(iterable);
          const reader = endless.getReader();
          const first = (await reader.read()).value;
          await reader.cancel("enough");
          const notIterable = [5, null, {}].map((v) => { try { ReadableStream.from(v); return "ok"; } catch (e) { return e.name; } });
          return {
            array: await drain(ReadableStream.from([1, Promise.resolve(2), 3])),
            asyncGenerator: await drain(ReadableStream.from(generate())),
            fromStream: await drain(ReadableStream.from(ReadableStream.from(["s"]))),
            first, returned, notIterable,
          };
        })()
        """
    )
    assert result == {
        "array": [1, 2, 3],
        "asyncGenerator": ["x", "y"],
        "fromStream": ["s"],
        "first": 0,
        "returned": "enough",
        "notIterable": ["TypeError", "TypeError", "TypeError"],
    }


def test_byte_streams_behave_as_default_streams_of_uint8array(js: JS) -> None:
    result = js(
        """
        (async () => {
          let byobRequest, detachedLength, controllerTag;
          const stream = new ReadableStream({
            type: "bytes",
            start(c) {
              byobRequest = c.byobRequest;
              controllerTag = Object.prototype.toString.call(c);
              const buffer = new Uint16Array([0x0201, 0x0403]);
              c.enqueue(buffer);
              detachedLength = buffer.byteLength; // the buffer was transferred
              c.close();
            },
          });
          const { value } = await stream.getReader().read();
          const invalid = ["text", new Uint8Array(0)].map((chunk) => { try { new ReadableStream({ type: "bytes", start(c) { c.enqueue(chunk); } }); return "ok"; } catch (e) { return e.name; } });
          let sizeWithBytes;
          try { new ReadableStream({ type: "bytes" }, { size: () => 1 }); } catch (e) { sizeWithBytes = e.name; }
          return { isUint8Array: value instanceof Uint8Array, bytes: [...value], byobRequest, detachedLength, controllerTag, invalid, sizeWithBytes };
        })()
        """
    )
    assert result == {
        "isUint8Array": True,
        "bytes": [1, 2, 3, 4],
        "byobRequest": None,
        "detachedLength": 0,
        "controllerTag": "[object ReadableByteStreamController]",
        "invalid": ["TypeError", "TypeError"],
        "sizeWithBytes": "RangeError",
    }


def test_argument_validation_and_interface_shape(js: JS) -> None:
    result = js(
        """
        const attempt = (f) => { try { f(); return "ok"; } catch (e) { return e.name; } };
        ({
          invalid: [
            () => new ReadableStream({ type: "other" }),
            () => new ReadableStream({ start: "not a function" }),
            () => new ReadableStream({}, { highWaterMark: -1 }),
            () => new ReadableStream({}, { highWaterMark: NaN }),
            () => new ReadableStream(5),
            () => new ReadableStreamDefaultController(),
            () => new ReadableStreamDefaultReader({}),
            () => new CountQueuingStrategy({}),
          ].map(attempt),
          nullSource: attempt(() => new ReadableStream(null)),
          strategies: [new CountQueuingStrategy({ highWaterMark: 4 }).size("x"), new ByteLengthQueuingStrategy({ highWaterMark: 4 }).size(new Uint8Array(7)), new CountQueuingStrategy({ highWaterMark: 4 }).highWaterMark],
          tags: [new ReadableStream(), new ReadableStream().getReader()].map(String),
          ownKeys: Reflect.ownKeys(new ReadableStream()),
          members: Object.keys(ReadableStream.prototype),
          statics: Object.keys(ReadableStream),
        })
        """
    )
    assert result == {
        "invalid": ["TypeError", "TypeError", "RangeError", "RangeError", "TypeError", "TypeError", "TypeError", "TypeError"],
        "nullSource": "ok",
        "strategies": [1, 7, 4],
        "tags": ["[object ReadableStream]", "[object ReadableStreamDefaultReader]"],
        "ownKeys": [],
        "members": ["locked", "cancel", "getReader", "pipeThrough", "pipeTo", "tee", "values"],
        "statics": ["from"],
    }
