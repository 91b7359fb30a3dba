// TransformStream (WHATWG Streams §6) and its default controller: a writable side whose
// chunks go through `transform` into a readable side. The algorithms are the standard's
// (TransformStream... becomes transformStream..., TransformStreamDefaultController...
// becomes transformController...), on a record:
//   { object, readable: stream record, writable: stream record, controller,
//     backpressure, backpressureChangePromise: deferred }
//   controller { object, stream, transformAlgorithm, flushAlgorithm, cancelAlgorithm,
//                finishPromise: deferred or null }
// The readable and writable sides are the records of 42-streams.js and 43-writable-stream.js.

// InitializeTransformStream plus SetUpTransformStreamDefaultController: a transform stream
// over internal algorithms (transform(chunk) and flush() and cancel(reason) return promises;
// they receive the controller record as their last argument).
function createTransformStream(object, startPromise, transformAlgorithm, flushAlgorithm, cancelAlgorithm, writableHighWaterMark, writableSizeAlgorithm, readableHighWaterMark, readableSizeAlgorithm) {
  const stream = { object, readable: null, writable: null, controller: null, backpressure: false, backpressureChangePromise: null };
  const startAlgorithm = () => startPromise;
  stream.writable = createWritableStream(
    startAlgorithm,
    (chunk) => transformStreamSinkWrite(stream, chunk),
    () => transformStreamSinkClose(stream),
    (reason) => transformStreamSinkAbort(stream, reason),
    writableHighWaterMark,
    writableSizeAlgorithm,
  );
  stream.readable = streamRecordOf(createReadableStream(
    startAlgorithm,
    () => transformStreamSourcePull(stream),
    (reason) => transformStreamSourceCancel(stream, reason),
    readableHighWaterMark,
    readableSizeAlgorithm,
  ));
  // Writes wait until the readable side wants chunks.
  transformStreamSetBackpressure(stream, true);
  const controller = {
    object: null, stream, transformAlgorithm, flushAlgorithm, cancelAlgorithm, finishPromise: null,
  };
  controller.object = new TransformStreamDefaultController(INTERNAL, controller);
  stream.controller = controller;
  return stream;
}

function transformStreamError(stream, error) {
  controllerError(stream.readable.controller, error);
  transformStreamErrorWritableAndUnblockWrite(stream, error);
}

function transformStreamErrorWritableAndUnblockWrite(stream, error) {
  transformControllerClearAlgorithms(stream.controller);
  writableControllerErrorIfNeeded(stream.writable.controller, error);
  transformStreamUnblockWrite(stream);
}

function transformStreamUnblockWrite(stream) {
  if (stream.backpressure) transformStreamSetBackpressure(stream, false);
}

function transformStreamSetBackpressure(stream, backpressure) {
  if (stream.backpressureChangePromise !== null) stream.backpressureChangePromise.resolve(undefined);
  stream.backpressureChangePromise = newDeferred();
  stream.backpressure = backpressure;
}

// ---- controller operations

function transformControllerClearAlgorithms(controller) {
  controller.transformAlgorithm = undefined;
  controller.flushAlgorithm = undefined;
  controller.cancelAlgorithm = undefined;
}

function transformControllerEnqueue(controller, chunk) {
  const stream = controller.stream;
  const readableController = stream.readable.controller;
  if (!canCloseOrEnqueue(readableController)) throw new TypeError("The readable side is not in a state that permits enqueue.");
  try {
    controllerEnqueue(readableController, chunk);
  } catch (err) {
    transformStreamErrorWritableAndUnblockWrite(stream, err);
    throw stream.readable.storedError;
  }
  const backpressure = !shouldCallPull(readableController);
  if (backpressure !== stream.backpressure) transformStreamSetBackpressure(stream, true);
}

function transformControllerPerformTransform(controller, chunk) {
  return controller.transformAlgorithm(chunk, controller).catch((reason) => {
    transformStreamError(controller.stream, reason);
    throw reason;
  });
}

function transformControllerTerminate(controller) {
  const stream = controller.stream;
  controllerClose(stream.readable.controller);
  transformStreamErrorWritableAndUnblockWrite(stream, new TypeError("The transform stream has been terminated."));
}

// ---- the writable side's sink

function transformStreamSinkWrite(stream, chunk) {
  const controller = stream.controller;
  if (!stream.backpressure) return transformControllerPerformTransform(controller, chunk);
  return stream.backpressureChangePromise.promise.then(() => {
    const writable = stream.writable;
    if (writable.state === "erroring") throw writable.storedError;
    return transformControllerPerformTransform(controller, chunk);
  });
}

function transformStreamSinkAbort(stream, reason) {
  const controller = stream.controller;
  if (controller.finishPromise !== null) return controller.finishPromise.promise;
  const readable = stream.readable;
  const finish = (controller.finishPromise = newDeferred());
  const cancelled = controller.cancelAlgorithm(reason, controller);
  transformControllerClearAlgorithms(controller);
  cancelled.then(
    () => {
      if (readable.state === "errored") {
        finish.reject(readable.storedError);
      } else {
        controllerError(readable.controller, reason);
        finish.resolve(undefined);
      }
    },
    (error) => {
      controllerError(readable.controller, error);
      finish.reject(error);
    },
  );
  return finish.promise;
}

