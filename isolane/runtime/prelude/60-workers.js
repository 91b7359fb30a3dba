// The Workers programming model: module workers (`export default { fetch(request, env, ctx) }`)
// and service workers (`addEventListener("fetch", (event) => event.respondWith(...))`), the
// `ctx` of an invocation, and the Response handed back to the host.

const HANDLER_NAMES = ["fetch", "scheduled", "queue", "tail", "email", "trace", "alarm", "test"];

// Capability bindings (KV, ...): each binding type's file registers how to build its object.
const bindingFactories = new Map(); // type -> (binding) => object

function registerBindingType(type, make) {
  bindingFactories.set(type, make);
}

// `env`: plain values (vars, JSON, secrets) and one object per capability binding.
function makeEnv(values, bindings) {
  const env = { ...values };
  for (const binding of bindings) {
    const make = bindingFactories.get(binding.type);
    if (make === undefined) throw new TypeError(`unsupported binding type ${binding.type}`);
    env[binding.name] = make(binding);
  }
  return Object.freeze(env);
}

const serviceListeners = new Map(); // service-worker syntax: event type -> listeners
let registering = false; // listeners register while the worker's global scope runs

function addEventListenerGlobal(type, listener) {
  if (!registering) {
    throw new TypeError("addEventListener() may only be called while the worker's global scope runs.");
  }
  if (typeof listener !== "function" && !(listener && typeof listener.handleEvent === "function")) {
    throw new TypeError("The listener provided to addEventListener() is not a function.");
  }
  type = String(type);
  if (!serviceListeners.has(type)) serviceListeners.set(type, []);
  serviceListeners.get(type).push(listener);
}
exposeGlobal("addEventListener", addEventListenerGlobal);

function callListener(listener, event) {
  return typeof listener === "function" ? listener.call(globalThis, event) : listener.handleEvent(event);
}

// Starts the worker: runs its global scope once per isolate and finds its handlers.
// A failure is kept and thrown again to every invocation, as the script is unusable.
function startWorker(kind, source, env) {
  const handlers = new Map();
  if (kind === "module") {
    let namespace = null;
    const factory = indirectEval(source);
    factory((exported) => {
      if (namespace === null) namespace = exported;
    });
    const main = namespace === null ? undefined : namespace.default;
    if (main !== null && (typeof main === "object" || typeof main === "function")) {
      for (const name of HANDLER_NAMES) {
        const handler = main[name];
        if (typeof handler === "function") {
          handlers.set(name, (payload, ctx) => handler.call(main, payload, env, ctx));
        }
      }
    }
  } else {
    registering = true;
    try {
      indirectEval(source);
    } finally {
      registering = false;
    }
    for (const [type, listeners] of serviceListeners) {
      if (type === "fetch") handlers.set("fetch", (request, ctx) => dispatchFetchEvent(listeners, request, ctx));
      else if (type === "scheduled") handlers.set("scheduled", (controller, ctx) => dispatchScheduledEvent(listeners, controller, ctx));
      else handlers.set(type, () => { throw new Error(`${type} events are not supported for service workers yet`); });
    }
  }
  return { handlers };
}

// Service-worker syntax: every listener sees the event; the first respondWith() wins.
function dispatchFetchEvent(listeners, request, ctx) {
  let response = null;
  let responded = false;
  const event = {
    type: "fetch",
    request,
    respondWith(value) {
      if (responded) throw new DOMExceptionOrError("respondWith() was already called.", "InvalidStateError");
      responded = true;
      response = value;
    },
    waitUntil: (promise) => ctx.waitUntil(promise),
    passThroughOnException: () => ctx.passThroughOnException(),
  };
  for (const listener of listeners) callListener(listener, event);
  if (!responded) {
    throw new Error("No response: the fetch event listener did not call event.respondWith().");
  }
  return response;
}

// A cron trigger's `controller` (ScheduledController): which cron, for which tick.
function makeController(cron, scheduledTime) {
  return Object.freeze({
    type: "scheduled",
    cron: String(cron),
    scheduledTime: Number(scheduledTime),
    // Accepted: a failed tick is not retried anyway (see docs).
    noRetry() {},
  });
}

// Service-worker syntax: every listener sees the event; waitUntil() promises are awaited.
function dispatchScheduledEvent(listeners, controller, ctx) {
  const event = {
    type: "scheduled",
    cron: controller.cron,
    scheduledTime: controller.scheduledTime,
    noRetry: () => controller.noRetry(),
    waitUntil: (promise) => ctx.waitUntil(promise),
  };
  for (const listener of listeners) callListener(listener, event);
}

function DOMExceptionOrError(message, name) {
  if (typeof DOMException === "function") return new DOMException(message, name);
  const error = new Error(message);
  error.name = name;
  return error;
}

