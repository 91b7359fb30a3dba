// The host interface: the only door between the executor and this isolate. The executor
// evaluates `__isolane.<method>(...)` and reads back a JSON string describing the state
// of the invocation in progress; everything else stays inside the isolate. Tenant code
// runs in between and may replace any global, so this file works with the intrinsics
// captured in primordials.js, and the host validates what it reads anyway
// (isolane/sandbox/boundary.py).

const ringDoorbell = globalThis.__isolane_doorbell;
delete globalThis.__isolane_doorbell;

const indirectEval = eval;
const MAX_RESULT_CHARS = 1024 * 1024;
const MAX_ERROR_CHARS = 16 * 1024; // of an error's name, message and stack each (the host cuts there too)
const RUNTIME_FRAMES = ["isolane-runtime.js", "(<anonymous>)", "at <anonymous>"];
const ErrorCtor = Error;
const TypeErrorCtor = TypeError;
const RangeErrorCtor = RangeError;
const PromiseCtor = Promise;
const PromiseResolve = Promise.resolve.bind(Promise);
const StringPrototypeIncludes = uncurryThis(String.prototype.includes);
const StringPrototypeIndexOf = uncurryThis(String.prototype.indexOf);

let inHostStep = false; // inside a host-driven step, whose return value reports the state
let script = null;
let current = null;

// Tell the host something changed (an invocation settled, an earlier timer is due). From
// inside a host step it is unnecessary: the step's result carries the news.
function ringHost() {
  if (!inHostStep) ringDoorbell();
}

function isRuntimeFrame(line) {
  for (let i = 0; i < RUNTIME_FRAMES.length; i++) {
    if (StringPrototypeIncludes(line, RUNTIME_FRAMES[i])) return true;
  }
  return false;
}

// The stack without the runtime's own frames (the first line is the error's own text).
function cleanStack(stack) {
  if (typeof stack !== "string") return null;
  stack = StringPrototypeSlice(stack, 0, MAX_ERROR_CHARS);
  let out = "";
  let start = 0;
  for (let lineNo = 0; start <= stack.length; lineNo++) {
    let end = StringPrototypeIndexOf(stack, "\n", start);
    if (end === -1) end = stack.length;
    const line = StringPrototypeSlice(stack, start, end);
    if (lineNo === 0 || !isRuntimeFrame(line)) out += lineNo === 0 ? line : "\n" + line;
    start = end + 1;
  }
  return out;
}

// Tenant getters and toString methods run here: each part is a bounded string, or a note.
function errorText(read) {
  try {
    const text = StringCtor(read());
    return typeof text === "string" ? StringPrototypeSlice(text, 0, MAX_ERROR_CHARS) : "[unprintable value]";
  } catch {
    return "[unprintable value]";
  }
}

function describeError(err) {
  if (err instanceof ErrorCtor) {
    let stack = null;
    try { stack = cleanStack(err.stack); } catch { stack = null; }
    return { name: errorText(() => err.name), message: errorText(() => err.message), stack };
  }
  const message = typeof err === "string" ? StringPrototypeSlice(err, 0, MAX_ERROR_CHARS) : errorText(() => inspect(err, 0, new SetCtor()));
  return { name: "Error", message: `Uncaught ${message}`, stack: null };
}

function resultJson(value) {
  if (value === undefined) return "null";
  // The tenant's own value: its toJSON methods apply, as JSON.stringify's would.
  let json;
  try {
    json = JSONStringify(value);
  } catch {
    json = JSONStringify(errorText(() => value));
  }
  if (json === undefined) return "null";
  if (json.length > MAX_RESULT_CHARS) {
    throw new RangeError(`The result is larger than ${MAX_RESULT_CHARS} characters of JSON.`);
  }
  return json;
}

function settle(ok, value) {
  if (current === null || current.settled) return;
  current.settled = true;
  if (ok) {
    try {
      current.result = resultJson(value);
    } catch (err) {
      current.error = describeError(err);
    }
  } else {
    current.error = describeError(value);
  }
  ringHost();
}

// A fetch handler's outcome: the response goes to the host as soon as it is ready; the
// invocation itself may go on (ctx.waitUntil).
function settleResponse(response) {
  if (current === null || current.settled) return;
  current.settled = true;
  current.response = response;
  ringHost();
}

