// ReadableStream (WHATWG Streams §4), its default reader and controller, and the queuing
// strategies. The algorithms follow the standard's abstract operations, under the same
// names in camelCase, acting on plain internal records that the public objects hide in a
// private field:
//   stream     { object, state: "readable"|"closed"|"errored", storedError, reader, disturbed, controller }
//   controller { object, stream, queue, queueTotalSize, started, closeRequested, pulling,
//                pullAgain, highWaterMark, sizeAlgorithm, pullAlgorithm, cancelAlgorithm, isByte }
//   reader     { stream, readRequests: [{chunk, close, error}], closed: deferred }
//
// pipeTo and pipeThrough convert their arguments here; the piping itself is in 43-pipe-to.js,
// WritableStream and TransformStream in the other 43-*.js files.
//
// Deviations, to grow later: a `type: "bytes"` source gets a ReadableByteStreamController
// that behaves as a default controller (no BYOB readers, byobRequest is always null, tee
// does not clone chunks).

function newDeferred() {
  return Promise.withResolvers();
}

function invokeUnderlying(method, receiver, args) {
  if (method === undefined) return Promise.resolve(undefined);
  try {
    return Promise.resolve(method.apply(receiver, args));
  } catch (err) {
    return Promise.reject(err);
  }
}

// ---- internal views, set by the classes' static blocks

let streamRecordOf; // (ReadableStream) -> stream record, or TypeError
let constructReadableStream; // (stream record) -> ReadableStream facade
let constructController; // (controller record) -> controller facade

// ---- stream operations

function isReadableStreamLocked(stream) {
  return stream.reader !== null;
}

// CreateReadableStream: a stream whose source is made of internal algorithms, which
// receive the controller record; pull and cancel return promises.
function createReadableStream(startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark = 1, sizeAlgorithm = () => 1) {
  const stream = newStreamRecord();
  const object = constructReadableStream(stream);
  setUpController(stream, startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark, sizeAlgorithm, false);
  return object;
}

function newStreamRecord() {
  return { object: null, state: "readable", storedError: undefined, reader: null, disturbed: false, controller: null };
}

function readableStreamCancel(stream, reason) {
  stream.disturbed = true;
  if (stream.state === "closed") return Promise.resolve(undefined);
  if (stream.state === "errored") return Promise.reject(stream.storedError);
  readableStreamClose(stream);
  const controller = stream.controller;
  resetQueue(controller);
  const cancelled = controller.cancelAlgorithm(reason);
  clearAlgorithms(controller);
  return cancelled.then(() => undefined);
}

function readableStreamClose(stream) {
  stream.state = "closed";
  const reader = stream.reader;
  if (reader === null) return;
  reader.closed.resolve(undefined);
  const requests = reader.readRequests;
  reader.readRequests = [];
  for (const request of requests) request.close();
}

function readableStreamError(stream, error) {
  stream.state = "errored";
  stream.storedError = error;
  const reader = stream.reader;
  if (reader === null) return;
  reader.closed.reject(error);
  reader.closed.promise.catch(() => {});
  const requests = reader.readRequests;
  reader.readRequests = [];
  for (const request of requests) request.error(error);
}

function readableStreamFulfillReadRequest(stream, chunk) {
  stream.reader.readRequests.shift().chunk(chunk);
}

// ---- controller operations

function setUpController(stream, startAlgorithm, pullAlgorithm, cancelAlgorithm, highWaterMark, sizeAlgorithm, isByte) {
  const controller = {
    object: null, stream, queue: [], queueTotalSize: 0,
    started: false, closeRequested: false, pulling: false, pullAgain: false,
    highWaterMark, sizeAlgorithm, pullAlgorithm, cancelAlgorithm, isByte,
  };
  controller.object = constructController(controller);
  stream.controller = controller;
  const startResult = startAlgorithm(controller);
  Promise.resolve(startResult).then(
    () => {
      controller.started = true;
      callPullIfNeeded(controller);
    },
    (reason) => controllerError(controller, reason),
  );
}

