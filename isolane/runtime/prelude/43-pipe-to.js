// ReadableStreamPipeTo (WHATWG Streams §4.9.4): moves chunks from a readable stream record
// to a writable one, reading only while the destination wants more (its desiredSize > 0),
// and carries closing and errors across in both directions, unless the options prevent it.
// ReadableStream.prototype.pipeTo and pipeThrough (42-streams.js) convert their arguments
// and call it.

// StreamPipeOptions, members read by name: preventAbort, preventCancel, preventClose, signal.
function readStreamPipeOptions(options) {
  const dict = toDictionary(options, "options");
  const preventAbort = Boolean(dict.preventAbort);
  const preventCancel = Boolean(dict.preventCancel);
  const preventClose = Boolean(dict.preventClose);
  const signal = dict.signal;
  if (signal !== undefined && !isAbortSignal(signal)) throw new TypeError("options.signal is not an AbortSignal.");
  return { preventAbort, preventCancel, preventClose, signal };
}

function readableStreamPipeTo(source, dest, preventClose, preventAbort, preventCancel, signal = undefined) {
  const reader = acquireReader(source);
  const writer = acquireWritableWriter(dest);
  source.disturbed = true;
  let shuttingDown = false;
  // The last write started: writes settle in order, so waiting for it waits for them all.
  let currentWrite = Promise.resolve(undefined);
  const result = newDeferred();
  let abortAlgorithm = null;

  // ---- the loop: wait until the destination is ready, read one chunk, write it, repeat

  const pipeStep = () => {
    if (shuttingDown) return Promise.resolve(true);
    return writer.ready.promise.then(() => new Promise((resolveRead, rejectRead) => {
      if (shuttingDown) { // no new reads once shutting down (a write may have aborted the pipe)
        resolveRead(true);
        return;
      }
      readerRead(reader, {
        chunk: (chunk) => {
          currentWrite = writableWriterWrite(writer, chunk).then(() => undefined, () => undefined);
          resolveRead(false);
        },
        close: () => resolveRead(true),
        error: rejectRead,
      });
    }));
  };
  const pipeLoop = () => new Promise((resolveLoop, rejectLoop) => {
    const next = (done) => {
      if (done) resolveLoop();
      else pipeStep().then(next, rejectLoop);
    };
    next(false);
  });

  // ---- shutting down: once, after the writes already started have settled

  const waitForWritesToFinish = () => {
    const awaited = currentWrite;
    return awaited.then(() => (awaited !== currentWrite ? waitForWritesToFinish() : undefined));
  };

  const finalize = (isError, error) => {
    writableWriterRelease(writer);
    readerRelease(reader);
    if (signal !== undefined) removeAbortAlgorithm(signal, abortAlgorithm);
    if (isError) result.reject(error);
    else result.resolve(undefined);
  };

  const afterPendingWrites = (then) => {
    if (dest.state === "writable" && !writableStreamCloseQueuedOrInFlight(dest)) waitForWritesToFinish().then(then);
    else then();
  };

  // Shutdown with an action: `action` returns a promise; its failure replaces the error.
  const shutdownWithAction = (action, isError = false, originalError = undefined) => {
    if (shuttingDown) return;
    shuttingDown = true;
    afterPendingWrites(() => {
      let done;
      try {
        done = action();
      } catch (err) {
        done = Promise.reject(err);
      }
      done.then(() => finalize(isError, originalError), (newError) => finalize(true, newError));
    });
  };

  const shutdown = (isError = false, error = undefined) => {
    if (shuttingDown) return;
    shuttingDown = true;
    afterPendingWrites(() => finalize(isError, error));
  };

  // ---- the abort signal

  if (signal !== undefined) {
    abortAlgorithm = () => {
      const error = abortSignalReason(signal);
      const actions = [];
      if (!preventAbort) {
        actions.push(() => (dest.state === "writable" ? writableStreamAbort(dest, error) : Promise.resolve(undefined)));
      }
      if (!preventCancel) {
        actions.push(() => (source.state === "readable" ? readableStreamCancel(source, error) : Promise.resolve(undefined)));
      }
      shutdownWithAction(() => Promise.all(actions.map((action) => action())), true, error);
    };
    if (abortSignalIsAborted(signal)) {
      abortAlgorithm();
      return result.promise;
    }
    addAbortAlgorithm(signal, abortAlgorithm);
  }

  // ---- errors and closing, in both directions (checked now, and watched from now on)

  // Errors must be propagated forward.
  const onSourceErrored = (storedError) => {
    if (!preventAbort) shutdownWithAction(() => writableStreamAbort(dest, storedError), true, storedError);
    else shutdown(true, storedError);
  };
  // Errors must be propagated backward.
  const onDestErrored = (storedError) => {
    if (!preventCancel) shutdownWithAction(() => readableStreamCancel(source, storedError), true, storedError);
    else shutdown(true, storedError);
  };
  // Closing must be propagated forward.
  const onSourceClosed = () => {
    if (!preventClose) shutdownWithAction(() => writableWriterCloseWithErrorPropagation(writer));
    else shutdown();
  };

  if (source.state === "errored") onSourceErrored(source.storedError);
  else reader.closed.promise.then(() => {}, onSourceErrored);
  if (dest.state === "errored") onDestErrored(dest.storedError);
  else writer.closed.promise.then(() => {}, onDestErrored);
  if (source.state === "closed") onSourceClosed();
  else reader.closed.promise.then(onSourceClosed, () => {});
  // Closing must be propagated backward.
  if (writableStreamCloseQueuedOrInFlight(dest) || dest.state === "closed") {
    const destClosed = new TypeError("The destination stream is closing or closed.");
    if (!preventCancel) shutdownWithAction(() => readableStreamCancel(source, destClosed), true, destClosed);
    else shutdown(true, destClosed);
  }

  pipeLoop().catch(() => {}); // its failures show up through the watchers above
  return result.promise;
}
