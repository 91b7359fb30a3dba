// The `crypto` global's own members: getRandomValues() and randomUUID(), from a CSPRNG that
// runs inside the isolate (JS cannot ask the host for bytes synchronously), and
// timingSafeEqualBytes(), Cloudflare's crypto.subtle.timingSafeEqual (34-subtle.js puts it
// there, with the rest of crypto.subtle, and sets `cryptoSubtle`).
//
// The generator is ChaCha20 (RFC 8439) with fast key erasure: each refill computes a batch
// of keystream under the current key, keeps its first 32 bytes as the next key and hands
// out the rest, wiping bytes as they go, so the state never reveals earlier output. The
// host keys it with seedRandom(32 bytes of os.urandom) when it prepares the isolate and
// again before each script is loaded; until then it refuses to produce anything.

const CHACHA_CONSTANTS = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]; // "expand 32-byte k"
const RANDOM_REFILL_BLOCKS = 16; // 1 KiB of keystream per refill
const RANDOM_MAX_BYTES = 65536; // getRandomValues' quota (Web Crypto)

function chachaQuarterRound(x, a, b, c, d) {
  x[a] = (x[a] + x[b]) | 0; x[d] ^= x[a]; x[d] = (x[d] << 16) | (x[d] >>> 16);
  x[c] = (x[c] + x[d]) | 0; x[b] ^= x[c]; x[b] = (x[b] << 12) | (x[b] >>> 20);
  x[a] = (x[a] + x[b]) | 0; x[d] ^= x[a]; x[d] = (x[d] << 8) | (x[d] >>> 24);
  x[c] = (x[c] + x[d]) | 0; x[b] ^= x[c]; x[b] = (x[b] << 7) | (x[b] >>> 25);
}

// The ChaCha20 block function (RFC 8439 section 2.3) on 32-bit words: key (8 words),
// counter, nonce (3 words) -> 64 bytes written little-endian into out[offset...].
const chachaState = new Uint32Array(16);
const chachaWorking = new Uint32Array(16);
function chachaBlockInto(keyWords, counter, nonceWords, out, offset) {
  const state = chachaState;
  const x = chachaWorking;
  state.set(CHACHA_CONSTANTS, 0);
  state.set(keyWords, 4);
  state[12] = counter;
  state.set(nonceWords, 13);
  x.set(state);
  for (let round = 0; round < 10; round++) {
    chachaQuarterRound(x, 0, 4, 8, 12); // columns
    chachaQuarterRound(x, 1, 5, 9, 13);
    chachaQuarterRound(x, 2, 6, 10, 14);
    chachaQuarterRound(x, 3, 7, 11, 15);
    chachaQuarterRound(x, 0, 5, 10, 15); // diagonals
    chachaQuarterRound(x, 1, 6, 11, 12);
    chachaQuarterRound(x, 2, 7, 8, 13);
    chachaQuarterRound(x, 3, 4, 9, 14);
  }
  for (let i = 0; i < 16; i++) {
    const word = (x[i] + state[i]) >>> 0;
    out[offset + 4 * i] = word & 0xff;
    out[offset + 4 * i + 1] = (word >>> 8) & 0xff;
    out[offset + 4 * i + 2] = (word >>> 16) & 0xff;
    out[offset + 4 * i + 3] = word >>> 24;
  }
  state.fill(0);
  x.fill(0);
}

function littleEndianWords(bytes, words = new Uint32Array(bytes.length / 4)) {
  for (let i = 0; i < words.length; i++) {
    words[i] = (bytes[4 * i] | (bytes[4 * i + 1] << 8) | (bytes[4 * i + 2] << 16) | (bytes[4 * i + 3] << 24)) >>> 0;
  }
  return words;
}

// The block function on bytes, for the RFC's test vectors (tests reach it via `internal`).
function chacha20Block(key /* 32 bytes */, counter, nonce /* 12 bytes */) {
  const out = new Uint8Array(64);
  chachaBlockInto(littleEndianWords(key), counter >>> 0, littleEndianWords(nonce), out, 0);
  return out;
}

const randomState = {
  key: null, // Uint32Array(8) once seeded
  pool: new Uint8Array(RANDOM_REFILL_BLOCKS * 64),
  position: 0, // pool[position...] is unused keystream
};
const RANDOM_ZERO_NONCE = new Uint32Array(3);

