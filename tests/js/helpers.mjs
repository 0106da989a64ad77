// Shared helpers of the Node tests (not a test file itself).
import { createServer, connect as tcpConnect } from "node:net";
import { WebSocket } from "ws";

/** Per-test options: every test is bounded. */
export const T = { timeout: 15_000 };

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A `ws` WebSocket subclass that records every frame the client sends (parsed)
 * in `sent`, to check what goes over the wire. A binary frame is recorded as
 * its header, with its attachments (Uint8Arrays) under a `$attachments` key.
 */
export function spyWebSocket(sent = []) {
  return class SpyWebSocket extends WebSocket {
    send(data, ...rest) {
      sent.push(typeof data === "string" ? JSON.parse(data) : parseBinaryFrame(data));
      return super.send(data, ...rest);
    }
  };
}

/**
 * Splits a binary frame (docs/protocol.md, "Binary payloads") into its header
 * (parsed) and attachments; throws if it does not follow the layout. Written
 * apart from ipc.js's decoder, to check it.
 */
export function parseBinaryFrame(data) {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const headerLength = (bytes[0] << 24 >>> 0) + (bytes[1] << 16) + (bytes[2] << 8) + bytes[3];
  const header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(4, 4 + headerLength)));
  let offset = 4 + headerLength;
  const $attachments = header.attachments.map((length) => bytes.subarray(offset, (offset += length)));
  if (offset !== bytes.length) throw new Error(`attachments end at ${offset}, the frame at ${bytes.length}`);
  return { ...header, $attachments };
}

/** A binary frame (as an ArrayBuffer) from a header object and attachments. */
export function binaryFrame(header, attachments = [], { headerLength } = {}) {
  const json = new TextEncoder().encode(JSON.stringify({ ...header, attachments: attachments.map((a) => a.length) }));
  const total = 4 + json.length + attachments.reduce((n, a) => n + a.length, 0);
  const frame = new Uint8Array(total);
  new DataView(frame.buffer).setUint32(0, headerLength ?? json.length);
  frame.set(json, 4);
  let offset = 4 + json.length;
  for (const a of attachments) {
    frame.set(a, offset);
    offset += a.length;
  }
  return frame.buffer;
}

/**
 * A WebSocket stand-in driven by the test, for what a real server would never
 * send: `FakeSocket.last` is the latest instance; `receive(data)` delivers a
 * frame to the client, `sent` holds what the client sent, `drop()` closes it.
 */
export class FakeSocket extends EventTarget {
  static last = null;
  sent = [];
  binaryType = "blob";

  constructor(url, protocols) {
    super();
    this.url = url;
    this.protocols = protocols;
    FakeSocket.last = this;
    setTimeout(() => this.dispatchEvent(new Event("open")), 0);
  }

  send(data) {
    this.sent.push(data);
  }

  receive(data) {
    this.dispatchEvent(Object.assign(new Event("message"), { data }));
  }

  /** A request the client sent, parsed; the latest one by default. */
  request(index = -1) {
    const data = this.sent.at(index);
    return typeof data === "string" ? JSON.parse(data) : parseBinaryFrame(data);
  }

  close(code = 1000) {
    this.drop(code);
  }

  drop(code = 1006) {
    queueMicrotask(() => this.dispatchEvent(Object.assign(new Event("close"), { code, reason: "" })));
  }
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
 * while clients keep the same URL. It can also refuse new connections for a
 * while (`refuse`, then `accept`: nothing listens on its port meanwhile, as
 * when a server is down), or take them and never answer (`hang = true`: an
 * attempt that never opens). `connections` counts the connections it took.
 */
export async function startProxy(upstreamUrl) {
  const sockets = new Set();
  let port = 0;
  const proxy = {
    upstream: new URL(upstreamUrl),
    url: null,
    hang: false,
    connections: 0,
    dropAll() {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    /** Stops listening (new connections are refused) and cuts every connection. */
    async refuse() {
      if (!server.listening) return;
      const closed = new Promise((resolve) => server.close(resolve));
      proxy.dropAll();
      await closed;
    },
    /** Listens again on the same port. */
    async accept() {
      if (server.listening) return;
      // The port was free a moment ago; another process may have taken it
      // since, as an ephemeral port: retry for a bounded while.
      const deadline = Date.now() + 5000;
      for (;;) {
        try {
          await new Promise((resolve, reject) => {
            server.once("error", reject);
            server.listen(port, "127.0.0.1", () => {
              server.removeListener("error", reject);
              resolve();
            });
          });
          return;
        } catch (err) {
          if (err.code !== "EADDRINUSE" || Date.now() > deadline) throw err;
          await sleep(50);
        }
      }
    },
    async close() {
      proxy.dropAll();
      if (server.listening) await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = createServer((client) => {
    proxy.connections++;
    sockets.add(client);
    client.on("error", () => {});
    client.on("close", () => sockets.delete(client));
    if (proxy.hang) return; // takes the connection, never answers
    const upstream = tcpConnect(Number(proxy.upstream.port), proxy.upstream.hostname);
    // Like a reverse proxy, it addresses the upstream by its own name: the
    // server answers only requests whose Host is one of its names.
    const ownHost = new RegExp(`^host: *${new URL(proxy.url).host.replace(/[.[\]]/g, "\\$&")}\r$`, "im");
    client.once("data", (first) => {
      upstream.write(first.toString("latin1").replace(ownHost, `Host: ${proxy.upstream.host}\r`), "latin1");
      client.pipe(upstream);
    });
    upstream.pipe(client);
    for (const [a, b] of [[client, upstream], [upstream, client]]) {
      sockets.add(a);
      a.on("error", () => b.destroy());
      a.on("close", () => {
        sockets.delete(a);
        b.destroy();
      });
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = server.address().port;
  const url = new URL(upstreamUrl);
  url.port = String(port);
  proxy.url = url.href;
  return proxy;
}
