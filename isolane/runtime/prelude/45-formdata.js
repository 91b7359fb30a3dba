// FormData (XHR §5) and the two form body formats: application/x-www-form-urlencoded
// (parsed by URLSearchParams) and multipart/form-data (RFC 7578, serialised as the HTML
// standard's "multipart/form-data encoding algorithm" does).
//
// An entry is [name, value] where value is a string or a File. There is no <form>: the
// constructor's `form` argument must be absent.

let formDataEntriesOf; // (FormData) -> its current entry list, or TypeError

class FormData {
  #entries = [];

  constructor(form = undefined) {
    if (form !== undefined) throw new TypeError("Failed to construct 'FormData': there are no form elements here.");
  }

  append(name, value, filename = undefined) {
    requireArguments(arguments.length, 2, "Failed to execute 'append' on 'FormData'");
    this.#entries.push(createFormEntry(name, value, filename, arguments.length > 2));
  }

  delete(name) {
    requireArguments(arguments.length, 1, "Failed to execute 'delete' on 'FormData'");
    name = toUSVString(name);
    this.#entries = this.#entries.filter((entry) => entry[0] !== name);
  }

  get(name) {
    requireArguments(arguments.length, 1, "Failed to execute 'get' on 'FormData'");
    name = toUSVString(name);
    const entry = this.#entries.find((candidate) => candidate[0] === name);
    return entry === undefined ? null : entry[1];
  }

  getAll(name) {
    requireArguments(arguments.length, 1, "Failed to execute 'getAll' on 'FormData'");
    name = toUSVString(name);
    return this.#entries.filter((entry) => entry[0] === name).map((entry) => entry[1]);
  }

  has(name) {
    requireArguments(arguments.length, 1, "Failed to execute 'has' on 'FormData'");
    name = toUSVString(name);
    return this.#entries.some((entry) => entry[0] === name);
  }

  // Replaces the first entry of that name (keeping its position) and drops the others.
  set(name, value, filename = undefined) {
    requireArguments(arguments.length, 2, "Failed to execute 'set' on 'FormData'");
    const entry = createFormEntry(name, value, filename, arguments.length > 2);
    const index = this.#entries.findIndex((candidate) => candidate[0] === entry[0]);
    if (index === -1) {
      this.#entries.push(entry);
    } else {
      this.#entries = this.#entries.filter((candidate, i) => i <= index || candidate[0] !== entry[0]);
      this.#entries[index] = entry;
    }
  }

