// Web Crypto's SubtleCrypto (crypto.subtle) and CryptoKey, for SHA digests, HMAC, AES-GCM,
// ECDSA (P-256, P-384, P-521), Ed25519, PBKDF2 and HKDF.
//
// This file does what the spec asks of the API itself: converting arguments, normalising
// algorithms, checking usages and JWK envelopes, keeping each CryptoKey's internal slots.
// The cryptography proper happens in the host (runtime/host/crypto.py) through hostCall;
// only secret keys are made here, from the isolate's CSPRNG (33-random.js). Key material
// lives in a private slot of each CryptoKey: raw bytes for secret keys, DER (PKCS #8 or
// SubjectPublicKeyInfo, canonical as the host wrote it) for the others.
//
// All of it sits in a block so that its many small names stay out of the other files' way.
{
  const KEY_USAGES = ["encrypt", "decrypt", "sign", "verify", "deriveKey", "deriveBits", "wrapKey", "unwrapKey"];
  const KEY_FORMATS = ["raw", "spki", "pkcs8", "jwk"];
  const HASHES = {
    "SHA-1": { blockBits: 512, outputBits: 160, hmacJwkAlg: "HS1" },
    "SHA-256": { blockBits: 512, outputBits: 256, hmacJwkAlg: "HS256" },
    "SHA-384": { blockBits: 1024, outputBits: 384, hmacJwkAlg: "HS384" },
    "SHA-512": { blockBits: 1024, outputBits: 512, hmacJwkAlg: "HS512" },
  };
  const EC_CURVE_JWK_ALGS = { "P-256": "ES256", "P-384": "ES384", "P-521": "ES512" };
  const AES_KEY_BITS = [128, 192, 256];
  const AES_GCM_TAG_BITS = [32, 64, 96, 104, 112, 120, 128];
  const AES_USAGES = ["encrypt", "decrypt", "wrapKey", "unwrapKey"];
  const SIGNATURE_USAGES = ["sign", "verify"];
  const DERIVATION_USAGES = ["deriveKey", "deriveBits"];
  // As in Workers: more would let one call burn seconds of the host's CPU. For the same
  // reason the output is capped (its cost grows with each hash-sized block of it).
  const PBKDF2_MAX_ITERATIONS = 100000;
  const PBKDF2_MAX_BITS = 2048;

  const domError = (name, message) => new DOMException(message, name);

  // ---- Argument conversions (Web IDL)

  // BufferSource: an ArrayBuffer or a view, not shared memory. The bytes are not copied.
  function toBufferSource(value, what) {
    const bytes = bufferSourceBytes(value, what);
    if (isSharedArrayBuffer(value) || (ArrayBuffer.isView(value) && isSharedArrayBuffer(bytes.buffer))) {
      throw new TypeError(`${what} must not be backed by a SharedArrayBuffer.`);
    }
    return bytes;
  }

  const isBufferSourceValue = (value) => ArrayBuffer.isView(value) || isArrayBuffer(value) || isSharedArrayBuffer(value);

  // An [EnforceRange] integer type: non-finite or out-of-range numbers throw.
  function toEnforcedInteger(value, max, what) {
    const number = Number(value);
    if (!Number.isFinite(number)) throw new TypeError(`${what} is not a finite number.`);
    const integer = Math.trunc(number);
    if (integer < 0 || integer > max) throw new TypeError(`${what} is outside the range 0 to ${max}.`);
    return integer === 0 ? 0 : integer; // no -0
  }

  // AlgorithmIdentifier: (object or DOMString).
  const toAlgorithmIdentifier = (value) => (isObject(value) ? value : toDOMString(value));

  function toKeyUsages(value) {
    if (!isObject(value) || typeof value[Symbol.iterator] !== "function") {
      throw new TypeError("The key usages are not a sequence.");
    }
    const usages = [];
    for (const item of value) usages.push(toEnum(item, KEY_USAGES, "Key usage"));
    return usages;
  }

  // The members of the JsonWebKey dictionary this API reads, in the IDL's (lexicographic)
  // order of conversion.
  const JWK_MEMBERS = [
    ["alg", "string"], ["crv", "string"], ["d", "string"], ["ext", "boolean"], ["k", "string"],
    ["key_ops", "strings"], ["kty", "string"], ["use", "string"], ["x", "string"], ["y", "string"],
  ];

  function toJsonWebKey(value) {
    if (value !== undefined && value !== null && !isObject(value)) {
      throw new TypeError("The key data is neither a BufferSource nor a JsonWebKey.");
    }
    const jwk = {};
    if (value === undefined || value === null) return jwk;
    for (const [member, type] of JWK_MEMBERS) {
      const raw = value[member];
      if (raw === undefined) continue;
      if (type === "boolean") jwk[member] = Boolean(raw);
      else if (type === "string") jwk[member] = toDOMString(raw);
      else {
        if (!isObject(raw) || typeof raw[Symbol.iterator] !== "function") throw new TypeError("The JWK's 'key_ops' member is not a sequence.");
        jwk[member] = Array.from(raw, toDOMString);
      }
    }
    return jwk;
  }

  // ---- Algorithm normalisation (Web Crypto "normalize an algorithm")

  // A parameter dictionary: its members in the IDL's order, as [name, type, required].
  const NO_PARAMS = [];
  const HMAC_PARAMS = [["hash", "hash", true], ["length", "unsigned long", false]]; // import, generate
  const AES_LENGTH_PARAMS = [["length", "unsigned short", true]]; // generate, derived key length
  const AES_GCM_PARAMS = [["additionalData", "bytes", false], ["iv", "bytes", true], ["tagLength", "octet", false]];
  const EC_KEY_PARAMS = [["namedCurve", "string", true]];
  const ECDSA_PARAMS = [["hash", "hash", true]];
  const PBKDF2_PARAMS = [["hash", "hash", true], ["iterations", "unsigned long", true], ["salt", "bytes", true]];
  const HKDF_PARAMS = [["hash", "hash", true], ["info", "bytes", true], ["salt", "bytes", true]];
  const INTEGER_MAXIMA = { "unsigned long": 0xffffffff, "unsigned short": 0xffff, octet: 0xff };

  // For each operation, the algorithms that support it and their parameters.
  const SIGNERS = { HMAC: NO_PARAMS, ECDSA: ECDSA_PARAMS, Ed25519: NO_PARAMS };
  const CIPHERS = { "AES-GCM": AES_GCM_PARAMS };
  const SUPPORTED = {
    digest: { "SHA-1": NO_PARAMS, "SHA-256": NO_PARAMS, "SHA-384": NO_PARAMS, "SHA-512": NO_PARAMS },
    sign: SIGNERS,
    verify: SIGNERS,
    encrypt: CIPHERS,
    decrypt: CIPHERS,
    generateKey: { HMAC: HMAC_PARAMS, "AES-GCM": AES_LENGTH_PARAMS, ECDSA: EC_KEY_PARAMS, Ed25519: NO_PARAMS },
    importKey: { HMAC: HMAC_PARAMS, "AES-GCM": NO_PARAMS, ECDSA: EC_KEY_PARAMS, Ed25519: NO_PARAMS, PBKDF2: NO_PARAMS, HKDF: NO_PARAMS },
    deriveBits: { PBKDF2: PBKDF2_PARAMS, HKDF: HKDF_PARAMS },
    "get key length": { HMAC: HMAC_PARAMS, "AES-GCM": AES_LENGTH_PARAMS, PBKDF2: NO_PARAMS, HKDF: NO_PARAMS },
  };

  const asciiLowercase = (text) => text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));

  // The algorithm as a plain record: its registered name (matched case-insensitively) and
  // its parameters converted; hashes normalised in turn, BufferSources copied.
  function normalizeAlgorithm(algorithm, op) {
    if (!isObject(algorithm)) algorithm = { name: algorithm };
    if (algorithm.name === undefined) throw new TypeError("The algorithm has no name.");
    const requested = toDOMString(algorithm.name);
    const registered = SUPPORTED[op];
    const name = Object.keys(registered).find((candidate) => asciiLowercase(candidate) === asciiLowercase(requested));
    if (name === undefined) {
      throw domError("NotSupportedError", `Unrecognized or unsupported algorithm '${requested}' for ${op}.`);
    }
    const members = registered[name];
    const normalized = { name };
    for (const [member, type, required] of members) {
      const value = algorithm[member];
      const what = `${name}: the algorithm's '${member}' member`;
      if (value === undefined) {
        if (required) throw new TypeError(`${what} is required.`);
      } else if (type === "hash") {
        normalized[member] = toAlgorithmIdentifier(value);
      } else if (type === "bytes") {
        normalized[member] = toBufferSource(value, what);
      } else if (type === "string") {
        normalized[member] = toDOMString(value);
      } else {
        normalized[member] = toEnforcedInteger(value, INTEGER_MAXIMA[type], what);
      }
    }
    // Only once every member is converted (as the spec orders it).
    for (const [member, type] of members) {
      if (normalized[member] === undefined) continue;
      if (type === "hash") normalized[member] = normalizeAlgorithm(normalized[member], "digest");
      else if (type === "bytes") normalized[member] = normalized[member].slice();
    }
    return normalized;
  }

  // ---- CryptoKey

  let cryptoKeySlots; // (value) -> its internal slots, or null for anything but a CryptoKey

  class CryptoKey {
    #slots; // { type, extractable, algorithm, usages, material }
    #algorithmObject = null; // what the `algorithm` and `usages` attributes return: made
    #usagesObject = null; // once, so that they are the same objects each time

    constructor(token, slots) {
      if (token !== CRYPTO_INTERNAL) throw new TypeError("Illegal constructor");
      this.#slots = slots;
    }

    get type() {
      return this.#slots.type;
    }

    get extractable() {
      return this.#slots.extractable;
    }

    get algorithm() {
      if (this.#algorithmObject === null) {
        const { algorithm } = this.#slots;
        this.#algorithmObject = algorithm.hash === undefined ? { ...algorithm } : { ...algorithm, hash: { ...algorithm.hash } };
      }
      return this.#algorithmObject;
    }

    get usages() {
      if (this.#usagesObject === null) this.#usagesObject = [...this.#slots.usages];
      return this.#usagesObject;
    }

    static {
      cryptoKeySlots = (value) => (isObject(value) && #slots in value ? value.#slots : null);
    }
  }

  function requireKey(value, what) {
    const slots = cryptoKeySlots(value);
    if (slots === null) throw new TypeError(`${what} is not of type 'CryptoKey'.`);
    return slots;
  }

  // Usages are kept without duplicates, in the spec's order (as browsers show them).
  const canonicalUsages = (usages) => KEY_USAGES.filter((usage) => usages.includes(usage));

  function newKey(type, extractable, algorithm, usages, material) {
    return new CryptoKey(CRYPTO_INTERNAL, { type, extractable, algorithm, usages: canonicalUsages(usages), material });
  }

  function checkUsages(usages, allowed) {
    const bad = usages.find((usage) => !allowed.includes(usage));
    if (bad !== undefined) throw domError("SyntaxError", `Cannot create a key with the '${bad}' usage.`);
  }

  function checkKeyUse(normalized, slots, usage) {
    if (normalized.name !== slots.algorithm.name) {
      throw domError("InvalidAccessError", `The key is a ${slots.algorithm.name} key, not a ${normalized.name} key.`);
    }
    if (!slots.usages.includes(usage)) {
      throw domError("InvalidAccessError", `The key's usages do not include '${usage}'.`);
    }
  }

  // ---- JWK helpers

  const base64Url = (bytes) => Uint8ArrayPrototypeToBase64(bytes, { alphabet: "base64url", omitPadding: true });

  function jwkBytes(jwk, member) {
    if (jwk[member] === undefined) throw domError("DataError", `The JWK has no '${member}' member.`);
    try {
      return Reflect.apply(uint8FromBase64, Uint8Array, [jwk[member], { alphabet: "base64url" }]);
    } catch {
      throw domError("DataError", `The JWK's '${member}' member is not valid base64url.`);
    }
  }

  // The checks every JWK import makes: key type, intended use, permitted operations and
  // extractability must all agree with the call.
  function checkJwk(jwk, kty, use, usages, extractable) {
    if (jwk.kty !== kty) throw domError("DataError", `The JWK's 'kty' member must be '${kty}'.`);
    if (usages.length > 0 && jwk.use !== undefined && jwk.use !== use) {
      throw domError("DataError", `The JWK's 'use' member must be '${use}'.`);
    }
    if (jwk.key_ops !== undefined) {
      if (new Set(jwk.key_ops).size !== jwk.key_ops.length) {
        throw domError("DataError", "The JWK's 'key_ops' member has duplicates.");
      }
      const missing = usages.find((usage) => !jwk.key_ops.includes(usage));
      if (missing !== undefined) throw domError("DataError", `The JWK's 'key_ops' member does not allow '${missing}'.`);
    }
    if (jwk.ext === false && extractable) {
      throw domError("DataError", "The JWK is not extractable ('ext' is false), but an extractable key was asked for.");
    }
  }

  const jwkEnvelope = (slots) => ({ key_ops: [...slots.usages], ext: slots.extractable });
  const arrayBufferOf = (bytes) => bytes.slice().buffer;
  const fromHost = (text) => base64ToBytes(text).buffer;

  // ---- The algorithms. Each implements the operations it supports; `key` is a CryptoKey's
  // slots, `data` a private copy of the bytes. importKey returns {type, algorithm, material}.

  // HMAC and AES-GCM keys: raw bytes or an "oct" JWK, whose key `checkJwkKey` vets.
  function importSecretBytes(format, keyData, usages, extractable, use, checkJwkKey) {
    if (format === "raw") return keyData;
    if (format !== "jwk") throw domError("NotSupportedError", `A secret key cannot be imported from the '${format}' format.`);
    if (keyData.kty !== "oct") throw domError("DataError", "The JWK's 'kty' member must be 'oct'.");
    const bytes = jwkBytes(keyData, "k");
    checkJwkKey(bytes);
    checkJwk(keyData, "oct", use, usages, extractable);
    return bytes;
  }

  function exportSecret(format, key, jwkAlg) {
    if (format === "raw") return arrayBufferOf(key.material);
    if (format === "jwk") return { kty: "oct", k: base64Url(key.material), alg: jwkAlg, ...jwkEnvelope(key) };
    throw domError("NotSupportedError", `A secret key cannot be exported in the '${format}' format.`);
  }

  const HMAC = {
    async generateKey(params, extractable, usages) {
      checkUsages(usages, SIGNATURE_USAGES);
      const length = params.length ?? HASHES[params.hash.name].blockBits;
      if (length === 0) throw domError("OperationError", "An HMAC key cannot be 0 bits long.");
      const material = randomBytesInto(new Uint8Array(Math.ceil(length / 8)));
      if (length % 8 !== 0) material[material.length - 1] &= 0xff << (8 - (length % 8)); // exactly `length` bits
      return newKey("secret", extractable, { name: "HMAC", hash: { name: params.hash.name }, length }, usages, material);
    },
    async importKey(format, keyData, params, extractable, usages) {
      checkUsages(usages, SIGNATURE_USAGES);
      const expectedAlg = HASHES[params.hash.name].hmacJwkAlg;
      const material = importSecretBytes(format, keyData, usages, extractable, "sig", () => {
        if (keyData.alg !== undefined && keyData.alg !== expectedAlg) {
          throw domError("DataError", `The JWK's 'alg' member must be '${expectedAlg}'.`);
        }
      });
      let length = material.length * 8;
      if (length === 0) throw domError("DataError", "An HMAC key cannot be empty.");
      if (params.length !== undefined) {
        if (params.length > length || params.length <= length - 8) {
          throw domError("DataError", `The key data is not ${params.length} bits long.`);
        }
        length = params.length;
      }
      return { type: "secret", algorithm: { name: "HMAC", hash: { name: params.hash.name }, length }, material };
    },
    async exportKey(format, key) {
      return exportSecret(format, key, HASHES[key.algorithm.hash.name].hmacJwkAlg);
    },
    async sign(params, key, data) {
      const args = { algorithm: { name: "HMAC", hash: key.algorithm.hash.name }, key: bytesToBase64(key.material), data: bytesToBase64(data) };
      return fromHost(await hostCall("crypto.sign", args));
    },
    async verify(params, key, signature, data) {
      const args = { algorithm: { name: "HMAC", hash: key.algorithm.hash.name }, key: bytesToBase64(key.material), signature: bytesToBase64(signature), data: bytesToBase64(data) };
      return hostCall("crypto.verify", args);
    },
    getKeyLength(params) {
      if (params.length === undefined) return HASHES[params.hash.name].blockBits;
      if (params.length === 0) throw new TypeError("An HMAC key cannot be 0 bits long.");
      return params.length;
    },
  };

  function aesGcmArgs(params, key, data) {
    const tagLength = params.tagLength ?? 128;
    if (!AES_GCM_TAG_BITS.includes(tagLength)) {
      throw domError("OperationError", `${tagLength} is not a valid AES-GCM tag length.`);
    }
    const algorithm = {
      name: "AES-GCM",
      iv: bytesToBase64(params.iv),
      additionalData: params.additionalData === undefined ? null : bytesToBase64(params.additionalData),
      tagLength,
    };
    return { algorithm, key: bytesToBase64(key.material), data: bytesToBase64(data) };
  }

  const AES_GCM = {
    async generateKey(params, extractable, usages) {
      checkUsages(usages, AES_USAGES);
      if (!AES_KEY_BITS.includes(params.length)) throw domError("OperationError", "AES keys must be 128, 192 or 256 bits long.");
      const material = randomBytesInto(new Uint8Array(params.length / 8));
      return newKey("secret", extractable, { name: "AES-GCM", length: params.length }, usages, material);
    },
    async importKey(format, keyData, params, extractable, usages) {
      checkUsages(usages, AES_USAGES);
      const material = importSecretBytes(format, keyData, usages, extractable, "enc", (bytes) => {
        if (!AES_KEY_BITS.includes(bytes.length * 8)) throw domError("DataError", "AES keys must be 128, 192 or 256 bits long.");
        const expectedAlg = `A${bytes.length * 8}GCM`;
        if (keyData.alg !== undefined && keyData.alg !== expectedAlg) {
          throw domError("DataError", `The JWK's 'alg' member must be '${expectedAlg}'.`);
        }
      });
      if (!AES_KEY_BITS.includes(material.length * 8)) throw domError("DataError", "AES keys must be 128, 192 or 256 bits long.");
      return { type: "secret", algorithm: { name: "AES-GCM", length: material.length * 8 }, material };
    },
    async exportKey(format, key) {
      return exportSecret(format, key, `A${key.algorithm.length}GCM`);
    },
    async encrypt(params, key, data) {
      return fromHost(await hostCall("crypto.encrypt", aesGcmArgs(params, key, data)));
    },
    async decrypt(params, key, data) {
      const args = aesGcmArgs(params, key, data);
      if (data.length < args.algorithm.tagLength / 8) throw domError("OperationError", "The data is shorter than the AES-GCM tag.");
      return fromHost(await hostCall("crypto.decrypt", args));
    },
    getKeyLength(params) {
      if (!AES_KEY_BITS.includes(params.length)) throw domError("OperationError", "AES keys must be 128, 192 or 256 bits long.");
      return params.length;
    },
  };

  // ECDSA and Ed25519: key pairs, whose parsing and serialising is the host's.
  function asymmetric(name, kty, checkJwkCurve) {
    const hostAlgorithm = (algorithm) => ({ name, namedCurve: algorithm.namedCurve });
    const keyAlgorithm = (params) => (name === "ECDSA" ? { name, namedCurve: params.namedCurve } : { name });
    const requireType = (key, type, what) => {
      if (key.type !== type) throw domError("InvalidAccessError", `${what} requires a ${type} key.`);
    };
    return {
      async generateKey(params, extractable, usages) {
        checkUsages(usages, SIGNATURE_USAGES);
        if (name === "ECDSA" && !Object.hasOwn(EC_CURVE_JWK_ALGS, params.namedCurve)) {
          throw domError("NotSupportedError", `The named curve '${params.namedCurve}' is not supported.`);
        }
        const algorithm = keyAlgorithm(params);
        const pair = await hostCall("crypto.generateKeyPair", { algorithm: hostAlgorithm(algorithm) });
        return {
          publicKey: newKey("public", true, algorithm, usages.filter((usage) => usage === "verify"), base64ToBytes(pair.publicKey)),
          privateKey: newKey("private", extractable, algorithm, usages.filter((usage) => usage === "sign"), base64ToBytes(pair.privateKey)),
        };
      },
      async importKey(format, keyData, params, extractable, usages) {
        let hostKeyData;
        if (format === "spki" || format === "raw") {
          checkUsages(usages, ["verify"]);
          hostKeyData = bytesToBase64(keyData);
        } else if (format === "pkcs8") {
          checkUsages(usages, ["sign"]);
          hostKeyData = bytesToBase64(keyData);
        } else if (format === "jwk") {
          checkUsages(usages, keyData.d === undefined ? ["verify"] : ["sign"]);
          checkJwk(keyData, kty, "sig", usages, extractable);
          checkJwkCurve(keyData, params);
          hostKeyData = {};
          for (const member of ["x", "y", "d"]) {
            if (keyData[member] !== undefined) hostKeyData[member] = bytesToBase64(jwkBytes(keyData, member));
          }
        } else {
          throw domError("NotSupportedError", `An ${name} key cannot be imported from the '${format}' format.`);
        }
        if (name === "ECDSA" && !Object.hasOwn(EC_CURVE_JWK_ALGS, params.namedCurve)) {
          throw domError("DataError", `The named curve '${params.namedCurve}' is not supported.`);
        }
        const algorithm = keyAlgorithm(params);
        const imported = await hostCall("crypto.importKey", { algorithm: hostAlgorithm(algorithm), format, keyData: hostKeyData });
        return { type: imported.type, algorithm, material: base64ToBytes(imported.key) };
      },
      async exportKey(format, key) {
        if (format === "spki" || format === "pkcs8") {
          requireType(key, format === "spki" ? "public" : "private", `Exporting as '${format}'`);
          return arrayBufferOf(key.material);
        }
        const args = { algorithm: hostAlgorithm(key.algorithm), type: key.type, key: bytesToBase64(key.material), format };
        if (format === "raw") {
          requireType(key, "public", "Exporting as 'raw'");
          return fromHost(await hostCall("crypto.exportKey", args));
        }
        const members = await hostCall("crypto.exportKey", args);
        const jwk = { kty, crv: key.algorithm.namedCurve ?? name };
        if (name === "Ed25519") jwk.alg = "EdDSA"; // what Workers writes (RFC 8037's name)
        for (const member of ["x", "y", "d"]) {
          if (members[member] !== undefined) jwk[member] = base64Url(base64ToBytes(members[member]));
        }
        return Object.assign(jwk, jwkEnvelope(key));
      },
      async sign(params, key, data) {
        requireType(key, "private", "Signing");
        const args = { algorithm: { name, hash: params.hash?.name }, key: bytesToBase64(key.material), data: bytesToBase64(data) };
        return fromHost(await hostCall("crypto.sign", args));
      },
      async verify(params, key, signature, data) {
        requireType(key, "public", "Verifying");
        const args = {
          algorithm: { name, hash: params.hash?.name },
          key: bytesToBase64(key.material),
          signature: bytesToBase64(signature),
          data: bytesToBase64(data),
        };
        return hostCall("crypto.verify", args);
      },
    };
  }

  const ECDSA = asymmetric("ECDSA", "EC", (jwk, params) => {
    if (jwk.crv !== params.namedCurve) throw domError("DataError", `The JWK's 'crv' member must be '${params.namedCurve}'.`);
    const expectedAlg = EC_CURVE_JWK_ALGS[params.namedCurve];
    if (jwk.alg !== undefined && jwk.alg !== expectedAlg) throw domError("DataError", `The JWK's 'alg' member must be '${expectedAlg}'.`);
  });

  const ED25519 = asymmetric("Ed25519", "OKP", (jwk) => {
    if (jwk.crv !== "Ed25519") throw domError("DataError", "The JWK's 'crv' member must be 'Ed25519'.");
    if (jwk.alg !== undefined && jwk.alg !== "Ed25519" && jwk.alg !== "EdDSA") {
      throw domError("DataError", "The JWK's 'alg' member must be 'Ed25519' or 'EdDSA'.");
    }
  });

  // PBKDF2 and HKDF: raw, never extractable secrets that only derive.
  function keyDerivation(name, checkParams) {
    return {
      async importKey(format, keyData, params, extractable, usages) {
        if (format !== "raw") throw domError("NotSupportedError", `A ${name} key can only be imported from the 'raw' format.`);
        checkUsages(usages, DERIVATION_USAGES);
        if (extractable) throw domError("SyntaxError", `A ${name} key cannot be extractable.`);
        return { type: "secret", algorithm: { name }, material: keyData };
      },
      async deriveBits(params, key, length) {
        if (length === null) throw domError("OperationError", `${name} needs a length to derive.`);
        if (length % 8 !== 0) throw domError("OperationError", `${name} derives whole bytes: the length must be a multiple of 8.`);
        checkParams(params, length);
        const algorithm = { ...params, salt: bytesToBase64(params.salt), hash: params.hash.name };
        if (params.info !== undefined) algorithm.info = bytesToBase64(params.info);
        return fromHost(await hostCall("crypto.deriveBits", { algorithm, key: bytesToBase64(key.material), length }));
      },
      getKeyLength() {
        return null;
      },
    };
  }

  const PBKDF2 = keyDerivation("PBKDF2", (params, length) => {
    if (params.iterations === 0) throw domError("OperationError", "PBKDF2 needs at least one iteration.");
    if (params.iterations > PBKDF2_MAX_ITERATIONS) {
      throw domError("NotSupportedError", `PBKDF2 iteration counts above ${PBKDF2_MAX_ITERATIONS} are not supported (requested ${params.iterations}).`);
    }
    if (length > PBKDF2_MAX_BITS) {
      throw domError("NotSupportedError", `PBKDF2 derives at most ${PBKDF2_MAX_BITS} bits here (requested ${length}).`);
    }
  });

  const HKDF = keyDerivation("HKDF", (params, length) => {
    const most = 255 * HASHES[params.hash.name].outputBits;
    if (length > most) throw domError("OperationError", `HKDF with ${params.hash.name} derives at most ${most} bits.`);
  });

  const ALGORITHMS = { HMAC, "AES-GCM": AES_GCM, ECDSA, Ed25519: ED25519, PBKDF2, HKDF };

  // ---- Steps shared by several methods

  // Import, then the checks every import ends with; makes the CryptoKey.
  async function importKeyWith(format, keyData, normalized, extractable, usages) {
    const { type, algorithm, material } = await ALGORITHMS[normalized.name].importKey(format, keyData, normalized, extractable, usages);
    if ((type === "secret" || type === "private") && usages.length === 0) {
      throw domError("SyntaxError", `A ${type} key needs at least one usage.`);
    }
    return newKey(type, extractable, algorithm, usages, material);
  }

  async function exportKeyWith(format, key) {
    const algorithm = ALGORITHMS[key.algorithm.name];
    if (algorithm.exportKey === undefined) throw domError("NotSupportedError", `${key.algorithm.name} keys cannot be exported.`);
    if (!key.extractable) throw domError("InvalidAccessError", "The key is not extractable.");
    return algorithm.exportKey(format, key);
  }

  // importKey's keyData: (BufferSource or JsonWebKey), which must match the format.
  function toKeyData(value, format) {
    if (format === "jwk") {
      if (isBufferSourceValue(value)) throw new TypeError("A 'jwk' key's data must be a JsonWebKey.");
      return toJsonWebKey(value);
    }
    if (!isBufferSourceValue(value)) throw new TypeError(`A '${format}' key's data must be a BufferSource.`);
    return toBufferSource(value, "The key data").slice();
  }

  // Web Crypto's "parse a JWK", for unwrapped keys: any failure is a DataError.
  function parseJwk(bytes) {
    let jwk;
    try {
      const parsed = JSON.parse(utf8Decode(bytes));
      if (!isObject(parsed) || Array.isArray(parsed)) throw new TypeError("not an object");
      jwk = toJsonWebKey(parsed);
    } catch {
      throw domError("DataError", "The unwrapped key is not a JSON Web Key.");
    }
    if (jwk.kty === undefined) throw domError("DataError", "The unwrapped JSON Web Key has no 'kty' member.");
    return jwk;
  }

  function checkArgumentCount(name, count, args) {
    requireArguments(args.length, count, `Failed to execute '${name}' on 'SubtleCrypto'`);
  }

  // ---- SubtleCrypto. Its methods are async: every failure, argument checks included,
  // becomes a rejected promise, as Web IDL has it for promise-returning operations.

  class SubtleCrypto {
    #brand; // lets the methods reject foreign receivers

    constructor(token) {
      if (token !== CRYPTO_INTERNAL) throw new TypeError("Illegal constructor");
      this.#brand = true;
    }

    async encrypt(algorithm, key, data) {
      this.#brand;
      checkArgumentCount("encrypt", 3, arguments);
      return cipher("encrypt", algorithm, key, data);
    }

    async decrypt(algorithm, key, data) {
      this.#brand;
      checkArgumentCount("decrypt", 3, arguments);
      return cipher("decrypt", algorithm, key, data);
    }

    async sign(algorithm, key, data) {
      this.#brand;
      checkArgumentCount("sign", 3, arguments);
      algorithm = toAlgorithmIdentifier(algorithm);
      const slots = requireKey(key, "parameter 2");
      const bytes = toBufferSource(data, "parameter 3").slice();
      const normalized = normalizeAlgorithm(algorithm, "sign");
      checkKeyUse(normalized, slots, "sign");
      return ALGORITHMS[normalized.name].sign(normalized, slots, bytes);
    }

    async verify(algorithm, key, signature, data) {
      this.#brand;
      checkArgumentCount("verify", 4, arguments);
      algorithm = toAlgorithmIdentifier(algorithm);
      const slots = requireKey(key, "parameter 2");
      const signatureBytes = toBufferSource(signature, "parameter 3").slice();
      const bytes = toBufferSource(data, "parameter 4").slice();
      const normalized = normalizeAlgorithm(algorithm, "verify");
      checkKeyUse(normalized, slots, "verify");
      return ALGORITHMS[normalized.name].verify(normalized, slots, signatureBytes, bytes);
    }

    async digest(algorithm, data) {
      this.#brand;
      checkArgumentCount("digest", 2, arguments);
      algorithm = toAlgorithmIdentifier(algorithm);
      const bytes = toBufferSource(data, "parameter 2").slice();
      const normalized = normalizeAlgorithm(algorithm, "digest");
      return fromHost(await hostCall("crypto.digest", { hash: normalized.name, data: bytesToBase64(bytes) }));
    }

    async generateKey(algorithm, extractable, keyUsages) {
      this.#brand;
      checkArgumentCount("generateKey", 3, arguments);
      algorithm = toAlgorithmIdentifier(algorithm);
      extractable = Boolean(extractable);
      const usages = toKeyUsages(keyUsages);
      const normalized = normalizeAlgorithm(algorithm, "generateKey");
      const result = await ALGORITHMS[normalized.name].generateKey(normalized, extractable, usages);
      const key = cryptoKeySlots(result);
      if (key !== null ? key.usages.length === 0 : cryptoKeySlots(result.privateKey).usages.length === 0) {
        throw domError("SyntaxError", "A secret or private key needs at least one usage.");
      }
      return result;
    }

    async deriveKey(algorithm, baseKey, derivedKeyType, extractable, keyUsages) {
      this.#brand;
      checkArgumentCount("deriveKey", 5, arguments);
      algorithm = toAlgorithmIdentifier(algorithm);
      const slots = requireKey(baseKey, "parameter 2");
      derivedKeyType = toAlgorithmIdentifier(derivedKeyType);
      extractable = Boolean(extractable);
      const usages = toKeyUsages(keyUsages);
      const normalized = normalizeAlgorithm(algorithm, "deriveBits");
      const importAlgorithm = normalizeAlgorithm(derivedKeyType, "importKey");
      const lengthAlgorithm = normalizeAlgorithm(derivedKeyType, "get key length");
      checkKeyUse(normalized, slots, "deriveKey");
      const length = ALGORITHMS[lengthAlgorithm.name].getKeyLength(lengthAlgorithm);
      const secret = await ALGORITHMS[normalized.name].deriveBits(normalized, slots, length);
      return importKeyWith("raw", new Uint8Array(secret), importAlgorithm, extractable, usages);
    }

    async deriveBits(algorithm, baseKey, length = null) {
      this.#brand;
      checkArgumentCount("deriveBits", 2, arguments);
      algorithm = toAlgorithmIdentifier(algorithm);
      const slots = requireKey(baseKey, "parameter 2");
      length = length === null ? null : Number(length) >>> 0; // `unsigned long?`
      const normalized = normalizeAlgorithm(algorithm, "deriveBits");
      checkKeyUse(normalized, slots, "deriveBits");
      return ALGORITHMS[normalized.name].deriveBits(normalized, slots, length);
    }

    async importKey(format, keyData, algorithm, extractable, keyUsages) {
      this.#brand;
      checkArgumentCount("importKey", 5, arguments);
      format = toEnum(format, KEY_FORMATS, "Key format");
      keyData = toKeyData(keyData, format);
      algorithm = toAlgorithmIdentifier(algorithm);
      extractable = Boolean(extractable);
      const usages = toKeyUsages(keyUsages);
      const normalized = normalizeAlgorithm(algorithm, "importKey");
      return importKeyWith(format, keyData, normalized, extractable, usages);
    }

    async exportKey(format, key) {
      this.#brand;
      checkArgumentCount("exportKey", 2, arguments);
      format = toEnum(format, KEY_FORMATS, "Key format");
      return exportKeyWith(format, requireKey(key, "parameter 2"));
    }

    // Key wrapping with AES-GCM (the only wrapping algorithm here is an encryption one, so
    // these follow the spec's fallback to encrypt / decrypt).
    async wrapKey(format, key, wrappingKey, wrapAlgorithm) {
      this.#brand;
      checkArgumentCount("wrapKey", 4, arguments);
      format = toEnum(format, KEY_FORMATS, "Key format");
      const slots = requireKey(key, "parameter 2");
      const wrapping = requireKey(wrappingKey, "parameter 3");
      const normalized = normalizeAlgorithm(toAlgorithmIdentifier(wrapAlgorithm), "encrypt");
      checkKeyUse(normalized, wrapping, "wrapKey");
      const exported = await exportKeyWith(format, slots);
      const bytes = format === "jwk" ? utf8Encode(JSON.stringify(exported)) : new Uint8Array(exported);
      return ALGORITHMS[normalized.name].encrypt(normalized, wrapping, bytes);
    }

    async unwrapKey(format, wrappedKey, unwrappingKey, unwrapAlgorithm, unwrappedKeyAlgorithm, extractable, keyUsages) {
      this.#brand;
      checkArgumentCount("unwrapKey", 7, arguments);
      format = toEnum(format, KEY_FORMATS, "Key format");
      const wrapped = toBufferSource(wrappedKey, "parameter 2").slice();
      const unwrapping = requireKey(unwrappingKey, "parameter 3");
      unwrapAlgorithm = toAlgorithmIdentifier(unwrapAlgorithm);
      unwrappedKeyAlgorithm = toAlgorithmIdentifier(unwrappedKeyAlgorithm);
      extractable = Boolean(extractable);
      const usages = toKeyUsages(keyUsages);
      const normalized = normalizeAlgorithm(unwrapAlgorithm, "decrypt");
      const keyAlgorithm = normalizeAlgorithm(unwrappedKeyAlgorithm, "importKey");
      checkKeyUse(normalized, unwrapping, "unwrapKey");
      const bytes = new Uint8Array(await ALGORITHMS[normalized.name].decrypt(normalized, unwrapping, wrapped));
      const keyData = format === "jwk" ? parseJwk(bytes) : bytes;
      return importKeyWith(format, keyData, keyAlgorithm, extractable, usages);
    }

    // Cloudflare's extension: compares two buffers in time that depends only on their length.
    timingSafeEqual(a, b) {
      this.#brand;
      checkArgumentCount("timingSafeEqual", 2, arguments);
      return timingSafeEqualBytes(toBufferSource(a, "parameter 1"), toBufferSource(b, "parameter 2"));
    }
  }

  async function cipher(op, algorithm, key, data) {
    algorithm = toAlgorithmIdentifier(algorithm);
    const slots = requireKey(key, "parameter 2");
    const bytes = toBufferSource(data, "parameter 3").slice();
    const normalized = normalizeAlgorithm(algorithm, op);
    checkKeyUse(normalized, slots, op);
    return ALGORITHMS[normalized.name][op](normalized, slots, bytes);
  }

  finishInterface(CryptoKey, "CryptoKey");
  finishInterface(SubtleCrypto, "SubtleCrypto");
  exposeGlobal("CryptoKey", CryptoKey);
  exposeGlobal("SubtleCrypto", SubtleCrypto);
  cryptoSubtle = new SubtleCrypto(CRYPTO_INTERNAL);
}