function transformStreamSinkClose(stream) {
  const controller = stream.controller;
  if (controller.finishPromise !== null) return controller.finishPromise.promise;
  const readable = stream.readable;
  const finish = (controller.finishPromise = newDeferred());
  const flushed = controller.flushAlgorithm(controller);
  transformControllerClearAlgorithms(controller);
  flushed.then(
    () => {
      if (readable.state === "errored") {
        finish.reject(readable.storedError);
      } else {
        controllerClose(readable.controller);
        finish.resolve(undefined);
      }
    },
    (error) => {
      controllerError(readable.controller, error);
      finish.reject(error);
    },
  );
  return finish.promise;
}

// ---- the readable side's source

function transformStreamSourcePull(stream) {
  transformStreamSetBackpressure(stream, false);
  return stream.backpressureChangePromise.promise;
}

function transformStreamSourceCancel(stream, reason) {
  const controller = stream.controller;
  if (controller.finishPromise !== null) return controller.finishPromise.promise;
  const writable = stream.writable;
  const finish = (controller.finishPromise = newDeferred());
  const cancelled = controller.cancelAlgorithm(reason, controller);
  transformControllerClearAlgorithms(controller);
  cancelled.then(
    () => {
      if (writable.state === "errored") {
        finish.reject(writable.storedError);
      } else {
        writableControllerErrorIfNeeded(writable.controller, reason);
        transformStreamUnblockWrite(stream);
        finish.resolve(undefined);
      }
    },
    (error) => {
      writableControllerErrorIfNeeded(writable.controller, error);
      transformStreamUnblockWrite(stream);
      finish.reject(error);
    },
  );
  return finish.promise;
}

// ---- the public classes

class TransformStream {
  #stream;

  constructor(transformer = undefined, writableStrategy = undefined, readableStrategy = undefined) {
    // Arguments in order, then the transformer's members by name.
    if (transformer !== undefined && !isObject(transformer)) throw new TypeError("transformer is not an object.");
    const writableQueuing = readQueuingStrategy(writableStrategy);
    const readableQueuing = readQueuingStrategy(readableStrategy);
    const source = transformer === undefined ? null : transformer;
    const cancel = toOptionalCallback(source?.cancel, "transformer.cancel");
    const flush = toOptionalCallback(source?.flush, "transformer.flush");
    const readableType = source?.readableType;
    const start = toOptionalCallback(source?.start, "transformer.start");
    const transform = toOptionalCallback(source?.transform, "transformer.transform");
    const writableType = source?.writableType;
    if (readableType !== undefined) throw new RangeError("transformer.readableType is reserved for future use and must be undefined.");
    if (writableType !== undefined) throw new RangeError("transformer.writableType is reserved for future use and must be undefined.");

    const readableHighWaterMark = extractHighWaterMark(readableQueuing, 0);
    const readableSizeAlgorithm = extractSizeAlgorithm(readableQueuing);
    const writableHighWaterMark = extractHighWaterMark(writableQueuing, 1);
    const writableSizeAlgorithm = extractSizeAlgorithm(writableQueuing);

    const started = newDeferred();
    // Without a transform function, chunks pass through unchanged.
    const transformAlgorithm = transform === undefined
      ? (chunk, controller) => {
        try {
          transformControllerEnqueue(controller, chunk);
          return Promise.resolve(undefined);
        } catch (err) {
          return Promise.reject(err);
        }
      }
      : (chunk, controller) => invokeUnderlying(transform, source, [chunk, controller.object]);
    const stream = createTransformStream(
      this,
      started.promise,
      transformAlgorithm,
      (controller) => invokeUnderlying(flush, source, [controller.object]),
      (reason) => invokeUnderlying(cancel, source, [reason]),
      writableHighWaterMark, writableSizeAlgorithm, readableHighWaterMark, readableSizeAlgorithm,
    );
    this.#stream = stream;
    started.resolve(start === undefined ? undefined : start.call(source, stream.controller.object));
  }

  get readable() {
    return this.#stream.readable.object;
  }

  get writable() {
    return this.#stream.writable.object;
  }
}

class TransformStreamDefaultController {
  #controller;

  constructor(token = undefined, record = undefined) {
    if (token !== INTERNAL) throw new TypeError("Illegal constructor");
    this.#controller = record;
  }

  get desiredSize() {
    return desiredSize(this.#controller.stream.readable.controller);
  }

  enqueue(chunk = undefined) {
    transformControllerEnqueue(this.#controller, chunk);
  }

  error(reason = undefined) {
    transformStreamError(this.#controller.stream, reason);
  }

  terminate() {
    transformControllerTerminate(this.#controller);
  }
}

for (const [cls, tag] of [
  [TransformStream, "TransformStream"],
  [TransformStreamDefaultController, "TransformStreamDefaultController"],
]) {
  finishInterface(cls, tag);
  exposeGlobal(tag, cls);
}
