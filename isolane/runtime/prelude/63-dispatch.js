// Workers for Platforms: the `dispatch_namespace` binding a dispatch worker receives as
// `env.DISPATCHER` (platform/dispatch.py). `get(name, args, { limits: { cpuMs, subRequests } })`
// returns a stub; its `fetch()` runs that script of the namespace in its own isolate, under
// the tighter of its own and the given limits, and resolves to its Response. A missing
// script, an exception or an exceeded limit of the tenant script rejects with an Error
// ("Worker not found: …", "Worker threw exception: …", "Worker exceeded CPU time limit …").
{
  const DISPATCH_NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

  function dispatchLimits(options) {
    options = toDictionary(options, "DISPATCHER.get() options");
    const limits = options.limits === undefined || options.limits === null ? {} : toDictionary(options.limits, "limits");
    const result = {};
    for (const name of ["cpuMs", "subRequests"]) {
      if (limits[name] === undefined || limits[name] === null) continue;
      const value = Number(limits[name]);
      if (!Number.isFinite(value) || value <= 0) throw new TypeError(`limits.${name} must be a positive number.`);
      result[name] = value;
    }
    return result;
  }

  class DispatchedWorker {
    #binding;
    #script;
    #limits;

    constructor(token, binding, script, limits) {
      if (token !== INTERNAL) throw new TypeError("Illegal constructor");
      this.#binding = binding;
      this.#script = script;
      this.#limits = limits;
    }

    async fetch(input, init = undefined) {
      const request = new Request(input, init);
      const headers = [];
      for (const pair of request.headers) headers.push(pair);
      const body = request.body === null ? null : bytesToBase64(new Uint8Array(await request.arrayBuffer()));
      const result = await hostCall("dispatch.fetch", {
        binding: this.#binding,
        script: this.#script,
        limits: this.#limits,
        method: request.method,
        url: request.url,
        headers,
        body,
      });
      const nullBody = DISPATCH_NULL_BODY_STATUSES.has(result.status) || request.method === "HEAD";
      return new Response(nullBody ? null : base64ToBytes(result.body), {
        status: result.status,
        statusText: result.statusText,
        headers: result.headers,
      });
    }
  }

  class DispatchNamespace {
    #binding;

    constructor(token, binding) {
      if (token !== INTERNAL) throw new TypeError("Illegal constructor");
      this.#binding = binding;
    }

    get(name, args = undefined, options = undefined) {
      requireArguments(arguments.length, 1, "DISPATCHER.get()");
      return new DispatchedWorker(INTERNAL, this.#binding, toUSVString(name), dispatchLimits(options));
    }
  }

  finishInterface(DispatchNamespace, "DispatchNamespace");
  finishInterface(DispatchedWorker, "Fetcher");
  registerBindingType("dispatch_namespace", (binding) => new DispatchNamespace(INTERNAL, binding.name));
}
