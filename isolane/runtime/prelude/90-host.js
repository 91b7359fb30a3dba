// The host interface: the only door between the executor and this isolate. The executor
// evaluates `__isolane.<method>(...)` and reads back a JSON string describing the state
// of the invocation in progress; everything else stays inside the isolate.

const ringDoorbell = globalThis.__isolane_doorbell;
delete globalThis.__isolane_doorbell;

const indirectEval = eval;
const MAX_RESULT_CHARS = 1024 * 1024;
const RUNTIME_FRAME = /isolane-runtime\.js|\(<anonymous>\)|at <anonymous>/;

let inHostStep = false; // inside a host-driven step, whose return value reports the state
let script = null;
let current = null;

// Tell the host something changed (an invocation settled, an earlier timer is due). From
// inside a host step it is unnecessary: the step's result carries the news.
function ringHost() {
  if (!inHostStep) ringDoorbell();
}

function cleanStack(stack) {
  if (typeof stack !== "string") return null;
  return stack.split("\n").filter((line, i) => i === 0 || !RUNTIME_FRAME.test(line)).join("\n");
}

function describeError(err) {
  if (err instanceof Error) {
    return { name: String(err.name), message: String(err.message), stack: cleanStack(err.stack) };
  }
  let message;
  try { message = typeof err === "string" ? err : inspect(err, 0, new Set()); } catch { message = "[unprintable value]"; }
  return { name: "Error", message: `Uncaught ${message}`, stack: null };
}

function resultJson(value) {
  if (value === undefined) return "null";
  let json;
  try {
    json = JSON.stringify(value);
  } catch {
    json = JSON.stringify(String(value));
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
  let response = "";
  if (current.response !== null && !current.responseSent) {
    current.responseSent = true;
    response = `"response":${JSON.stringify(current.response)},`;
  }
  if (!current.settled || current.waiting > 0) return `{"done":false,${response}"next":${nextDeadline()}}`;
  const finished = current;
  current = null;
  clearTimers();
  return `{"done":true,${response}"result":${finished.result},"error":${JSON.stringify(finished.error)},"logs":${JSON.stringify(resetLogs())}}`;
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
  current = { settled: false, result: "null", error: null, response: null, responseSent: false, waiting: 0 };
  return current;
}

function onUncaught(err) {
  if (current !== null && !current.settled) settle(false, err);
  else record("error", ["Uncaught", err]);
}

// The worker's global scope runs once per isolate, inside the first invocation's step.
function worker() {
  if (script.worker === null) {
    try {
      script.worker = startWorker(script.kind, script.source, Object.freeze(script.env));
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
  load(kind, name, source, env) {
    if (script !== null) throw new Error("this isolate already holds a script");
    script = { kind, name, source: `${source}\n//# sourceURL=${name}`, env: env || {}, worker: null };
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
        Promise.resolve(value).then((v) => settle(true, v), (e) => settle(false, e));
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
  // Workers: one HTTP request for the fetch handler. `body` is latin-1 bytes or null.
  fetch(method, url, headers, body) {
    return step(() => {
      const invocation = begin();
      try {
        const handler = requireHandler("fetch");
        const request = newIncomingRequest(method, url, headers, body === null ? null : latin1ToBytes(body));
        Promise.resolve(handler(request, makeContext(invocation)))
          .then(toHostResponse)
          .then(settleResponse, (err) => settle(false, err));
      } catch (err) {
        settle(false, err);
      }
    });
  },
  // Runs the request/response machinery once in a fresh isolate, before any tenant code,
  // so V8 has compiled it (lazily, per isolate) before the first real request pays for it.
  warmup() {
    const request = newIncomingRequest("POST", "http://warm.up.localhost/a/b?c=d", [["content-type", "text/plain"], ["x-a", "b"]], latin1ToBytes("hi"));
    const url = new URL(request.url);
    url.searchParams.get("c");
    request.headers.get("x-a");
    const pending = [
      request.text(),
      toHostResponse(new Response("ok", { status: 201, headers: { "x-b": "c" } })),
      toHostResponse(Response.json({ a: [1] })),
      toHostResponse(new Response(new TextEncoder().encode("bytes"))),
    ];
    Promise.all(pending).catch(() => {});
    resetLogs();
    return "ok";
  },
  poll() {
    return state();
  },
  fire() {
    return step(() => fireDueTimers(onUncaught));
  },
});

Object.defineProperty(globalThis, "__isolane", { value: host, writable: false, configurable: false, enumerable: false });
