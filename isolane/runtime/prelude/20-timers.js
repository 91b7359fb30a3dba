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
  delay = Number(delay);
  if (!(delay >= 0)) delay = 0;
  delay = Math.min(delay, 2147483647);
  const id = nextTimerId++;
  const at = Date.now() + delay;
  timerTable.set(id, { at, callback, args, repeat: repeat ? Math.max(delay, 1) : 0 });
  if (at < announcedDeadline) {
    announcedDeadline = at;
    ringHost();
  }
  return id;
}

function nextDeadline() {
  let earliest = Infinity;
  for (const timer of timerTable.values()) {
    if (timer.at < earliest) earliest = timer.at;
  }
  announcedDeadline = earliest;
  return earliest === Infinity ? null : earliest;
}

function clearTimers() {
  timerTable.clear();
  announcedDeadline = Infinity;
}

// Runs every timer that is due, earliest first; errors go to `onError`.
function fireDueTimers(onError) {
  const now = Date.now();
  const due = [];
  for (const [id, timer] of timerTable) {
    if (timer.at <= now) due.push([id, timer]);
  }
  due.sort((a, b) => a[1].at - b[1].at || a[0] - b[0]);
  for (const [id, timer] of due) {
    if (timerTable.get(id) !== timer) continue; // cleared by an earlier callback
    if (timer.repeat) timer.at = now + timer.repeat;
    else timerTable.delete(id);
    try {
      timer.callback(...timer.args);
    } catch (err) {
      onError(err);
    }
  }
}

function clearTimer(id) {
  timerTable.delete(Number(id));
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
