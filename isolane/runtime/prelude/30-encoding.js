// UTF-8 per the WHATWG Encoding Standard: TextEncoder, TextDecoder, and two helpers the
// other runtime files use for bodies: utf8Encode(string) -> Uint8Array (lone surrogates
// become U+FFFD) and utf8Decode(bytes) -> string (replacement characters, leading BOM
// stripped). A 1 MiB body goes through them on every request, so both write into a typed
// array and build strings in chunks, with a fast path for ASCII.

const UTF8_LABELS = ["unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "utf-8", "utf8", "x-unicode20utf8"];
const STRING_CHUNK = 0x2000; // code units per String.fromCharCode.apply call (argument count limit)

// Intrinsics captured at start-up, so that a script patching prototypes cannot change how
// the runtime reads its arguments.
const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype);
const getterOf = (proto, name) => Object.getOwnPropertyDescriptor(proto, name).get;
const typedArrayTag = getterOf(typedArrayProto, Symbol.toStringTag); // undefined for non-typed-arrays
const typedArrayBuffer = getterOf(typedArrayProto, "buffer");
const typedArrayByteOffset = getterOf(typedArrayProto, "byteOffset");
const typedArrayByteLength = getterOf(typedArrayProto, "byteLength");
const typedArrayLength = getterOf(typedArrayProto, "length");
const dataViewBuffer = getterOf(DataView.prototype, "buffer");
const dataViewByteOffset = getterOf(DataView.prototype, "byteOffset");
const dataViewByteLength = getterOf(DataView.prototype, "byteLength");
const arrayBufferByteLength = getterOf(ArrayBuffer.prototype, "byteLength");
const arrayBufferDetached = getterOf(ArrayBuffer.prototype, "detached");
const sharedArrayBufferByteLength = getterOf(SharedArrayBuffer.prototype, "byteLength");
const { apply: applyFunction } = Reflect;

function isArrayBuffer(value) {
  try {
    applyFunction(arrayBufferByteLength, value, []);
    return true;
  } catch {
    return false;
  }
}

function isSharedArrayBuffer(value) {
  try {
    applyFunction(sharedArrayBufferByteLength, value, []);
    return true;
  } catch {
    return false;
  }
}

function isDetachedBuffer(buffer) {
  return isArrayBuffer(buffer) && applyFunction(arrayBufferDetached, buffer, []);
}

// The bytes of a Web IDL `AllowSharedBufferSource` (ArrayBuffer, SharedArrayBuffer or any
// ArrayBufferView) as a Uint8Array over the same memory, without copying. A detached
// buffer holds no bytes. Throws a TypeError for anything else.
function bufferSourceBytes(source, what) {
  if (ArrayBuffer.isView(source)) {
    const isTypedArray = applyFunction(typedArrayTag, source, []) !== undefined;
    const buffer = applyFunction(isTypedArray ? typedArrayBuffer : dataViewBuffer, source, []);
    if (isDetachedBuffer(buffer)) return new Uint8Array(0);
    const offset = applyFunction(isTypedArray ? typedArrayByteOffset : dataViewByteOffset, source, []);
    const length = applyFunction(isTypedArray ? typedArrayByteLength : dataViewByteLength, source, []);
    return new Uint8Array(buffer, offset, length);
  }
  if (isArrayBuffer(source)) {
    return isDetachedBuffer(source) ? new Uint8Array(0) : new Uint8Array(source);
  }
  if (isSharedArrayBuffer(source)) return new Uint8Array(source);
  throw new TypeError(`${what} is not of type '(ArrayBuffer or ArrayBufferView)'.`);
}

// Web IDL dictionary conversion: undefined and null mean "all defaults".
function optionsDictionary(value, what) {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" && typeof value !== "function") {
    throw new TypeError(`${what} is not an object.`);
  }
  return value;
}

// ---- Encoding

// Writes the UTF-8 form of string[read...] into bytes[written...limit), stopping before
// a code point that does not fit whole. A lone surrogate is written as U+FFFD (the
// USVString conversion). Returns where it stopped in both.
function utf8EncodeInto(string, read, bytes, written, limit) {
  const length = string.length;
  while (read < length) {
    let code = string.charCodeAt(read);
    if (code < 0x80) {
      if (written >= limit) break;
      bytes[written++] = code;
      read++;
      continue;
    }
    if (code < 0x800) {
      if (written + 2 > limit) break;
      bytes[written++] = 0xc0 | (code >> 6);
      bytes[written++] = 0x80 | (code & 0x3f);
      read++;
      continue;
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = read + 1 < length ? string.charCodeAt(read + 1) : 0;
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        if (written + 4 > limit) break;
        code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        bytes[written++] = 0xf0 | (code >> 18);
        bytes[written++] = 0x80 | ((code >> 12) & 0x3f);
        bytes[written++] = 0x80 | ((code >> 6) & 0x3f);
        bytes[written++] = 0x80 | (code & 0x3f);
        read += 2;
        continue;
      }
      code = 0xfffd;
    }
    if (written + 3 > limit) break;
    bytes[written++] = 0xe0 | (code >> 12);
    bytes[written++] = 0x80 | ((code >> 6) & 0x3f);
    bytes[written++] = 0x80 | (code & 0x3f);
    read++;
  }
  return { read, written };
}

