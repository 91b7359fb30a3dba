// WritableStream (WHATWG Streams §5), its default writer and controller. As in
// 42-streams.js the algorithms are the standard's abstract operations (WritableStream...
// becomes writableStream..., WritableStreamDefaultController... becomes writableController...,
// WritableStreamDefaultWriter... becomes writableWriter...), acting on internal records:
//   stream     { object, state: "writable"|"closed"|"erroring"|"errored", storedError, writer,
//                controller, writeRequests, inFlightWriteRequest, closeRequest,
//                inFlightCloseRequest, pendingAbortRequest, backpressure }
//   controller { object, stream, queue, queueTotalSize, started, highWaterMark, sizeAlgorithm,
//                writeAlgorithm, closeAlgorithm, abortAlgorithm, signal }
//   writer     { stream, ready, closed }   (ready and closed are tracked promises, below)
// Absent requests and writers are null where the standard says undefined.

// A promise that knows whether it is still pending, for the writer's `ready` and `closed`,
// which the standard resolves, rejects or replaces depending on that.
function newTrackedPromise() {
  const { promise, resolve, reject } = Promise.withResolvers();
  const tracked = {
    promise,
    pending: true,
    resolve(value) {
      tracked.pending = false;
      resolve(value);
    },
    reject(reason) {
      tracked.pending = false;
      reject(reason);
    },
  };
  return tracked;
}

function trackedResolved(value) {
  const tracked = newTrackedPromise();
  tracked.resolve(value);
  return tracked;
}

// A rejected promise marked as handled: nobody is obliged to look at it.
function trackedRejected(reason) {
  const tracked = newTrackedPromise();
  tracked.reject(reason);
  tracked.promise.catch(() => {});
  return tracked;
}

// Queued in place of a chunk when close() is called, so the sink closes after the writes.
const WRITABLE_CLOSE_SENTINEL = Object.freeze({ close: true });

// ---- queuing strategy extraction (ExtractHighWaterMark, ExtractSizeAlgorithm), from a
// QueuingStrategy dictionary already read: {highWaterMark, size}

function readQueuingStrategy(strategy) {
  const dict = toDictionary(strategy, "strategy");
  let highWaterMark = dict.highWaterMark;
  if (highWaterMark !== undefined) highWaterMark = +highWaterMark;
  const size = toOptionalCallback(dict.size, "strategy.size");
  return { highWaterMark, size };
}

function extractHighWaterMark(strategy, defaultHighWaterMark) {
  if (strategy.highWaterMark === undefined) return defaultHighWaterMark;
  if (Number.isNaN(strategy.highWaterMark) || strategy.highWaterMark < 0) {
    throw new RangeError("highWaterMark must be a non-negative number.");
  }
  return strategy.highWaterMark;
}

function extractSizeAlgorithm(strategy) {
  const size = strategy.size;
  if (size === undefined) return () => 1;
  return (chunk) => +size(chunk); // the callback's result converts to unrestricted double
}

// ---- internal views, set by the classes' static blocks

let writableStreamRecordOf; // (WritableStream) -> stream record, or TypeError
let constructWritableStream; // (stream record) -> WritableStream facade

function isWritableStream(value) {
  try {
    writableStreamRecordOf(value);
    return true;
  } catch {
    return false;
  }
}

// ---- stream operations

function newWritableStreamRecord() {
  return {
    object: null, state: "writable", storedError: undefined, writer: null, controller: null,
    writeRequests: [], inFlightWriteRequest: null, closeRequest: null, inFlightCloseRequest: null,
    pendingAbortRequest: null, backpressure: false,
  };
}

// CreateWritableStream: a stream whose sink is made of internal algorithms returning
// promises. Returns the stream record (its `object` is the WritableStream).
function createWritableStream(startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, highWaterMark = 1, sizeAlgorithm = () => 1) {
  const stream = newWritableStreamRecord();
  constructWritableStream(stream);
  setUpWritableController(stream, startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, highWaterMark, sizeAlgorithm);
  return stream;
}

