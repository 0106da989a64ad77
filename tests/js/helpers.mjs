// Shared helpers of the Node tests (not a test file itself).
import { createServer, connect as tcpConnect } from "node:net";
import { WebSocket } from "ws";

/** Per-test options: every test is bounded. */
export const T = { timeout: 15_000 };

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A `ws` WebSocket subclass that records every frame the client sends (parsed)
 * in `sent`, to check what goes over the wire.
 */
export function spyWebSocket(sent = []) {
  return class SpyWebSocket extends WebSocket {
    send(data, ...rest) {
      sent.push(JSON.parse(data));
      return super.send(data, ...rest);
    }
  };
}

/** Collects the events passed to `cb`; `next()` waits for the next unseen one. */
export function collector() {
  const events = [];
  let seen = 0;
  let wake = null;
  return {
    events,
    cb(e) {
      events.push(e);
      wake?.();
    },
    async next(ms = 3000) {
      const deadline = Date.now() + ms;
      while (seen >= events.length) {
        if (Date.now() > deadline) throw new Error(`no event within ${ms} ms`);
        await Promise.race([new Promise((r) => (wake = r)), sleep(50)]);
      }
      return events[seen++];
    },
  };
}

/** Polls `fn` until it returns a truthy value (returned), or throws after `ms`. */
export async function waitFor(fn, ms = 3000, what = "condition") {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Asserts that `promise` rejects with an IpcError of `code`; returns the error. */
export async function rejectsWith(assert, promise, code, message) {
  let error;
  await assert.rejects(promise, (err) => {
    error = err;
    return true;
  });
  assert.equal(error.name, "IpcError", `expected an IpcError, got ${error?.stack ?? error}`);
  assert.equal(error.code, code, `expected code ${code}, got ${error.code}: ${error.message}`);
  if (message) assert.match(error.message, message);
  return error;
}

/** A TCP port nothing listens on (bound, then released). */
export async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A TCP proxy on a fixed local port in front of a server, so a test can cut
 * every connection (`dropAll`) or point it at another server (`upstream`)
 * while clients keep the same URL.
 */
export async function startProxy(upstreamUrl) {
  const sockets = new Set();
  const proxy = {
    upstream: new URL(upstreamUrl),
    url: null,
    dropAll() {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    async close() {
      proxy.dropAll();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = createServer((client) => {
    const upstream = tcpConnect(Number(proxy.upstream.port), proxy.upstream.hostname);
    for (const [a, b] of [[client, upstream], [upstream, client]]) {
      sockets.add(a);
      a.pipe(b);
      a.on("error", () => b.destroy());
      a.on("close", () => {
        sockets.delete(a);
        b.destroy();
      });
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(upstreamUrl);
  url.port = String(server.address().port);
  proxy.url = url.href;
  return proxy;
}
