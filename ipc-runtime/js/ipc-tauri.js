// ipc-tauri.js: runs a frontend written for Tauri v2 (`@tauri-apps/api`), unmodified,
// in a plain browser against this runtime's backend. The server serves it at
// `/ipc-tauri.js`, next to the `/ipc.js` it builds on; docs/protocol.md, "Tauri
// compatibility", is the server's side.
//
//   <script type="module">
//     const { installTauriInternals } = await import("/ipc-tauri.js");
//     await installTauriInternals();        // ws(s)://<this host>/ipc
//     await import("/app.js");              // imports "@tauri-apps/api/core", ".../event"
//   </script>
//
// It installs what `@tauri-apps/api` reaches for: `window.__TAURI_INTERNALS__`
// (`invoke`, `transformCallback`, `unregisterCallback`, `runCallback`,
// `callbacks`, `convertFileSrc`, `metadata`) and
// `window.__TAURI_EVENT_PLUGIN_INTERNALS__.unregisterListener`, and sets
// `window.isTauri = true` so `isTauri()` guards let the app's calls through.
// Commands, `Channel`s and the event functions (`listen`, `once`, `emit`,
// `emitTo`, unlisten) work as in Tauri: `plugin:event|…` calls are ordinary
// requests the server answers, and its pushes run the callbacks they name.
//
// Deliberate differences from Tauri:
// - Array args are positional arguments here; Tauri sends an array (like a
//   typed array or ArrayBuffer) as the raw request body. Binary args (a typed
//   array, DataView or ArrayBuffer) are the command's first positional argument
//   (a `Vec<u8>`/`Bytes`, not Tauri's `tauri::ipc::Request`). Binary values at
//   the top level of args travel raw in a binary frame; deeper ones as arrays
//   of bytes. Every typed array stands for its bytes (Tauri only converts
//   Uint8Array and ArrayBuffer).
// - A Blob (a File) or a ReadableStream of bytes at the top level of args is
//   streamed to the command's `Upload` argument, with flow control, as
//   ipc.js does (docs/protocol.md, "Uploads"). Tauri itself cannot do this:
//   its args are serialized whole into one request.
// - `invoke`'s `options.headers` are ignored (there is no HTTP request per call).
// - A failed call rejects with the error's `data` when the command returned an
//   error value (code -32000 with `data`), otherwise with the error message
//   string: protocol errors (unknown command, bad arguments), timeouts and a
//   lost connection are strings, as Tauri's own are.
// - Bytes a command returns, and bytes a channel sends, arrive as ArrayBuffers
//   (as a Tauri raw `Response` does): a copy of the received bytes.
// - Callback ids and event ids are small increasing integers, not random ones.
// - `convertFileSrc` gives Tauri's `asset://localhost/<path>` form, which a
//   plain browser cannot load; pass `options.convertFileSrc` to map paths to
//   URLs your server serves.
// - Event listeners survive a reconnect (pass `options.reconnect`; ipc.js's
//   default is not to reconnect): the shim listens again on the new
//   connection with the same handler, resuming after the last event each
//   listener saw, so the events it missed that the backend kept (names with
//   `#[event(.., replay = N)]`) arrive first, in order, once. The event ids
//   `listen` resolved to (and a callback's `event.id`) stay the same: the
//   shim hands out its own and maps them to the server's, which change with
//   the connection. Events the backend did not keep are lost; Tauri's API has
//   no way to say so, but the connection's `ongap` (an option) and
//   `onnotification` see each `ipc.gap`. For this, the shim sets the client's
//   `onstatechange` and `onnotification`: pass yours as options rather than
//   assigning them on the client it returns.
// - Only the core and event modules are covered: window, webview, menu, path
//   and plugin commands are sent to the server like any other command.
// - The connection becomes ipc.js's default client (its module-level `invoke`,
//   `listen`, ... use it).

import { connect, defaultUrl, ErrorCode } from "./ipc.js";

