// fetch(): subrequests performed by the server (platform/fetcher.py) under the platform's
// egress policy and per-invocation limits. A ReadableStream request body is sent as it is
// read; other bodies whole. A
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

  // A ReadableStream body goes out as it is read: each chunk waits for the server to take it.
  async function sendStreamedBody(request, head) {
    const { upload } = await hostCall("fetch", { ...head, streaming: true });
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      await hostCall("fetch.write", { upload, chunk: bytesToBase64(value) });
    }
    await hostCall("fetch.write", { upload, end: true });
    return hostCall("fetch.response", { upload });
  }

  async function fetch(input, init = undefined) {
    const request = new Request(input, init);
    const signal = request.signal;
    if (signal && signal.aborted) throw signal.reason;
    const headers = [];
    for (const pair of request.headers) headers.push(pair);
    const head = { method: request.method, url: request.url, headers, redirect: request.redirect };
    // Bodies given whole (strings, bytes, forms) are sent whole; streams are streamed.
    const streamed = init !== undefined && init !== null && isReadableStream(init.body);
    let call;
    if (request.body === null) call = hostCall("fetch", { ...head, body: null });
    else if (streamed) call = sendStreamedBody(request, head);
    else call = hostCall("fetch", { ...head, body: bytesToBase64(new Uint8Array(await request.arrayBuffer())) });
    return fetchResponse(request, await abortable(call, signal));
  }

  exposeGlobal("fetch", fetch);
}