// The `ctx` of one invocation: waitUntil() keeps it open after the response is sent.
function makeContext(invocation) {
  return Object.freeze({
    waitUntil(promise) {
      invocation.waiting += 1;
      Promise.resolve(promise)
        .catch((err) => record("error", ["Uncaught (in promise)", err]))
        .finally(() => {
          invocation.waiting -= 1;
          if (invocation.waiting === 0) ringHost();
        });
    },
    // Accepted for compatibility: there is no origin to fall back to (see docs).
    passThroughOnException() {},
  });
}

function describeValue(value) {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  const name = value.constructor && value.constructor.name;
  return name ? `an instance of ${name}` : "an object";
}

// A request body the host streams in: chunks arrive through host.feed, in order.
function incomingBodyStream(feed) {
  return new ReadableStream({
    async pull(controller) {
      while (feed.chunks.length === 0 && !feed.ended) {
        await new Promise((resolve) => { feed.waiter = resolve; });
      }
      if (feed.chunks.length > 0) controller.enqueue(feed.chunks.shift());
      else if (feed.error !== null) controller.error(feed.error);
      else controller.close();
    },
  });
}

// A streamed response body leaves the isolate chunk by chunk: the pump reads the stream
// into the invocation's outbox and rings the host, which takes the chunks with its next
// state. Past this many bytes waiting for the host the pump pauses (backpressure: the host
// stops taking chunks while the client is slower than the script).
const OUTBOX_HIGH_WATER = 256 * 1024;
// Chunks larger than this are cut: every state the host reads stays small.
const OUTBOX_CHUNK = 64 * 1024;
// Whole bodies (text or bytes) larger than this leave as a stream too.
const WHOLE_BODY_MAX = 1024 * 1024;

// Hands `chunk` to the host in pieces, pausing while the host has not taken enough.
// False once the invocation has ended (a limit, the platform): nobody takes more.
async function sendChunk(chunk, invocation) {
  const length = TypedArrayPrototypeGetLength(chunk);
  for (let offset = 0; offset < length; offset += OUTBOX_CHUNK) {
    while (invocation.outboxBytes >= OUTBOX_HIGH_WATER && current === invocation) {
      await new PromiseCtor((resolve) => { invocation.drained = resolve; });
    }
    if (current !== invocation) return false;
    const piece = TypedArrayPrototypeSubarray(chunk, offset, MathMin(offset + OUTBOX_CHUNK, length));
    ArrayPrototypePush(invocation.outbox, bytesToBase64(piece));
    invocation.outboxBytes += TypedArrayPrototypeGetLength(piece);
    ringHost();
  }
  return current === invocation;
}

function chunkBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError(`A response body stream must produce Uint8Array chunks, got ${describeValue(value)}.`);
}

async function pumpStream(stream, invocation) {
  const reader = stream.getReader();
  try {
    for (;;) {
      while (invocation.outboxBytes >= OUTBOX_HIGH_WATER && current === invocation) {
        await new PromiseCtor((resolve) => { invocation.drained = resolve; });
      }
      if (current !== invocation) break; // the invocation ended (a limit, the platform)
      const { done, value } = await reader.read();
      if (done) break;
      if (!(await sendChunk(chunkBytes(value), invocation))) break;
    }
  } catch (err) {
    invocation.streamError = err;
    try {
      reader.cancel(err).catch(() => {});
    } catch {
      // the stream is already errored
    }
  }
  invocation.streaming = false;
  ringHost();
}

// A large whole body: sent like a stream, so that no single state carries it.
async function pumpBytes(bytes, invocation) {
  try {
    await sendChunk(bytes, invocation);
  } catch (err) {
    invocation.streamError = err;
  }
  invocation.streaming = false;
  ringHost();
}

// What the host sends: status, headers, and the body as text, as base64 bytes, or as a
// stream whose chunks follow.
function toHostResponse(value, invocation) {
  if (!(value instanceof Response)) {
    throw new TypeError(`The fetch handler must return a Response, got ${describeValue(value)}.`);
  }
  const parts = responseBodySource(value);
  return { status: parts.status, statusText: parts.statusText, headers: parts.headers, body: hostBody(parts.body, invocation) };
}

// The body as the host takes it: small text as it is, small bytes in base64, anything else
// (a stream, a large body) as chunks that follow the head.
function hostBody(source, invocation) {
  if (source === null) return null;
  let bytes = source.bytes;
  if (typeof source.text === "string") {
    if (source.text.length <= WHOLE_BODY_MAX / 3) return { text: source.text }; // UTF-8: <= 3 bytes per unit
    bytes = utf8Encode(source.text);
  }
  if (bytes !== undefined && TypedArrayPrototypeGetLength(bytes) <= WHOLE_BODY_MAX) return { base64: bytesToBase64(bytes) };
  invocation.streaming = true;
  if (bytes !== undefined) pumpBytes(bytes, invocation);
  else pumpStream(source.stream, invocation);
  return { stream: true };
}