function resetQueue(controller) {
  controller.queue = [];
  controller.queueTotalSize = 0;
}

function clearAlgorithms(controller) {
  controller.pullAlgorithm = undefined;
  controller.cancelAlgorithm = undefined;
  controller.sizeAlgorithm = undefined;
}

function canCloseOrEnqueue(controller) {
  return !controller.closeRequested && controller.stream.state === "readable";
}

function desiredSize(controller) {
  const state = controller.stream.state;
  if (state === "errored") return null;
  if (state === "closed") return 0;
  return controller.highWaterMark - controller.queueTotalSize;
}

function shouldCallPull(controller) {
  if (!canCloseOrEnqueue(controller) || !controller.started) return false;
  const stream = controller.stream;
  if (stream.reader !== null && stream.reader.readRequests.length > 0) return true;
  return desiredSize(controller) > 0;
}

function callPullIfNeeded(controller) {
  if (!shouldCallPull(controller)) return;
  if (controller.pulling) {
    controller.pullAgain = true;
    return;
  }
  controller.pulling = true;
  controller.pullAlgorithm(controller).then(
    () => {
      controller.pulling = false;
      if (controller.pullAgain) {
        controller.pullAgain = false;
        callPullIfNeeded(controller);
      }
    },
    (reason) => controllerError(controller, reason),
  );
}

function controllerClose(controller) {
  if (!canCloseOrEnqueue(controller)) return;
  controller.closeRequested = true;
  if (controller.queue.length === 0) {
    clearAlgorithms(controller);
    readableStreamClose(controller.stream);
  }
}

function controllerEnqueue(controller, chunk) {
  if (!canCloseOrEnqueue(controller)) return;
  const stream = controller.stream;
  if (stream.reader !== null && stream.reader.readRequests.length > 0) {
    readableStreamFulfillReadRequest(stream, chunk);
  } else {
    let size;
    try {
      size = controller.sizeAlgorithm(chunk);
      size = Number(size);
      if (!(size >= 0) || size === Infinity) throw new RangeError("The chunk size must be a finite, non-negative number.");
    } catch (err) {
      controllerError(controller, err);
      throw err;
    }
    controller.queue.push({ value: chunk, size });
    controller.queueTotalSize += size;
  }
  callPullIfNeeded(controller);
}

function controllerError(controller, error) {
  const stream = controller.stream;
  if (stream.state !== "readable") return;
  resetQueue(controller);
  clearAlgorithms(controller);
  readableStreamError(stream, error);
}

// [[PullSteps]]: serve a read from the queue, or park it until a chunk arrives.
function controllerPullSteps(controller, readRequest) {
  const stream = controller.stream;
  if (controller.queue.length > 0) {
    const { value, size } = controller.queue.shift();
    controller.queueTotalSize = Math.max(0, controller.queueTotalSize - size);
    if (controller.closeRequested && controller.queue.length === 0) {
      clearAlgorithms(controller);
      readableStreamClose(stream);
    } else {
      callPullIfNeeded(controller);
    }
    readRequest.chunk(value);
  } else {
    stream.reader.readRequests.push(readRequest);
    callPullIfNeeded(controller);
  }
}

// ---- reader operations

function acquireReader(stream) {
  if (isReadableStreamLocked(stream)) throw new TypeError("The stream is locked to a reader.");
  const reader = { stream, readRequests: [], closed: newDeferred() };
  stream.reader = reader;
  if (stream.state === "closed") {
    reader.closed.resolve(undefined);
  } else if (stream.state === "errored") {
    reader.closed.reject(stream.storedError);
    reader.closed.promise.catch(() => {});
  }
  return reader;
}

function readerRead(reader, readRequest) {
  const stream = reader.stream;
  stream.disturbed = true;
  if (stream.state === "closed") readRequest.close();
  else if (stream.state === "errored") readRequest.error(stream.storedError);
  else controllerPullSteps(stream.controller, readRequest);
}

