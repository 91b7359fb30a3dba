// structuredClone (HTML "structured clone", StructuredSerializeWithTransfer followed by
// StructuredDeserializeWithTransfer). Serializing and deserializing in the same isolate
// is one deep copy, so this walks the value once. `memory` maps each object met so far to
// its copy: shared references and cycles come out the same shape.
//
// The algorithm tells types apart by their internal slots. JavaScript can test those only
// by calling a built-in method that requires the slot (a brand check), which costs an
// exception when it fails; so the Object.prototype.toString tag picks the one check to
// try, an object tagged plain "Object" is taken as ordinary, and only a tag that lies
// leads to trying every check.
//
// Transfer: a transferred ArrayBuffer is copied when met, and all of them are detached
// (ArrayBuffer.prototype.transfer) only once the whole value has been copied, so that a
// failure leaves every buffer as it was.

// Everything below is private to this file (a block scope): only the global it publishes
// is shared, so its helpers cannot clash with another file's.
{
  const objectToString = Object.prototype.toString;
  const { isError } = Error;
  const { hasOwn, keys: ownEnumerableKeys, defineProperty } = Object;

  const booleanValueOf = Boolean.prototype.valueOf;
  const numberValueOf = Number.prototype.valueOf;
  const stringValueOf = String.prototype.valueOf;
  const bigIntValueOf = BigInt.prototype.valueOf;
  const symbolValueOf = Symbol.prototype.valueOf;
  const dateGetTime = Date.prototype.getTime;
  const regExpSource = getterOf(RegExp.prototype, "source");
  const mapSize = getterOf(Map.prototype, "size");
  const mapForEach = Map.prototype.forEach;
  const mapSet = Map.prototype.set;
  const setSize = getterOf(Set.prototype, "size");
  const setForEach = Set.prototype.forEach;
  const setAdd = Set.prototype.add;
  const weakMapHas = WeakMap.prototype.has;
  const weakSetHas = WeakSet.prototype.has;
  const weakRefDeref = WeakRef.prototype.deref;
  const finalizationRegistryUnregister = FinalizationRegistry.prototype.unregister;
  const arrayBufferResizable = getterOf(ArrayBuffer.prototype, "resizable");
  const arrayBufferMaxByteLength = getterOf(ArrayBuffer.prototype, "maxByteLength");
  const arrayBufferTransfer = ArrayBuffer.prototype.transfer;

  const VIEW_CONSTRUCTORS = new Map(
    [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
      Float16Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView].map((c) => [c.name, c]),
  );

  // The error types whose name survives a clone; any other name becomes "Error".
  const CLONEABLE_ERRORS = new Map(
    [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError].map((c) => [c.name, c]),
  );

  function hasBrand(method, value, args = []) {
    try {
      applyFunction(method, value, args);
      return true;
    } catch {
      return false;
    }
  }

  // Kinds recognised by an internal slot: what a value's toString tag claims is checked
  // here, and when the tag says nothing useful every check is tried.
  const BRAND_CHECKS = new Map([
    ["Boolean", (v) => hasBrand(booleanValueOf, v)],
    ["Number", (v) => hasBrand(numberValueOf, v)],
    ["String", (v) => hasBrand(stringValueOf, v)],
    ["BigInt", (v) => hasBrand(bigIntValueOf, v)],
    ["Date", (v) => hasBrand(dateGetTime, v)],
    // RegExp.prototype answers the source getter without being a regular expression.
    ["RegExp", (v) => v !== RegExp.prototype && hasBrand(regExpSource, v)],
    ["ArrayBuffer", isArrayBuffer],
    ["SharedArrayBuffer", isSharedArrayBuffer],
    ["Map", (v) => hasBrand(mapSize, v)],
    ["Set", (v) => hasBrand(setSize, v)],
    // Not cloneable, but recognisable.
    ["Symbol", (v) => hasBrand(symbolValueOf, v)],
    ["WeakMap", (v) => hasBrand(weakMapHas, v, [{}])],
    ["WeakSet", (v) => hasBrand(weakSetHas, v, [{}])],
    ["WeakRef", (v) => hasBrand(weakRefDeref, v)],
    ["FinalizationRegistry", (v) => hasBrand(finalizationRegistryUnregister, v, [{}])],
  ]);

  // Engine objects with internal state a copy cannot reproduce, for those known only by
  // their tag (a promise cannot be brand-checked without side effects).
  const UNCLONEABLE_TAGS = /^(?:Promise|Arguments|Generator|AsyncGenerator|Module|DisposableStack|AsyncDisposableStack|Iterator Helper|.+ Iterator|Intl\..+|Temporal\..+|WebAssembly\..+)$/;

  function tagOf(value) {
    return applyFunction(objectToString, value, []).slice(8, -1);
  }

  // What the clone algorithm sees in an object: one of the BRAND_CHECKS kinds, a view's
  // constructor name, "Error", "DOMException", "Array", "Object" (ordinary) or "Uncloneable".
  function cloneKindOf(value) {
    if (isDOMException(value)) return "DOMException";
    if (isError(value)) return "Error";
    if (Array.isArray(value)) return "Array";
    if (ArrayBuffer.isView(value)) return applyFunction(typedArrayTag, value, []) ?? "DataView";
    const tag = tagOf(value);
    if (tag === "Object") return "Object"; // by far the most common case: no checks needed
    const claimed = BRAND_CHECKS.get(tag);
    if (claimed !== undefined && claimed(value)) return tag;
    for (const [kind, check] of BRAND_CHECKS) {
      if (check(value)) return kind;
    }
    // An ordinary object that merely claims a tag (Symbol.toStringTag) is cloned as such.
    return UNCLONEABLE_TAGS.test(tag) ? "Uncloneable" : "Object";
  }

  function dataCloneError(message) {
    return new DOMException(message, "DataCloneError");
  }

  function uncloneable(value) {
    let what;
    if (typeof value === "symbol") what = String(value);
    else if (typeof value === "function") what = `function ${typeof value.name === "string" && value.name ? value.name : "(anonymous)"}`;
    else what = `#<${tagOf(value)}>`;
    return dataCloneError(`${what} could not be cloned.`);
  }

  // CreateDataProperty: never a setter, never the __proto__ accessor.
  function createDataProperty(target, key, value) {
    if (key === "__proto__") {
      defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
    } else {
      target[key] = value;
    }
  }

  function cloneProperties(source, target, memory, transfers) {
    for (const key of ownEnumerableKeys(source)) {
      if (!hasOwn(source, key)) continue; // deleted by a getter that ran meanwhile
      createDataProperty(target, key, cloneValue(source[key], memory, transfers));
    }
  }

  function cloneArrayBuffer(buffer, transfers) {
    if (applyFunction(arrayBufferDetached, buffer, [])) {
      // A transferred buffer is checked again (and reported) once the walk is over.
      if (transfers.has(buffer)) return new ArrayBuffer(0);
      throw dataCloneError("An ArrayBuffer is detached and could not be cloned.");
    }
    const length = applyFunction(arrayBufferByteLength, buffer, []);
    const copy = applyFunction(arrayBufferResizable, buffer, [])
      ? new ArrayBuffer(length, { maxByteLength: applyFunction(arrayBufferMaxByteLength, buffer, []) })
      : new ArrayBuffer(length);
    new Uint8Array(copy).set(new Uint8Array(buffer));
    return copy;
  }

  function cloneView(view, kind, memory, transfers) {
    let buffer, offset, length;
    if (kind === "DataView") {
      buffer = applyFunction(dataViewBuffer, view, []);
      try {
        offset = applyFunction(dataViewByteOffset, view, []);
        length = applyFunction(dataViewByteLength, view, []);
      } catch {
        // Its buffer was detached or shrunk below it.
        throw dataCloneError("A DataView is out of bounds and could not be cloned.");
      }
    } else {
      buffer = applyFunction(typedArrayBuffer, view, []);
      offset = applyFunction(typedArrayByteOffset, view, []);
      length = applyFunction(typedArrayLength, view, []);
    }
    // Through `memory`, so that views of one buffer share one copy.
    const bufferCopy = cloneValue(buffer, memory, transfers);
    return new (VIEW_CONSTRUCTORS.get(kind))(bufferCopy, offset, length);
  }

  function cloneError(error, memory, transfers) {
    const name = error.name;
    const Constructor = CLONEABLE_ERRORS.get(name) ?? Error;
    const messageDescriptor = Object.getOwnPropertyDescriptor(error, "message");
    const message = messageDescriptor !== undefined && hasOwn(messageDescriptor, "value") ? `${messageDescriptor.value}` : undefined;
    const copy = new Constructor();
    memory.set(error, copy);
    const hidden = { writable: true, enumerable: false, configurable: true };
    if (message !== undefined) defineProperty(copy, "message", { ...hidden, value: message });
    // "Interesting accompanying data" the HTML algorithm invites, kept as V8 keeps it: the
    // stack and the cause.
    const stack = error.stack;
    if (typeof stack === "string") defineProperty(copy, "stack", { ...hidden, value: stack });
    else delete copy.stack;
    if (hasOwn(error, "cause")) defineProperty(copy, "cause", { ...hidden, value: cloneValue(error.cause, memory, transfers) });
    return copy;
  }

  function cloneValue(value, memory, transfers) {
    if (typeof value === "function" || typeof value === "symbol") throw uncloneable(value);
    if (typeof value !== "object" || value === null) return value;
    const known = memory.get(value);
    if (known !== undefined) return known;

    const kind = cloneKindOf(value);
    let copy;
    switch (kind) {
      case "Object":
        copy = {};
        memory.set(value, copy);
        cloneProperties(value, copy, memory, transfers);
        return copy;
      case "Array":
        copy = [];
        copy.length = value.length; // holes stay holes
        memory.set(value, copy);
        cloneProperties(value, copy, memory, transfers);
        return copy;
      case "Map": {
        const entries = [];
        applyFunction(mapForEach, value, [(v, k) => { entries.push(k, v); }]);
        copy = new Map();
        memory.set(value, copy);
        for (let i = 0; i < entries.length; i += 2) {
          const key = cloneValue(entries[i], memory, transfers);
          applyFunction(mapSet, copy, [key, cloneValue(entries[i + 1], memory, transfers)]);
        }
        return copy;
      }
      case "Set": {
        const members = [];
        applyFunction(setForEach, value, [(v) => { members.push(v); }]);
        copy = new Set();
        memory.set(value, copy);
        for (const member of members) applyFunction(setAdd, copy, [cloneValue(member, memory, transfers)]);
        return copy;
      }
      case "Error":
        return cloneError(value, memory, transfers);
      case "DOMException":
        copy = new DOMException(value.message, value.name);
        if (typeof value.stack === "string") defineProperty(copy, "stack", { value: value.stack, writable: true, configurable: true });
        break;
      case "Boolean":
        copy = Object(applyFunction(booleanValueOf, value, []));
        break;
      case "Number":
        copy = Object(applyFunction(numberValueOf, value, []));
        break;
      case "String":
        copy = Object(applyFunction(stringValueOf, value, []));
        break;
      case "BigInt":
        copy = Object(applyFunction(bigIntValueOf, value, []));
        break;
      case "Date":
        copy = new Date(applyFunction(dateGetTime, value, []));
        break;
      case "RegExp":
        copy = new RegExp(value); // source and flags as created; lastIndex starts over
        break;
      case "ArrayBuffer":
        copy = cloneArrayBuffer(value, transfers);
        break;
      case "SharedArrayBuffer":
        throw dataCloneError("A SharedArrayBuffer could not be cloned: memory is not shared in this runtime.");
      case "Uncloneable":
      case "Symbol":
      case "WeakMap":
      case "WeakSet":
      case "WeakRef":
      case "FinalizationRegistry":
        throw uncloneable(value);
      default: // a typed array or DataView
        copy = cloneView(value, kind, memory, transfers);
    }
    memory.set(value, copy);
    return copy;
  }

  // StructuredSerializeOptions.transfer: a sequence of distinct, non-shared ArrayBuffers
  // (the only transferable objects here).
  function transferListOf(options) {
    options = optionsDictionary(options, "Failed to execute 'structuredClone': The provided options");
    const list = options.transfer;
    if (list === undefined) return [];
    if ((typeof list !== "object" && typeof list !== "function") || list === null || typeof list[Symbol.iterator] !== "function") {
      throw new TypeError("Failed to execute 'structuredClone': The provided transfer list is not an iterable object.");
    }
    const buffers = [];
    for (const item of list) {
      if ((typeof item !== "object" && typeof item !== "function") || item === null) {
        throw new TypeError("Failed to execute 'structuredClone': A transfer list item is not an object.");
      }
      if (!isArrayBuffer(item)) throw dataCloneError(`Value at index ${buffers.length} does not have a transferable type.`);
      if (buffers.includes(item)) throw dataCloneError(`ArrayBuffer at index ${buffers.length} is a duplicate of an earlier ArrayBuffer.`);
      buffers.push(item);
    }
    return buffers;
  }

  function structuredClone(value, options = undefined) {
    if (arguments.length < 1) {
      throw new TypeError("Failed to execute 'structuredClone': 1 argument required, but only 0 present.");
    }
    const transferList = transferListOf(options);
    const transfers = new Set(transferList);
    const copy = cloneValue(value, new Map(), transfers);
    for (const buffer of transferList) {
      if (applyFunction(arrayBufferDetached, buffer, [])) {
        throw dataCloneError("An ArrayBuffer is detached and could not be transferred.");
      }
      applyFunction(arrayBufferTransfer, buffer, []); // detaches it; the copy is already made
    }
    return copy;
  }

  exposeGlobal("structuredClone", structuredClone);
}