// Keys (or rekeys) the generator; anything left from the previous key is dropped.
function seedRandom(bytes) {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) {
    throw new TypeError("seedRandom() needs a Uint8Array of 32 bytes.");
  }
  if (randomState.key !== null) randomState.key.fill(0);
  randomState.key = littleEndianWords(bytes);
  randomState.pool.fill(0);
  randomState.position = randomState.pool.length;
}

function refillRandomPool() {
  const { key, pool } = randomState;
  for (let block = 0; block < RANDOM_REFILL_BLOCKS; block++) {
    chachaBlockInto(key, block, RANDOM_ZERO_NONCE, pool, block * 64);
  }
  littleEndianWords(pool.subarray(0, 32), key);
  pool.fill(0, 0, 32);
  randomState.position = 32;
}

// Fills `bytes` (a Uint8Array) with random bytes.
function randomBytesInto(bytes) {
  if (randomState.key === null) {
    throw new Error("The random number generator has not been seeded yet.");
  }
  const { pool } = randomState;
  let filled = 0;
  while (filled < bytes.length) {
    if (randomState.position === pool.length) refillRandomPool();
    const count = Math.min(bytes.length - filled, pool.length - randomState.position);
    const end = randomState.position + count;
    bytes.set(pool.subarray(randomState.position, end), filled);
    pool.fill(0, randomState.position, end);
    randomState.position = end;
    filled += count;
  }
  return bytes;
}

// Compares two byte arrays in time that depends only on their length.
function timingSafeEqualBytes(a, b) {
  if (a.length !== b.length) {
    throw new TypeError("Input buffers must have the same byte length.");
  }
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

const RANDOM_INTEGER_ARRAYS = [
  "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array",
  "Int32Array", "Uint32Array", "BigInt64Array", "BigUint64Array",
];

// The runtime's own constructor token for Crypto, SubtleCrypto and CryptoKey (39-webidl.js's
// INTERNAL is not initialised yet when these files run).
const CRYPTO_INTERNAL = Symbol("crypto internal construction");
let cryptoSubtle = null; // the SubtleCrypto instance, made by 34-subtle.js
const HEX_BYTES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

class Crypto {
  #brand; // lets the methods reject foreign receivers

  constructor(token) {
    if (token !== CRYPTO_INTERNAL) throw new TypeError("Illegal constructor");
    this.#brand = true;
  }

  getRandomValues(array) {
    this.#brand;
    requireArguments(arguments.length, 1, "Failed to execute 'getRandomValues' on 'Crypto'");
    if (!ArrayBuffer.isView(array)) {
      throw new TypeError("Failed to execute 'getRandomValues' on 'Crypto': parameter 1 is not of type 'ArrayBufferView'.");
    }
    const kind = applyFunction(typedArrayTag, array, []); // undefined for a DataView
    if (!RANDOM_INTEGER_ARRAYS.includes(kind)) {
      throw new DOMException(`The provided ArrayBufferView is of type '${kind ?? "DataView"}', which is not an integer array type.`, "TypeMismatchError");
    }
    const bytes = bufferSourceBytes(array, "parameter 1");
    if (bytes.length > RANDOM_MAX_BYTES) {
      throw new DOMException(`The ArrayBufferView's byte length (${bytes.length}) exceeds the number of bytes of entropy available via this API (${RANDOM_MAX_BYTES}).`, "QuotaExceededError");
    }
    randomBytesInto(bytes);
    return array;
  }

  get subtle() {
    this.#brand;
    return cryptoSubtle;
  }

  randomUUID() {
    this.#brand;
    const bytes = randomBytesInto(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
    const hex = Array.from(bytes, (byte) => HEX_BYTES[byte]);
    return `${hex.slice(0, 4).join("")}-${hex.slice(4, 6).join("")}-${hex.slice(6, 8).join("")}-${hex.slice(8, 10).join("")}-${hex.slice(10).join("")}`;
  }
}

finishInterface(Crypto, "Crypto");
exposeGlobal("Crypto", Crypto);
exposeGlobal("crypto", new Crypto(CRYPTO_INTERNAL));