// A read as a promise of {value, done}.
function readerReadPromise(reader) {
  const { promise, resolve, reject } = Promise.withResolvers();
  readerRead(reader, {
    chunk: (value) => resolve({ value, done: false }),
    close: () => resolve({ value: undefined, done: true }),
    error: reject,
  });
  return promise;
}

function readerRelease(reader) {
  const stream = reader.stream;
  const released = new TypeError("The reader's lock was released.");
  if (stream.state === "readable") {
    reader.closed.reject(released);
  } else {
    reader.closed = newDeferred();
    reader.closed.reject(released);
  }
  reader.closed.promise.catch(() => {});
  stream.reader = null;
  reader.stream = null;
  const requests = reader.readRequests;
  reader.readRequests = [];
  for (const request of requests) request.error(released);
}

function readerCancel(reader, reason) {
  return readableStreamCancel(reader.stream, reason);
}

// ---- the public classes

class ReadableStream {
  #stream;

  constructor(underlyingSource = undefined, strategy = undefined) {
    if (underlyingSource === INTERNAL) {
      this.#stream = strategy;
      strategy.object = this;
      return;
    }
    // Dictionary members are read in the IDL's order: arguments first, members by name.
    const queuing = toDictionary(strategy, "strategy");
    let highWaterMark = queuing.highWaterMark; // read once: it may be a getter
    if (highWaterMark !== undefined) highWaterMark = +highWaterMark;
    const size = toOptionalCallback(queuing.size, "strategy.size");
    const source = underlyingSource === null ? null : toDictionary(underlyingSource, "underlyingSource");
    const cancel = toOptionalCallback(source?.cancel, "underlyingSource.cancel");
    const pull = toOptionalCallback(source?.pull, "underlyingSource.pull");
    const start = toOptionalCallback(source?.start, "underlyingSource.start");
    const type = source?.type === undefined ? undefined : toEnum(source.type, ["bytes"], "underlyingSource.type");

    const isByte = type === "bytes";
    if (isByte && size !== undefined) throw new RangeError("A byte stream cannot have a size function.");
    if (highWaterMark === undefined) highWaterMark = isByte ? 0 : 1;
    if (Number.isNaN(highWaterMark) || highWaterMark < 0) throw new RangeError("highWaterMark must be a non-negative number.");

    const stream = newStreamRecord();
    stream.object = this;
    this.#stream = stream;
    const sizeAlgorithm = isByte ? (chunk) => chunk.byteLength : size === undefined ? () => 1 : (chunk) => size(chunk);
    setUpController(
      stream,
      (controller) => (start === undefined ? undefined : start.call(source, controller.object)),
      (controller) => invokeUnderlying(pull, source, [controller.object]),
      (reason) => invokeUnderlying(cancel, source, [reason]),
      highWaterMark,
      sizeAlgorithm,
      isByte,
    );
  }

  static from(asyncIterable) {
    return readableStreamFromIterable(asyncIterable);
  }