// Types: this file's API is declared in ipc-tauri.d.ts, ipc.js's in ipc.d.ts;
// `npm run check:types` checks this file against them
// (tests/js/tsconfig.impl.json). What Tauri's own side looks like (the
// internals, the pushes) is described here, as `@tauri-apps/api` expects it.

/**
 * @import { InvokeArgs, IpcClient, StateChangeHandler } from "./ipc.d.ts"
 * @import { TauriInternalsOptions } from "./ipc-tauri.d.ts"
 */

/**
 * A callback registered with `transformCallback`, run by a push.
 * @typedef {(data: unknown) => unknown} TauriCallback
 */

/**
 * `window.__TAURI_INTERNALS__` as this file installs it: what `@tauri-apps/api` calls.
 * @typedef {object} TauriInternals
 * @property {(cmd: string, args?: unknown, options?: unknown) => Promise<unknown>} invoke
 * @property {(callback?: TauriCallback, once?: boolean) => number} transformCallback
 * @property {(id: number) => void} unregisterCallback
 * @property {(id: number, data: unknown) => void} runCallback
 * @property {Map<number, TauriCallback>} callbacks
 * @property {(filePath: string, protocol?: string) => string} convertFileSrc
 * @property {{ currentWindow: { label: string }, currentWebview: { windowLabel: string, label: string } }} metadata
 */

/**
 * The globals this file sets (a page may have set the internals' objects before).
 * @typedef {object} TauriGlobals
 * @property {Partial<TauriInternals>} [__TAURI_INTERNALS__]
 * @property {{ unregisterListener?: (event: string, eventId: number) => void }} [__TAURI_EVENT_PLUGIN_INTERNALS__]
 * @property {boolean} [isTauri]
 */

/**
 * The params of an `ipc.event` push for a `plugin:event|listen` subscription
 * (docs/protocol.md, "Tauri compatibility").
 * @typedef {object} HandlerEventPush
 * @property {number} handler the callback to run
 * @property {string} event
 * @property {unknown} payload
 * @property {number} id the event id the subscription's listen returned
 * @property {number} [seq] the event's sequence number
 * @property {boolean} [last] whether it is the newest event from before the subscription
 */

/**
 * A listener `@tauri-apps/api`'s `listen` made, as the shim keeps it across
 * connections.
 * @typedef {object} TauriListener
 * @property {string} event
 * @property {unknown} target as `listen` sent it
 * @property {number} handler its callback id
 * @property {number | null} serverId its event id on the current connection (null until answered)
 * @property {number | null} seq the number of the last event it saw: resumed from
 * @property {string | null} epoch the backend's run `seq` belongs to
 * @property {boolean} resuming whether its `plugin:event|listen` is in flight
 */

/**
 * The params of an `ipc.channel` push: message `index` of channel `channel`
 * (a callback id here), or (`end`) the index its end comes after.
 * @typedef {object} ChannelPush
 * @property {number} channel
 * @property {number} index
 * @property {unknown} [message]
 * @property {boolean} [end]
 */

/** The key of Tauri's custom IPC serialization (`SERIALIZE_TO_IPC_FN`). */
const TO_IPC = "__TAURI_TO_IPC_KEY__";

/** The global object, with the globals this file sets. */
const tauriGlobals = /** @type {typeof globalThis & TauriGlobals} */ (globalThis);

/** @type {{ client: IpcClient | null } | null} */
let installed = null; // { client } of the latest install (client null while connecting)

