// ipc.js: the frontend client of the IPC runtime (JSON-RPC 2.0 over WebSocket,
// see docs/protocol.md). A single dependency-free ES module: the Rust server
// serves it at `/ipc.js`, and it also runs in Node 20 (with
// `--experimental-websocket`, or given `{ WebSocket }` from the `ws` package).
//
//   import { connect, invoke, listen } from "/ipc.js";
//   await connect();                         // ws(s)://<this host>/ipc
//   const sum = await invoke("add", { a: 1, b: 2 });
//   const unlisten = await listen("todos:changed", (e) => console.log(e.payload));
//
// Connection state: `client.state` is "connecting" | "open" | "reconnecting" |
// "closed"; set `client.onstatechange = (state, previous) => ...` (one callback,
// or pass `onstatechange` to connect()) to follow it. With `reconnect`, calls made
// while reconnecting wait for the new socket; calls in flight when a socket
// closes reject with DISCONNECTED; listeners are subscribed again.

/** JSON-RPC error codes used by the runtime (docs/protocol.md, "Errors"). */
export const ErrorCode = Object.freeze({
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  COMMAND_ERROR: -32000,
  FORBIDDEN: -32001,
  LIMIT_EXCEEDED: -32002,
  CANCELLED: -32003,
  /** Raised by this client when an invoke's timeout fires; never sent by the server. */
  TIMEOUT: -32004,
  /** Raised by this client for calls pending when the connection closed; never sent by the server. */
  DISCONNECTED: -32005,
});

/**
 * The error every failed call rejects with: the server's JSON-RPC error object
 * (`code`, `message`, `data`), or one raised by the client itself (TIMEOUT,
 * CANCELLED, DISCONNECTED).
 */
export class IpcError extends Error {
  /**
   * @param {number} code JSON-RPC error code (see {@link ErrorCode}).
   * @param {string} message
   * @param {unknown} [data] the error object's `data`, if any.
   */
  constructor(code, message, data) {
    super(message);
    this.name = "IpcError";
    /** @type {number} */
    this.code = code;
    /** @type {unknown} */
    this.data = data;
  }
}

const START = Symbol("start"); // keeps IpcClient's start private to this module
const DEFAULT_BACKOFF = { delayMs: 500, maxDelayMs: 10_000 };

/** Reports an error nobody awaits (e.g. thrown by a user callback) without breaking the client. */
function report(err) {
  if (typeof globalThis.reportError === "function") globalThis.reportError(err);
  else console.error(err);
}

function safely(fn, ...args) {
  try {
    fn(...args);
  } catch (err) {
    report(err);
  }
}

