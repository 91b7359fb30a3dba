// Event, CustomEvent and EventTarget (WHATWG DOM §2). There is no node tree here: an
// event's path is its target alone, so `bubbles` and `composed` are recorded but change
// nothing, and capturing listeners simply run before the others (the DOM's order at the
// target). Later files use:
//   fireEvent(target, type)         dispatch a new trusted Event (as "fire an event")
//   defineEventHandler(cls, type)   an `on<type>` event handler attribute on cls
// The `signal` option relies on 08-abort.js (isAbortSignal, addAbortAlgorithm...), called
// only once every file has run; finishInterface (39-webidl.js) is a hoisted function.

const EVENT_PHASE_CONSTANTS = [["NONE", 0], ["CAPTURING_PHASE", 1], ["AT_TARGET", 2], ["BUBBLING_PHASE", 3]];

let eventStateOf; // (Event) -> its state record, or TypeError
let listenersOf; // (EventTarget) -> its listener list, or TypeError
let handlersOf; // (EventTarget) -> Map of its event handlers (type -> {value, listener})

// A listener that throws must not stop the others: the error is reported to the console
// capture, as an uncaught error would be.
function reportListenerError(error) {
  try {
    record("error", ["Uncaught", error]);
  } catch {
    // the console capture is not set up (a dispatch while the runtime itself loads)
  }
}

class Event {
  #state;