function isWritableStreamLocked(stream) {
  return stream.writer !== null;
}

function writableStreamAbort(stream, reason) {
  if (stream.state === "closed" || stream.state === "errored") return Promise.resolve(undefined);
  // The sink sees the abort at once through controller.signal, even while a write runs.
  signalAbort(stream.controller.signal, reason);
  const state = stream.state; // the signal's listeners may have changed it
  if (state === "closed" || state === "errored") return Promise.resolve(undefined);
  if (stream.pendingAbortRequest !== null) return stream.pendingAbortRequest.deferred.promise;
  const wasAlreadyErroring = state === "erroring";
  if (wasAlreadyErroring) reason = undefined;
  const deferred = newDeferred();
  stream.pendingAbortRequest = { deferred, reason, wasAlreadyErroring };
  if (!wasAlreadyErroring) writableStreamStartErroring(stream, reason);
  return deferred.promise;
}

function writableStreamClose(stream) {
  const state = stream.state;
  if (state === "closed" || state === "errored") {
    return Promise.reject(new TypeError("The stream is already closed or errored."));
  }
  const deferred = newDeferred();
  stream.closeRequest = deferred;
  const writer = stream.writer;
  if (writer !== null && stream.backpressure && state === "writable") writer.ready.resolve(undefined);
  writableControllerClose(stream.controller);
  return deferred.promise;
}

function writableStreamAddWriteRequest(stream) {
  const deferred = newDeferred();
  stream.writeRequests.push(deferred);
  return deferred.promise;
}

function writableStreamDealWithRejection(stream, error) {
  if (stream.state === "writable") {
    writableStreamStartErroring(stream, error);
    return;
  }
  writableStreamFinishErroring(stream);
}

// Erroring: no new writes are accepted, but the one in flight finishes before the stream
// is errored and the sink aborted.
function writableStreamStartErroring(stream, reason) {
  const controller = stream.controller;
  stream.state = "erroring";
  stream.storedError = reason;
  const writer = stream.writer;
  if (writer !== null) writableWriterEnsureReadyPromiseRejected(writer, reason);
  if (!writableStreamHasOperationMarkedInFlight(stream) && controller.started) writableStreamFinishErroring(stream);
}

function writableStreamFinishErroring(stream) {
  stream.state = "errored";
  resetQueue(stream.controller); // [[ErrorSteps]]
  const storedError = stream.storedError;
  const requests = stream.writeRequests;
  stream.writeRequests = [];
  for (const request of requests) request.reject(storedError);
  const abortRequest = stream.pendingAbortRequest;
  if (abortRequest === null) {
    writableStreamRejectCloseAndClosedPromiseIfNeeded(stream);
    return;
  }
  stream.pendingAbortRequest = null;
  if (abortRequest.wasAlreadyErroring) {
    abortRequest.deferred.reject(storedError);
    writableStreamRejectCloseAndClosedPromiseIfNeeded(stream);
    return;
  }
  // [[AbortSteps]]
  const controller = stream.controller;
  const aborted = controller.abortAlgorithm(abortRequest.reason);
  writableControllerClearAlgorithms(controller);
  aborted.then(
    () => {
      abortRequest.deferred.resolve(undefined);
      writableStreamRejectCloseAndClosedPromiseIfNeeded(stream);
    },
    (reason) => {
      abortRequest.deferred.reject(reason);
      writableStreamRejectCloseAndClosedPromiseIfNeeded(stream);
    },
  );
}

function writableStreamFinishInFlightWrite(stream) {
  stream.inFlightWriteRequest.resolve(undefined);
  stream.inFlightWriteRequest = null;
}

function writableStreamFinishInFlightWriteWithError(stream, error) {
  stream.inFlightWriteRequest.reject(error);
  stream.inFlightWriteRequest = null;
  writableStreamDealWithRejection(stream, error);
}

