// fetch(): subrequests performed by the server (platform/fetcher.py) under the platform's
// egress policy and per-invocation limits. Request bodies are read whole before sending. A
// response body comes with the head when short; a longer one is pulled from the server
// chunk by chunk as the script reads it (so piping it into the script's own response
// streams end to end).
{
  const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

  function abortable(promise, signal) {
    if (!signal) return promise;
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener("abort", onAbort, { once: true });
      promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  function fetchResponse(request, result) {
    const state = newResponseState();
    state.status = result.status;
    state.statusText = result.statusText;
    state.url = result.url;
    state.redirected = result.redirected;
    const headers = headersRecordOf(state.headers);
    for (const [name, value] of result.headers) headerListAppend(headers, name, value);
    headers.guard = "immutable";
    if (!NULL_BODY_STATUSES.has(result.status) && request.method !== "HEAD") {
      const first = base64ToBytes(result.body);
      state.body = result.stream === undefined ? newFixedBody(first) : newStreamBody(upstreamBody(result.stream, first));
    }
    return new Response(INTERNAL, state);
  }

  function upstreamBody(stream, first) {
    return new ReadableStream({
      start(controller) {
        if (first.length > 0) controller.enqueue(first);
      },
      async pull(controller) {
        const next = await hostCall("fetch.read", { stream });
        if (next.done) controller.close();
        else controller.enqueue(base64ToBytes(next.chunk));
      },
      cancel() {
        return hostCall("fetch.cancel", { stream }).catch(() => {});
      },
    }, { highWaterMark: 0 });
  }

  async function fetch(input, init = undefined) {
    const request = new Request(input, init);
    const signal = request.signal;
    if (signal && signal.aborted) throw signal.reason;
    const body = request.body === null ? null : bytesToBase64(new Uint8Array(await request.arrayBuffer()));
    const headers = [];
    for (const pair of request.headers) headers.push(pair);
    const call = hostCall("fetch", {
      method: request.method,
      url: request.url,
      headers,
      body,
      redirect: request.redirect,
    });
    return fetchResponse(request, await abortable(call, signal));
  }

  exposeGlobal("fetch", fetch);
}
