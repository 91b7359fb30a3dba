// The Body mixin of Request and Response (WHATWG Fetch §5.3).
//
// A body is a record that avoids building a ReadableStream until someone asks for one:
//   { source, stream, used }
//   - a fixed body not yet read: `source` is a string (text still to be UTF-8 encoded: from
//     a string, URLSearchParams, Response.json) or a Uint8Array (bytes nobody else can
//     change), and `stream` is null;
//   - a stream body (given as a ReadableStream, or made from the source when `.body` was
//     asked for): `source` is null and `stream` is the ReadableStream;
//   - a fixed body consumed without its stream ever being made: both null, `used` true.
// Sources are never handed to scripts: they get copies. That lets clone() share them, and
// lets the host send a string body as it is (see responseBodySource in 48-response.js).

function newFixedBody(source) {
  return { source, stream: null, used: false };
}

function newStreamBody(stream) {
  return { source: null, stream, used: false };
}

// "Extract a body" from a BodyInit: { body, type } where type is the Content-Type it
// implies, or null.
function extractBody(object) {
  if (typeof object === "string") return { body: newFixedBody(object.toWellFormed()), type: "text/plain;charset=UTF-8" };
  if (isReadableStream(object)) {
    const stream = streamRecordOf(object);
    if (stream.disturbed || isReadableStreamLocked(stream)) {
      throw new TypeError("The body stream is disturbed or locked.");
    }
    return { body: newStreamBody(object), type: null };
  }
  if (isBlob(object)) {
    const { bytes, type } = blobRecordOf(object);
    return { body: newFixedBody(bytes), type: type === "" ? null : type };
  }
  if (isBufferSource(object)) return { body: newFixedBody(copyBufferSource(object)), type: null };
  if (isFormData(object)) {
    const { bytes, contentType } = serializeMultipartFormData(object);
    return { body: newFixedBody(bytes), type: contentType };
  }
  const urlencoded = urlSearchParamsBody(object); // null unless a URLSearchParams
  if (urlencoded !== null) return { body: newFixedBody(urlencoded), type: "application/x-www-form-urlencoded;charset=UTF-8" };
  return { body: newFixedBody(toUSVString(object)), type: "text/plain;charset=UTF-8" };
}

function isFormData(value) {
  try {
    formDataEntriesOf(value);
    return true;
  } catch {
    return false;
  }
}

function isBodyUsed(body) {
  return body.used || (body.stream !== null && streamRecordOf(body.stream).disturbed);
}

// Disturbed or locked: its bytes can no longer be read by anyone else.
function isBodyUnusable(body) {
  if (body.used) return true;
  if (body.stream === null) return false;
  const stream = streamRecordOf(body.stream);
  return stream.disturbed || isReadableStreamLocked(stream);
}

function sourceBytes(source) {
  return typeof source === "string" ? utf8Encode(source) : source.slice();
}

// The body's ReadableStream, made on first demand.
function bodyStreamOf(body) {
  if (body.stream === null) {
    if (body.used) {
      body.stream = readableStreamFromBytes(new Uint8Array(0));
      streamRecordOf(body.stream).disturbed = true;
    } else {
      body.stream = readableStreamFromBytes(sourceBytes(body.source));
      body.source = null;
    }
  }
  return body.stream;
}

// Consumes the body (the caller checked it is usable): a promise of all its bytes.
function readBodyBytes(body) {
  if (body.stream !== null) return readAllBytes(body.stream);
  const bytes = sourceBytes(body.source);
  body.source = null;
  body.used = true;
  return Promise.resolve(bytes);
}

// Consumes the body as text, skipping the encode/decode round trip for a string source.
function readBodyText(body) {
  if (body.stream === null && typeof body.source === "string") {
    const text = body.source;
    body.source = null;
    body.used = true;
    // UTF-8 decoding drops a leading byte order mark; so must the shortcut.
    return Promise.resolve(text.charCodeAt(0) === 0xFEFF ? text.slice(1) : text);
  }
  return readBodyBytes(body).then(utf8Decode);
}

// A second body with the same content. A stream body is teed: this body keeps one branch.
function cloneBody(body) {
  if (body.stream === null) return newFixedBody(body.source);
  const [mine, theirs] = readableStreamTee(streamRecordOf(body.stream));
  body.stream = mine.object;
  return newStreamBody(theirs.object);
}

// Moves the body's content to a new body, leaving this one used (new Request(request)).
function takeBody(body) {
  const taken = body.stream === null ? newFixedBody(body.source) : newStreamBody(body.stream);
  body.source = null;
  body.stream = null;
  body.used = true;
  return taken;
}

// An ArrayBuffer of exactly these bytes (no copy when the view already spans its buffer).
function wholeBuffer(bytes) {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
}

const BODY_USED_ERROR = "Body has already been used.";

// Adds the Body members to `cls`. `stateOf(object)` returns the object's internal state,
// whose `body` is a body record or null and `headers` a Headers object; it throws
// TypeError for anything else.
function installBodyMixin(cls, stateOf) {
  // Reads the body of `object` and converts it; every failure becomes a rejection.
  const consume = (object, read, convert) => {
    try {
      const state = stateOf(object);
      const body = state.body;
      if (body !== null && isBodyUnusable(body)) return Promise.reject(new TypeError(BODY_USED_ERROR));
      if (body === null) return Promise.resolve(read === readBodyText ? "" : new Uint8Array(0)).then((data) => convert(data, state));
      return read(body).then((data) => convert(data, state));
    } catch (err) {
      return Promise.reject(err);
    }
  };

  const members = {
    get body() {
      const body = stateOf(this).body;
      return body === null ? null : bodyStreamOf(body);
    },
    get bodyUsed() {
      const body = stateOf(this).body;
      return body !== null && isBodyUsed(body);
    },
    arrayBuffer() {
      return consume(this, readBodyBytes, (bytes) => wholeBuffer(bytes));
    },
    blob() {
      return consume(this, readBodyBytes, (bytes, state) => {
        const mime = extractMimeType(headersRecordOf(state.headers));
        return constructBlob(bytes, mime === null ? "" : normalizeBlobType(serializeMimeType(mime)));
      });
    },
    bytes() {
      return consume(this, readBodyBytes, (bytes) => new Uint8Array(wholeBuffer(bytes)));
    },
    formData() {
      return consume(this, readBodyBytes, (bytes, state) => {
        const mime = extractMimeType(headersRecordOf(state.headers));
        if (mime !== null && mime.essence === "multipart/form-data") {
          return parseMultipartFormData(bytes, mime.parameters.get("boundary"));
        }
        if (mime !== null && mime.essence === "application/x-www-form-urlencoded") {
          return parseUrlencodedFormData(bytes);
        }
        throw new TypeError("The body's Content-Type is neither multipart/form-data nor application/x-www-form-urlencoded.");
      });
    },
    json() {
      return consume(this, readBodyText, (text) => JSON.parse(text));
    },
    text() {
      return consume(this, readBodyText, (text) => text);
    },
  };
  for (const [name, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(members))) {
    Object.defineProperty(cls.prototype, name, { ...descriptor, enumerable: true, configurable: true });
  }
}