  static {
    formDataEntriesOf = (value) => {
      if (!isObject(value) || !(#entries in value)) throw new TypeError("Illegal invocation: not a FormData.");
      return value.#entries;
    };
  }
}

// "Create an entry": a Blob value becomes a File (named "blob" unless a filename is given,
// or it is a File already).
function createFormEntry(name, value, filename, hasFilename) {
  name = toUSVString(name);
  if (!isBlob(value)) {
    // The three-argument overload takes only a Blob.
    if (hasFilename) throw new TypeError("FormData: a filename is only allowed with a Blob value.");
    return [name, toUSVString(value)];
  }
  if (filename !== undefined) return [name, fileFromBlob(value, toUSVString(filename))];
  if (isFile(value)) return [name, value];
  return [name, fileFromBlob(value, "blob")];
}

definePairIterable(FormData, "FormData", formDataEntriesOf);
finishInterface(FormData, "FormData");
exposeGlobal("FormData", FormData);

// ---- application/x-www-form-urlencoded

function parseUrlencodedFormData(bytes) {
  const formData = new FormData();
  const entries = formDataEntriesOf(formData);
  for (const [name, value] of new URLSearchParams(utf8Decode(bytes))) entries.push([name, value]);
  return formData;
}

// ---- multipart/form-data parsing

const CR = 0x0D;
const LF = 0x0A;
const DASH = 0x2D;
const CRLF_CRLF = latin1ToBytes("\r\n\r\n");

function indexOfBytes(haystack, needle, from) {
  const first = needle[0];
  const last = haystack.length - needle.length;
  for (let i = haystack.indexOf(first, from); i !== -1 && i <= last; i = haystack.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

function multipartError(why) {
  return new TypeError(`Could not parse the multipart/form-data body: ${why}.`);
}

// Parses a multipart/form-data body into a FormData, or throws TypeError. Parts whose
// Content-Disposition has a filename become Files (of the part's Content-Type, else
// text/plain); the others become strings (UTF-8). Names and filenames are kept as sent:
// browsers escape `"`, CR and LF as %22, %0D, %0A but no implementation decodes them.
function parseMultipartFormData(bytes, boundary) {
  if (typeof boundary !== "string" || boundary === "") throw multipartError("no boundary");
  const dashBoundary = latin1ToBytes(`--${boundary}`);
  const delimiter = latin1ToBytes(`\r\n--${boundary}`);
  const formData = new FormData();
  const entries = formDataEntriesOf(formData);

  // The first boundary opens the body (after an optional preamble ending in CRLF).
  let position;
  if (indexOfBytes(bytes.subarray(0, dashBoundary.length), dashBoundary, 0) === 0) {
    position = dashBoundary.length;
  } else {
    const found = indexOfBytes(bytes, delimiter, 0);
    if (found === -1) throw multipartError("the boundary does not occur");
    position = found + delimiter.length;
  }

  for (;;) {
    if (bytes[position] === DASH && bytes[position + 1] === DASH) return formData; // close delimiter
    while (bytes[position] === 0x20 || bytes[position] === 0x09) position++; // transport padding
    if (bytes[position] !== CR || bytes[position + 1] !== LF) throw multipartError("a boundary is not followed by CRLF");
    position += 2;

    const headerEnd = indexOfBytes(bytes, CRLF_CRLF, position - 2); // -2: a part may have no headers
    if (headerEnd === -1) throw multipartError("a part's headers do not end");
    const headers = parsePartHeaders(bytesToLatin1(bytes.subarray(position, headerEnd)));
    position = headerEnd + 4;

    const contentEnd = indexOfBytes(bytes, delimiter, position);
    if (contentEnd === -1) throw multipartError("a part does not end with a boundary");
    const content = bytes.subarray(position, contentEnd);
    position = contentEnd + delimiter.length;

    const disposition = headers.get("content-disposition");
    if (disposition === undefined) throw multipartError("a part has no Content-Disposition");
    const params = parseContentDisposition(disposition);
    if (params === null || !params.has("name")) throw multipartError("a part's Content-Disposition is not form-data with a name");
    const name = utf8Decode(latin1ToBytes(params.get("name")));
    if (params.has("filename")) {
      const filename = utf8Decode(latin1ToBytes(params.get("filename")));
      const type = headers.has("content-type") ? normalizeBlobType(headers.get("content-type")) : "text/plain";
      entries.push([name, fileFromBytes(content.slice(), filename, type)]);
    } else {
      entries.push([name, utf8Decode(content)]);
    }
  }
}

// Header lines "Name: value" (latin-1 text); names lower-cased, the first of a name wins.
function parsePartHeaders(text) {
  const headers = new Map();
  for (const line of text.split("\r\n")) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw multipartError("a part header has no name");
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, trimHttpWhitespace(line.slice(colon + 1)));
  }
  return headers;
}

// `form-data; name="a"; filename="b"` -> Map of the parameters, or null if not form-data.
function parseContentDisposition(value) {
  const semicolon = value.indexOf(";");
  const kind = (semicolon === -1 ? value : value.slice(0, semicolon)).trim().toLowerCase();
  if (kind !== "form-data") return null;
  const params = new Map();
  let position = semicolon === -1 ? value.length : semicolon;
  while (position < value.length) {
    position++; // past ";"
    while (isHttpWhitespace(value[position] || "")) position++;
    const equals = value.indexOf("=", position);
    if (equals === -1) break;
    const name = value.slice(position, equals).trim().toLowerCase();
    position = equals + 1;
    let paramValue;
    if (value[position] === '"') {
      // Quoted: browsers escape `"` as %22 rather than with a backslash, so a backslash is
      // kept literally (Windows paths), and the value ends at the next quote.
      const close = value.indexOf('"', position + 1);
      if (close === -1) return null;
      paramValue = value.slice(position + 1, close);
      position = value.indexOf(";", close);
      if (position === -1) position = value.length;
    } else {
      let end = value.indexOf(";", position);
      if (end === -1) end = value.length;
      paramValue = value.slice(position, end).trim();
      position = end;
    }
    if (!params.has(name)) params.set(name, paramValue);
  }
  return params;
}

// ---- multipart/form-data serialising

function newMultipartBoundary() {
  let random = "";
  for (let i = 0; i < 24; i++) random += "0123456789abcdefghijklmnopqrstuvwxyz"[Math.floor(Math.random() * 36)];
  return `----IsolaneFormBoundary${random}`;
}

function escapeMultipartName(name) {
  return name.replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/"/g, "%22");
}

function normalizeLineBreaks(string) {
  return string.replace(/\r\n|\r|\n/g, "\r\n");
}

// { bytes, contentType } for a FormData, with a fresh boundary.
function serializeMultipartFormData(formData) {
  const boundary = newMultipartBoundary();
  const chunks = [];
  for (const [rawName, value] of formDataEntriesOf(formData)) {
    const name = escapeMultipartName(normalizeLineBreaks(rawName));
    if (typeof value === "string") {
      chunks.push(utf8Encode(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${normalizeLineBreaks(value)}\r\n`));
    } else {
      const { bytes, type } = blobRecordOf(value);
      chunks.push(utf8Encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${escapeMultipartName(fileNameOf(value))}"\r\n` +
        `Content-Type: ${type || "application/octet-stream"}\r\n\r\n`,
      ));
      chunks.push(bytes);
      chunks.push(latin1ToBytes("\r\n"));
    }
  }
  chunks.push(latin1ToBytes(`--${boundary}--\r\n`));
  return { bytes: concatBytes(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
