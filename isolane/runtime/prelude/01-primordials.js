// Intrinsics captured before any tenant code runs. Tenant code may replace any global or
// prototype method afterwards (JSON.stringify, Array.prototype.push, Promise.prototype.then,
// ...); the runtime's door to the host (host.js, console.js, timers.js, the response pump
// in workers.js) calls these copies instead, so what it hands the host is produced by code
// the tenant cannot swap out. The host validates all of it anyway
// (isolane/sandbox/boundary.py): this only keeps honest-looking tricks from corrupting it.
//
// `uncurryThis(Array.prototype.push)(array, value)` calls the original method with `array`
// as its receiver, without looking anything up on the receiver or its prototype.

const uncurryThis = Function.prototype.bind.bind(Function.prototype.call);

const ArrayIsArray = Array.isArray;
const ArrayPrototypePush = uncurryThis(Array.prototype.push);
const ArrayPrototypeSlice = uncurryThis(Array.prototype.slice);
const ArrayPrototypeJoin = uncurryThis(Array.prototype.join);
const ArrayPrototypeSort = uncurryThis(Array.prototype.sort);
const DateNow = Date.now;
const JSONStringify = JSON.stringify;
const MapPrototypeGet = uncurryThis(Map.prototype.get);
const MapPrototypeSet = uncurryThis(Map.prototype.set);
const MapPrototypeDelete = uncurryThis(Map.prototype.delete);
const MapPrototypeClear = uncurryThis(Map.prototype.clear);
const MapPrototypeForEach = uncurryThis(Map.prototype.forEach);
const MathMin = Math.min;
const NumberCtor = Number;
const NumberIsFinite = Number.isFinite;
const ObjectDefineProperty = Object.defineProperty;
const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const ReflectApply = Reflect.apply;
const PromisePrototypeThen = uncurryThis(Promise.prototype.then);
const RegExpPrototypeExec = uncurryThis(RegExp.prototype.exec);
const StringCtor = String;
const StringPrototypeSlice = uncurryThis(String.prototype.slice);
const StringPrototypeSplit = uncurryThis(String.prototype.split);
const SetCtor = Set;
const SetPrototypeAdd = uncurryThis(Set.prototype.add);
const SetPrototypeHas = uncurryThis(Set.prototype.has);
const SetPrototypeDelete = uncurryThis(Set.prototype.delete);
const TypedArrayPrototypeSubarray = uncurryThis(Object.getPrototypeOf(Uint8Array.prototype).subarray);
const TypedArrayPrototypeGetLength = uncurryThis(
  ObjectGetOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), "length").get,
);

// The JSON of a value the runtime built itself, for the host. Plain data only: arrays and
// objects of primitives. Walks it with captured intrinsics, ignoring toJSON and getters on
// prototypes (tenant code may have added either).
function jsonOf(value) {
  if (value === null || value === undefined) return "null";
  const type = typeof value;
  if (type === "string" || type === "boolean") return JSONStringify(value);
  if (type === "number") return NumberIsFinite(value) ? JSONStringify(value) : "null";
  if (ArrayIsArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      out += jsonOf(value[i]);
    }
    return out + "]";
  }
  if (type === "object") {
    let out = "{";
    let first = true;
    for (const key in value) {
      // Own data properties only; keys tenant code may have added to Object.prototype are skipped.
      const descriptor = ObjectGetOwnPropertyDescriptor(value, key);
      if (descriptor === undefined || !("value" in descriptor)) continue;
      if (!first) out += ",";
      first = false;
      out += JSONStringify(key) + ":" + jsonOf(descriptor.value);
    }
    return out + "}";
  }
  return "null";
}