function writableStreamFinishInFlightClose(stream) {
  stream.inFlightCloseRequest.resolve(undefined);
  stream.inFlightCloseRequest = null;
  if (stream.state === "erroring") {
    // The close won the race against an abort: the abort succeeds without erroring.
    stream.storedError = undefined;
    if (stream.pendingAbortRequest !== null) {
      stream.pendingAbortRequest.deferred.resolve(undefined);
      stream.pendingAbortRequest = null;
    }
  }
  stream.state = "closed";
  const writer = stream.writer;
  if (writer !== null) writer.closed.resolve(undefined);
}

function writableStreamFinishInFlightCloseWithError(stream, error) {
  stream.inFlightCloseRequest.reject(error);
  stream.inFlightCloseRequest = null;
  if (stream.pendingAbortRequest !== null) {
    stream.pendingAbortRequest.deferred.reject(error);
    stream.pendingAbortRequest = null;
  }
  writableStreamDealWithRejection(stream, error);
}

function writableStreamCloseQueuedOrInFlight(stream) {
  return stream.closeRequest !== null || stream.inFlightCloseRequest !== null;
}

function writableStreamHasOperationMarkedInFlight(stream) {
  return stream.inFlightWriteRequest !== null || stream.inFlightCloseRequest !== null;
}

function writableStreamMarkCloseRequestInFlight(stream) {
  stream.inFlightCloseRequest = stream.closeRequest;
  stream.closeRequest = null;
}

function writableStreamMarkFirstWriteRequestInFlight(stream) {
  stream.inFlightWriteRequest = stream.writeRequests.shift();
}

function writableStreamRejectCloseAndClosedPromiseIfNeeded(stream) {
  if (stream.closeRequest !== null) {
    stream.closeRequest.reject(stream.storedError);
    stream.closeRequest = null;
  }
  const writer = stream.writer;
  if (writer !== null) {
    writer.closed.reject(stream.storedError);
    writer.closed.promise.catch(() => {});
  }
}

function writableStreamUpdateBackpressure(stream, backpressure) {
  const writer = stream.writer;
  if (writer !== null && backpressure !== stream.backpressure) {
    if (backpressure) writer.ready = newTrackedPromise();
    else writer.ready.resolve(undefined);
  }
  stream.backpressure = backpressure;
}

// ---- writer operations

function acquireWritableWriter(stream) {
  if (isWritableStreamLocked(stream)) throw new TypeError("The stream is locked to a writer.");
  const writer = { stream, ready: null, closed: null };
  stream.writer = writer;
  const state = stream.state;
  if (state === "writable") {
    writer.ready = !writableStreamCloseQueuedOrInFlight(stream) && stream.backpressure ? newTrackedPromise() : trackedResolved(undefined);
    writer.closed = newTrackedPromise();
  } else if (state === "erroring") {
    writer.ready = trackedRejected(stream.storedError);
    writer.closed = newTrackedPromise();
  } else if (state === "closed") {
    writer.ready = trackedResolved(undefined);
    writer.closed = trackedResolved(undefined);
  } else {
    writer.ready = trackedRejected(stream.storedError);
    writer.closed = trackedRejected(stream.storedError);
  }
  return writer;
}

// Closing as the end of a pipe: a stream already closing or closed is fine, an errored one
// passes its error on.
function writableWriterCloseWithErrorPropagation(writer) {
  const stream = writer.stream;
  const state = stream.state;
  if (writableStreamCloseQueuedOrInFlight(stream) || state === "closed") return Promise.resolve(undefined);
  if (state === "errored") return Promise.reject(stream.storedError);
  return writableStreamClose(stream);
}

function writableWriterEnsureClosedPromiseRejected(writer, error) {
  if (writer.closed.pending) writer.closed.reject(error);
  else writer.closed = trackedRejected(error);
  writer.closed.promise.catch(() => {});
}

function writableWriterEnsureReadyPromiseRejected(writer, error) {
  if (writer.ready.pending) writer.ready.reject(error);
  else writer.ready = trackedRejected(error);
  writer.ready.promise.catch(() => {});
}