function state() {
  if (current === null) return '{"done":false,"idle":true,"next":null}';
  let news = "";
  if (current.response !== null && !current.responseSent) {
    current.responseSent = true;
    news = `"response":${jsonOf(current.response)},`;
  }
  if (current.calls.length > 0) {
    news += `"calls":${jsonOf(current.calls)},`;
    current.calls = [];
  }
  if (current.outbox.length > 0) {
    news += `"chunks":${jsonOf(current.outbox)},`;
    current.outbox = [];
    current.outboxBytes = 0;
    const drained = current.drained;
    current.drained = null;
    if (drained !== null) drained();
  }
  if (!current.settled || current.waiting > 0 || current.streaming) return `{"done":false,${news}"next":${nextDeadline()}}`;
  const finished = current;
  current = null;
  clearTimers();
  MapPrototypeClear(pendingCalls); // answers to calls of a finished invocation have nowhere to go
  if (finished.streamError !== null && finished.error === null) finished.error = describeError(finished.streamError);
  // The result travels as JSON text inside a string, so the host can bound it before parsing.
  return `{"done":true,${news}"result":${JSONStringify(finished.result)},"error":${jsonOf(finished.error)},"logs":${jsonOf(resetLogs())}}`;
}

function step(body) {
  inHostStep = true;
  try {
    body();
  } finally {
    inHostStep = false;
  }
  return state();
}

function begin() {
  resetLogs();
  clearTimers();
  current = {
    settled: false,
    result: "null",
    error: null,
    response: null, // a fetch handler's response head (and body unless streamed), for the host
    responseSent: false,
    waiting: 0, // ctx.waitUntil promises not yet settled
    streaming: false, // a response body stream still being pumped
    streamError: null,
    outbox: [], // latin-1 chunks of the streamed body, until the host takes them
    outboxBytes: 0,
    drained: null, // resumes a paused pump once the host took the outbox
    feed: { chunks: [], ended: false, error: null, waiter: null }, // a request body the host streams in
    calls: [], // host calls not yet taken by the host
  };
  return current;
}

// Asynchronous calls into the host (runtime/host/): crypto.subtle, and later fetch and KV.
// Only during an invocation, as the host answers in that invocation's steps.
const pendingCalls = new Map(); // call id -> { resolve, reject }
let nextCallId = 1;

function hostCall(op, args) {
  if (current === null) {
    return Promise.reject(new TypeError(`${op} is only available while the worker runs.`));
  }
  const id = nextCallId++;
  const call = { id, op, args };
  const invocation = current;
  return new PromiseCtor((resolve, reject) => {
    MapPrototypeSet(pendingCalls, id, { resolve, reject });
    ArrayPrototypePush(invocation.calls, call);
    ringHost();
  });
}

function hostFailure(error) {
  const name = error && typeof error.name === "string" ? error.name : "Error";
  const message = error && typeof error.message === "string" ? error.message : "host call failed";
  if (name === "TypeError") return new TypeErrorCtor(message);
  if (name === "RangeError") return new RangeErrorCtor(message);
  if (name === "Error") return new ErrorCtor(message);
  return new DOMException(message, name);
}

function onUncaught(err) {
  if (current !== null && !current.settled) settle(false, err);
  else record("error", ["Uncaught", err]);
}

// The worker's global scope runs once per isolate, inside the first invocation's step.
function worker() {
  if (script.worker === null) {
    try {
      script.worker = startWorker(script.kind, script.source, makeEnv(script.env, script.bindings));
    } catch (err) {
      script.worker = { failure: err };
    }
  }
  if (script.worker.failure !== undefined) throw script.worker.failure;
  return script.worker;
}

function requireHandler(name) {
  const handler = worker().handlers.get(name);
  if (handler === undefined) throw new TypeError(`The worker has no ${name} handler.`);
  return handler;
}

