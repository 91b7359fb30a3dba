// console: captured inside the isolate and shipped back with the invocation's result
// (ENGINE.md trap 5: a call into Python per log line would cost ~1 ms). The caps here keep
// the isolate's own buffer small; the host enforces the same caps on what it receives
// (isolane/sandbox/boundary.py), whatever tenant code did to this file's helpers.

const MAX_LOG_ENTRIES = 1000;
const MAX_LOG_CHARS = 256 * 1024;
const MAX_MESSAGE_CHARS = 16 * 1024;

const logState = { entries: [], chars: 0, dropped: 0 };

function resetLogs() {
  const entries = logState.entries;
  if (logState.dropped > 0) {
    ArrayPrototypePush(entries, {
      level: "warn",
      message: `[isolane] log output truncated: ${logState.dropped} more entries dropped`,
      time: DateNow(),
    });
  }
  logState.entries = [];
  logState.chars = 0;
  logState.dropped = 0;
  return entries;
}

function inspect(value, depth, seen) {
  switch (typeof value) {
    case "string": return depth === 0 ? value : JSON.stringify(value);
    case "number": return Object.is(value, -0) ? "-0" : String(value);
    case "bigint": return `${value}n`;
    case "undefined": return "undefined";
    case "boolean": return String(value);
    case "symbol": return value.toString();
    case "function": return `[Function: ${value.name || "(anonymous)"}]`;
  }
  if (value === null) return "null";
  if (value instanceof Error) return value.stack || `${value.name}: ${value.message}`;
  if (seen.has(value)) return "[Circular]";
  if (depth > 3) return Array.isArray(value) ? "[Array]" : "[Object]";
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      const items = value.slice(0, 100).map((v) => inspect(v, depth + 1, seen));
      if (value.length > 100) items.push(`... ${value.length - 100} more items`);
      return `[ ${items.join(", ")} ]`;
    }
    if (value instanceof Date) return value.toISOString();
    if (value instanceof RegExp) return String(value);
    if (value instanceof Map) {
      const items = [...value].slice(0, 100).map(([k, v]) => `${inspect(k, depth + 1, seen)} => ${inspect(v, depth + 1, seen)}`);
      return `Map(${value.size}) { ${items.join(", ")} }`;
    }
    if (value instanceof Set) {
      const items = [...value].slice(0, 100).map((v) => inspect(v, depth + 1, seen));
      return `Set(${value.size}) { ${items.join(", ")} }`;
    }
    if (ArrayBuffer.isView(value)) {
      const items = Array.prototype.slice.call(value, 0, 100).map(String);
      return `${value.constructor.name}(${value.length}) [ ${items.join(", ")} ]`;
    }
    if (typeof value.then === "function") return "Promise { <pending> }";
    const keys = Object.keys(value);
    const items = keys.slice(0, 100).map((k) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${inspect(value[k], depth + 1, seen)}`);
    if (keys.length > 100) items.push(`... ${keys.length - 100} more keys`);
    const tag = value.constructor && value.constructor !== Object && value.constructor.name ? `${value.constructor.name} ` : "";
    return items.length ? `${tag}{ ${items.join(", ")} }` : `${tag}{}`;
  } catch (err) {
    return "[Uninspectable]";
  } finally {
    seen.delete(value);
  }
}

function formatLog(args) {
  let message = "";
  for (let i = 0; i < args.length; i++) {
    if (i > 0) message += " ";
    message += inspect(args[i], 0, new Set());
  }
  return message;
}

function record(level, args) {
  if (logState.entries.length >= MAX_LOG_ENTRIES || logState.chars >= MAX_LOG_CHARS) {
    logState.dropped++;
    return;
  }
  let message;
  try {
    message = formatLog(args);
  } catch {
    message = "[unprintable value]"; // a tenant getter or toString threw
  }
  if (typeof message !== "string") message = "[unprintable value]";
  if (message.length > MAX_MESSAGE_CHARS) {
    message = StringPrototypeSlice(message, 0, MAX_MESSAGE_CHARS) + `... [${message.length - MAX_MESSAGE_CHARS} chars truncated]`;
  }
  logState.chars += message.length;
  ArrayPrototypePush(logState.entries, { level, message, time: DateNow() });
}

const counters = new Map();
const timersByLabel = new Map();
const console = {
  log: (...args) => record("log", args),
  info: (...args) => record("info", args),
  debug: (...args) => record("debug", args),
  warn: (...args) => record("warn", args),
  error: (...args) => record("error", args),
  trace: (...args) => record("log", ["Trace:", ...args]),
  assert: (condition, ...args) => { if (!condition) record("error", ["Assertion failed:", ...args]); },
  count: (label = "default") => {
    const n = (counters.get(label) || 0) + 1;
    counters.set(label, n);
    record("log", [`${label}: ${n}`]);
  },
  countReset: (label = "default") => { counters.delete(label); },
  time: (label = "default") => { timersByLabel.set(label, Date.now()); },
  timeEnd: (label = "default") => {
    const start = timersByLabel.get(label);
    timersByLabel.delete(label);
    if (start !== undefined) record("log", [`${label}: ${Date.now() - start}ms`]);
  },
  timeLog: (label = "default", ...args) => {
    const start = timersByLabel.get(label);
    if (start !== undefined) record("log", [`${label}: ${Date.now() - start}ms`, ...args]);
  },
  table: (...args) => record("log", args),
  dir: (value) => record("log", [value]),
  group: (...args) => { if (args.length) record("log", args); },
  groupEnd: () => {},
};

Object.defineProperty(globalThis, "console", { value: console, writable: true, configurable: true, enumerable: false });
