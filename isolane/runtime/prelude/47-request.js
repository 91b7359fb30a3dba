// Request (WHATWG Fetch §5.4), with the Body mixin.
//
// State: { method, url (serialized, absolute), headers (Headers), body (body record or
// null), redirect, signal (AbortSignal or null) }.
//
// Deviations, to grow later: there is no base URL (a relative URL is a TypeError, as in
// Workers); mode, credentials, cache, referrer, integrity and the other browser-facing
// members are not implemented; `signal` is the init's signal itself rather than a new
// signal following it; `cf` is undefined (no edge metadata here).
//
// For the dispatcher (60-workers.js):
//   newIncomingRequest(method, url, headerPairs, body) -> Request
//     The Request a fetch handler receives. `method` and `url` (absolute) come from the
//     host as they are; `headerPairs` is an array of [name, value] as parsed from HTTP
//     (names are lower-cased, nothing else is checked); `body` is null, a Uint8Array (now
//     owned by the request, not copied) or a ReadableStream of Uint8Array. The headers are
//     immutable: mutating them throws TypeError.

const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
const NORMALIZED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);

// A valid method, upper-cased only when it is one of the standard few (so "patch" stays
// "patch", as the standard says).
function normalizeMethod(value) {
  const method = toByteString(value, "Request method");
  if (!HTTP_TOKEN.test(method)) throw new TypeError(`'${method}' is not a valid HTTP method.`);
  const upper = method.toUpperCase();
  if (FORBIDDEN_METHODS.has(upper)) throw new TypeError(`'${method}' HTTP method is unsupported.`);
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

// The parts of an absolute URL (parseURL of 30-url.js: href, username, password, ...).
function parseAbsoluteURL(input, what) {
  const url = parseURL(input);
  if (url === null) throw new TypeError(`${what}: '${input}' is not a valid absolute URL.`);
  return url;
}

let requestStateOf; // (Request) -> its state, or TypeError

class Request {
  #state;

  constructor(input, init = undefined) {
    requireArguments(arguments.length, 1, "Failed to construct 'Request'");
    if (input === INTERNAL) {
      this.#state = init;
      return;
    }
    this.#state = constructRequestState(input, toDictionary(init, "init"));
  }

  get method() {
    return this.#state.method;
  }

  get url() {
    return this.#state.url;
  }

  get headers() {
    return this.#state.headers;
  }

  get redirect() {
    return this.#state.redirect;
  }

  get signal() {
    return this.#state.signal;
  }

  // Cloudflare Workers' edge metadata: none here.
  get cf() {
    this.#state; // brand check
    return undefined;
  }

  clone() {
    const state = this.#state;
    if (state.body !== null && isBodyUnusable(state.body)) throw new TypeError("Cannot clone a Request whose body was used.");
    return new Request(INTERNAL, {
      ...state,
      headers: copyHeaders(headersRecordOf(state.headers)),
      body: state.body === null ? null : cloneBody(state.body),
    });
  }

  static {
    requestStateOf = (value) => {
      if (!isObject(value) || !(#state in value)) throw new TypeError("Illegal invocation: not a Request.");
      return value.#state;
    };
  }
}

function isRequest(value) {
  try {
    requestStateOf(value);
    return true;
  } catch {
    return false;
  }
}

// The Request constructor's steps: `input` a Request or a URL, `init` a dictionary.
function constructRequestState(input, init) {
  const inputState = isRequest(input) ? requestStateOf(input) : null;
  let url;
  if (inputState !== null) {
    url = inputState.url;
  } else {
    const parsed = parseAbsoluteURL(toUSVString(input), "Failed to construct 'Request'");
    if (parsed.username !== "" || parsed.password !== "") {
      throw new TypeError("Failed to construct 'Request': the URL includes credentials.");
    }
    url = parsed.href;
  }

  const method = init.method === undefined ? (inputState?.method ?? "GET") : normalizeMethod(init.method);
  const redirect = init.redirect === undefined
    ? (inputState?.redirect ?? "follow")
    : toEnum(init.redirect, ["follow", "error", "manual"], "Failed to construct 'Request': init.redirect");

  let signal = inputState?.signal ?? null;
  if (init.signal !== undefined) {
    if (init.signal !== null && !(typeof AbortSignal === "function" && init.signal instanceof AbortSignal)) {
      throw new TypeError("Failed to construct 'Request': init.signal is not an AbortSignal.");
    }
    signal = init.signal;
  }
  if (signal === null && typeof AbortController === "function") signal = new AbortController().signal;

  let headers;
  if (init.headers !== undefined) headers = new Headers(init.headers);
  else if (inputState !== null) headers = copyHeaders(headersRecordOf(inputState.headers), "none");
  else headers = new Headers();

  const inputBody = inputState?.body ?? null;
  const hasInitBody = init.body !== undefined && init.body !== null;
  if ((hasInitBody || inputBody !== null) && (method === "GET" || method === "HEAD")) {
    throw new TypeError("Failed to construct 'Request': a GET or HEAD request cannot have a body.");
  }

  let body = null;
  if (hasInitBody) {
    const extracted = extractBody(init.body);
    body = extracted.body;
    const headersRecord = headersRecordOf(headers);
    if (extracted.type !== null && headerListGet(headersRecord, "content-type") === null) {
      headerListAppend(headersRecord, "content-type", extracted.type);
    }
  } else if (inputBody !== null) {
    if (isBodyUnusable(inputBody)) throw new TypeError("Failed to construct 'Request': the input request's body was used.");
    body = takeBody(inputBody); // last: a construction that throws leaves the input intact
  }
  return { method, url, headers, body, redirect, signal };
}

function newIncomingRequest(method, url, headerPairs, body) {
  const headers = new Headers();
  const record = headersRecordOf(headers);
  for (const [name, value] of headerPairs) headerListAppend(record, String(name).toLowerCase(), String(value));
  record.guard = "immutable";
  let bodyRecord = null;
  if (body instanceof Uint8Array) bodyRecord = newFixedBody(body);
  else if (isReadableStream(body)) bodyRecord = newStreamBody(body);
  else if (body !== null) throw new TypeError("newIncomingRequest: the body must be null, a Uint8Array or a ReadableStream.");
  const signal = typeof AbortController === "function" ? new AbortController().signal : null;
  return new Request(INTERNAL, {
    method: String(method),
    url: parseAbsoluteURL(String(url), "newIncomingRequest").href,
    headers,
    body: bodyRecord,
    redirect: "follow",
    signal,
  });
}

installBodyMixin(Request, requestStateOf);
finishInterface(Request, "Request");
exposeGlobal("Request", Request);