function utf8Encode(string) {
  const length = string.length;
  const ascii = new Uint8Array(length);
  let i = 0;
  for (; i < length; i++) {
    const code = string.charCodeAt(i);
    if (code >= 0x80) break;
    ascii[i] = code;
  }
  if (i === length) return ascii;
  // From here each UTF-16 code unit takes at most 3 bytes (a surrogate pair: 4 for 2 units).
  const worstCase = i + (length - i) * 3;
  const bytes = new Uint8Array(worstCase);
  bytes.set(ascii.subarray(0, i));
  const { written } = utf8EncodeInto(string, i, bytes, i, worstCase);
  return bytes.slice(0, written);
}

// ---- Decoding

function codeUnitsToString(units, count) {
  if (count <= STRING_CHUNK) return String.fromCharCode.apply(null, units.subarray(0, count));
  let out = "";
  for (let i = 0; i < count; i += STRING_CHUNK) {
    out += String.fromCharCode.apply(null, units.subarray(i, Math.min(i + STRING_CHUNK, count)));
  }
  return out;
}

// The Encoding Standard's UTF-8 decoder. Its state (a partial sequence) carries over from
// one chunk to the next, so a sequence split across chunks decodes as if it were whole.
// Each maximal subpart of an ill-formed sequence becomes one U+FFFD (or a TypeError when
// fatal).
class Utf8Decoder {
  constructor() {
    this.reset();
  }

  reset() {
    this.needed = 0; // continuation bytes the current sequence needs in all
    this.seen = 0; // continuation bytes seen so far
    this.codePoint = 0;
    this.lower = 0x80; // allowed range of the next continuation byte
    this.upper = 0xbf;
  }

  // Decodes one chunk; `flush` marks the end of the stream (a pending partial sequence is
  // then an error).
  decode(bytes, flush, fatal) {
    const count = bytes.length;
    let i = 0;
    if (this.needed === 0) {
      while (i < count && bytes[i] < 0x80) i++;
      if (i === count) return bytesToLatin1(bytes);
    }
    // Every byte yields at most one code unit, except that finishing a 4-byte sequence
    // begun in an earlier chunk, or giving up on it, can add up to two more.
    const units = new Uint16Array(count + 3);
    units.set(bytes.subarray(0, i));
    let pos = i;
    let { needed, seen, codePoint, lower, upper } = this;
    for (; i < count; i++) {
      const byte = bytes[i];
      if (needed === 0) {
        if (byte < 0x80) {
          units[pos++] = byte;
          continue;
        }
        // Fast path: a whole well-formed sequence inside this chunk. Anything else (errors,
        // sequences cut by the chunk's end) goes through the state machine below.
        if (byte < 0xe0) {
          if (byte >= 0xc2 && i + 1 < count) {
            const b1 = bytes[i + 1];
            if ((b1 & 0xc0) === 0x80) {
              units[pos++] = ((byte & 0x1f) << 6) | (b1 & 0x3f);
              i += 1;
              continue;
            }
          }
        } else if (byte < 0xf0) {
          if (i + 2 < count) {
            const b1 = bytes[i + 1];
            const b2 = bytes[i + 2];
            const code = ((byte & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
            if ((b1 & 0xc0) === 0x80 && (b2 & 0xc0) === 0x80 && code >= 0x800 && (code < 0xd800 || code > 0xdfff)) {
              units[pos++] = code;
              i += 2;
              continue;
            }
          }
        } else if (byte <= 0xf4 && i + 3 < count) {
          const b1 = bytes[i + 1];
          const b2 = bytes[i + 2];
          const b3 = bytes[i + 3];
          const code = ((byte & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
          if ((b1 & 0xc0) === 0x80 && (b2 & 0xc0) === 0x80 && (b3 & 0xc0) === 0x80 && code >= 0x10000 && code <= 0x10ffff) {
            units[pos++] = 0xd800 + ((code - 0x10000) >> 10);
            units[pos++] = 0xdc00 + ((code - 0x10000) & 0x3ff);
            i += 3;
            continue;
          }
        }
        if (byte >= 0xc2 && byte <= 0xdf) {
          needed = 1;
          codePoint = byte & 0x1f;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) lower = 0xa0; // no overlong forms
          else if (byte === 0xed) upper = 0x9f; // no surrogates
          needed = 2;
          codePoint = byte & 0x0f;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) lower = 0x90; // no overlong forms
          else if (byte === 0xf4) upper = 0x8f; // nothing above U+10FFFF
          needed = 3;
          codePoint = byte & 0x07;
        } else {
          if (fatal) this.#fail();
          units[pos++] = 0xfffd;
        }
        continue;
      }
      if (byte < lower || byte > upper) {
        // The sequence so far is one error; this byte is then read again as a fresh start.
        needed = seen = codePoint = 0;
        lower = 0x80;
        upper = 0xbf;
        if (fatal) this.#fail();
        units[pos++] = 0xfffd;
        i--;
        continue;
      }
      lower = 0x80;
      upper = 0xbf;
      codePoint = (codePoint << 6) | (byte & 0x3f);
      if (++seen !== needed) continue;
      if (codePoint < 0x10000) {
        units[pos++] = codePoint;
      } else {
        units[pos++] = 0xd800 + ((codePoint - 0x10000) >> 10);
        units[pos++] = 0xdc00 + ((codePoint - 0x10000) & 0x3ff);
      }
      needed = seen = codePoint = 0;
    }
    Object.assign(this, { needed, seen, codePoint, lower, upper });
    if (flush && needed !== 0) {
      this.reset();
      if (fatal) this.#fail();
      units[pos++] = 0xfffd;
    }
    return codeUnitsToString(units, pos);
  }

  #fail() {
    this.reset();
    throw new TypeError("The encoded data was not valid for encoding utf-8");
  }
}

function utf8Decode(bytes) {
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    bytes = bytes.subarray(3);
  }
  return new Utf8Decoder().decode(bytes, true, false);
}

