// Taps that feed a RecordingTransport (lib/recorder.mjs) the raw server
// messages of the network transports, taken before the SDK parses them:
//
//   captureWsFrames    a listener on the WebSocket the SDK transport opened
//                      (`_socket`, the same field in the v1 transport and in
//                      lib/ws-transport.mjs): one text frame, one message
//   recordingFetch     a fetch for the Streamable HTTP transports (both SDKs
//                      take a `fetch` option): application/json bodies of
//                      POST answers, and every SSE event with data of POST
//                      answers and GET streams, read from a tee of the body;
//                      an HTTP error (status >= 400) is a transport error,
//                      kept in `transportErrors` with the method it answered
//
// An SSE event that comes back on a resumed stream (same event id) is
// recorded once: replay after Last-Event-ID is the server keeping its
// promise, not a second response.

export function captureWsFrames(inner, rec) {
  const socket = inner._socket;
  if (!socket || typeof socket.addEventListener !== 'function') {
    throw new Error('captureWsFrames: the WebSocket transport exposes no _socket; ' +
      'the pinned SDK changed shape, update tests/interop/lib/net-taps.mjs');
  }
  socket.addEventListener('message', (e) => {
    rec.record(typeof e.data === 'string' ? e.data : Buffer.from(e.data).toString('utf8'));
  });
}

// Reads an SSE body to its end, calling onEvent({id, data}) for each event
// that carries data. Errors (the client aborted the stream) end it quietly.
async function readSse(body, onEvent) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let id;
  let data;
  const line = (l) => {
    if (l === '') {
      if (data !== undefined && data !== '') onEvent({ id, data });
      id = undefined;
      data = undefined;
      return;
    }
    if (l.startsWith(':')) return;
    const c = l.indexOf(':');
    const field = c < 0 ? l : l.slice(0, c);
    let value = c < 0 ? '' : l.slice(c + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
    else if (field === 'id') id = value;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
        const crlf = buf[nl] === '\r' && buf[nl + 1] === '\n';
        line(buf.slice(0, nl));
        buf = buf.slice(nl + (crlf ? 2 : 1));
      }
    }
  } catch {
    /* aborted by the client */
  }
}

// The method of the JSON-RPC message a request body carries, if any.
function methodOf(body) {
  try {
    return JSON.parse(typeof body === 'string' ? body : '').method;
  } catch {
    return undefined;
  }
}

export function recordingFetch(rec, base = fetch) {
  const seenIds = new Set();
  return async (url, init) => {
    const res = await base(url, init);
    const method = String(init?.method ?? 'GET').toUpperCase();
    if (method !== 'POST' && method !== 'GET') return res;
    const type = res.headers.get('content-type') ?? '';
    if (res.status >= 400) {
      const text = await res.clone().text();
      rec.transportErrors.push({ status: res.status, method: methodOf(init?.body) ?? method, text });
      return res;
    }
    if (/^application\/json/i.test(type)) {
      const text = await res.clone().text();
      if (text !== '') rec.record(text);
      return res;
    }
    if (/^text\/event-stream/i.test(type) && res.body) {
      const [mine, theirs] = res.body.tee();
      readSse(mine, ({ id, data }) => {
        if (id !== undefined) {
          if (seenIds.has(id)) return;
          seenIds.add(id);
        }
        rec.record(data);
      });
      return new Response(theirs, { status: res.status, statusText: res.statusText, headers: res.headers });
    }
    return res;
  };
}