const host = Object.freeze({
  // Compiles without running anything: a syntax error escapes with V8's position.
  check(source) {
    new Function(source);
    return "ok";
  },
  // Fresh host entropy for the isolate's random number generator (crypto.getRandomValues):
  // given when the isolate is prepared and again when a script is loaded into it.
  seed(entropy) {
    if (typeof seedRandom === "function") seedRandom(base64ToBytes(entropy));
    return "ok";
  },
  load(kind, name, source, env, bindings) {
    if (script !== null) throw new Error("this isolate already holds a script");
    script = { kind, name, source: `${source}\n//# sourceURL=${name}`, env: env || {}, bindings: bindings || [], worker: null };
    return "ok";
  },
  // Seed scripts: evaluate the script; its completion value is the result.
  run() {
    return step(() => {
      begin();
      let value;
      try {
        value = indirectEval(script.source);
      } catch (err) {
        settle(false, err);
        return;
      }
      if (value !== null && (typeof value === "object" || typeof value === "function") && typeof value.then === "function") {
        PromisePrototypeThen(PromiseResolve(value), (v) => settle(true, v), (e) => settle(false, e));
      } else {
        settle(true, value);
      }
    });
  },
  // Workers: start the worker and report its handlers (done at upload).
  inspect() {
    return step(() => {
      begin();
      try {
        settle(true, { handlers: [...worker().handlers.keys()] });
      } catch (err) {
        settle(false, err);
      }
    });
  },
  // Workers: one HTTP request for the fetch handler. `body` is base64 bytes, or null; with
  // `streamed`, the body arrives afterwards through `feed`.
  fetch(method, url, headers, body, streamed) {
    return step(() => {
      const invocation = begin();
      try {
        const handler = requireHandler("fetch");
        const requestBody = streamed ? incomingBodyStream(invocation.feed) : body === null ? null : base64ToBytes(body);
        const request = newIncomingRequest(method, url, headers, requestBody);
        const responded = PromisePrototypeThen(
          PromiseResolve(handler(request, makeContext(invocation))),
          (response) => settleResponse(toHostResponse(response, invocation)),
        );
        PromisePrototypeThen(responded, undefined, (err) => settle(false, err));
      } catch (err) {
        settle(false, err);
      }
    });
  },
  // Workers: one cron tick for the scheduled handler; settles when its promise does
  // (ctx.waitUntil work keeps the invocation open, as for fetch).
  scheduled(cron, scheduledTime) {
    return step(() => {
      const invocation = begin();
      try {
        const handler = requireHandler("scheduled");
        PromisePrototypeThen(
          PromiseResolve(handler(makeController(cron, scheduledTime), makeContext(invocation))),
          () => settle(true, undefined),
          (err) => settle(false, err),
        );
      } catch (err) {
        settle(false, err);
      }
    });
  },
  // Runs the request/response machinery once in a fresh isolate, before any tenant code,
  // so V8 has compiled it (lazily, per isolate) before the first real request pays for it.
  warmup() {
    const request = newIncomingRequest("POST", "http://warm.up.localhost/a/b?c=d", [["content-type", "text/plain"], ["x-a", "b"]], base64ToBytes("aGk="));
    const url = new URL(request.url);
    url.searchParams.get("c");
    request.headers.get("x-a");
    const scratch = { streaming: false };
    toHostResponse(new Response("ok", { status: 201, headers: { "x-b": "c" } }), scratch);
    toHostResponse(Response.json({ a: [1] }), scratch);
    toHostResponse(new Response(new TextEncoder().encode("bytes")), scratch);
    request.text().catch(() => {});
    resetLogs();
    return "ok";
  },
  // Answers to host calls: [[id, ok, value or {name, message}], ...].
  reply(answers) {
    return step(() => {
      for (let i = 0; i < answers.length; i++) {
        const answer = answers[i];
        const id = answer[0];
        const ok = answer[1];
        const value = answer[2];
        const pending = MapPrototypeGet(pendingCalls, id);
        if (pending === undefined) continue;
        MapPrototypeDelete(pendingCalls, id);
        if (ok) pending.resolve(value);
        else pending.reject(hostFailure(value));
      }
    });
  },
  // The next piece of a streamed request body (base64), or null at its end; `error` says
  // why the body failed.
  feed(chunk, error) {
    return step(() => {
      if (current === null) return;
      const feed = current.feed;
      if (error !== null) feed.error = new TypeError(error);
      if (chunk === null) feed.ended = true;
      else ArrayPrototypePush(feed.chunks, base64ToBytes(chunk));
      const waiter = feed.waiter;
      feed.waiter = null;
      if (waiter !== null) waiter();
    });
  },
  poll() {
    return state();
  },
  fire() {
    return step(() => fireDueTimers(onUncaught));
  },
});

ObjectDefineProperty(globalThis, "__isolane", { value: host, writable: false, configurable: false, enumerable: false });