function writableWriterGetDesiredSize(writer) {
  const stream = writer.stream;
  const state = stream.state;
  if (state === "errored" || state === "erroring") return null;
  if (state === "closed") return 0;
  return writableControllerGetDesiredSize(stream.controller);
}

function writableWriterRelease(writer) {
  const stream = writer.stream;
  const released = new TypeError("The writer's lock was released.");
  writableWriterEnsureReadyPromiseRejected(writer, released);
  writableWriterEnsureClosedPromiseRejected(writer, released);
  stream.writer = null;
  writer.stream = null;
}

function writableWriterWrite(writer, chunk) {
  const stream = writer.stream;
  const controller = stream.controller;
  const chunkSize = writableControllerGetChunkSize(controller, chunk);
  // The size function may have released the lock.
  if (stream !== writer.stream) return Promise.reject(new TypeError("The writer's lock was released."));
  const state = stream.state;
  if (state === "errored") return Promise.reject(stream.storedError);
  if (writableStreamCloseQueuedOrInFlight(stream) || state === "closed") {
    return Promise.reject(new TypeError("The stream is closing or closed."));
  }
  if (state === "erroring") return Promise.reject(stream.storedError);
  const promise = writableStreamAddWriteRequest(stream);
  writableControllerWrite(controller, chunk, chunkSize);
  return promise;
}

// ---- controller operations

function setUpWritableController(stream, startAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm, highWaterMark, sizeAlgorithm) {
  const controller = {
    object: null, stream, queue: [], queueTotalSize: 0, started: false,
    highWaterMark, sizeAlgorithm, writeAlgorithm, closeAlgorithm, abortAlgorithm,
    signal: newAbortSignal(),
  };
  controller.object = new WritableStreamDefaultController(INTERNAL, controller);
  stream.controller = controller;
  writableStreamUpdateBackpressure(stream, writableControllerGetBackpressure(controller));
  const startResult = startAlgorithm(controller);
  Promise.resolve(startResult).then(
    () => {
      controller.started = true;
      writableControllerAdvanceQueueIfNeeded(controller);
    },
    (reason) => {
      controller.started = true;
      writableStreamDealWithRejection(stream, reason);
    },
  );
}

function writableControllerClearAlgorithms(controller) {
  controller.writeAlgorithm = undefined;
  controller.closeAlgorithm = undefined;
  controller.abortAlgorithm = undefined;
  controller.sizeAlgorithm = undefined;
}

function writableControllerClose(controller) {
  controller.queue.push({ value: WRITABLE_CLOSE_SENTINEL, size: 0 });
  writableControllerAdvanceQueueIfNeeded(controller);
}

function writableControllerGetChunkSize(controller, chunk) {
  if (controller.sizeAlgorithm === undefined) return 1; // cleared: the stream is no longer writable
  try {
    return controller.sizeAlgorithm(chunk);
  } catch (err) {
    writableControllerErrorIfNeeded(controller, err);
    return 1;
  }
}

function writableControllerGetDesiredSize(controller) {
  return controller.highWaterMark - controller.queueTotalSize;
}

function writableControllerGetBackpressure(controller) {
  return writableControllerGetDesiredSize(controller) <= 0;
}

function writableControllerWrite(controller, chunk, chunkSize) {
  if (!(chunkSize >= 0) || chunkSize === Infinity) {
    writableControllerErrorIfNeeded(controller, new RangeError("The chunk size must be a finite, non-negative number."));
    return;
  }
  controller.queue.push({ value: chunk, size: chunkSize });
  controller.queueTotalSize += chunkSize;
  const stream = controller.stream;
  if (!writableStreamCloseQueuedOrInFlight(stream) && stream.state === "writable") {
    writableStreamUpdateBackpressure(stream, writableControllerGetBackpressure(controller));
  }
  writableControllerAdvanceQueueIfNeeded(controller);
}

