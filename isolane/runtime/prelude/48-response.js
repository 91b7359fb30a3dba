// Response (WHATWG Fetch §5.5), with the Body mixin.
//
// State: { type, status, statusText, url, redirected, headers (Headers), body (body
// record or null) }. Without a fetch() yet, `url` is always "" and `redirected` false.
//
// For the dispatcher (60-workers.js):
//   responseBodySource(response) -> { status, statusText, headers, body }
//     How the host sends a handler's Response. `headers` is [[name, value], ...] with
//     lower-case names, sorted, values of a name combined with ", " except set-cookie,
//     whose values are separate pairs. `body` is null; or {text: string} for a body made
//     from a string (or URLSearchParams, or Response.json) and never read: the host
//     UTF-8-encodes it; or {bytes: Uint8Array} for other fixed bytes (not a copy: read
//     only); or {stream: ReadableStream} of Uint8Array chunks otherwise. The body is
//     marked used. Throws TypeError if `response` is not a Response or its body was used.

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const REASON_PHRASE = /^[\t\x20-\x7E\x80-\xFF]*$/;

let responseStateOf; // (Response) -> its state, or TypeError

class Response {
  #state;

  constructor(body = null, init = undefined) {
    if (body === INTERNAL) {
      this.#state = init;
      return;
    }
    const dict = toDictionary(init, "init");
    const extracted = body === null || body === undefined ? null : () => extractBody(body);
    this.#state = newResponseState();
    initializeResponse(this.#state, dict, extracted);
  }

  static error() {
    const state = newResponseState();
    state.type = "error";
    state.status = 0;
    headersRecordOf(state.headers).guard = "immutable";
    return new Response(INTERNAL, state);
  }

  static redirect(url, status = 302) {
    requireArguments(arguments.length, 1, "Failed to execute 'redirect' on 'Response'");
    const location = parseAbsoluteURL(toUSVString(url), "Failed to execute 'redirect' on 'Response'").href;
    status = toUnsignedShort(status);
    if (!REDIRECT_STATUSES.has(status)) throw new RangeError(`Invalid redirect status: ${status}.`);
    const state = newResponseState();
    state.status = status;
    const headersRecord = headersRecordOf(state.headers);
    headerListAppend(headersRecord, "location", location);
    headersRecord.guard = "immutable";
    return new Response(INTERNAL, state);
  }

  static json(data, init = undefined) {
    requireArguments(arguments.length, 1, "Failed to execute 'json' on 'Response'");
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError("Failed to execute 'json' on 'Response': the data is not JSON-serializable.");
    const state = newResponseState();
    initializeResponse(state, toDictionary(init, "init"), () => ({ body: newFixedBody(text), type: "application/json" }));
    return new Response(INTERNAL, state);
  }

  get type() {
    return this.#state.type;
  }

  get url() {
    return this.#state.url;
  }

  get redirected() {
    return this.#state.redirected;
  }

  get status() {
    return this.#state.status;
  }

  get ok() {
    const status = this.#state.status;
    return status >= 200 && status <= 299;
  }

  get statusText() {
    return this.#state.statusText;
  }

  get headers() {
    return this.#state.headers;
  }

  clone() {
    const state = this.#state;
    if (state.body !== null && isBodyUnusable(state.body)) throw new TypeError("Cannot clone a Response whose body was used.");
    return new Response(INTERNAL, {
      ...state,
      headers: copyHeaders(headersRecordOf(state.headers)),
      body: state.body === null ? null : cloneBody(state.body),
    });
  }

  static {
    responseStateOf = (value) => {
      if (!isObject(value) || !(#state in value)) throw new TypeError("Illegal invocation: not a Response.");
      return value.#state;
    };
  }
}

function newResponseState() {
  return { type: "default", status: 200, statusText: "", url: "", redirected: false, headers: new Headers(), body: null };
}

// "Initialize a response": status, statusText and headers from `init`, then the body
// (`extract` returns {body, type}, or is null for no body).
function initializeResponse(state, init, extract) {
  const status = init.status === undefined ? 200 : toUnsignedShort(init.status);
  const statusText = init.statusText === undefined ? "" : toByteString(init.statusText, "statusText");
  if (status < 200 || status > 599) {
    throw new RangeError(`Failed to construct 'Response': The status provided (${status}) is outside the range [200, 599].`);
  }
  if (!REASON_PHRASE.test(statusText)) throw new TypeError("Failed to construct 'Response': Invalid statusText.");
  state.status = status;
  state.statusText = statusText;
  if (init.headers !== undefined) fillHeaders(headersRecordOf(state.headers), init.headers);
  if (extract !== null) {
    if (NULL_BODY_STATUSES.has(status)) {
      throw new TypeError(`Failed to construct 'Response': Response with null body status (${status}) cannot have body.`);
    }
    const { body, type } = extract();
    state.body = body;
    const headersRecord = headersRecordOf(state.headers);
    if (type !== null && headerListGet(headersRecord, "content-type") === null) {
      headerListAppend(headersRecord, "content-type", type);
    }
  }
}

function responseBodySource(response) {
  const state = responseStateOf(response);
  const body = state.body;
  if (body !== null && isBodyUnusable(body)) throw new TypeError("The Response body has already been used.");
  const headers = sortAndCombineHeaders(headersRecordOf(state.headers)).map(([name, value]) => [name, value]);
  let source = null;
  if (body !== null) {
    if (body.stream !== null) source = { stream: body.stream };
    else if (typeof body.source === "string") source = { text: body.source };
    else source = { bytes: body.source };
    body.source = null;
    body.used = true;
  }
  return { status: state.status, statusText: state.statusText, headers, body: source };
}

installBodyMixin(Response, responseStateOf);
finishInterface(Response, "Response");
exposeGlobal("Response", Response);
