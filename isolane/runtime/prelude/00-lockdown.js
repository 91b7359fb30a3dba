// Withhold engine facilities that schedule work behind the platform's back. Our timers
// are driven by the host (timers.js); Atomics.waitAsync would let a script wake itself
// outside every metered step (ENGINE.md trap 7).
if (typeof Atomics === "object" && Atomics !== null) {
  delete Atomics.waitAsync;
}