/**
 * Connects to the backend and installs `window.__TAURI_INTERNALS__` and
 * `window.__TAURI_EVENT_PLUGIN_INTERNALS__`. The internals are in place at
 * once (calls made before the connection opens wait for it); the promise
 * resolves with the {@link IpcClient} once connected, and rejects (as do the
 * calls) if the connection cannot open. Installing again closes the previous
 * connection.
 *
 * @param {string | URL} [url] default: the page's `ws(s)://<host>/ipc` (as `connect`).
 * @param {TauriInternalsOptions} [options] `label`: this window's label, sent as
 *   the `label` query parameter (default the URL's own: a window's page,
 *   opened with the address `ServerHandle::window_url` gives, carries it; the
 *   server binds it and refuses a label the browser was not given). Without
 *   one, the connection has no label and `getCurrentWindow().label` reads
 *   "main". Also `convertFileSrc(path, protocol)`; and any option of ipc.js's
 *   `connect` (`timeout`, `reconnect`, `WebSocket`, `protocols`,
 *   `onstatechange`, `onnotification`).
 * @returns {Promise<IpcClient>}
 */
export async function installTauriInternals(url, options = {}) {
  const { label, convertFileSrc, onnotification, onstatechange, ...connectOptions } = options;
  const target = new URL(String(url ?? defaultUrl()));
  if (label !== undefined) target.searchParams.set("label", String(label));
  const windowLabel = target.searchParams.get("label") ?? "main";

  installed?.client?.close();
  /** @type {{ client: IpcClient | null }} */
  const state = { client: null };
  installed = state;
  // Complete once the Object.assign below has run, before any push can use it.
  const internals = /** @type {TauriInternals} */ (tauriGlobals.__TAURI_INTERNALS__ ??= {});
  const eventInternals = (tauriGlobals.__TAURI_EVENT_PLUGIN_INTERNALS__ ??= {});

  // ---- callbacks ----
  /** @type {Map<number, TauriCallback>} */
  const callbacks = new Map(); // id -> function
  let nextCallbackId = 1;
  /** @type {TauriInternals["transformCallback"]} */
  const transformCallback = (callback, once = false) => {
    const id = nextCallbackId++;
    callbacks.set(id, (data) => {
      if (once) callbacks.delete(id);
      return callback && callback(data);
    });
    return id;
  };
  /** @type {TauriInternals["unregisterCallback"]} */
  const unregisterCallback = (id) => {
    callbacks.delete(id);
  };
  /** @type {TauriInternals["runCallback"]} */
  const runCallback = (id, data) => {
    const callback = callbacks.get(id);
    if (callback) callback(data);
    else console.warn(`[TAURI] Couldn't find callback id ${id}.`);
  };
  /**
   * Runs the callback a push names, through `runCallback` as Tauri's backend
   * does (so a wrapped `runCallback` sees it); a push for a callback already
   * removed (an event in flight while unlistening) is dropped silently.
   * @param {number} id
   * @param {unknown} data
   */
  const push = (id, data) => {
    if (!callbacks.has(id)) return;
    try {
      internals.runCallback(id, data);
    } catch (err) {
      queueMicrotask(() => {
        throw err; // reported as uncaught, without stopping the other pushes
      });
    }
  };

  // ---- the event plugin's listeners ----
  // `@tauri-apps/api` holds the event id `listen` resolved to, for unlisten;
  // the server's id of a listener changes with each connection, so the shim
  // hands out ids of its own and maps them.
  /** @type {Map<number, TauriListener>} */
  const listeners = new Map(); // the shim's event id -> listener
  /** @type {Map<number, number>} */
  const byHandler = new Map(); // callback id -> the shim's event id
  /** @type {Map<number, TauriListener>} */
  const unregistered = new Map(); // the shim's event id -> listener whose unlisten is still to come
  let nextEventId = 1;
  /** @type {(event: string, eventId: number) => void} */
  const unregisterListener = (_event, eventId) => {
    const listener = listeners.get(eventId);
    if (!listener) return;
    // Not listened to again after a reconnect; `plugin:event|unlisten` follows.
    listeners.delete(eventId);
    unregistered.set(eventId, listener);
    byHandler.delete(listener.handler);
    unregisterCallback(listener.handler);
  };

  // ---- pushes (their params as docs/protocol.md has them: not validated) ----
  /**
   * @param {string} method
   * @param {unknown} params
   */
  const onPush = (method, params) => {
    if (!params || typeof params !== "object") return;
    if (method === "ipc.event" && "handler" in params) {
      const { handler, event, payload, id, seq, last } = /** @type {HandlerEventPush} */ (params);
      const eventId = byHandler.get(handler);
      const listener = eventId === undefined ? undefined : listeners.get(eventId);
      if (!listener) {
        push(handler, { event, payload, id }); // not the shim's (or gone: dropped by push)
        return;
      }
      if (typeof seq === "number") {
        if (listener.seq !== null && seq <= listener.seq) return; // seen already
        listener.seq = seq;
      }
      // The newest event from before listening: Tauri's listen has none.
      if (last === true) return;
      push(handler, { event, payload, id: eventId });
    } else if (method === "ipc.gap") {
      const { event, lost } = /** @type {{ event: unknown, lost: unknown }} */ (params);
      // A position from another run (the backend restarted): its numbers
      // start again, and what it sends next is new.
      if (lost !== null) return;
      for (const listener of listeners.values()) {
        if (listener.resuming && listener.event === event) listener.seq = null;
      }
    } else if (method === "ipc.channel") {
      const { channel, index, end, message } = /** @type {ChannelPush} */ (params);
      if (end === true) push(channel, { index, end: true });
      else push(channel, { index, message: toArrayBuffer(message) });
    }
  };

  // ---- listening on a connection, and again on the next ----
  /**
   * Sends `plugin:event|listen` for a listener: the first time with `last`
   * (whose push it drops) for the position the answer gives, then since the
   * last event it saw. Resolves once the server has answered.
   * @param {IpcClient} client
   * @param {number} eventId the shim's
   * @param {TauriListener} listener
   * @returns {Promise<void>}
   */
  const subscribe = async (client, eventId, listener) => {
    const { event, target, handler } = listener;
    /** @type {Record<string, unknown>} */
    const params = { event, target, handler };
    if (listener.seq === null) params.last = true;
    else {
      params.since = listener.seq;
      if (listener.epoch !== null) params.epoch = listener.epoch;
    }
    listener.resuming = true;
    /** @type {unknown} */
    let answer;
    try {
      answer = await client.invoke("plugin:event|listen", params);
    } finally {
      listener.resuming = false;
    }
    // `{ id, epoch, seq }`; a bare id from a server that keeps no positions.
    const { id, epoch, seq } = /** @type {{ id?: unknown, epoch?: unknown, seq?: unknown }} */ (
      answer !== null && typeof answer === "object" ? answer : { id: answer }
    );
    if (typeof id !== "number") return;
    if (listeners.get(eventId) !== listener || client !== live) {
      // Unlistened meanwhile (or this connection is gone): undo it.
      if (client === live) client.invoke("plugin:event|unlisten", { event, eventId: id }).catch(() => {});
      return;
    }
    listener.serverId = id;
    if (typeof epoch === "string") listener.epoch = epoch;
    if (typeof seq === "number" && (listener.seq === null || seq > listener.seq)) listener.seq = seq;
  };

  /** @type {IpcClient | null} */
  let live = null; // the client, once connected
  /** @type {StateChangeHandler} */
  const onStateChange = (state, previous) => {
    if (state !== "open") {
      // The server dropped the connection's subscriptions.
      for (const listener of listeners.values()) listener.serverId = null;
    } else if (previous === "reconnecting" && live) {
      const client = live;
      for (const [eventId, listener] of listeners) {
        subscribe(client, eventId, listener).catch((err) => {
          if (err && err.code !== ErrorCode.DISCONNECTED) console.error("ipc-tauri: could not listen again to", listener.event, err);
        });
      }
    }
  };

  // ---- invoke ----
  const connecting = connect(target, {
    ...connectOptions,
    onstatechange(state, previous) {
      onStateChange(state, previous);
      if (typeof onstatechange === "function") onstatechange(state, previous);
    },
    onnotification(method, params) {
      onPush(method, params);
      if (typeof onnotification === "function") onnotification(method, params);
    },
  });
  connecting.then((client) => (live = client), () => {}); // failures: reported through the returned promise and the calls

  /**
   * Calls the server; rejects as Tauri does: with the command's error value,
   * or a message string.
   * @template T
   * @param {() => Promise<T>} call
   * @returns {Promise<T>}
   */
  const asTauri = async (call) => {
    try {
      return await call();
    } catch (thrown) {
      // ipc.js's IpcError, or its TypeError for args it refuses.
      const err = /** @type {{ code?: unknown, message?: unknown, data?: unknown } | null | undefined} */ (thrown);
      if (err && err.code === ErrorCode.COMMAND_ERROR && err.data !== undefined) throw err.data;
      throw err && typeof err.message === "string" ? err.message : String(err);
    }
  };

  /**
   * `plugin:event|listen`, as `@tauri-apps/api`'s `listen` sends it: resolves
   * to the shim's event id for the new listener.
   * @param {IpcClient} client
   * @param {{ event: string, target?: unknown, handler: number }} args
   * @returns {Promise<number>}
   */
  const listen = async (client, args) => {
    const eventId = nextEventId++;
    /** @type {TauriListener} */
    const listener = { event: args.event, target: args.target, handler: args.handler, serverId: null, seq: null, epoch: null, resuming: false };
    listeners.set(eventId, listener);
    byHandler.set(args.handler, eventId);
    try {
      await asTauri(() => subscribe(client, eventId, listener));
    } catch (err) {
      if (listeners.get(eventId) === listener) listeners.delete(eventId);
      if (byHandler.get(args.handler) === eventId) byHandler.delete(args.handler);
      throw err;
    }
    return eventId;
  };

  /**
   * `plugin:event|unlisten {event, eventId}` with the shim's event id: unlistens
   * the server's, if the listener is subscribed on this connection.
   * @param {IpcClient} client
   * @param {{ event: string, eventId: number }} args
   * @returns {Promise<null>}
   */
  const unlisten = async (client, args) => {
    const listener = listeners.get(args.eventId) ?? unregistered.get(args.eventId);
    unregistered.delete(args.eventId);
    if (!listener) return null; // unknown, or unlistened already: never an id of the server's
    if (listeners.get(args.eventId) === listener) {
      listeners.delete(args.eventId);
      byHandler.delete(listener.handler);
    }
    const serverId = listener.serverId;
    listener.serverId = null;
    // Not subscribed now: a (re)subscription in flight undoes itself.
    if (serverId === null) return null;
    await asTauri(() => client.invoke("plugin:event|unlisten", { event: listener.event, eventId: serverId }));
    return null;
  };

  /** @type {TauriInternals["invoke"]} */
  const invoke = async (cmd, args = {}, _options = undefined) => {
    const client = await connecting.catch((err) => Promise.reject(err.message));
    if (cmd === "plugin:event|listen" && isListen(args)) return listen(client, args);
    if (cmd === "plugin:event|unlisten" && isUnlisten(args)) return unlisten(client, args);
    const result = await asTauri(() => client.invoke(cmd, prepareArgs(args)));
    return toArrayBuffer(result);
  };

  Object.assign(internals, /** @satisfies {TauriInternals} */ ({
    invoke,
    transformCallback,
    unregisterCallback,
    runCallback,
    callbacks,
    convertFileSrc: convertFileSrc ?? ((filePath, protocol = "asset") => `${protocol}://localhost/${encodeURIComponent(filePath)}`),
    metadata: {
      currentWindow: { label: windowLabel },
      currentWebview: { windowLabel, label: windowLabel },
    },
  }));
  eventInternals.unregisterListener = unregisterListener;
  tauriGlobals.isTauri = true;

  const client = await connecting;
  if (installed === state) state.client = client;
  else client.close(); // installed again meanwhile
  return client;
}