// ---- The Web APIs

class TextEncoder {
  #encoding = "utf-8"; // also the brand: reading it throws a TypeError on foreign objects

  get encoding() {
    return this.#encoding;
  }

  encode(input = "") {
    this.#encoding;
    return utf8Encode(`${input}`);
  }

  encodeInto(source, destination) {
    this.#encoding;
    if (arguments.length < 2) {
      throw new TypeError(`Failed to execute 'encodeInto' on 'TextEncoder': 2 arguments required, but only ${arguments.length} present.`);
    }
    source = `${source}`;
    if (applyFunction(typedArrayTag, destination, []) !== "Uint8Array") {
      throw new TypeError("Failed to execute 'encodeInto' on 'TextEncoder': parameter 2 is not of type 'Uint8Array'.");
    }
    const limit = applyFunction(typedArrayLength, destination, []); // 0 once detached
    return utf8EncodeInto(source, 0, destination, 0, limit);
  }
}

class TextDecoder {
  #encoding = "utf-8"; // also the brand, as in TextEncoder
  #fatal;
  #ignoreBOM;
  #decoder = new Utf8Decoder();
  #streaming = false; // the previous decode() had {stream: true}: keep the decoder's state
  #bomSeen = false;

  constructor(label = "utf-8", options = undefined) {
    label = `${label}`;
    const name = label.replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "").replace(/[A-Z]/g, (c) => c.toLowerCase());
    if (!UTF8_LABELS.includes(name)) {
      throw new RangeError(`The encoding label provided ('${label}') is invalid or not supported: only utf-8 is available.`);
    }
    options = optionsDictionary(options, "The provided TextDecoderOptions");
    this.#fatal = Boolean(options.fatal);
    this.#ignoreBOM = Boolean(options.ignoreBOM);
  }

  get encoding() {
    return this.#encoding;
  }

  get fatal() {
    return this.#fatal;
  }

  get ignoreBOM() {
    return this.#ignoreBOM;
  }

  decode(input = undefined, options = undefined) {
    this.#encoding;
    // Web IDL converts the arguments in order, then the method reads the bytes: a getter
    // on `options` may still change or detach them.
    if (input !== undefined) bufferSourceBytes(input, "The provided value");
    const stream = Boolean(optionsDictionary(options, "The provided TextDecodeOptions").stream);
    const bytes = input === undefined ? new Uint8Array(0) : bufferSourceBytes(input, "The provided value");
    if (!this.#streaming) {
      this.#decoder.reset();
      this.#bomSeen = false;
    }
    this.#streaming = stream;
    let text;
    try {
      text = this.#decoder.decode(bytes, !stream, this.#fatal);
    } catch (err) {
      this.#streaming = false;
      throw err;
    }
    if (!this.#ignoreBOM && !this.#bomSeen && text.length > 0) {
      this.#bomSeen = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    return text;
  }
}

setToStringTag(TextEncoder, "TextEncoder");
setToStringTag(TextDecoder, "TextDecoder");
exposeGlobal("TextEncoder", TextEncoder);
exposeGlobal("TextDecoder", TextDecoder);
