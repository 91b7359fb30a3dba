// Headers (WHATWG Fetch §5.2): a header list with a guard.
//
// The list keeps names lower-cased: nothing in the API shows the original case (iteration
// lower-cases), and the host wants lower-case names. Guards: "immutable" (incoming request
// headers, Response.error/redirect) and "none". The browser guards "request",
// "request-no-cors" and "response" only forbid names that matter to browsers; a server
// runtime accepts every name, as Cloudflare Workers does.

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE_FORBIDDEN = /[\0\r\n]/;
const HTTP_WHITESPACE_AROUND = /^[\t\n\r ]+|[\t\n\r ]+$/g;

function normalizeHeaderName(name) {
  const string = toByteString(name, "Header name");
  if (!HEADER_NAME.test(string)) throw new TypeError(`Invalid header name: '${string}'.`);
  return string.toLowerCase();
}

function normalizeHeaderValue(value) {
  const string = toByteString(value, "Header value").replace(HTTP_WHITESPACE_AROUND, "");
  if (HEADER_VALUE_FORBIDDEN.test(string)) throw new TypeError(`Invalid header value: '${string}'.`);
  return string;
}

// Internal view of a Headers object; set by the class below. Returns its record
// { list: [[lowerName, value], ...], guard, sorted } or throws TypeError.
let headersRecordOf;

class Headers {
  #record = { list: [], guard: "none", sorted: null };

  constructor(init = undefined) {
    if (init !== undefined) fillHeaders(this.#record, init);
  }

  append(name, value) {
    requireArguments(arguments.length, 2, "Failed to execute 'append' on 'Headers'");
    const record = this.#record;
    name = normalizeHeaderName(name);
    value = normalizeHeaderValue(value);
    checkHeadersMutable(record);
    headerListAppend(record, name, value);
  }

  delete(name) {
    requireArguments(arguments.length, 1, "Failed to execute 'delete' on 'Headers'");
    const record = this.#record;
    name = normalizeHeaderName(name);
    checkHeadersMutable(record);
    headerListDelete(record, name);
  }

  get(name) {
    requireArguments(arguments.length, 1, "Failed to execute 'get' on 'Headers'");
    return headerListGet(this.#record, normalizeHeaderName(name));
  }

  getSetCookie() {
    const values = [];
    for (const [name, value] of this.#record.list) {
      if (name === "set-cookie") values.push(value);
    }
    return values;
  }

  has(name) {
    requireArguments(arguments.length, 1, "Failed to execute 'has' on 'Headers'");
    name = normalizeHeaderName(name);
    return this.#record.list.some((entry) => entry[0] === name);
  }

  set(name, value) {
    requireArguments(arguments.length, 2, "Failed to execute 'set' on 'Headers'");
    const record = this.#record;
    name = normalizeHeaderName(name);
    value = normalizeHeaderValue(value);
    checkHeadersMutable(record);
    headerListSet(record, name, value);
  }

  static {
    headersRecordOf = (headers) => {
      if (!isObject(headers) || !(#record in headers)) throw new TypeError("Illegal invocation: not a Headers object.");
      return headers.#record;
    };
  }
}

function checkHeadersMutable(record) {
  if (record.guard === "immutable") throw new TypeError("Headers are immutable.");
}

function headerListAppend(record, name, value) {
  record.list.push([name, value]);
  record.sorted = null;
}

function headerListDelete(record, name) {
  const kept = record.list.filter((entry) => entry[0] !== name);
  if (kept.length !== record.list.length) {
    record.list = kept;
    record.sorted = null;
  }
}

// The combined value (", "-joined), or null when absent. `name` is lower-case.
function headerListGet(record, name) {
  let combined = null;
  for (const [entryName, value] of record.list) {
    if (entryName === name) combined = combined === null ? value : `${combined}, ${value}`;
  }
  return combined;
}

// Replaces the first entry of that name (keeping its position) and drops the others.
function headerListSet(record, name, value) {
  const index = record.list.findIndex((entry) => entry[0] === name);
  if (index === -1) {
    record.list.push([name, value]);
  } else {
    record.list = record.list.filter((entry, i) => i <= index || entry[0] !== name);
    record.list[index] = [name, value];
  }
  record.sorted = null;
}

// "Sort and combine": names sorted, values of a name combined, except set-cookie whose
// values stay separate entries (combining them would corrupt dates in Expires).
function sortAndCombineHeaders(record) {
  if (record.sorted !== null) return record.sorted;
  const names = [...new Set(record.list.map((entry) => entry[0]))].sort();
  const pairs = [];
  for (const name of names) {
    if (name === "set-cookie") {
      for (const [entryName, value] of record.list) {
        if (entryName === name) pairs.push([name, value]);
      }
    } else {
      pairs.push([name, headerListGet(record, name)]);
    }
  }
  record.sorted = pairs;
  return pairs;
}

// "Fill" from a HeadersInit: a sequence of [name, value] pairs (a Headers is one too,
// through its iterator) or a record of own enumerable string-keyed properties.
function fillHeaders(record, init) {
  if (!isObject(init)) {
    throw new TypeError("Failed to construct 'Headers': The provided value is not of type '(record<ByteString, ByteString> or sequence<sequence<ByteString>>)'.");
  }
  const iteratorMethod = init[Symbol.iterator];
  if (iteratorMethod !== undefined && iteratorMethod !== null) {
    if (typeof iteratorMethod !== "function") throw new TypeError("Headers init: @@iterator is not a function.");
    const pairs = [];
    for (const pair of { [Symbol.iterator]: () => iteratorMethod.call(init) }) {
      if (!isObject(pair) || typeof pair[Symbol.iterator] !== "function") {
        throw new TypeError("Headers init: each header must be a [name, value] sequence.");
      }
      const items = Array.from(pair, (item) => toByteString(item, "Header"));
      if (items.length !== 2) throw new TypeError("Headers init: each header must have exactly a name and a value.");
      pairs.push(items);
    }
    for (const [name, value] of pairs) appendChecked(record, name, value);
    return;
  }
  for (const key of Reflect.ownKeys(init)) {
    const descriptor = Reflect.getOwnPropertyDescriptor(init, key);
    if (descriptor === undefined || !descriptor.enumerable) continue;
    const name = toByteString(key, "Header name");
    appendChecked(record, name, toByteString(init[key], "Header value"));
  }
}

function appendChecked(record, name, value) {
  name = normalizeHeaderName(name);
  value = normalizeHeaderValue(value);
  checkHeadersMutable(record);
  headerListAppend(record, name, value);
}

// A new Headers holding a copy of `source`'s list (a record), with the given guard.
function copyHeaders(source, guard = source.guard) {
  const headers = new Headers();
  const record = headersRecordOf(headers);
  record.list = source.list.map((entry) => [entry[0], entry[1]]);
  record.guard = guard;
  return headers;
}

definePairIterable(Headers, "Headers", (headers) => sortAndCombineHeaders(headersRecordOf(headers)));
finishInterface(Headers, "Headers");
exposeGlobal("Headers", Headers);