/**
 * `plugin:event|listen`'s args as `@tauri-apps/api` sends them.
 * @param {unknown} args
 * @returns {args is { event: string, target?: unknown, handler: number }}
 */
function isListen(args) {
  if (args === null || typeof args !== "object") return false;
  const { event, handler } = /** @type {{ event?: unknown, handler?: unknown }} */ (args);
  return typeof event === "string" && typeof handler === "number";
}

/**
 * `plugin:event|unlisten`'s args as `@tauri-apps/api` sends them.
 * @param {unknown} args
 * @returns {args is { event: string, eventId: number }}
 */
function isUnlisten(args) {
  if (args === null || typeof args !== "object") return false;
  const { event, eventId } = /** @type {{ event?: unknown, eventId?: unknown }} */ (args);
  return typeof event === "string" && typeof eventId === "number";
}

/**
 * A typed array, DataView or ArrayBuffer (also one from another realm).
 * @param {unknown} value
 * @returns {value is ArrayBuffer | ArrayBufferView}
 */
function isBinary(value) {
  return value !== null && typeof value === "object" &&
    (ArrayBuffer.isView(value) || Object.prototype.toString.call(value) === "[object ArrayBuffer]");
}

/**
 * Bytes from the server (a Uint8Array view into the frame) as an ArrayBuffer of their own.
 * @param {unknown} value
 * @returns {unknown}
 */