  get locked() {
    return isReadableStreamLocked(this.#stream);
  }

  cancel(reason = undefined) {
    if (!isObject(this) || !(#stream in this)) return Promise.reject(new TypeError("Illegal invocation: not a ReadableStream."));
    if (isReadableStreamLocked(this.#stream)) return Promise.reject(new TypeError("Cannot cancel a locked stream."));
    return readableStreamCancel(this.#stream, reason);
  }

  getReader(options = undefined) {
    this.#stream; // brand check first
    const mode = toDictionary(options, "options").mode;
    if (mode !== undefined) {
      toEnum(mode, ["byob"], "options.mode");
      throw new TypeError("BYOB readers are not supported yet.");
    }
    return new ReadableStreamDefaultReader(this);
  }

  pipeThrough(transform, options = undefined) {
    const stream = this.#stream;
    requireArguments(arguments.length, 1, "Failed to execute 'pipeThrough' on 'ReadableStream'");
    // ReadableWritablePair, members read by name; then the options.
    const pair = toDictionary(transform, "transform");
    if (pair.readable === undefined) throw new TypeError("Failed to execute 'pipeThrough' on 'ReadableStream': transform.readable is required.");
    const readable = streamRecordOf(pair.readable);
    if (pair.writable === undefined) throw new TypeError("Failed to execute 'pipeThrough' on 'ReadableStream': transform.writable is required.");
    const writable = writableStreamRecordOf(pair.writable);
    const { preventAbort, preventCancel, preventClose, signal } = readStreamPipeOptions(options);
    if (isReadableStreamLocked(stream)) throw new TypeError("Cannot pipe a locked stream.");
    if (isWritableStreamLocked(writable)) throw new TypeError("Cannot pipe into a locked stream.");
    const piped = readableStreamPipeTo(stream, writable, preventClose, preventAbort, preventCancel, signal);
    piped.catch(() => {}); // failures show on the streams themselves
    return readable.object;
  }

  pipeTo(destination, options = undefined) {
    if (!isObject(this) || !(#stream in this)) return Promise.reject(new TypeError("Illegal invocation: not a ReadableStream."));
    const stream = this.#stream;
    let dest;
    let pipeOptions;
    try {
      requireArguments(arguments.length, 1, "Failed to execute 'pipeTo' on 'ReadableStream'");
      dest = writableStreamRecordOf(destination);
      pipeOptions = readStreamPipeOptions(options);
    } catch (err) {
      return Promise.reject(err);
    }
    if (isReadableStreamLocked(stream)) return Promise.reject(new TypeError("Cannot pipe a locked stream."));
    if (isWritableStreamLocked(dest)) return Promise.reject(new TypeError("Cannot pipe into a locked stream."));
    const { preventAbort, preventCancel, preventClose, signal } = pipeOptions;
    return readableStreamPipeTo(stream, dest, preventClose, preventAbort, preventCancel, signal);
  }

  tee() {
    return readableStreamTee(this.#stream).map((branch) => branch.object);
  }

  values(options = undefined) {
    const stream = this.#stream;
    const preventCancel = Boolean(toDictionary(options, "options").preventCancel);
    return newStreamAsyncIterator(acquireReader(stream), preventCancel);
  }

  static {
    streamRecordOf = (value) => {
      if (!isObject(value) || !(#stream in value)) throw new TypeError("Illegal invocation: not a ReadableStream.");
      return value.#stream;
    };
    constructReadableStream = (record) => new ReadableStream(INTERNAL, record);
  }
}
// Web IDL: @@asyncIterator is the very function values() is.
Object.defineProperty(ReadableStream.prototype, Symbol.asyncIterator, {
  value: ReadableStream.prototype.values, writable: true, configurable: true,
});

class ReadableStreamDefaultReader {
  #reader;

  constructor(stream) {
    requireArguments(arguments.length, 1, "Failed to construct 'ReadableStreamDefaultReader'");
    this.#reader = acquireReader(streamRecordOf(stream));
  }

  get closed() {
    return this.#reader.closed.promise;
  }

  read() {
    if (!isObject(this) || !(#reader in this)) return Promise.reject(new TypeError("Illegal invocation: not a ReadableStreamDefaultReader."));
    const reader = this.#reader;
    if (reader.stream === null) return Promise.reject(new TypeError("The reader has been released."));
    return readerReadPromise(reader);
  }

  releaseLock() {
    const reader = this.#reader;
    if (reader.stream !== null) readerRelease(reader);
  }

  cancel(reason = undefined) {
    if (!isObject(this) || !(#reader in this)) return Promise.reject(new TypeError("Illegal invocation: not a ReadableStreamDefaultReader."));
    const reader = this.#reader;
    if (reader.stream === null) return Promise.reject(new TypeError("The reader has been released."));
    return readerCancel(reader, reason);
  }
}

class ReadableStreamDefaultController {
  #controller;

  constructor(token = undefined, record = undefined) {
    if (token !== INTERNAL) throw new TypeError("Illegal constructor");
    this.#controller = record;
  }

  get desiredSize() {
    return desiredSize(this.#controller);
  }

  close() {
    const controller = this.#controller;
    if (!canCloseOrEnqueue(controller)) throw new TypeError("The stream is not in a state that permits close.");
    controllerClose(controller);
  }

  enqueue(chunk = undefined) {
    const controller = this.#controller;
    if (!canCloseOrEnqueue(controller)) throw new TypeError("The stream is not in a state that permits enqueue.");
    controllerEnqueue(controller, chunk);
  }

  error(error = undefined) {
    controllerError(this.#controller, error);
  }
}

// For `type: "bytes"` sources: a default controller that insists on byte chunks and takes
// over their buffer (transferring it, as the spec does), so chunks read are Uint8Arrays.
class ReadableByteStreamController {
  #controller;

  constructor(token = undefined, record = undefined) {
    if (token !== INTERNAL) throw new TypeError("Illegal constructor");
    this.#controller = record;
  }

  get byobRequest() {
    this.#controller; // brand check
    return null;
  }

  get desiredSize() {
    return desiredSize(this.#controller);
  }

  close() {
    const controller = this.#controller;
    if (!canCloseOrEnqueue(controller)) throw new TypeError("The stream is not in a state that permits close.");
    controllerClose(controller);
  }

  enqueue(chunk) {
    requireArguments(arguments.length, 1, "Failed to execute 'enqueue' on 'ReadableByteStreamController'");
    const controller = this.#controller;
    if (!ArrayBuffer.isView(chunk)) throw new TypeError("The chunk must be an ArrayBufferView.");
    if (!(chunk.buffer instanceof ArrayBuffer)) throw new TypeError("The chunk's buffer must be an ArrayBuffer.");
    if (chunk.byteLength === 0) throw new TypeError("The chunk must not be empty (or its buffer is detached).");
    if (!canCloseOrEnqueue(controller)) throw new TypeError("The stream is not in a state that permits enqueue.");
    const { byteOffset, byteLength } = chunk;
    const buffer = chunk.buffer.transfer();
    controllerEnqueue(controller, new Uint8Array(buffer, byteOffset, byteLength));
  }

  error(error = undefined) {
    controllerError(this.#controller, error);
  }
}

constructController = (record) =>
  record.isByte ? new ReadableByteStreamController(INTERNAL, record) : new ReadableStreamDefaultController(INTERNAL, record);

// ---- async iteration (Web IDL async iterable, values() / @@asyncIterator)

const StreamAsyncIteratorPrototype = Object.create(AsyncIteratorPrototype);
const asyncIteratorState = new WeakMap();

function newStreamAsyncIterator(reader, preventCancel) {
  const iterator = Object.create(StreamAsyncIteratorPrototype);
  asyncIteratorState.set(iterator, { reader, preventCancel, ongoing: null, finished: false });
  return iterator;
}

function streamIteratorNext(state) {
  if (state.finished) return Promise.resolve({ value: undefined, done: true });
  const reader = state.reader;
  if (reader.stream === null) return Promise.reject(new TypeError("The iterator's reader has been released."));
  const { promise, resolve, reject } = Promise.withResolvers();
  readerRead(reader, {
    chunk: (value) => resolve({ value, done: false }),
    close: () => {
      state.finished = true;
      readerRelease(reader);
      resolve({ value: undefined, done: true });
    },
    error: (error) => {
      state.finished = true;
      readerRelease(reader);
      reject(error);
    },
  });
  return promise;
}

function streamIteratorReturn(state, value) {
  if (state.finished) return Promise.resolve({ value, done: true });
  state.finished = true;
  const reader = state.reader;
  if (reader.stream === null) return Promise.reject(new TypeError("The iterator's reader has been released."));
  if (!state.preventCancel) {
    const cancelled = readerCancel(reader, value);
    readerRelease(reader);
    return cancelled.then(() => ({ value, done: true }));
  }
  readerRelease(reader);
  return Promise.resolve({ value, done: true });
}

// Calls are chained so that a next() issued before the previous one settled waits its turn.
function chainIteratorStep(iterator, step) {
  const state = asyncIteratorState.get(iterator);
  if (state === undefined) return Promise.reject(new TypeError("Illegal invocation: not a ReadableStream async iterator."));
  const run = () => step(state);
  const result = state.ongoing === null ? run() : state.ongoing.then(run, run);
  state.ongoing = result.then(() => undefined, () => undefined);
  return result;
}

Object.defineProperties(StreamAsyncIteratorPrototype, {
  next: {
    value: function next() { return chainIteratorStep(this, streamIteratorNext); },
    writable: true, enumerable: true, configurable: true,
  },
  return: {
    value: function (value = undefined) { return chainIteratorStep(this, (state) => streamIteratorReturn(state, value)); },
    writable: true, enumerable: true, configurable: true,
  },
  [Symbol.toStringTag]: { value: "ReadableStream AsyncIterator", configurable: true },
});

// ---- ReadableStream.from

function readableStreamFromIterable(iterable) {
  if (!isObject(iterable) && typeof iterable !== "string") throw new TypeError("ReadableStream.from: the argument is not iterable.");
  let iterator;
  let nextMethod;
  const asyncMethod = iterable[Symbol.asyncIterator];
  if (asyncMethod !== undefined && asyncMethod !== null) {
    iterator = asyncMethod.call(iterable);
    if (!isObject(iterator)) throw new TypeError("ReadableStream.from: @@asyncIterator did not return an object.");
    nextMethod = iterator.next;
  } else {
    const syncMethod = iterable[Symbol.iterator];
    if (typeof syncMethod !== "function") throw new TypeError("ReadableStream.from: the argument is not iterable.");
    const syncIterator = syncMethod.call(iterable);
    if (!isObject(syncIterator)) throw new TypeError("ReadableStream.from: @@iterator did not return an object.");
    const syncNext = syncIterator.next;
    // As CreateAsyncFromSyncIterator: values that are promises are awaited.
    iterator = {
      next: () => {
        const result = syncNext.call(syncIterator);
        if (!isObject(result)) throw new TypeError("The iterator result is not an object.");
        const done = Boolean(result.done);
        return Promise.resolve(result.value).then((value) => ({ value, done }));
      },
      return: (reason) => {
        const returnMethod = syncIterator.return;
        if (returnMethod === undefined || returnMethod === null) return { value: reason, done: true };
        return returnMethod.call(syncIterator, reason);
      },
    };
    nextMethod = iterator.next;
  }

  const pull = (controller) => {
    let nextResult;
    try {
      nextResult = nextMethod.call(iterator);
    } catch (err) {
      return Promise.reject(err);
    }
    return Promise.resolve(nextResult).then((result) => {
      if (!isObject(result)) throw new TypeError("The iterator result is not an object.");
      if (result.done) controllerClose(controller);
      else controllerEnqueue(controller, result.value);
    });
  };
  const cancel = (reason) => {
    let returnMethod;
    try {
      returnMethod = iterator.return;
      if (returnMethod === undefined || returnMethod === null) return Promise.resolve(undefined);
      return Promise.resolve(returnMethod.call(iterator, reason)).then((result) => {
        if (!isObject(result)) throw new TypeError("The iterator's return() result is not an object.");
      });
    } catch (err) {
      return Promise.reject(err);
    }
  };
  return createReadableStream(() => undefined, pull, cancel, 0);
}

// ---- tee (ReadableStreamDefaultTee, without cloning chunks)

function readableStreamTee(stream) {
  const reader = acquireReader(stream);
  let reading = false;
  let readAgain = false;
  const canceled = [false, false];
  const reasons = [undefined, undefined];
  const branches = [null, null];
  const cancelled = newDeferred();

  const pull = () => {
    if (reading) {
      readAgain = true;
      return Promise.resolve(undefined);
    }
    reading = true;
    readerRead(reader, {
      // A microtask later, as the spec says, so a read errored in between is seen first.
      chunk: (chunk) => queueMicrotaskInternal(() => {
        readAgain = false;
        for (const i of [0, 1]) {
          if (!canceled[i]) controllerEnqueue(branches[i].controller, chunk);
        }
        reading = false;
        if (readAgain) pull();
      }),
      close: () => {
        reading = false;
        for (const i of [0, 1]) {
          if (!canceled[i]) controllerClose(branches[i].controller);
        }
        if (!canceled[0] || !canceled[1]) cancelled.resolve(undefined);
      },
      error: () => {
        reading = false;
      },
    });
    return Promise.resolve(undefined);
  };

  const cancelBranch = (i) => (reason) => {
    canceled[i] = true;
    reasons[i] = reason;
    if (canceled[1 - i]) cancelled.resolve(readableStreamCancel(stream, [reasons[0], reasons[1]]));
    return cancelled.promise;
  };

  for (const i of [0, 1]) {
    branches[i] = streamRecordOf(createReadableStream(() => undefined, pull, cancelBranch(i)));
  }
  reader.closed.promise.catch((reason) => {
    for (const branch of branches) controllerError(branch.controller, reason);
    if (!canceled[0] || !canceled[1]) cancelled.resolve(undefined);
  });
  return branches;
}

function queueMicrotaskInternal(callback) {
  Promise.resolve().then(callback);
}

// ---- queuing strategies

function strategyHighWaterMark(init, name) {
  const dict = toDictionary(init, "init");
  if (dict.highWaterMark === undefined) throw new TypeError(`Failed to construct '${name}': highWaterMark is required.`);
  return +dict.highWaterMark;
}

const countSize = function size() { return 1; };
const byteLengthSize = function size(chunk) { return chunk.byteLength; };

class CountQueuingStrategy {
  #highWaterMark;
  constructor(init) {
    this.#highWaterMark = strategyHighWaterMark(init, "CountQueuingStrategy");
  }
  get highWaterMark() { return this.#highWaterMark; }
  get size() { this.#highWaterMark; /* brand check */ return countSize; }
}

class ByteLengthQueuingStrategy {
  #highWaterMark;
  constructor(init) {
    this.#highWaterMark = strategyHighWaterMark(init, "ByteLengthQueuingStrategy");
  }
  get highWaterMark() { return this.#highWaterMark; }
  get size() { this.#highWaterMark; /* brand check */ return byteLengthSize; }
}

// ---- helpers for bodies: these take and return ReadableStream objects, not records

function isReadableStream(value) {
  try {
    streamRecordOf(value);
    return true;
  } catch {
    return false;
  }
}

// A stream of one Uint8Array chunk (none when empty), then closed.
function readableStreamFromBytes(bytes) {
  return createReadableStream((controller) => {
    if (bytes.byteLength > 0) controllerEnqueue(controller, bytes);
    controllerClose(controller);
  }, () => Promise.resolve(undefined), () => Promise.resolve(undefined), 0);
}

// "Fully read" a stream of Uint8Array chunks into one Uint8Array.
function readAllBytes(stream) {
  const reader = acquireReader(streamRecordOf(stream));
  const chunks = [];
  let total = 0;
  const { promise, resolve, reject } = Promise.withResolvers();
  const readNext = () => {
    readerRead(reader, {
      chunk: (chunk) => {
        if (!(chunk instanceof Uint8Array)) {
          reject(new TypeError("A body stream chunk is not a Uint8Array."));
          return;
        }
        chunks.push(chunk);
        total += chunk.byteLength;
        queueMicrotaskInternal(readNext); // not recursively: a long stream would grow the stack
      },
      close: () => resolve(concatBytes(chunks, total)),
      error: reject,
    });
  };
  readNext();
  return promise;
}

for (const [cls, tag] of [
  [ReadableStream, "ReadableStream"],
  [ReadableStreamDefaultReader, "ReadableStreamDefaultReader"],
  [ReadableStreamDefaultController, "ReadableStreamDefaultController"],
  [ReadableByteStreamController, "ReadableByteStreamController"],
  [CountQueuingStrategy, "CountQueuingStrategy"],
  [ByteLengthQueuingStrategy, "ByteLengthQueuingStrategy"],
]) {
  finishInterface(cls, tag);
  exposeGlobal(tag, cls);
}
