// AbortController and AbortSignal (WHATWG DOM §3.1-3.2). A signal's state is a record:
//   { aborted, reason, algorithms: Set, dependent, sourceSignals: Set, dependentSignals: Set }
// Runtime code reaches it through these helpers (07-events.js and the streams use them):
//   isAbortSignal(value), abortSignalIsAborted(signal), abortSignalReason(signal),
//   addAbortAlgorithm(signal, algorithm), removeAbortAlgorithm(signal, algorithm),
//   newAbortSignal(), signalAbort(signal, reason)
//
// Deviations: the standard links source and dependent signals (AbortSignal.any) weakly, so
// that a long-lived signal does not keep every dependent alive; here the links are strong
// until the source aborts. AbortSignal.timeout() runs on the runtime's timers, which, like
// setTimeout's, do not outlive the invocation that set them.

let abortStateOf; // (AbortSignal) -> its state record, or TypeError

function isAbortSignal(value) {
  try {
    abortStateOf(value);
    return true;
  } catch {
    return false;
  }
}

function abortSignalIsAborted(signal) {
  return abortStateOf(signal).aborted;
}

function abortSignalReason(signal) {
  return abortStateOf(signal).reason;
}

function addAbortAlgorithm(signal, algorithm) {
  const state = abortStateOf(signal);
  if (!state.aborted) state.algorithms.add(algorithm);
}

function removeAbortAlgorithm(signal, algorithm) {
  abortStateOf(signal).algorithms.delete(algorithm);
}

function newAbortSignal() {
  return new AbortSignal(INTERNAL);
}

// "Signal abort": the signal and the signals that depend on it take the reason first, then
// each runs its algorithms and fires "abort", so a listener sees every related signal aborted.
function signalAbort(signal, reason) {
  const state = abortStateOf(signal);
  if (state.aborted) return;
  state.aborted = true;
  state.reason = reason === undefined ? new DOMException("signal is aborted without reason", "AbortError") : reason;
  const dependentsToAbort = [];
  for (const dependent of state.dependentSignals) {
    const dependentState = abortStateOf(dependent);
    if (dependentState.aborted) continue;
    dependentState.aborted = true;
    dependentState.reason = state.reason;
    dependentsToAbort.push(dependent);
  }
  state.dependentSignals.clear(); // nothing more will come from this signal
  runAbortSteps(signal);
  for (const dependent of dependentsToAbort) runAbortSteps(dependent);
}

function runAbortSteps(signal) {
  const state = abortStateOf(signal);
  const algorithms = [...state.algorithms];
  state.algorithms.clear();
  for (const algorithm of algorithms) algorithm();
  fireEvent(signal, "abort");
}

// "Create a dependent abort signal": aborted at once if one of the signals is, otherwise
// it follows the non-dependent signals behind them all.
function createDependentAbortSignal(signals) {
  const result = newAbortSignal();
  const resultState = abortStateOf(result);
  for (const signal of signals) {
    const state = abortStateOf(signal);
    if (state.aborted) {
      resultState.aborted = true;
      resultState.reason = state.reason;
      return result;
    }
  }
  resultState.dependent = true;
  for (const signal of signals) {
    const state = abortStateOf(signal);
    const sources = state.dependent ? [...state.sourceSignals] : [signal];
    for (const source of sources) {
      resultState.sourceSignals.add(source);
      abortStateOf(source).dependentSignals.add(result);
    }
  }
  return result;
}

class AbortSignal extends EventTarget {
  #state;

  constructor(token = undefined) {
    if (token !== INTERNAL) throw new TypeError("Illegal constructor");
    super();
    this.#state = {
      aborted: false, reason: undefined, algorithms: new Set(),
      dependent: false, sourceSignals: new Set(), dependentSignals: new Set(),
    };
  }

  static abort(reason = undefined) {
    const signal = newAbortSignal();
    const state = abortStateOf(signal);
    state.aborted = true;
    state.reason = reason === undefined ? new DOMException("signal is aborted without reason", "AbortError") : reason;
    return signal;
  }

  static timeout(milliseconds) {
    requireArguments(arguments.length, 1, "Failed to execute 'timeout' on 'AbortSignal'");
    milliseconds = toEnforcedUnsignedLongLong(milliseconds, "Failed to execute 'timeout' on 'AbortSignal': milliseconds");
    const signal = newAbortSignal();
    // The runtime's own timer table: a script replacing setTimeout changes nothing here.
    addTimer(() => signalAbort(signal, new DOMException("signal timed out", "TimeoutError")), milliseconds, [], false);
    return signal;
  }

  static any(signals) {
    requireArguments(arguments.length, 1, "Failed to execute 'any' on 'AbortSignal'");
    const iteratorMethod = isObject(signals) ? signals[Symbol.iterator] : undefined;
    if (typeof iteratorMethod !== "function") {
      throw new TypeError("Failed to execute 'any' on 'AbortSignal': The provided value cannot be converted to a sequence.");
    }
    const list = [];
    for (const signal of { [Symbol.iterator]: () => iteratorMethod.call(signals) }) {
      if (!isAbortSignal(signal)) throw new TypeError("Failed to execute 'any' on 'AbortSignal': Failed to convert value to 'AbortSignal'.");
      list.push(signal);
    }
    return createDependentAbortSignal(list);
  }

  get aborted() {
    return this.#state.aborted;
  }

  get reason() {
    return this.#state.reason;
  }

  throwIfAborted() {
    const state = this.#state;
    if (state.aborted) throw state.reason;
  }

  static {
    abortStateOf = (value) => {
      if (!isObject(value) || !(#state in value)) throw new TypeError("The value is not an AbortSignal.");
      return value.#state;
    };
  }
}
defineEventHandler(AbortSignal, "abort");

class AbortController {
  #signal = newAbortSignal();

  get signal() {
    return this.#signal;
  }

  abort(reason = undefined) {
    signalAbort(this.#signal, reason);
  }
}

// `[EnforceRange] unsigned long long`: a finite integer in 0..2^53-1, or a TypeError.
function toEnforcedUnsignedLongLong(value, what) {
  const number = +value; // ECMAScript ToNumber: throws on a Symbol or a BigInt
  if (!Number.isFinite(number)) throw new TypeError(`${what} is not a finite number.`);
  const integer = Math.trunc(number);
  if (integer < 0 || integer > Number.MAX_SAFE_INTEGER) throw new TypeError(`${what} is outside the range of unsigned long long.`);
  return integer === 0 ? 0 : integer;
}

for (const [cls, tag] of [[AbortSignal, "AbortSignal"], [AbortController, "AbortController"]]) {
  finishInterface(cls, tag);
  exposeGlobal(tag, cls);
}
