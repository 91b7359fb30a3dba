// MIME types (WHATWG MIME Sniffing §4): parse and serialize, and Fetch's "extract a MIME
// type" from a header list. Bodies need them: blob() takes its type from Content-Type and
// formData() picks its parser (and the multipart boundary) from it.

const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HTTP_QUOTED_STRING_TOKEN = /^[\t\x20-\x7E\x80-\xFF]*$/;
const HTTP_WHITESPACE = "\t\n\r ";

function isHttpWhitespace(char) {
  return char !== "" && HTTP_WHITESPACE.includes(char);
}

function trimTrailingHttpWhitespace(string) {
  let end = string.length;
  while (end > 0 && isHttpWhitespace(string[end - 1])) end--;
  return string.slice(0, end);
}

function trimHttpWhitespace(string) {
  let start = 0;
  let end = string.length;
  while (start < end && isHttpWhitespace(string[start])) start++;
  while (end > start && isHttpWhitespace(string[end - 1])) end--;
  return string.slice(start, end);
}

// Collects an HTTP quoted string starting at `position` (which holds the opening quote).
// Returns [value without quotes and escapes, position after it].
function collectHttpQuotedString(input, position) {
  let value = "";
  position++;
  while (position < input.length) {
    const char = input[position];
    if (char === '"') return [value, position + 1];
    if (char === "\\") {
      position++;
      if (position >= input.length) return [value + "\\", position];
      value += input[position];
    } else {
      value += char;
    }
    position++;
  }
  return [value, position];
}

// { type, subtype, essence, parameters: Map } or null on failure.
function parseMimeType(input) {
  input = trimHttpWhitespace(input);
  const slash = input.indexOf("/");
  if (slash <= 0) return null;
  const type = input.slice(0, slash);
  if (!HTTP_TOKEN.test(type)) return null;
  let position = input.indexOf(";", slash + 1);
  if (position === -1) position = input.length;
  const subtype = trimTrailingHttpWhitespace(input.slice(slash + 1, position));
  if (subtype === "" || !HTTP_TOKEN.test(subtype)) return null;
  const mime = { type: type.toLowerCase(), subtype: subtype.toLowerCase(), parameters: new Map() };
  mime.essence = `${mime.type}/${mime.subtype}`;

  while (position < input.length) {
    position++; // past ";"
    while (isHttpWhitespace(input[position] || "")) position++;
    let end = position;
    while (end < input.length && input[end] !== ";" && input[end] !== "=") end++;
    const name = input.slice(position, end).toLowerCase();
    position = end;
    if (position < input.length) {
      if (input[position] === ";") continue;
      position++; // past "="
    }
    if (position >= input.length) break;
    let value;
    if (input[position] === '"') {
      [value, position] = collectHttpQuotedString(input, position);
      while (position < input.length && input[position] !== ";") position++;
    } else {
      end = input.indexOf(";", position);
      if (end === -1) end = input.length;
      value = trimTrailingHttpWhitespace(input.slice(position, end));
      position = end;
      if (value === "") continue;
    }
    if (name !== "" && HTTP_TOKEN.test(name) && HTTP_QUOTED_STRING_TOKEN.test(value) && !mime.parameters.has(name)) {
      mime.parameters.set(name, value);
    }
  }
  return mime;
}

function serializeMimeType(mime) {
  let out = mime.essence;
  for (const [name, value] of mime.parameters) {
    const shown = HTTP_TOKEN.test(value) ? value : `"${value.replace(/["\\]/g, "\\$&")}"`;
    out += `;${name}=${shown}`;
  }
  return out;
}

// "Get, decode, and split" a combined header value: commas inside quoted strings do not split.
function splitHeaderValue(value) {
  const values = [];
  let current = "";
  for (let position = 0; position < value.length; position++) {
    const char = value[position];
    if (char === '"') {
      const [, end] = collectHttpQuotedString(value, position);
      current += value.slice(position, end);
      position = end - 1;
    } else if (char === ",") {
      values.push(current.replace(/^[\t ]+|[\t ]+$/g, ""));
      current = "";
    } else {
      current += char;
    }
  }
  values.push(current.replace(/^[\t ]+|[\t ]+$/g, ""));
  return values;
}

// Fetch's "extract a MIME type" from a headers record: the last valid Content-Type wins,
// keeping an earlier charset when the essence does not change. Null on failure.
function extractMimeType(headersRecord) {
  const combined = headerListGet(headersRecord, "content-type");
  if (combined === null) return null;
  let charset = null;
  let essence = null;
  let mime = null;
  for (const value of splitHeaderValue(combined)) {
    const parsed = parseMimeType(value);
    if (parsed === null || parsed.essence === "*/*") continue;
    mime = parsed;
    if (mime.essence !== essence) {
      charset = mime.parameters.has("charset") ? mime.parameters.get("charset") : null;
      essence = mime.essence;
    } else if (!mime.parameters.has("charset") && charset !== null) {
      mime.parameters.set("charset", charset);
    }
  }
  return mime;
}
