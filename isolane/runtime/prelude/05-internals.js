// Internals shared by the runtime's files (they all share one private scope): how a Web API
// becomes a global, and the byte/string conversions every body-carrying API needs.

// Web APIs are writable, configurable, non-enumerable properties of the global object.
function exposeGlobal(name, value) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}

// Name a class's instances for Object.prototype.toString, as the Web IDL does.
function setToStringTag(cls, tag) {
  Object.defineProperty(cls.prototype, Symbol.toStringTag, { value: tag, configurable: true });
}

// Bytes cross the host boundary as base64 strings (ENGINE.md trap 10: no bytes from Python
// to JS); V8's own Uint8Array base64 methods make that the cheapest way across.
const Uint8ArrayPrototypeToBase64 = uncurryThis(Uint8Array.prototype.toBase64);
const uint8FromBase64 = Uint8Array.fromBase64;

function bytesToBase64(bytes) {
  return Uint8ArrayPrototypeToBase64(bytes);
}

function base64ToBytes(text) {
  return uint8FromBase64(text);
}

// Latin-1 strings, one char per byte: for byte-oriented text such as multipart headers.
function bytesToLatin1(bytes) {
  let out = "";
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK));
  }
  return out;
}

function latin1ToBytes(text) {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

// The runtime's time origin (High Resolution Time): when this isolate's runtime started.
// performance.now() and Event.timeStamp count milliseconds from it. Date.now() may step
// back (a clock adjustment); the clock below never does.
const runtimeTimeOrigin = Date.now();
let lastTimeSinceOrigin = 0;

function timeSinceOrigin() {
  lastTimeSinceOrigin = Math.max(lastTimeSinceOrigin, Date.now() - runtimeTimeOrigin);
  return lastTimeSinceOrigin;
}