/** The page's own `ws(s)://host/ipc`, forwarding its `?token=` parameter. */
function defaultUrl() {
  const loc = globalThis.location;
  if (!loc || !loc.host) {
    throw new TypeError("ipc: connect() needs a URL (e.g. ws://127.0.0.1:PORT/ipc) outside a browser page");
  }
  const token = new URLSearchParams(loc.search).get("token");
  const scheme = loc.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${loc.host}/ipc` + (token === null ? "" : `?token=${encodeURIComponent(token)}`);
}

/**
 * A connection to the backend. Create one with {@link connect}.
 *
 * `state` is "connecting" | "open" | "reconnecting" | "closed". Assign
 * `onstatechange = (state, previous) => ...` (or pass `onstatechange` to
 * `connect`) to be told when it changes.
 */
export class IpcClient {
  #url;
  #WebSocket;
  #protocols;
  #timeout;
  #backoff; // null when reconnect is off
  #delay = 0;
  #socket = null;
  #state = "connecting";
  #nextId = 1;
  #pending = new Map(); // request id -> { method, resolve, reject, sent, cleanup }
  #outbox = []; // [id, text] of requests made while not open, sent on (re)open
  #callbacks = new Map(); // event name -> Set of { cb, once }
  #subs = new Map(); // event name -> Promise of this connection's `ipc.listen`
  #unsubs = new Map(); // event name -> Promise of an `ipc.unlisten` in flight
  #retryTimer = null;
  #openWaiter = null; // { resolve, reject } of the first open

  /** Called with `(state, previous)` whenever `state` changes. */
  onstatechange = null;

  /** @internal Use {@link connect}. */
  constructor(url, options = {}) {
    const WS = options.WebSocket ?? globalThis.WebSocket;
    if (typeof WS !== "function") {
      throw new TypeError(
        "ipc: no WebSocket implementation found. In Node 20 run with `node --experimental-websocket`, " +
          "or pass one: connect(url, { WebSocket }) with `import { WebSocket } from \"ws\"`",
      );
    }
    this.#url = String(url);
    this.#WebSocket = WS;
    this.#protocols = options.protocols;
    this.#timeout = options.timeout ?? 0;
    const r = options.reconnect;
    this.#backoff = r ? { ...DEFAULT_BACKOFF, ...(typeof r === "object" ? r : {}) } : null;
    this.onstatechange = options.onstatechange ?? null;
  }

  /** The WebSocket URL this client connects to. */
  get url() {
    return this.#url;
  }

  /** "connecting" | "open" | "reconnecting" | "closed". */
  get state() {
    return this.#state;
  }

  /** Opens the first socket; resolves once it is open. */
  [START]() {
    return new Promise((resolve, reject) => {
      this.#openWaiter = { resolve, reject };
      this.#openSocket();
    });
  }

  /**
   * Calls a command.
   * @param {string} cmd the command name.
   * @param {object | unknown[]} [args] arguments by name (object) or by position (array).
   * @param {{ timeout?: number, signal?: AbortSignal }} [options] `timeout` in ms
   *   (0 = none; default: the client's), `signal` to cancel the call.
   * @returns {Promise<any>} the command's result; rejects with an {@link IpcError}.
   */
  invoke(cmd, args = {}, options = {}) {
    if (args === null || typeof args !== "object") {
      return Promise.reject(new TypeError(`ipc: the args of \`${cmd}\` must be an object or an array`));
    }
    return this.#request(cmd, args, options);
  }

  /**
   * Subscribes to an event. Resolves once the server has confirmed the
   * subscription, so no event emitted afterwards is missed.
   * @param {string} event
   * @param {(event: { event: string, payload: any, source: number }) => void} cb
   * @returns {Promise<() => Promise<void>>} `unlisten`, idempotent.
   */
  listen(event, cb) {
    return this.#addListener(event, cb, false);
  }

  /** Like {@link IpcClient#listen}, but the callback runs at most once. */
  once(event, cb) {
    return this.#addListener(event, cb, true);
  }

  /**
   * Emits an event through the backend.
   * @param {string} event
   * @param {unknown} [payload]
   * @param {{ target?: "all" | "backend" | { client: number } }} [options] default "all".
   * @returns {Promise<void>} resolves once the server has dispatched it.
   */
  async emit(event, payload, { target } = {}) {
    await this.#request("ipc.emit", { event, payload, target }, {}); // undefined keys are not sent
  }

  /** Closes the connection for good; pending calls reject with DISCONNECTED. */
  close() {
    if (this.#state === "closed") return;
    clearTimeout(this.#retryTimer);
    const socket = this.#socket;
    this.#socket = null;
    this.#setState("closed");
    this.#failPending(() => true, "the client was closed");
    this.#openWaiter?.reject(new IpcError(ErrorCode.DISCONNECTED, "ipc: the client was closed while connecting"));
    this.#openWaiter = null;
    try {
      socket?.close(1000);
    } catch {
      // already closing
    }
  }

  // ---- requests ----

  #request(method, params, { timeout = this.#timeout, signal } = {}) {
    return new Promise((resolve, reject) => {
      if (this.#state === "closed") {
        throw new IpcError(ErrorCode.DISCONNECTED, `ipc: cannot call \`${method}\`: the client is closed`);
      }
      if (signal?.aborted) throw new IpcError(ErrorCode.CANCELLED, `ipc: \`${method}\` was cancelled`);
      const id = this.#nextId++;
      const text = JSON.stringify({ jsonrpc: "2.0", id, method, params });
      let timer;
      const onAbort = () => {
        if (entry.sent) this.#notify("ipc.cancel", { id });
        this.#settle(id)?.reject(new IpcError(ErrorCode.CANCELLED, `ipc: \`${method}\` was cancelled`));
      };
      const entry = {
        method,
        resolve,
        reject,
        sent: false,
        cleanup() {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        },
      };
      this.#pending.set(id, entry);
      if (timeout > 0 && Number.isFinite(timeout)) {
        timer = setTimeout(() => {
          this.#settle(id)?.reject(
            new IpcError(ErrorCode.TIMEOUT, `ipc: \`${method}\` timed out after ${timeout} ms`),
          );
        }, timeout);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      if (this.#state === "open") this.#send(id, text);
      else this.#outbox.push([id, text]);
    });
  }

  #send(id, text) {
    const entry = this.#pending.get(id);
    if (!entry) return; // timed out or cancelled while waiting for the socket
    entry.sent = true;
    try {
      this.#socket.send(text);
    } catch (err) {
      this.#settle(id)?.reject(new IpcError(ErrorCode.DISCONNECTED, `ipc: could not send \`${entry.method}\`: ${err.message}`));
    }
  }

  #notify(method, params) {
    if (this.#state !== "open") return;
    try {
      this.#socket.send(JSON.stringify({ jsonrpc: "2.0", method, params }));
    } catch {
      // the connection is going away; nothing to tell
    }
  }

  /** Removes a pending request and returns it, or undefined if already settled. */
  #settle(id) {
    const entry = this.#pending.get(id);
    if (!entry) return undefined;
    this.#pending.delete(id);
    entry.cleanup();
    return entry;
  }

  #failPending(which, why) {
    for (const [id, entry] of [...this.#pending]) {
      if (!which(entry)) continue;
      this.#settle(id);
      entry.reject(new IpcError(ErrorCode.DISCONNECTED, `ipc: \`${entry.method}\` failed: ${why}`));
    }
    if (this.#state === "closed") this.#outbox = [];
  }

  // ---- events ----

  async #addListener(event, cb, once) {
    if (typeof cb !== "function") throw new TypeError("ipc: the listener must be a function");
    let set = this.#callbacks.get(event);
    if (!set) this.#callbacks.set(event, (set = new Set()));
    const entry = { cb, once };
    set.add(entry); // before subscribing, so a concurrent unlisten keeps the subscription
    try {
      await this.#subscribe(event);
    } catch (err) {
      this.#removeListener(event, entry);
      throw err;
    }
    return () => this.#removeListener(event, entry);
  }

  #subscribe(event) {
    let sub = this.#subs.get(event);
    if (!sub) {
      // Wait for an `ipc.unlisten` of the same name in flight: requests run concurrently.
      const prior = this.#unsubs.get(event) ?? Promise.resolve();
      sub = prior.then(() => this.#request("ipc.listen", { event }));
      this.#subs.set(event, sub);
      sub.catch(() => {
        if (this.#subs.get(event) === sub) this.#subs.delete(event);
      });
    }
    return sub;
  }

  async #removeListener(event, entry) {
    const set = this.#callbacks.get(event);
    if (!set || !set.delete(entry) || set.size > 0) return;
    this.#callbacks.delete(event);
    const sub = this.#subs.get(event);
    this.#subs.delete(event);
    // #subs only holds subscriptions of the current (or next) connection.
    if (!sub || this.#state === "closed") return;
    const unsub = sub.then(
      () => this.#request("ipc.unlisten", { event }),
      () => undefined,
    ).then(() => undefined, () => undefined);
    this.#unsubs.set(event, unsub);
    await unsub;
    if (this.#unsubs.get(event) === unsub) this.#unsubs.delete(event);
  }

  #dispatch(params) {
    if (!params || typeof params !== "object") return;
    const set = this.#callbacks.get(params.event);
    if (!set) return;
    const event = { event: params.event, payload: params.payload, source: params.source };
    for (const entry of [...set]) {
      if (!set.has(entry)) continue; // removed by an earlier callback
      if (entry.once) this.#removeListener(params.event, entry);
      safely(entry.cb, event);
    }
  }

  // ---- the socket ----

  #setState(state) {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    if (typeof this.onstatechange === "function") safely(this.onstatechange, state, previous);
  }

  #openSocket() {
    let socket;
    try {
      socket = this.#protocols === undefined
        ? new this.#WebSocket(this.#url)
        : new this.#WebSocket(this.#url, this.#protocols);
    } catch (err) {
      this.#onClose(null, { code: 0, reason: err.message });
      return;
    }
    this.#socket = socket;
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
      if (socket === this.#socket) this.#onOpen();
    });
    socket.addEventListener("message", (ev) => {
      if (socket === this.#socket) this.#onMessage(ev.data);
    });
    socket.addEventListener("close", (ev) => {
      if (socket === this.#socket) this.#onClose(opened ? socket : null, ev);
    });
    socket.addEventListener("error", () => {}); // always followed by "close"
  }

  #onOpen() {
    this.#delay = 0;
    this.#setState("open");
    this.#openWaiter?.resolve();
    this.#openWaiter = null;
    // Events still listened to locally were subscribed on a previous connection.
    for (const event of this.#callbacks.keys()) {
      if (this.#subs.has(event)) continue; // listened to while reconnecting: already queued
      this.#subscribe(event).catch((err) => err.code === ErrorCode.DISCONNECTED || report(err));
    }
    const outbox = this.#outbox;
    this.#outbox = [];
    for (const [id, text] of outbox) this.#send(id, text);
  }

  #onMessage(data) {
    if (typeof data !== "string") return; // the protocol speaks text frames only
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    for (const m of Array.isArray(msg) ? msg : [msg]) {
      if (!m || typeof m !== "object") continue;
      if (typeof m.method === "string") {
        if (m.method === "ipc.event") this.#dispatch(m.params);
        continue; // other notifications (e.g. ipc.channel) are not handled here
      }
      const entry = this.#settle(m.id);
      if (!entry) continue; // unknown, timed out or cancelled
      if (m.error) entry.reject(new IpcError(m.error.code, m.error.message, m.error.data));
      else entry.resolve(m.result);
    }
  }

  /** `socket` is the socket that was open, or null if it never opened. */
  #onClose(socket, ev) {
    this.#socket = null;
    if (this.#state === "closed") return;
    const detail = `code ${ev.code}${ev.reason ? `, ${ev.reason}` : ""}`;
    if (this.#openWaiter) {
      this.#setState("closed");
      this.#openWaiter.reject(new IpcError(ErrorCode.DISCONNECTED, `ipc: could not connect to ${this.#url} (${detail})`));
      this.#openWaiter = null;
      return;
    }
    if (socket) {
      this.#subs.clear(); // the server dropped this connection's subscriptions
      this.#unsubs.clear();
    }
    if (!this.#backoff) {
      this.#setState("closed");
      this.#failPending(() => true, `the connection to ${this.#url} closed (${detail}) before the response arrived`);
      return;
    }
    this.#failPending((e) => e.sent, `the connection to ${this.#url} closed (${detail}) before the response arrived`);
    this.#setState("reconnecting");
    const { delayMs, maxDelayMs } = this.#backoff;
    this.#delay = this.#delay === 0 ? delayMs : Math.min(this.#delay * 2, maxDelayMs);
    this.#retryTimer = setTimeout(() => this.#openSocket(), this.#delay);
  }
}