// Hands the sink the next chunk (or the close) once the previous write has finished.
function writableControllerAdvanceQueueIfNeeded(controller) {
  const stream = controller.stream;
  if (!controller.started || stream.inFlightWriteRequest !== null) return;
  if (stream.state === "erroring") {
    writableStreamFinishErroring(stream);
    return;
  }
  if (controller.queue.length === 0) return;
  const value = controller.queue[0].value;
  if (value === WRITABLE_CLOSE_SENTINEL) writableControllerProcessClose(controller);
  else writableControllerProcessWrite(controller, value);
}

function writableControllerErrorIfNeeded(controller, error) {
  if (controller.stream.state === "writable") writableControllerError(controller, error);
}

function writableControllerDequeue(controller) {
  const { size } = controller.queue.shift();
  controller.queueTotalSize = Math.max(0, controller.queueTotalSize - size);
}

function writableControllerProcessClose(controller) {
  const stream = controller.stream;
  writableStreamMarkCloseRequestInFlight(stream);
  writableControllerDequeue(controller);
  const closed = controller.closeAlgorithm();
  writableControllerClearAlgorithms(controller);
  closed.then(
    () => writableStreamFinishInFlightClose(stream),
    (reason) => writableStreamFinishInFlightCloseWithError(stream, reason),
  );
}

function writableControllerProcessWrite(controller, chunk) {
  const stream = controller.stream;
  writableStreamMarkFirstWriteRequestInFlight(stream);
  controller.writeAlgorithm(chunk).then(
    () => {
      writableStreamFinishInFlightWrite(stream);
      const state = stream.state;
      writableControllerDequeue(controller);
      if (!writableStreamCloseQueuedOrInFlight(stream) && state === "writable") {
        writableStreamUpdateBackpressure(stream, writableControllerGetBackpressure(controller));
      }
      writableControllerAdvanceQueueIfNeeded(controller);
    },
    (reason) => {
      if (stream.state === "writable") writableControllerClearAlgorithms(controller);
      writableStreamFinishInFlightWriteWithError(stream, reason);
    },
  );
}

function writableControllerError(controller, error) {
  writableControllerClearAlgorithms(controller);
  writableStreamStartErroring(controller.stream, error);
}

// ---- the public classes

class WritableStream {
  #stream;

  constructor(underlyingSink = undefined, strategy = undefined) {
    if (underlyingSink === INTERNAL) {
      this.#stream = strategy;
      strategy.object = this;
      return;
    }
    // Arguments first (the strategy dictionary), then the sink's members by name.
    if (underlyingSink !== undefined && !isObject(underlyingSink)) throw new TypeError("underlyingSink is not an object.");
    const queuing = readQueuingStrategy(strategy);
    const sink = underlyingSink === undefined ? null : underlyingSink;
    const abort = toOptionalCallback(sink?.abort, "underlyingSink.abort");
    const close = toOptionalCallback(sink?.close, "underlyingSink.close");
    const start = toOptionalCallback(sink?.start, "underlyingSink.start");
    const type = sink?.type;
    const write = toOptionalCallback(sink?.write, "underlyingSink.write");
    if (type !== undefined) throw new RangeError("underlyingSink.type is reserved for future use and must be undefined.");

    const stream = newWritableStreamRecord();
    stream.object = this;
    this.#stream = stream;
    const sizeAlgorithm = extractSizeAlgorithm(queuing);
    const highWaterMark = extractHighWaterMark(queuing, 1);
    setUpWritableController(
      stream,
      (controller) => (start === undefined ? undefined : start.call(sink, controller.object)),
      (chunk) => invokeUnderlying(write, sink, [chunk, stream.controller.object]),
      () => invokeUnderlying(close, sink, []),
      (reason) => invokeUnderlying(abort, sink, [reason]),
      highWaterMark,
      sizeAlgorithm,
    );
  }

