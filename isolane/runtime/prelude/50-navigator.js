// navigator (HTML's WorkerNavigator, the part a server runtime can answer): who runs the
// script, and how many scripts of this isolate can run at once.

const NAVIGATOR_USER_AGENT = "Isolane/0.1";

class Navigator {
  #hardwareConcurrency = 1; // an isolate runs one thing at a time

  constructor(token = undefined) {
    if (token !== INTERNAL) throw new TypeError("Illegal constructor");
  }

  get userAgent() {
    this.#hardwareConcurrency; // brand check
    return NAVIGATOR_USER_AGENT;
  }

  get hardwareConcurrency() {
    return this.#hardwareConcurrency;
  }
}

finishInterface(Navigator, "Navigator");
exposeGlobal("Navigator", Navigator);
exposeGlobal("navigator", new Navigator(INTERNAL));
