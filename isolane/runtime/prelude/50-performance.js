// performance (High Resolution Time §4): milliseconds since the runtime's time origin (see
// 05-internals.js), at the resolution of Date.now(). No performance timeline (marks,
// measures, observers): Performance is an EventTarget with nothing to fire.

class Performance extends EventTarget {
  constructor(token = undefined) {
    if (token !== INTERNAL) throw new TypeError("Illegal constructor");
    super();
  }

  now() {
    performanceBrand(this);
    return timeSinceOrigin();
  }

  get timeOrigin() {
    performanceBrand(this);
    return runtimeTimeOrigin;
  }

  toJSON() {
    performanceBrand(this);
    return { timeOrigin: runtimeTimeOrigin };
  }
}

const performanceObject = new Performance(INTERNAL);

// One Performance object exists; its members refuse any other receiver, as a brand check would.
function performanceBrand(value) {
  if (value !== performanceObject) throw new TypeError("Illegal invocation: not a Performance object.");
}

finishInterface(Performance, "Performance");
exposeGlobal("Performance", Performance);
exposeGlobal("performance", performanceObject);
