// Blob and File (W3C File API §3, §4). A Blob's bytes live in one immutable Uint8Array;
// slices are views of it, so slicing copies nothing. Bytes given out to scripts (and
// chunks of stream()) are always copies, so that no script can change a Blob.

const NON_PRINTABLE_ASCII = /[^\x20-\x7E]/;

// A type is kept only when it is printable ASCII; it is lower-cased.
function normalizeBlobType(type) {
  return NON_PRINTABLE_ASCII.test(type) ? "" : type.toLowerCase();
}

let blobRecordOf; // (Blob) -> { bytes, type }, or TypeError
let constructBlob; // (bytes, type) -> Blob without copying

class Blob {
  #bytes;
  #type;

  constructor(blobParts = undefined, options = undefined) {
    if (blobParts === INTERNAL) {
      this.#bytes = options.bytes;
      this.#type = options.type;
      return;
    }
    if (blobParts !== undefined && (!isObject(blobParts) || typeof blobParts[Symbol.iterator] !== "function")) {
      throw new TypeError("Failed to construct 'Blob': The provided value cannot be converted to a sequence.");
    }
    const parts = blobParts === undefined ? [] : Array.from(blobParts, convertBlobPart);
    const dict = toDictionary(options, "options");
    const endings = dict.endings === undefined ? "transparent" : toEnum(dict.endings, ["transparent", "native"], "options.endings");
    const type = dict.type === undefined ? "" : toDOMString(dict.type);
    this.#bytes = blobPartsToBytes(parts, endings);
    this.#type = normalizeBlobType(type);
  }

  get size() {
    return this.#bytes.byteLength;
  }

  get type() {
    return this.#type;
  }

  slice(start = undefined, end = undefined, contentType = undefined) {
    const bytes = this.#bytes;
    const size = bytes.byteLength;
    const from = relativeIndex(start === undefined ? 0 : toClampedLongLong(start), size);
    const to = relativeIndex(end === undefined ? size : toClampedLongLong(end), size);
    const type = contentType === undefined ? "" : normalizeBlobType(toDOMString(contentType));
    return constructBlob(bytes.subarray(from, Math.max(from, to)), type);
  }

  stream() {
    return readableStreamFromBytes(this.#bytes.slice());
  }

  async text() {
    return utf8Decode(this.#bytes); // drops a leading BOM, as "UTF-8 decode" does
  }

  async arrayBuffer() {
    return this.#bytes.slice().buffer;
  }

  async bytes() {
    return this.#bytes.slice();
  }

  static {
    blobRecordOf = (value) => {
      if (!isObject(value) || !(#bytes in value)) throw new TypeError("Illegal invocation: not a Blob.");
      return { bytes: value.#bytes, type: value.#type };
    };
  }
}

constructBlob = (bytes, type) => new Blob(INTERNAL, { bytes, type });

function relativeIndex(index, size) {
  return index < 0 ? Math.max(size + index, 0) : Math.min(index, size);
}

function isBlob(value) {
  try {
    blobRecordOf(value);
    return true;
  } catch {
    return false;
  }
}

// A BlobPart, converted as the IDL union does: bytes (a view, copied later) or a string.
function convertBlobPart(part) {
  if (isBufferSource(part)) {
    return ArrayBuffer.isView(part) ? new Uint8Array(part.buffer, part.byteOffset, part.byteLength) : new Uint8Array(part);
  }
  if (isBlob(part)) return blobRecordOf(part).bytes;
  return toUSVString(part);
}

function blobPartsToBytes(parts, endings) {
  const chunks = parts.map((part) => {
    if (typeof part !== "string") return part;
    if (endings === "native") part = part.replace(/\r\n?/g, "\n"); // "native" line endings are LF here
    return utf8Encode(part);
  });
  return concatBytes(chunks);
}

let isFile; // (value) -> boolean
let fileNameOf; // (File) -> its name

class File extends Blob {
  #name;
  #lastModified;

  constructor(fileBits, fileName, options = undefined) {
    requireArguments(arguments.length, 2, "Failed to construct 'File'");
    super(fileBits, options);
    if (fileBits === INTERNAL) {
      this.#name = options.name;
      this.#lastModified = options.lastModified;
      return;
    }
    const dict = toDictionary(options, "options");
    this.#name = toUSVString(fileName);
    this.#lastModified = dict.lastModified === undefined ? Date.now() : toLongLong(dict.lastModified);
  }

  get name() {
    return this.#name;
  }

  get lastModified() {
    return this.#lastModified;
  }

  static {
    isFile = (value) => isObject(value) && #name in value;
    fileNameOf = (file) => file.#name;
  }
}

// A File over the same bytes as `blob` (FormData wraps Blobs this way): no copy is made.
function fileFromBlob(blob, name, lastModified = Date.now()) {
  const { bytes, type } = blobRecordOf(blob);
  return new File(INTERNAL, null, { bytes, type, name, lastModified });
}

function fileFromBytes(bytes, name, type) {
  return new File(INTERNAL, null, { bytes, type, name, lastModified: Date.now() });
}

finishInterface(Blob, "Blob");
finishInterface(File, "File");
exposeGlobal("Blob", Blob);
exposeGlobal("File", File);
