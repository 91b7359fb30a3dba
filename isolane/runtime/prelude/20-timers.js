// Timers owned by the platform: callbacks wait in this table and the host fires them when
// due (host.js `fire`). A timer's callback runs as its own host-driven step, so CPU limits
// and wall-clock deadlines apply to it like to everything else.

const timerTable = new Map();
let nextTimerId = 1;
let announcedDeadline = Infinity; // the earliest deadline the host has been told about

function addTimer(callback, delay, args, repeat) {
  if (typeof callback !== "function") {
    throw new TypeError("The callback provided as parameter 1 is not a function.");
  }
  delay = NumberCtor(delay);
  if (!(delay >= 0)) delay = 0;
  delay = MathMin(delay, 2147483647);
  const id = nextTimerId++;
  const at = DateNow() + delay;
  MapPrototypeSet(timerTable, id, { at, callback, args, repeat: repeat ? (delay > 1 ? delay : 1) : 0 });
  if (at < announcedDeadline) {
    announcedDeadline = at;
    ringHost();
  }
  return id;
}

// The host arms its timer from this (tenant code runs between steps: captured intrinsics).
function nextDeadline() {
  let earliest = Infinity;
  MapPrototypeForEach(timerTable, (timer) => {
    if (timer.at < earliest) earliest = timer.at;
  });
  announcedDeadline = earliest;
  return earliest === Infinity ? null : earliest;
}

function clearTimers() {
  MapPrototypeClear(timerTable);
  announcedDeadline = Infinity;
}

// Runs every timer that is due, earliest first; errors go to `onError`.
function fireDueTimers(onError) {
  const now = DateNow();
  const due = [];
  MapPrototypeForEach(timerTable, (timer, id) => {
    if (timer.at <= now) ArrayPrototypePush(due, [id, timer]);
  });
  ArrayPrototypeSort(due, (a, b) => a[1].at - b[1].at || a[0] - b[0]);
  for (let i = 0; i < due.length; i++) {
    const id = due[i][0];
    const timer = due[i][1];
    if (MapPrototypeGet(timerTable, id) !== timer) continue; // cleared by an earlier callback
    if (timer.repeat) timer.at = now + timer.repeat;
    else MapPrototypeDelete(timerTable, id);
    try {
      ReflectApply(timer.callback, undefined, timer.args);
    } catch (err) {
      onError(err);
    }
  }
}

function clearTimer(id) {
  MapPrototypeDelete(timerTable, NumberCtor(id));
}

const timerGlobals = {
  setTimeout: (callback, delay, ...args) => addTimer(callback, delay, args, false),
  setInterval: (callback, delay, ...args) => addTimer(callback, delay, args, true),
  clearTimeout: clearTimer,
  clearInterval: clearTimer,
  queueMicrotask: (callback) => {
    if (typeof callback !== "function") {
      throw new TypeError("The callback provided as parameter 1 is not a function.");
    }
    Promise.resolve().then(() => callback());
  },
};
for (const [name, value] of Object.entries(timerGlobals)) {
  Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: true });
}