function toArrayBuffer(value) {
  if (!(value instanceof Uint8Array)) return value;
  return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength);
}

/**
 * Args as Tauri serializes them: `toJSON` first, then a Map becomes an object
 * and an object with `__TAURI_TO_IPC_KEY__` is replaced by its result (a
 * Tauri `Channel` becomes `"__CHANNEL__:<id>"` this way). Binary values are
 * left for ipc.js, which sends them as bytes.
 * @param {unknown} args
 * @returns {InvokeArgs} as far as types go: ipc.js refuses, at run time, what is not
 */
function prepareArgs(args) {
  if (args === null || args === undefined) return {};
  return /** @type {InvokeArgs} */ (prepare(args, "")); // anything but an object, array or bytes is refused by ipc.js
}

/** @typedef {{ toJSON(key: string): unknown }} WithToJSON JSON's own serialization */
/** @typedef {{ [TO_IPC](): unknown }} WithToIpc Tauri's (its `Channel` has it) */

/**
 * @param {unknown} value
 * @param {string} key its key in the object holding it, as `toJSON` takes it
 * @returns {unknown}
 */
function prepare(value, key) {
  if (isBinary(value)) return value; // before toJSON: a Node Buffer has one
  // Uploads: ipc.js streams these when they are top-level args.
  if (typeof Blob !== "undefined" && value instanceof Blob) return value;
  if (typeof ReadableStream !== "undefined" && value instanceof ReadableStream) return value;
  if (value !== null && (typeof value === "object" || typeof value === "bigint") && typeof (/** @type {Partial<WithToJSON>} */ (value)).toJSON === "function") {
    value = /** @type {WithToJSON} */ (value).toJSON(key);
  }
  if (value instanceof Map) value = Object.fromEntries(value);
  // Not a function under that key: the call throws, and the invoke fails.
  else if (value !== null && typeof value === "object" && TO_IPC in value && !isBinary(value)) value = /** @type {WithToIpc} */ (value)[TO_IPC]();
  if (value === null || typeof value !== "object" || isBinary(value)) return value;
  if (Array.isArray(value)) return value.map((item, i) => prepare(item, String(i)));
  /** @type {Record<string, unknown>} */
  const out = {};
  const members = /** @type {Record<string, unknown>} */ (value);
  for (const name of Object.keys(value)) {
    // defineProperty, not assignment: a member named "__proto__" must stay a member.
    Object.defineProperty(out, name, { value: prepare(members[name], name), writable: true, enumerable: true, configurable: true });
  }
  return out;
}
