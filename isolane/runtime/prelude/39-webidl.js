// Web IDL plumbing shared by the fetch objects (Headers, streams, Blob, FormData, Request,
// Response): argument conversions that throw the TypeErrors the IDL prescribes, pair
// iterators, and interface finishing touches. Kept in one place so that growing the APIs
// to full conformance later means fixing these helpers, not every class.

const IteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
const AsyncIteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf(async function* () {}).prototype);

// Runtime code passes this as a constructor's first argument to build an object around an
// internal record, bypassing the public argument checks; scripts can never obtain it.
const INTERNAL = Symbol("internal construction");

function isObject(value) {
  return (typeof value === "object" && value !== null) || typeof value === "function";
}

function requireArguments(given, required, where) {
  if (given < required) {
    throw new TypeError(`${where}: ${required} argument${required === 1 ? "" : "s"} required, but only ${given} present.`);
  }
}

// DOMString: ECMAScript ToString, which (unlike String()) throws on a Symbol.
function toDOMString(value) {
  return `${value}`;
}

// USVString: lone surrogates become U+FFFD.
function toUSVString(value) {
  return `${value}`.toWellFormed();
}

// ByteString: every code unit must fit in a byte.
function toByteString(value, what) {
  const string = `${value}`;
  if (/[^\x00-\xFF]/.test(string)) {
    throw new TypeError(`${what} contains a character outside the range U+0000..U+00FF.`);
  }
  return string;
}

function toEnum(value, allowed, what) {
  const string = toDOMString(value);
  if (!allowed.includes(string)) {
    throw new TypeError(`${what}: '${string}' is not one of ${allowed.map((v) => `'${v}'`).join(", ")}.`);
  }
  return string;
}

// A dictionary argument: undefined and null mean "no members"; other non-objects throw.
function toDictionary(value, what) {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw new TypeError(`${what} is not an object.`);
  return value;
}

// A callback member of a dictionary: undefined when absent, else it must be callable.
function toOptionalCallback(value, what) {
  if (value === undefined) return undefined;
  if (typeof value !== "function") throw new TypeError(`${what} is not a function.`);
  return value;
}

// `unsigned short` without [EnforceRange]: modulo 2^16, as the IDL converts it.
function toUnsignedShort(value) {
  const number = Number(value);
  if (!Number.isFinite(number)) return 0;
  const integer = Math.trunc(number);
  return ((integer % 65536) + 65536) % 65536;
}

// `long long`, within the safe integer range (beyond it the IDL's modulo is moot here).
function toLongLong(value) {
  const number = Number(value);
  if (!Number.isFinite(number)) return 0;
  return Math.trunc(number) || 0;
}

// `[Clamp] long long`: rounded half to even and clamped to the safe range.
function toClampedLongLong(value) {
  let number = Number(value);
  if (Number.isNaN(number)) return 0;
  number = Math.min(Math.max(number, Number.MIN_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
  const floor = Math.floor(number);
  const fraction = number - floor;
  if (fraction > 0.5 || (fraction === 0.5 && floor % 2 !== 0)) return floor + 1;
  return floor === 0 ? 0 : floor; // no -0
}

// The bytes an ArrayBuffer or a view covers, copied (bodies must not see later writes).
function copyBufferSource(source) {
  if (ArrayBuffer.isView(source)) {
    return new Uint8Array(source.buffer, source.byteOffset, source.byteLength).slice();
  }
  return new Uint8Array(source).slice();
}

function isBufferSource(value) {
  return value instanceof ArrayBuffer || ArrayBuffer.isView(value) ||
    (typeof SharedArrayBuffer === "function" && value instanceof SharedArrayBuffer);
}

function concatBytes(chunks, totalLength) {
  if (totalLength === undefined) totalLength = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  const out = new Uint8Array(totalLength);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

// Web IDL makes interface members enumerable (classes make them non-enumerable) and names
// instances with a toStringTag; constructors that are not meant to be called by scripts
// throw "Illegal constructor" themselves.
function finishInterface(cls, tag) {
  const proto = cls.prototype;
  for (const key of Object.getOwnPropertyNames(proto)) {
    if (key === "constructor") continue;
    const descriptor = Object.getOwnPropertyDescriptor(proto, key);
    descriptor.enumerable = true;
    Object.defineProperty(proto, key, descriptor);
  }
  for (const key of Object.getOwnPropertyNames(cls)) {
    if (key === "length" || key === "name" || key === "prototype") continue;
    const descriptor = Object.getOwnPropertyDescriptor(cls, key);
    descriptor.enumerable = true;
    Object.defineProperty(cls, key, descriptor);
  }
  setToStringTag(cls, tag);
}

// `iterable<K, V>` of Web IDL: entries/keys/values/forEach/@@iterator over the pairs that
// `pairsOf(object)` returns. The pairs are fetched again at every step, so iteration sees
// changes made while it runs (as the IDL's iterator, which keeps only an index, does).
function definePairIterable(cls, tag, pairsOf) {
  class PairIterator {
    #target;
    #kind;
    #index = 0;

    constructor(target, kind) {
      this.#target = target;
      this.#kind = kind;
    }

    next() {
      const target = this.#target;
      if (target === null) return { value: undefined, done: true };
      const pairs = pairsOf(target);
      if (this.#index >= pairs.length) {
        this.#target = null;
        return { value: undefined, done: true };
      }
      const [key, value] = pairs[this.#index++];
      if (this.#kind === "key") return { value: key, done: false };
      if (this.#kind === "value") return { value, done: false };
      return { value: [key, value], done: false };
    }
  }
  Object.setPrototypeOf(PairIterator.prototype, IteratorPrototype);
  delete PairIterator.prototype.constructor; // as in Web IDL: no constructor to reach
  Object.defineProperty(PairIterator.prototype, "next", { enumerable: true });
  Object.defineProperty(PairIterator.prototype, Symbol.toStringTag, { value: `${tag} Iterator`, configurable: true });

  const methods = {
    entries() { pairsOf(this); return new PairIterator(this, "key+value"); },
    keys() { pairsOf(this); return new PairIterator(this, "key"); },
    values() { pairsOf(this); return new PairIterator(this, "value"); },
    forEach(callback, thisArg = undefined) {
      pairsOf(this);
      if (typeof callback !== "function") {
        throw new TypeError(`Failed to execute 'forEach' on '${tag}': parameter 1 is not a function.`);
      }
      for (let i = 0; ; i++) {
        const pairs = pairsOf(this);
        if (i >= pairs.length) break;
        callback.call(thisArg, pairs[i][1], pairs[i][0], this);
      }
    },
  };
  for (const [name, method] of Object.entries(methods)) {
    Object.defineProperty(cls.prototype, name, { value: method, writable: true, enumerable: true, configurable: true });
  }
  Object.defineProperty(cls.prototype, Symbol.iterator, { value: methods.entries, writable: true, configurable: true });
}