  constructor(type, eventInitDict = undefined) {
    requireArguments(arguments.length, 1, "Failed to construct 'Event'");
    type = toDOMString(type);
    const init = toDictionary(eventInitDict, "Failed to construct 'Event': eventInitDict");
    // Dictionary members are read in the IDL's order: by name.
    const bubbles = Boolean(init.bubbles);
    const cancelable = Boolean(init.cancelable);
    const composed = Boolean(init.composed);
    this.#state = {
      type, bubbles, cancelable, composed,
      target: null,
      currentTarget: null,
      eventPhase: 0,
      isTrusted: false,
      timeStamp: timeSinceOrigin(),
      initialized: true,
      dispatching: false,
      stopPropagation: false,
      stopImmediatePropagation: false,
      canceled: false,
      inPassiveListener: false,
    };
    // [LegacyUnforgeable]: an own, non-configurable property of every instance.
    Object.defineProperty(this, "isTrusted", { get: isTrustedGetter, enumerable: true, configurable: false });
  }

  get type() {
    return this.#state.type;
  }

  get target() {
    return this.#state.target;
  }

  // Legacy alias of target.
  get srcElement() {
    return this.#state.target;
  }

  get currentTarget() {
    return this.#state.currentTarget;
  }

  composedPath() {
    const state = this.#state;
    return state.currentTarget === null ? [] : [state.currentTarget];
  }

  get eventPhase() {
    return this.#state.eventPhase;
  }

  stopPropagation() {
    this.#state.stopPropagation = true;
  }

  get cancelBubble() {
    return this.#state.stopPropagation;
  }

  set cancelBubble(value) {
    if (value) this.#state.stopPropagation = true;
  }

  stopImmediatePropagation() {
    const state = this.#state;
    state.stopPropagation = true;
    state.stopImmediatePropagation = true;
  }

  get bubbles() {
    return this.#state.bubbles;
  }

  get cancelable() {
    return this.#state.cancelable;
  }

  get returnValue() {
    return !this.#state.canceled;
  }

  set returnValue(value) {
    if (!value) setCanceledFlag(this.#state);
  }

  preventDefault() {
    setCanceledFlag(this.#state);
  }

  get defaultPrevented() {
    return this.#state.canceled;
  }

  get composed() {
    return this.#state.composed;
  }

  get timeStamp() {
    return this.#state.timeStamp;
  }

  initEvent(type, bubbles = false, cancelable = false) {
    requireArguments(arguments.length, 1, "Failed to execute 'initEvent' on 'Event'");
    const state = this.#state;
    type = toDOMString(type);
    if (state.dispatching) return;
    Object.assign(state, {
      initialized: true, stopPropagation: false, stopImmediatePropagation: false, canceled: false,
      isTrusted: false, target: null, type, bubbles: Boolean(bubbles), cancelable: Boolean(cancelable),
    });
  }

  static {
    eventStateOf = (value) => {
      if (!isObject(value) || !(#state in value)) throw new TypeError("The value is not an Event.");
      return value.#state;
    };
  }
}

// Passive listeners cannot cancel: preventDefault() is then silently ignored.
function setCanceledFlag(state) {
  if (state.cancelable && !state.inPassiveListener) state.canceled = true;
}

const isTrustedGetter = Object.getOwnPropertyDescriptor({
  get isTrusted() {
    return eventStateOf(this).isTrusted;
  },
}, "isTrusted").get;

for (const [name, value] of EVENT_PHASE_CONSTANTS) {
  const descriptor = { value, writable: false, enumerable: true, configurable: false };
  Object.defineProperty(Event, name, descriptor);
  Object.defineProperty(Event.prototype, name, descriptor);
}

class CustomEvent extends Event {
  #detail;

  constructor(type, eventInitDict = undefined) {
    requireArguments(arguments.length, 1, "Failed to construct 'CustomEvent'");
    super(type, eventInitDict);
    const init = toDictionary(eventInitDict, "Failed to construct 'CustomEvent': eventInitDict");
    this.#detail = init.detail === undefined ? null : init.detail;
  }

  get detail() {
    return this.#detail;
  }

  initCustomEvent(type, bubbles = false, cancelable = false, detail = null) {
    requireArguments(arguments.length, 1, "Failed to execute 'initCustomEvent' on 'CustomEvent'");
    this.#detail;
    if (eventStateOf(this).dispatching) return;
    this.initEvent(type, bubbles, cancelable);
    this.#detail = detail;
  }
}

// ---- EventTarget

// The listener options of addEventListener, "flattened": a boolean means `capture`.
function flattenListenerOptions(options, withAddOptions) {
  if (!isObject(options) && options !== undefined && options !== null) {
    return { capture: Boolean(options), once: false, passive: false, signal: null };
  }
  const dict = toDictionary(options, "options");
  const capture = Boolean(dict.capture);
  if (!withAddOptions) return { capture };
  const once = Boolean(dict.once);
  const passive = dict.passive === undefined ? false : Boolean(dict.passive);
  let signal = null;
  if (dict.signal !== undefined) {
    if (!isAbortSignal(dict.signal)) throw new TypeError("Failed to execute 'addEventListener' on 'EventTarget': options.signal is not an AbortSignal.");
    signal = dict.signal;
  }
  return { capture, once, passive, signal };
}

// An EventListener is a callback interface: a function, or an object with handleEvent.
function toEventListener(value, where) {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw new TypeError(`Failed to execute '${where}' on 'EventTarget': parameter 2 is not an object.`);
  return value;
}

function findListener(listeners, type, callback, capture) {
  return listeners.findIndex((l) => l.type === type && l.callback === callback && l.capture === capture);
}

function removeListener(target, listener) {
  const listeners = listenersOf(target);
  const index = listeners.indexOf(listener);
  if (index !== -1) listeners.splice(index, 1);
  listener.removed = true; // a dispatch in progress holds a copy of the list: skip it there
}

function addListener(target, listener) {
  const listeners = listenersOf(target);
  if (findListener(listeners, listener.type, listener.callback, listener.capture) !== -1) return;
  listeners.push(listener);
  if (listener.signal !== null) addAbortAlgorithm(listener.signal, () => removeListener(target, listener));
}

class EventTarget {
  #listeners = []; // {type, callback, capture, passive, once, signal, removed}, in order added
  #handlers = null; // event handler attributes (onabort...): type -> {value, listener}

  addEventListener(type, callback, options = undefined) {
    this.#listeners; // brand check first
    requireArguments(arguments.length, 2, "Failed to execute 'addEventListener' on 'EventTarget'");
    type = toDOMString(type);
    callback = toEventListener(callback, "addEventListener");
    const { capture, once, passive, signal } = flattenListenerOptions(options, true);
    if (signal !== null && abortSignalIsAborted(signal)) return;
    if (callback === null) return;
    addListener(this, { type, callback, capture, passive, once, signal, removed: false });
  }

  removeEventListener(type, callback, options = undefined) {
    const listeners = this.#listeners;
    requireArguments(arguments.length, 2, "Failed to execute 'removeEventListener' on 'EventTarget'");
    type = toDOMString(type);
    callback = toEventListener(callback, "removeEventListener");
    const { capture } = flattenListenerOptions(options, false);
    const index = findListener(listeners, type, callback, capture);
    if (index !== -1) removeListener(this, listeners[index]);
  }

  dispatchEvent(event) {
    this.#listeners;
    requireArguments(arguments.length, 1, "Failed to execute 'dispatchEvent' on 'EventTarget'");
    const state = eventStateOf(event);
    if (state.dispatching || !state.initialized) {
      throw new DOMException("Failed to execute 'dispatchEvent' on 'EventTarget': The event is already being dispatched.", "InvalidStateError");
    }
    state.isTrusted = false;
    return dispatchEventInternal(this, event);
  }

  static {
    listenersOf = (value) => {
      if (!isObject(value) || !(#listeners in value)) throw new TypeError("The value is not an EventTarget.");
      return value.#listeners;
    };
    handlersOf = (target) => {
      listenersOf(target);
      if (target.#handlers === null) target.#handlers = new Map();
      return target.#handlers;
    };
  }
}

// The DOM's dispatch, for a target without parents: capturing listeners, then the others.
function dispatchEventInternal(target, event) {
  const state = eventStateOf(event);
  state.dispatching = true;
  state.target = target;
  state.currentTarget = target;
  state.eventPhase = 2; // AT_TARGET
  try {
    invokeListeners(target, event, state, true);
    invokeListeners(target, event, state, false);
  } finally {
    state.eventPhase = 0;
    state.currentTarget = null;
    state.dispatching = false;
    state.stopPropagation = false;
    state.stopImmediatePropagation = false;
  }
  return !state.canceled;
}

function invokeListeners(target, event, state, capturePhase) {
  if (state.stopPropagation) return;
  // A copy: listeners added during the dispatch wait for the next one.
  const listeners = listenersOf(target).filter((l) => l.type === state.type && l.capture === capturePhase);
  for (const listener of listeners) {
    if (listener.removed) continue;
    if (listener.once) removeListener(target, listener);
    if (listener.passive) state.inPassiveListener = true;
    try {
      const callback = listener.callback;
      if (typeof callback === "function") {
        callback.call(target, event);
      } else {
        const handleEvent = callback.handleEvent;
        if (typeof handleEvent !== "function") throw new TypeError("The event listener has no handleEvent method.");
        handleEvent.call(callback, event);
      }
    } catch (error) {
      reportListenerError(error);
    }
    state.inPassiveListener = false;
    if (state.stopImmediatePropagation) break;
  }
}

// "Fire an event": a new Event, trusted since the platform dispatches it.
function fireEvent(target, type) {
  const event = new Event(type);
  eventStateOf(event).isTrusted = true;
  return dispatchEventInternal(target, event);
}

// An event handler IDL attribute (`onabort`...). Setting a handler registers one listener,
// in order among the others; its callback calls whatever the handler is at dispatch time.
// Setting null removes that listener; setting again later adds it anew, at the end.
function defineEventHandler(cls, type) {
  const name = `on${type}`;
  const accessors = {
    get [name]() {
      return handlersOf(this).get(type)?.value ?? null;
    },
    set [name](value) {
      const handlers = handlersOf(this);
      // [LegacyTreatNonObjectAsNull]: anything but an object means "no handler".
      value = isObject(value) ? value : null;
      const existing = handlers.get(type);
      if (value === null) {
        if (existing !== undefined) {
          removeListener(this, existing.listener);
          handlers.delete(type);
        }
        return;
      }
      if (existing !== undefined) {
        existing.value = value;
        return;
      }
      const handler = { value, listener: null };
      handler.listener = {
        type,
        callback(event) {
          if (typeof handler.value !== "function") return;
          const result = handler.value.call(this, event);
          if (result === false) setCanceledFlag(eventStateOf(event));
        },
        capture: false, passive: false, once: false, signal: null, removed: false,
      };
      handlers.set(type, handler);
      addListener(this, handler.listener);
    },
  };
  const descriptor = Object.getOwnPropertyDescriptor(accessors, name);
  Object.defineProperty(cls.prototype, name, { get: descriptor.get, set: descriptor.set, enumerable: true, configurable: true });
}

for (const [cls, tag] of [[Event, "Event"], [CustomEvent, "CustomEvent"], [EventTarget, "EventTarget"]]) {
  finishInterface(cls, tag);
  exposeGlobal(tag, cls);
}