  get locked() {
    return isWritableStreamLocked(this.#stream);
  }

  abort(reason = undefined) {
    if (!isWritableStream(this)) return Promise.reject(new TypeError("Illegal invocation: not a WritableStream."));
    const stream = this.#stream;
    if (isWritableStreamLocked(stream)) return Promise.reject(new TypeError("Cannot abort a locked stream."));
    return writableStreamAbort(stream, reason);
  }

  close() {
    if (!isWritableStream(this)) return Promise.reject(new TypeError("Illegal invocation: not a WritableStream."));
    const stream = this.#stream;
    if (isWritableStreamLocked(stream)) return Promise.reject(new TypeError("Cannot close a locked stream."));
    if (writableStreamCloseQueuedOrInFlight(stream)) return Promise.reject(new TypeError("The stream is already closing."));
    return writableStreamClose(stream);
  }

  getWriter() {
    return new WritableStreamDefaultWriter(this);
  }

  static {
    writableStreamRecordOf = (value) => {
      if (!isObject(value) || !(#stream in value)) throw new TypeError("Illegal invocation: not a WritableStream.");
      return value.#stream;
    };
    constructWritableStream = (record) => new WritableStream(INTERNAL, record);
  }
}

class WritableStreamDefaultWriter {
  #writer;

  constructor(stream) {
    requireArguments(arguments.length, 1, "Failed to construct 'WritableStreamDefaultWriter'");
    this.#writer = acquireWritableWriter(writableStreamRecordOf(stream));
  }

  // Promise-returning members reject, rather than throw, on a foreign receiver.
  static #writerOf(value) {
    return isObject(value) && #writer in value ? value.#writer : null;
  }

  get closed() {
    const writer = WritableStreamDefaultWriter.#writerOf(this);
    if (writer === null) return Promise.reject(new TypeError("Illegal invocation: not a WritableStreamDefaultWriter."));
    return writer.closed.promise;
  }

  get desiredSize() {
    const writer = this.#writer;
    if (writer.stream === null) throw new TypeError("The writer has been released.");
    return writableWriterGetDesiredSize(writer);
  }

  get ready() {
    const writer = WritableStreamDefaultWriter.#writerOf(this);
    if (writer === null) return Promise.reject(new TypeError("Illegal invocation: not a WritableStreamDefaultWriter."));
    return writer.ready.promise;
  }

  abort(reason = undefined) {
    const writer = WritableStreamDefaultWriter.#writerOf(this);
    if (writer === null) return Promise.reject(new TypeError("Illegal invocation: not a WritableStreamDefaultWriter."));
    if (writer.stream === null) return Promise.reject(new TypeError("The writer has been released."));
    return writableStreamAbort(writer.stream, reason);
  }

  close() {
    const writer = WritableStreamDefaultWriter.#writerOf(this);
    if (writer === null) return Promise.reject(new TypeError("Illegal invocation: not a WritableStreamDefaultWriter."));
    const stream = writer.stream;
    if (stream === null) return Promise.reject(new TypeError("The writer has been released."));
    if (writableStreamCloseQueuedOrInFlight(stream)) return Promise.reject(new TypeError("The stream is already closing."));
    return writableStreamClose(stream);
  }

  releaseLock() {
    const writer = this.#writer;
    if (writer.stream !== null) writableWriterRelease(writer);
  }

  write(chunk = undefined) {
    const writer = WritableStreamDefaultWriter.#writerOf(this);
    if (writer === null) return Promise.reject(new TypeError("Illegal invocation: not a WritableStreamDefaultWriter."));
    if (writer.stream === null) return Promise.reject(new TypeError("The writer has been released."));
    return writableWriterWrite(writer, chunk);
  }
}

class WritableStreamDefaultController {
  #controller;

  constructor(token = undefined, record = undefined) {
    if (token !== INTERNAL) throw new TypeError("Illegal constructor");
    this.#controller = record;
  }

  get signal() {
    return this.#controller.signal;
  }

  error(e = undefined) {
    const controller = this.#controller;
    if (controller.stream.state !== "writable") return;
    writableControllerError(controller, e);
  }
}

for (const [cls, tag] of [
  [WritableStream, "WritableStream"],
  [WritableStreamDefaultWriter, "WritableStreamDefaultWriter"],
  [WritableStreamDefaultController, "WritableStreamDefaultController"],
]) {
  finishInterface(cls, tag);
  exposeGlobal(tag, cls);
}