let defaultClient = null;

/**
 * Opens a connection and resolves to its {@link IpcClient} once the socket is
 * open (rejects with an {@link IpcError} DISCONNECTED if it cannot open, even
 * with `reconnect`, which only applies once connected). The new client becomes
 * the default one used by the module-level `invoke`, `listen`, `once`, `emit`.
 *
 * @param {string | URL} [url] default, in a browser: `ws(s)://<page host>/ipc`,
 *   with the page's `?token=` query parameter forwarded.
 * @param {object} [options] `WebSocket` constructor (default globalThis.WebSocket),
 *   `timeout` (default invoke timeout in ms, default none), `reconnect`
 *   (boolean or `{ delayMs, maxDelayMs }`, default false), `protocols`,
 *   `onstatechange`.
 * @returns {Promise<IpcClient>}
 */
export async function connect(url, options = {}) {
  const client = new IpcClient(url ?? defaultUrl(), options);
  await client[START]();
  defaultClient = client;
  return client;
}

function current() {
  if (!defaultClient) throw new Error("ipc: not connected; call `await connect()` first");
  return defaultClient;
}

/** {@link IpcClient#invoke} on the default client (the latest `connect()`). */
export async function invoke(cmd, args, options) {
  return current().invoke(cmd, args, options);
}

/** {@link IpcClient#listen} on the default client (the latest `connect()`). */
export async function listen(event, cb) {
  return current().listen(event, cb);
}

/** {@link IpcClient#once} on the default client (the latest `connect()`). */
export async function once(event, cb) {
  return current().once(event, cb);
}

/** {@link IpcClient#emit} on the default client (the latest `connect()`). */
export async function emit(event, payload, options) {
  return current().emit(event, payload, options);
}
