// Workers KV: the object a `kv_namespace` binding puts on `env` (get, getWithMetadata, put,
// delete, list). Every method is a host call that the server answers for the binding of
// that name in the running version (platform/kv_calls.py), which also checks keys, limits
// and expirations; values cross as base64. Only the value's size is checked here too, so
// that an oversized value is refused before it is encoded and sent.
{
  const KV_MAX_VALUE_BYTES = 25 * 1024 * 1024;
  const KV_VALUE_TYPES = ["text", "json", "arrayBuffer", "stream"];

  function kvKey(key, method, given) {
    requireArguments(given, 1, `KV ${method}()`);
    if (Array.isArray(key)) throw new TypeError(`KV ${method}(): the key must be a string; reading several keys at once is not supported.`);
    return toUSVString(key);
  }

  // get(key, "json") or get(key, { type: "json", cacheTtl }): cacheTtl has nothing to tune here.
  function kvValueType(options, method) {
    const type = isObject(options) ? options.type : options;
    if (type === undefined || type === null) return "text";
    const name = toDOMString(type);
    if (!KV_VALUE_TYPES.includes(name)) {
      throw new TypeError(`KV ${method}(): unknown type "${name}"; use "text", "json", "arrayBuffer" or "stream".`);
    }
    return name;
  }

  function kvDecode(base64, type) {
    const bytes = base64ToBytes(base64);
    if (type === "text") return utf8Decode(bytes);
    if (type === "json") return JSON.parse(utf8Decode(bytes));
    if (type === "arrayBuffer") return bytes.buffer;
    return readableStreamFromBytes(bytes);
  }

  function kvTooLarge(size) {
    return new TypeError(`KV put(): the value is ${size} bytes, over the limit of ${KV_MAX_VALUE_BYTES} bytes.`);
  }

  // A stream's bytes, refusing to buffer past the size limit.
  async function kvReadStream(stream) {
    const reader = stream.getReader();
    const chunks = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!(value instanceof Uint8Array)) {
        reader.cancel().catch(() => {});
        throw new TypeError(`KV put(): a value stream must produce Uint8Array chunks, got ${describeValue(value)}.`);
      }
      total += value.byteLength;
      if (total > KV_MAX_VALUE_BYTES) {
        reader.cancel().catch(() => {});
        throw kvTooLarge(`more than ${KV_MAX_VALUE_BYTES}`);
      }
      chunks.push(value);
    }
    return concatBytes(chunks, total);
  }

  // The value's bytes: strings as UTF-8, buffers and views as they are when put() is called.
  function kvValueBytes(value) {
    if (typeof value === "string") return utf8Encode(value);
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    if (isReadableStream(value)) return kvReadStream(value);
    throw new TypeError("KV put(): the value must be a string, an ArrayBuffer, an ArrayBufferView or a ReadableStream.");
  }

  function kvSeconds(value, what) {
    if (value === undefined || value === null) return undefined;
    const number = Number(value);
    if (!Number.isFinite(number)) throw new TypeError(`KV put(): ${what} must be a number of seconds.`);
    return number;
  }

  function kvPutArgs(binding, key, options) {
    options = toDictionary(options, "KV put() options");
    const args = { binding, key };
    const expiration = kvSeconds(options.expiration, "expiration");
    const expirationTtl = kvSeconds(options.expirationTtl, "expirationTtl");
    if (expiration !== undefined) args.expiration = expiration;
    if (expirationTtl !== undefined) args.expirationTtl = expirationTtl;
    if (options.metadata !== undefined && options.metadata !== null) {
      const metadata = JSON.stringify(options.metadata);
      if (metadata === undefined) throw new TypeError("KV put(): metadata must be serializable as JSON.");
      args.metadata = metadata;
    }
    return args;
  }

  function kvListArgs(binding, options) {
    options = toDictionary(options, "KV list() options");
    const args = { binding };
    if (options.prefix !== undefined && options.prefix !== null) args.prefix = toUSVString(options.prefix);
    if (options.limit !== undefined && options.limit !== null) {
      args.limit = Number(options.limit);
      if (!Number.isFinite(args.limit)) throw new TypeError("KV list(): limit must be a number between 1 and 1000.");
    }
    // A finished listing's cursor may come back as undefined or "": both mean "from the start".
    if (options.cursor !== undefined && options.cursor !== null && options.cursor !== "") args.cursor = toUSVString(options.cursor);
    return args;
  }

  class KVNamespace {
    #binding;

    constructor(token, binding) {
      if (token !== INTERNAL) throw new TypeError("Illegal constructor");
      this.#binding = binding;
    }

    async get(key, options) {
      const binding = this.#binding;
      key = kvKey(key, "get", arguments.length);
      const type = kvValueType(options, "get");
      const found = await hostCall("kv.get", { binding, key });
      return found === null ? null : kvDecode(found.value, type);
    }

    async getWithMetadata(key, options) {
      const binding = this.#binding;
      key = kvKey(key, "getWithMetadata", arguments.length);
      const type = kvValueType(options, "getWithMetadata");
      const found = await hostCall("kv.get", { binding, key });
      if (found === null) return { value: null, metadata: null, cacheStatus: null };
      return { value: kvDecode(found.value, type), metadata: found.metadata, cacheStatus: null };
    }

    async put(key, value, options) {
      const binding = this.#binding;
      requireArguments(arguments.length, 2, "KV put()");
      key = kvKey(key, "put", arguments.length);
      const args = kvPutArgs(binding, key, options);
      let bytes = kvValueBytes(value);
      if (!(bytes instanceof Uint8Array)) bytes = await bytes; // a stream, read to its end
      if (bytes.byteLength > KV_MAX_VALUE_BYTES) throw kvTooLarge(bytes.byteLength);
      args.value = bytesToBase64(bytes);
      await hostCall("kv.put", args);
    }

    async delete(key) {
      const binding = this.#binding;
      key = kvKey(key, "delete", arguments.length);
      await hostCall("kv.delete", { binding, key });
    }

    async list(options) {
      const binding = this.#binding;
      const found = await hostCall("kv.list", kvListArgs(binding, options));
      return { ...found, cacheStatus: null };
    }
  }

  finishInterface(KVNamespace, "KVNamespace");
  registerBindingType("kv_namespace", (binding) => new KVNamespace(INTERNAL, binding.name));
}
