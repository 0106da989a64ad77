// ipc.js: the frontend client of the IPC runtime (JSON-RPC 2.0 over WebSocket,
// see docs/protocol.md). A single dependency-free ES module: the Rust server
// serves it at `/ipc.js`, and it also runs in Node 20 (with
// `--experimental-websocket`, or given `{ WebSocket }` from the `ws` package).
//
//   import { connect, invoke, listen, Channel } from "/ipc.js";
//   await connect();                         // ws(s)://<this host>/ipc
//   const sum = await invoke("add", { a: 1, b: 2 });
//   const unlisten = await listen("todos:changed", (e) => console.log(e.payload));
//   const progress = new Channel((m) => console.log(m));   // streams from a command
//   await invoke("download", { url, onProgress: progress });
//   await progress.ended;                    // every message delivered
//
// Connection state: `client.state` is "connecting" | "open" | "reconnecting" |
// "closed"; set `client.onstatechange = (state, previous) => ...` (one callback,
// or pass `onstatechange` to connect()) to follow it. With `reconnect`, a client
// whose connection drops keeps trying until a socket opens or it is closed:
// `delayMs` apart, doubled after each failed attempt up to `maxDelayMs`, each
// delay shortened by a random part (`jitter`); an attempt that has not opened
// within `openTimeout` counts as failed. Calls made while reconnecting wait for
// the new socket (or their timeout); calls in flight when a socket closes
// reject with DISCONNECTED; listeners are subscribed again.
//
// Events across reconnects (docs/protocol.md, "Resuming after a reconnect"):
// for each event name it listens to, the client keeps the number (`seq`) of
// the last event it saw and the run of the backend it came from (`epoch`).
// After a reconnect it subscribes again from there, and the events it missed
// that the backend kept (names configured with `replay = N` or `last`) arrive
// first, in order, each once (a push at or below the last number seen is
// dropped). When some are lost (past the backend's buffer, or a backend that
// restarted, whose numbers start again), each listener's `onGap(lost)` and the
// client's `ongap(event, lost)` are told, `lost` null when unknown. Names the
// backend keeps nothing of lose the events of the time disconnected.
//
//   await listen("todos:changed", (e) => render(e.payload), {
//     last: true,                                 // start with the newest one, if any
//     onGap: (lost) => console.warn(`${lost ?? "some"} changes missed`),
//   });
//
// `last: true` starts the listener with the newest event of the name from
// before it listened (the backend's newest kept one, or the newest this client
// received for another listener), then the live ones, with no gap and no
// duplicate in between: the cure for "emitted before the page listened".
//
// Binary data: the client offers the subprotocol `ipc.v1`, so commands returning
// bytes (and channels' `send_bytes`) arrive as `Uint8Array`s, views into the
// received frame (their `.buffer` is the whole frame: use `slice()` for an
// ArrayBuffer of their own). Byte arguments (`Uint8Array`, any typed array,
// `DataView`, `ArrayBuffer`) given at the top level of `invoke`'s args travel
// raw in one binary frame; deeper ones, and event payloads, as JSON arrays of
// bytes. Typed arrays always stand for their bytes (a Float32Array of n values
// is 4n bytes).
//
// Uploads: a Blob (a File), a ReadableStream of Uint8Array, or (in Node) any
// async iterable of Uint8Array given at the top level of `invoke`'s args is
// streamed to the command's `Upload` argument, as the server's credit allows
// (docs/protocol.md, "Uploads"): raw in binary frames on an `ipc.v1`
// connection, base64 in text elsewhere (stdio). The call resolves with the
// command's result; aborting it aborts the upload (the command sees an error).
//
// Large integers: JSON numbers are IEEE doubles in JavaScript, exact only up to
// Number.MAX_SAFE_INTEGER (2^53 - 1), while Rust's i64/u64 (and i128/u128) go
// further. So integers in received messages whose magnitude exceeds it arrive
// as `BigInt`s (exactly), smaller ones as numbers; and `BigInt` values in
// args or payloads are sent as exact JSON integers. The generated TypeScript
// bindings type such Rust integers `number | bigint`.
//
// Everything else arrives through `onnotification(method, params)`, called for
// every notification the server pushes (after the client has handled it), for
// code built on top of this client such as ipc-tauri.js.
//
// Transports: WebSocket is the default. `connect({ transport })` takes any
// other way of reaching the backend: an object with `open()`, returning a
// WebSocket-like socket (`addEventListener("open" | "message" | "close" |
// "error")`, `send(data)`, `close(code)`), `binary` (whether it carries
// binary frames, default false: then the client sends bytes as JSON arrays of
// numbers and never a binary frame) and optionally `describe` (what `url` and
// error messages call it). Reconnecting calls `open()` again. ipc-stdio.js is
// one for Node: a sidecar process driven over its stdin/stdout.
//
// Types: the public types are declared once, in ipc.d.ts; the JSDoc below
// refers to them, and `npm run check:types` checks this file against them
// (tests/js/tsconfig.impl.json).

/**
 * @import {
 *   BinaryData, ConnectionState, ConnectOptions, EmitOptions, InvokeArgs, InvokeOptions, IpcEvent,
 *   GapHandler, ListenOptions, NotificationHandler, ReconnectOptions, StateChangeHandler, Transport, TransportConnectOptions,
 *   TransportSocket, UnlistenFn, UploadSource,
 * } from "./ipc.d.ts"
 */

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
  /** The connection's rate limit is spent; `data.retryAfterMs` says when to try again. */
  RATE_LIMITED: -32006,
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
    /** @type {"IpcError"} */
    this.name = "IpcError";
    /** @type {number} */
    this.code = code;
    /** @type {unknown} */
    this.data = data;
  }
}

const START = Symbol("start"); // keeps IpcClient's start private to this module
/** The reconnect settings used for what `reconnect: true` (or an object) leaves out or gets wrong. */
const DEFAULT_BACKOFF = Object.freeze({ delayMs: 500, maxDelayMs: 10_000, jitter: 0.5 });
/** How long an attempt to open a socket may take, by default (ms). */
const DEFAULT_OPEN_TIMEOUT = 10_000;
/** The longest delay setTimeout honours (2^31 - 1 ms); a longer one fires at once. */
const MAX_TIMER = 2_147_483_647;

/**
 * A duration option (ms): a finite number from 0 up, raised to `min` and
 * lowered to MAX_TIMER; anything else (`undefined`, NaN, Infinity, a string,
 * a negative number) is `fallback`, so it never reaches a timer.
 * @param {unknown} value
 * @param {number} fallback
 * @param {number} [min]
 * @returns {number}
 */
function msOption(value, fallback, min = 0) {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) return fallback;
  return Math.min(Math.max(value, min), MAX_TIMER);
}

/**
 * The reconnect settings, checked: null when reconnecting is off. Each
 * setting that is missing or not a usable number takes its default; the first
 * delay is at least 1 ms and at most the cap.
 * @param {boolean | ReconnectOptions | undefined} option
 * @returns {Required<ReconnectOptions> | null}
 */
function backoffOf(option) {
  if (!option) return null;
  /** @type {ReconnectOptions} */
  const given = typeof option === "object" ? option : {};
  const maxDelayMs = msOption(given.maxDelayMs, DEFAULT_BACKOFF.maxDelayMs, 1);
  const delayMs = Math.min(msOption(given.delayMs, DEFAULT_BACKOFF.delayMs, 1), maxDelayMs);
  const jitter = typeof given.jitter === "number" && given.jitter >= 0 && given.jitter <= 1 ? given.jitter : DEFAULT_BACKOFF.jitter;
  return { delayMs, maxDelayMs, jitter };
}

/**
 * Reports an error nobody awaits (e.g. thrown by a user callback) without breaking the client.
 * @param {unknown} err
 */
function report(err) {
  if (typeof globalThis.reportError === "function") globalThis.reportError(err);
  else console.error(err);
}

/**
 * What went wrong, for an error message: the `message` of what was thrown, or
 * the thrown value itself when it has none (a transport may throw anything,
 * even null).
 * @param {unknown} err
 * @returns {string}
 */
function messageOf(err) {
  return err !== null && typeof err === "object" && "message" in err ? String(err.message) : String(err);
}

/**
 * Calls a user callback; what it throws is reported, not propagated.
 * @template {unknown[]} A
 * @param {(...args: A) => void} fn
 * @param {A} args
 */
function safely(fn, ...args) {
  try {
    fn(...args);
  } catch (err) {
    report(err);
  }
}

// ---- binary frames (docs/protocol.md, "Binary payloads") ----

/** The subprotocol offered by default: the server then sends bytes as binary frames. */
const SUBPROTOCOL = "ipc.v1";
const UTF8_ENCODER = new TextEncoder();
const UTF8_DECODER = new TextDecoder("utf-8", { fatal: true });

/**
 * An ArrayBuffer, also one from another realm (an iframe, a Node vm context).
 * @param {unknown} value
 * @returns {value is ArrayBuffer}
 */
function isArrayBuffer(value) {
  return value instanceof ArrayBuffer || Object.prototype.toString.call(value) === "[object ArrayBuffer]";
}

/**
 * A typed array, DataView or ArrayBuffer: a value sent as bytes.
 * @param {unknown} value
 * @returns {value is BinaryData}
 */
function isBinary(value) {
  return value !== null && typeof value === "object" && (ArrayBuffer.isView(value) || isArrayBuffer(value));
}

/**
 * The bytes of a binary value, as a Uint8Array view (no copy).
 * @param {BinaryData} value
 * @returns {Uint8Array}
 */
function bytesOf(value) {
  return isArrayBuffer(value) ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

/**
 * header length (u32, big-endian) ‖ header JSON ‖ attachment 0 ‖ attachment 1 ‖ …
 * @param {string} headerJson
 * @param {Uint8Array[]} attachments
 * @returns {Uint8Array}
 */
function encodeFrame(headerJson, attachments) {
  const header = UTF8_ENCODER.encode(headerJson);
  let size = 4 + header.byteLength;
  for (const a of attachments) size += a.byteLength;
  const frame = new Uint8Array(size);
  new DataView(frame.buffer).setUint32(0, header.byteLength);
  frame.set(header, 4);
  let offset = 4 + header.byteLength;
  for (const a of attachments) {
    frame.set(a, offset);
    offset += a.byteLength;
  }
  return frame;
}

/**
 * Decodes a binary frame into its JSON-RPC message, with every `{"$bytes": i}`
 * replaced by a Uint8Array view of attachment i. Undefined if the frame does
 * not follow the layout.
 * @param {unknown} data a binary frame, as the socket gave it
 * @returns {unknown}
 */
function decodeFrame(data) {
  let bytes;
  if (isArrayBuffer(data)) bytes = new Uint8Array(data);
  else if (ArrayBuffer.isView(data)) bytes = bytesOf(data);
  else return undefined; // e.g. a Blob from a WebSocket that ignored binaryType
  if (bytes.byteLength < 4) return undefined;
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
  if (headerLength > bytes.byteLength - 4) return undefined;
  /** @type {unknown} */
  let parsed;
  try {
    parsed = parseJson(UTF8_DECODER.decode(bytes.subarray(4, 4 + headerLength)));
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return undefined;
  const message = /** @type {{ attachments?: unknown }} */ (parsed); // a JSON object: any member may be missing
  const lengths = message.attachments;
  if (!Array.isArray(lengths)) return undefined;
  const attachments = [];
  let offset = 4 + headerLength;
  for (const length of lengths) {
    if (!Number.isSafeInteger(length) || length < 0 || length > bytes.byteLength - offset) return undefined;
    attachments.push(bytes.subarray(offset, offset + length));
    offset += length;
  }
  if (offset !== bytes.byteLength) return undefined;
  delete message.attachments;
  try {
    return revive(message, attachments);
  } catch {
    return undefined; // a placeholder names no attachment
  }
}

/**
 * Replaces `{"$bytes": i}` placeholders in a parsed JSON value, in place.
 * @param {unknown} value
 * @param {Uint8Array[]} attachments
 * @returns {unknown}
 */
function revive(value, attachments) {
  if (value === null || typeof value !== "object") return value;
  const members = /** @type {Record<string, unknown>} */ (value); // an array's too: its indices are keys
  const keys = Object.keys(value);
  if (!Array.isArray(value) && keys.length === 1 && keys[0] === "$bytes") {
    const i = members.$bytes;
    if (typeof i !== "number" || !Number.isInteger(i) || i < 0 || i >= attachments.length) throw new RangeError(`no attachment ${i}`);
    return attachments[i];
  }
  for (const key of keys) {
    const before = members[key];
    const after = revive(before, attachments);
    // defineProperty, not assignment: a member named "__proto__" must stay a member.
    if (after !== before) Object.defineProperty(value, key, { value: after, writable: true, enumerable: true, configurable: true });
  }
  return value;
}

// ---- large integers (beyond Number.MAX_SAFE_INTEGER) ----

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** Integers that may be unsafe have 16 digits or more; text without such a run takes the fast path. */
const LONG_DIGITS = /\d{16}/;
/** Stands for a BigInt inside a JSON string while (de)serializing; the nonce keeps real strings apart. */
const BIGINT_MARKER = `\u0000ipc-bigint-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}:`;
/** How the marker looks inside JSON text, opening quote included. */
const BIGINT_MARKER_JSON = JSON.stringify(BIGINT_MARKER).slice(0, -1);

/**
 * JSON.parse, except that integers beyond Number.MAX_SAFE_INTEGER become BigInts.
 * @param {string} text
 * @returns {unknown}
 */
function parseJson(text) {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  // Outside strings, replace each unsafe integer literal by a marked string,
  // then turn marked strings back into BigInts while parsing.
  let out = "";
  let copied = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: skip it, escapes included
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
      i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      // a number: `-`, digits, `.`, `e`, `E`, `+`
      const start = i;
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (!((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d)) break;
      }
      const token = text.slice(start, i);
      if (/^-?\d{16,}$/.test(token)) {
        const value = BigInt(token);
        if (value > MAX_SAFE || value < -MAX_SAFE) {
          out += text.slice(copied, start) + JSON.stringify(BIGINT_MARKER + token);
          copied = i;
        }
      }
    } else i++;
  }
  if (copied === 0) return JSON.parse(text);
  out += text.slice(copied);
  return JSON.parse(out, (_key, value) =>
    typeof value === "string" && value.startsWith(BIGINT_MARKER) ? BigInt(value.slice(BIGINT_MARKER.length)) : value,
  );
}

/**
 * JSON.stringify with a replacer, except that BigInts become exact JSON integers.
 * @param {unknown} value
 * @param {(this: Record<string, unknown>, key: string, value: unknown) => unknown} replacer
 *   called as JSON.stringify calls its own: `this` is the object (or array) holding `key`.
 * @returns {string}
 */
function stringifyJson(value, replacer) {
  let bigints = false;
  const json = JSON.stringify(value, function (key, v) {
    const replaced = replacer.call(this, key, v);
    if (typeof replaced !== "bigint") return replaced;
    bigints = true;
    return BIGINT_MARKER + replaced.toString();
  });
  if (!bigints) return json;
  // `"<marker>123"` → `123`
  const parts = json.split(BIGINT_MARKER_JSON);
  return parts[0] + parts.slice(1).map((part) => part.replace('"', "")).join("");
}

/**
 * The URL {@link connect} uses when given none: the page's own
 * `ws(s)://<host>/ipc`, forwarding its `token` and `label` query parameters.
 * A page opened with its token has it swapped for a session, whose socket
 * key the server's hand-off page stored in this origin's `localStorage`
 * (item `ipc-session`): it goes as `session`, unless the page has a token.
 * A window's page keeps its `label`, which the server checks against that
 * session. Throws a TypeError outside a browser page.
 * @returns {string}
 */
export function defaultUrl() {
  const loc = globalThis.location;
  if (!loc || !loc.host) {
    throw new TypeError("ipc: connect() needs a URL (e.g. ws://127.0.0.1:PORT/ipc) outside a browser page");
  }
  const page = new URLSearchParams(loc.search);
  const forwarded = new URLSearchParams();
  for (const name of ["token", "label"]) {
    const value = page.get(name);
    if (value !== null) forwarded.set(name, value);
  }
  if (!forwarded.has("token")) {
    const key = storedSessionKey();
    if (key !== null) forwarded.set("session", key);
  }
  const scheme = loc.protocol === "https:" ? "wss" : "ws";
  const query = forwarded.toString();
  return `${scheme}://${loc.host}/ipc` + (query === "" ? "" : `?${query}`);
}

/**
 * The socket key the server's hand-off page stored, if any (storage can be
 * missing or refused, e.g. in a sandboxed frame).
 * @returns {string | null}
 */
function storedSessionKey() {
  try {
    return globalThis.localStorage?.getItem("ipc-session") ?? null;
  } catch {
    return null;
  }
}

// ---- messages from the server (docs/protocol.md) ----
// Parsed JSON, typed as the protocol has it: nothing validates a message
// against these types, and the checks where a message is read are what keeps
// a server that breaks the protocol from breaking the client.

/**
 * A message from the server: a response (`id`, then `result` or `error`) or
 * a notification (`method`, `params`).
 * @typedef {object} ServerMessage
 * @property {number | null} [id] a response's: its request's id (null if the server could not read it)
 * @property {unknown} [result]
 * @property {{ code: number, message: string, data?: unknown }} [error]
 * @property {unknown} [method] a notification's
 * @property {unknown} [params] a notification's
 */

/**
 * The params of an `ipc.event` push.
 * @typedef {object} EventPush
 * @property {string} event
 * @property {unknown} payload
 * @property {number} source the emitter's client id, 0 for the backend
 * @property {number} [seq] its sequence number (per run of the backend, increasing per name)
 * @property {boolean} [last] whether it is the newest event from before the subscription
 */

/**
 * The params of an `ipc.gap` push: events of `event` were missed, `lost` of
 * them (null: unknown).
 * @typedef {object} GapPush
 * @property {string} event
 * @property {number | null} lost
 */

/**
 * The params of an `ipc.channel` push: message `index` of channel `channel`,
 * or (`end`) the index its end comes after.
 * @typedef {object} ChannelPush
 * @property {number} channel
 * @property {number} index
 * @property {unknown} [message]
 * @property {boolean} [end]
 */

/**
 * The params of an `ipc.upload` push: the credit of upload `upload` (bytes
 * it may have sent in all), or (`done`) the server reads no more of it.
 * @typedef {object} UploadPush
 * @property {number} upload
 * @property {number} [credit]
 * @property {boolean} [done]
 * @property {string} [error]
 */

// ---- channels (docs/protocol.md, "Channels") ----

const BIND = Symbol("bind"); // these keep Channel's wiring private to this module
const SENT = Symbol("sent");
const DELIVER = Symbol("deliver");
const DROP = Symbol("drop");
const UNUSED = Symbol("unused");

/**
 * Errors that mean the command never ran, so the server opened no channel.
 * @type {ReadonlySet<number>}
 */
const NOT_RUN = new Set([
  ErrorCode.PARSE_ERROR,
  ErrorCode.INVALID_REQUEST,
  ErrorCode.METHOD_NOT_FOUND,
  ErrorCode.INVALID_PARAMS,
  ErrorCode.FORBIDDEN,
  ErrorCode.LIMIT_EXCEEDED,
]);

let nextChannelId = 1;
/**
 * What the clients use of a Channel, whatever its message type: its id and
 * wiring, in which `T` does not appear. (A `Channel<T>` is a `Channel<U>` for
 * no other U: `onmessage` takes T in, and its queue of early messages holds T.)
 * @typedef {Pick<Channel<unknown>, "id" | typeof BIND | typeof SENT | typeof DELIVER | typeof DROP | typeof UNUSED>} ChannelWiring
 */

/**
 * id -> Channel passed to a call and not ended yet, whichever client it went through.
 * @type {Map<number, ChannelWiring>}
 */
const channels = new Map();

/**
 * A stream of messages from a running command to this page. Pass it as an
 * argument of `invoke` (it serializes as `"__CHANNEL__:<id>"`); the command
 * (taking a `Channel<T>`) sends messages, which reach `onmessage` in the order
 * they were sent. When the command drops its end, `ended` resolves, after
 * every message has been delivered.
 *
 * A channel serves one call: passing it to a second call rejects that call
 * with a TypeError. If the call fails before its command runs (unknown
 * command, bad arguments, ...) or never goes out (timeout, abort), the channel
 * ends at once. If the connection closes before the end arrives, `ended`
 * rejects with an {@link IpcError} DISCONNECTED (nobody has to await it).
 *
 * `T` is the type of the command's messages, taken on the caller's word (as
 * ipc.d.ts's `Channel<T = any>`: the `any` default is the declared API's).
 * @template [T=any]
 */
export class Channel {
  /**
   * Unique in this page (a module-level counter); the id sent to the server.
   * @readonly
   * @type {number}
   */
  id = nextChannelId++;
  /**
   * Resolves once the command has dropped the channel and every message was
   * delivered (or its call failed before the command ran); rejects with
   * DISCONNECTED if the connection closed first.
   * @readonly
   * @type {Promise<void>}
   */
  ended;

  /** @type {((message: T) => void) | null} */
  #onmessage;
  #next = 0; // index of the next message to deliver
  /** @type {Map<number, T>} */
  #early = new Map(); // index -> message that arrived before its turn
  #endIndex = -1; // the index of `end` once it arrived
  /** @type {IpcClient | null} */
  #client = null; // the client the channel was passed to
  #sent = false; // the call carrying it went out on a socket
  #done = false;
  // `ended`'s; the constructor replaces these no-ops at once (a type checker
  // cannot see that the Promise executor runs before the constructor returns).
  /** @type {() => void} */
  #resolve = () => {};
  /** @type {(reason: IpcError) => void} */
  #reject = () => {};

  /** @param {((message: T) => void) | null} [onmessage] */
  constructor(onmessage) {
    this.#onmessage = onmessage ?? null;
    this.ended = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.ended.catch(() => {}); // a rejection nobody awaits is not an error
  }

  /** Called with each message, in order; messages arriving while it is null are dropped. */
  get onmessage() {
    return this.#onmessage;
  }

  /** @param {((message: T) => void) | null} cb */
  set onmessage(cb) {
    this.#onmessage = cb ?? null;
  }

  /**
   * `"__CHANNEL__:<id>"`, what the server expects for a `Channel<T>` argument.
   * @returns {`__CHANNEL__:${number}`}
   */
  toJSON() {
    return `__CHANNEL__:${this.id}`;
  }

  /**
   * Ties the channel to the client whose call carries it.
   * @param {IpcClient} client
   */
  [BIND](client) {
    if (this.#done) throw new TypeError(`ipc: channel ${this.id} has ended; create a new Channel`);
    if (this.#client) throw new TypeError(`ipc: channel ${this.id} is already in use by a call; create a new Channel`);
    this.#client = client;
    channels.set(this.id, this);
  }

  [SENT]() {
    this.#sent = true;
  }

  /**
   * An `ipc.channel` push for this id, received by `client`.
   * @param {IpcClient} client
   * @param {ChannelPush} params
   */
  [DELIVER](client, params) {
    const { index } = params;
    if (client !== this.#client || this.#done || !Number.isInteger(index) || index < this.#next) return;
    if (params.end === true) this.#endIndex = index;
    // The command's messages are T on the caller's word: nothing here can check it.
    else if ("message" in params) this.#early.set(index, /** @type {T} */ (params.message));
    while (this.#early.has(this.#next)) {
      const message = /** @type {T} */ (this.#early.get(this.#next)); // has() said it is there
      this.#early.delete(this.#next++);
      if (typeof this.#onmessage === "function") safely(this.#onmessage, message);
    }
    if (this.#endIndex !== -1 && this.#next >= this.#endIndex) {
      this.#finish();
      this.#resolve();
    }
  }

  /**
   * `client`'s connection is gone: drop the channel if it is tied to it (and,
   * with `onlySent`, if its call went out on that connection).
   * @param {IpcClient} client
   * @param {boolean} onlySent
   * @param {string} why
   */
  [DROP](client, onlySent, why) {
    if (this.#client !== client || this.#done || (onlySent && !this.#sent)) return;
    this.#finish();
    this.#reject(new IpcError(ErrorCode.DISCONNECTED, `ipc: channel ${this.id} closed before its end: ${why}`));
  }

  /**
   * Its call failed before the command ran, or never went out: no message will come.
   * @param {IpcClient} client
   */
  [UNUSED](client) {
    if (this.#client !== client || this.#done) return;
    this.#finish();
    this.#resolve();
  }

  #finish() {
    this.#done = true;
    this.#early.clear();
    if (channels.get(this.id) === this) channels.delete(this.id);
  }
}

// ---- transports ----

/**
 * The default transport: a WebSocket to `url`, with the `WebSocket` and
 * `protocols` options of {@link connect}.
 * @param {string} url
 * @param {ConnectOptions} options
 * @returns {Transport}
 */
function webSocketTransport(url, options) {
  const WS = options.WebSocket ?? globalThis.WebSocket;
  if (typeof WS !== "function") {
    throw new TypeError(
      "ipc: no WebSocket implementation found. In Node 20 run with `node --experimental-websocket`, " +
        "or pass one: connect(url, { WebSocket }) with `import { WebSocket } from \"ws\"`",
    );
  }
  const protocols = options.protocols ?? [SUBPROTOCOL];
  return {
    binary: true, // the server accepts binary frames from any client
    describe: url,
    open() {
      const socket = new WS(url, protocols);
      socket.binaryType = "arraybuffer"; // binary frames as ArrayBuffers (not Blobs or Buffers)
      return socket;
    },
  };
}

/**
 * In a native window of the app (the `desktop` feature), the transport its
 * injected shim offers: the webview's own channel, no URL, no token.
 * `connect()` with no URL uses it there.
 * @returns {Transport | undefined}
 */
function desktopTransport() {
  return /** @type {{ __IPC_DESKTOP__?: { transport: Transport } }} */ (globalThis).__IPC_DESKTOP__?.transport;
}

/**
 * Checks a transport given to {@link connect} (by JavaScript that no type checker saw).
 * @param {Transport | undefined} transport
 * @returns {Transport}
 */
function checkTransport(transport) {
  if (transport === null || typeof transport !== "object" || typeof transport.open !== "function") {
    throw new TypeError("ipc: a transport is an object with an open() method returning a socket");
  }
  return transport;
}

/**
 * A call waiting for its response.
 * @typedef {object} PendingCall
 * @property {string} method
 * @property {(result: unknown) => void} resolve
 * @property {(reason: unknown) => void} reject
 * @property {boolean} sent whether it went out on a socket
 * @property {ChannelWiring[]} channels those among its params
 * @property {OutgoingUpload[]} uploads the streams among its top-level args
 * @property {() => void} cleanup clears its timeout and abort listener
 */

/**
 * An upload being sent (docs/protocol.md, "Uploads"): the source, how many
 * bytes went out and how many the server allows in all (its credit).
 * @typedef {object} OutgoingUpload
 * @property {number} id
 * @property {UploadSource} source
 * @property {number} sent bytes sent
 * @property {number} credit bytes the server allows in all
 * @property {boolean} done whether the server (or the call's end) stopped it
 * @property {boolean} started whether its pump runs
 * @property {(() => void) | null} wake resolves a pump waiting for credit
 */

/**
 * A listener of an event, as `listen` or `once` registered it.
 * @typedef {object} Listener
 * @property {(event: IpcEvent<unknown>) => void} cb
 * @property {boolean} once
 * @property {boolean} last whether it asked for the newest event from before it listened
 * @property {((lost: number | null) => void) | null} onGap
 */

/**
 * What the client holds for one event name it listens to: its listeners, its
 * subscription on the current connection, and where it is in the name's
 * stream of events (docs/protocol.md, "Resuming after a reconnect").
 * @typedef {object} Topic
 * @property {Set<Listener>} listeners
 * @property {Promise<void> | null} sub this connection's `ipc.listen`, in
 *   flight or done; null when not subscribed (a new connection, or before the
 *   first listener)
 * @property {boolean} live whether pushes of the name are this topic's: its
 *   `ipc.listen` went out (false while an `ipc.unlisten` of an earlier topic
 *   of the same name is still answered by pushes)
 * @property {boolean} awaiting whether its `ipc.listen` is sent and not yet
 *   answered: the time the server sends what it missed, and gap notices
 * @property {number | null} seq the number of the last event seen, or that
 *   the subscription's answer gave: resumed from, and pushes at or below it
 *   are duplicates
 * @property {string | null} epoch the run of the backend `seq` belongs to
 * @property {IpcEvent<unknown> | null} newest the newest event received, for
 *   a later listener that asks for the last value
 */

/**
 * A connection to the backend. Create one with {@link connect}.
 *
 * `state` is "connecting" | "open" | "reconnecting" | "closed". Assign
 * `onstatechange = (state, previous) => ...` (or pass `onstatechange` to
 * `connect`) to be told when it changes, `ongap = (event, lost) => ...` to be
 * told of events missed across a reconnect, and `onnotification = (method,
 * params) => ...` to see every notification the server pushes.
 */
export class IpcClient {
  /** @type {Transport} */
  #transport;
  /** @type {boolean} */
  #binary; // whether the transport carries binary frames
  /** @type {string} */
  #describe; // the URL, or what the transport says it is
  /** @type {number} */
  #timeout;
  /** @type {Required<ReconnectOptions> | null} */
  #backoff; // null when reconnect is off
  #attempts = 0; // failed attempts to reopen since the last open socket
  /** @type {number} */
  #openTimeout; // ms an attempt may take to open; 0: no limit
  /** @type {TransportSocket | null} */
  #socket = null;
  /** @type {ConnectionState} */
  #state = "connecting";
  #nextId = 1;
  #nextUpload = 0;
  /** @type {Map<number, OutgoingUpload>} */
  #uploads = new Map(); // upload id -> what is being sent
  /** @type {Map<unknown, PendingCall>} looked up by whatever id a response carries */
  #pending = new Map(); // request id -> { method, resolve, reject, sent, channels, cleanup }
  /** @type {Array<[number, string | Uint8Array]>} */
  #outbox = []; // [id, data] of requests made while not open, sent on (re)open
  /** @type {Map<string, Topic>} */
  #topics = new Map(); // event name -> its listeners, subscription and position
  /** @type {Map<string, Promise<void>>} */
  #unsubs = new Map(); // event name -> Promise of an `ipc.unlisten` in flight
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #retryTimer; // the next attempt to reopen
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #openTimer; // the current attempt's open timeout
  /** @type {{ resolve: () => void, reject: (err: IpcError) => void } | null} */
  #openWaiter = null; // { resolve, reject } of the first open

  /**
   * Called with `(state, previous)` whenever `state` changes.
   * @type {StateChangeHandler | null}
   */
  onstatechange = null;

  /**
   * Called with `(event, lost)` for every gap notice (`ipc.gap`): events of
   * that name were missed, `lost` of them (null: unknown, e.g. the backend
   * restarted). After the listeners' own `onGap`.
   * @type {GapHandler | null}
   */
  ongap = null;

  /**
   * Called with `(method, params)` for every notification the server pushes
   * (`ipc.event`, `ipc.channel`, and any other), after the client has handled
   * it; binary placeholders are already replaced by Uint8Arrays.
   * @type {NotificationHandler | null}
   */
  onnotification = null;

  /**
   * @internal Use {@link connect}.
   * @param {Transport} transport
   * @param {Omit<ConnectOptions, "WebSocket" | "protocols">} [options]
   */
  constructor(transport, options = {}) {
    this.#transport = transport;
    this.#binary = transport.binary === true;
    this.#describe = String(transport.describe ?? "a custom transport");
    this.#timeout = msOption(options.timeout, 0);
    this.#openTimeout = msOption(options.openTimeout, DEFAULT_OPEN_TIMEOUT);
    this.#backoff = backoffOf(options.reconnect);
    this.onstatechange = options.onstatechange ?? null;
    this.ongap = options.ongap ?? null;
    this.onnotification = options.onnotification ?? null;
  }

  /** The WebSocket URL this client connects to (a transport's `describe`, for other transports). */
  get url() {
    return this.#describe;
  }

  /** "connecting" | "open" | "reconnecting" | "closed". */
  get state() {
    return this.#state;
  }

  /**
   * Opens the first socket; resolves once it is open.
   * @returns {Promise<void>}
   */
  [START]() {
    return new Promise((resolve, reject) => {
      this.#openWaiter = { resolve, reject };
      this.#openSocket();
    });
  }

  /**
   * Calls a command.
   * @template [T=any] the command's result, on the caller's word (the `any`
   *   default is ipc.d.ts's).
   * @param {string} cmd the command name.
   * @param {InvokeArgs} [args] arguments
   *   by name (object) or by position (array). Binary values among them (typed
   *   arrays, DataView, ArrayBuffer) are sent raw, in one binary frame; binary
   *   `args` themselves are the first positional argument. A {@link Channel}
   *   argument streams messages back.
   * @param {InvokeOptions} [options] `timeout` in ms
   *   (0 = none; default: the client's), `signal` to cancel the call.
   * @returns {Promise<T>} the command's result (bytes as a Uint8Array); rejects
   *   with an {@link IpcError}.
   */
  invoke(cmd, args = {}, options = {}) {
    if (args === null || typeof args !== "object") {
      return Promise.reject(new TypeError(`ipc: the args of \`${cmd}\` must be an object or an array`));
    }
    return /** @type {Promise<T>} */ (this.#request(cmd, args, options, true));
  }

  /**
   * Subscribes to an event. Resolves once the server has confirmed the
   * subscription, so no event emitted afterwards is missed. The listener
   * stays across reconnects: the client resumes where it was, and gets the
   * events it missed first (when the backend keeps that name's events).
   * @template [T=any] the payload's type, on the caller's word.
   * @param {string} event
   * @param {(event: IpcEvent<T>) => void} cb
   * @param {ListenOptions} [options] `last`: start with the newest event of
   *   the name from before listening, if the backend keeps one (or this
   *   client received one): `cb` may then run before the promise resolves.
   *   `onGap(lost)`: told when events of the name were missed, `lost` of them
   *   (null: unknown).
   * @returns {Promise<UnlistenFn>} `unlisten`, idempotent.
   */
  listen(event, cb, options) {
    return this.#addListener(event, cb, false, options);
  }

  /**
   * Like {@link IpcClient#listen}, but the callback runs at most once.
   * @template [T=any]
   * @param {string} event
   * @param {(event: IpcEvent<T>) => void} cb
   * @param {ListenOptions} [options] as for `listen`.
   * @returns {Promise<UnlistenFn>}
   */
  once(event, cb, options) {
    return this.#addListener(event, cb, true, options);
  }

  /**
   * Emits an event through the backend.
   * @param {string} event
   * @param {unknown} [payload]
   * @param {EmitOptions} [options] `target`, default "all"
   *   (docs/protocol.md, "Event targets").
   * @returns {Promise<void>} resolves once the server has dispatched it.
   */
  async emit(event, payload, { target } = {}) {
    await this.#request("ipc.emit", { event, payload, target }, {}); // undefined keys are not sent
  }

  /** Closes the connection for good; pending calls reject with DISCONNECTED. */
  close() {
    if (this.#state === "closed") return;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#openTimer);
    const socket = this.#socket;
    this.#socket = null;
    this.#setState("closed");
    this.#failPending(() => true, "the client was closed");
    this.#dropChannels(false, "the client was closed");
    this.#openWaiter?.reject(new IpcError(ErrorCode.DISCONNECTED, "ipc: the client was closed while connecting"));
    this.#openWaiter = null;
    try {
      socket?.close(1000);
    } catch {
      // already closing
    }
  }

  // ---- requests ----

  /**
   * `attach`: send binary top-level params as attachments (commands only).
   * @param {string} method
   * @param {InvokeArgs} params
   * @param {InvokeOptions} [options]
   * @param {boolean} [attach]
   * @returns {Promise<unknown>}
   */
  #request(method, params, { timeout = this.#timeout, signal } = {}, attach = false) {
    return new Promise((resolve, reject) => {
      if (this.#state === "closed") {
        throw new IpcError(ErrorCode.DISCONNECTED, `ipc: cannot call \`${method}\`: the client is closed`);
      }
      if (signal?.aborted) throw new IpcError(ErrorCode.CANCELLED, `ipc: \`${method}\` was cancelled`);
      const id = this.#nextId++;
      /** @type {OutgoingUpload[]} */
      const uploads = [];
      if (attach) {
        params = swapUploads(params, (source) => {
          const upload = { id: this.#nextUpload++, source, sent: 0, credit: 0, done: false, started: false, wake: null };
          uploads.push(upload);
          return `__UPLOAD__:${upload.id}`;
        });
      }
      const { data, channels } = encodeRequest(id, method, params, attach && this.#binary);
      channels.forEach((channel) => channel[BIND](this)); // throws if one is in use or ended
      /** @type {ReturnType<typeof setTimeout> | undefined} */
      let timer;
      const onAbort = () => {
        if (entry.sent) {
          // The command sees the abort in its upload's stream; then the call is cancelled.
          for (const upload of entry.uploads) {
            if (!upload.done) this.#notify("ipc.upload", { upload: upload.id, abort: "the call was cancelled" });
          }
          this.#notify("ipc.cancel", { id });
        }
        this.#settle(id)?.reject(new IpcError(ErrorCode.CANCELLED, `ipc: \`${method}\` was cancelled`));
      };
      /** @type {PendingCall} */
      const entry = {
        method,
        resolve,
        reject,
        sent: false,
        channels,
        uploads,
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
      if (this.#state === "open") this.#send(id, data);
      else this.#outbox.push([id, data]);
    });
  }

  /**
   * Sends a request; only while open, when there is a socket.
   * @param {number} id
   * @param {string | Uint8Array} data
   */
  #send(id, data) {
    const entry = this.#pending.get(id);
    if (!entry) return; // timed out or cancelled while waiting for the socket
    entry.sent = true;
    for (const channel of entry.channels) channel[SENT]();
    try {
      /** @type {TransportSocket} */ (this.#socket).send(data);
      for (const upload of entry.uploads) this.#startUpload(upload);
    } catch (err) {
      this.#settle(id)?.reject(new IpcError(ErrorCode.DISCONNECTED, `ipc: could not send \`${entry.method}\`: ${messageOf(err)}`));
    }
  }

  /**
   * Sends a notification, if open (there is a socket then).
   * @param {string} method
   * @param {unknown} params
   */
  #notify(method, params) {
    if (this.#state !== "open") return;
    try {
      /** @type {TransportSocket} */ (this.#socket).send(JSON.stringify({ jsonrpc: "2.0", method, params }));
    } catch {
      // the connection is going away; nothing to tell
    }
  }

  /**
   * Removes a pending request and returns it, or undefined if already settled.
   * @param {unknown} id a request id, or whatever id a response carried
   * @returns {PendingCall | undefined}
   */
  #settle(id) {
    const entry = this.#pending.get(id);
    if (!entry) return undefined;
    this.#pending.delete(id);
    entry.cleanup();
    for (const upload of entry.uploads) this.#stopUpload(upload);
    if (!entry.sent) this.#endChannels(entry); // the server never saw them
    return entry;
  }

  /**
   * Ends the channels of a call that never reached its command.
   * @param {PendingCall} entry
   */
  #endChannels(entry) {
    for (const channel of entry.channels) channel[UNUSED](this);
  }

  /**
   * Rejects the pending calls `which` selects with DISCONNECTED.
   * @param {(entry: PendingCall) => boolean} which
   * @param {string} why
   */
  #failPending(which, why) {
    for (const [id, entry] of [...this.#pending]) {
      if (!which(entry)) continue;
      this.#settle(id);
      entry.reject(new IpcError(ErrorCode.DISCONNECTED, `ipc: \`${entry.method}\` failed: ${why}`));
    }
    if (this.#state === "closed") this.#outbox = [];
  }

  // ---- events ----

  /**
   * @template T
   * @param {string} event
   * @param {(event: IpcEvent<T>) => void} cb
   * @param {boolean} once
   * @param {ListenOptions | undefined} options
   * @returns {Promise<UnlistenFn>}
   */
  async #addListener(event, cb, once, options) {
    if (typeof cb !== "function") throw new TypeError("ipc: the listener must be a function");
    const { last = false, onGap = null } = options ?? {};
    if (onGap !== null && typeof onGap !== "function") throw new TypeError("ipc: onGap must be a function");
    let topic = this.#topics.get(event);
    if (!topic) {
      topic = { listeners: new Set(), sub: null, live: false, awaiting: false, seq: null, epoch: null, newest: null };
      this.#topics.set(event, topic);
    }
    // The payloads are T on the listener's word: the server's are unknown.
    /** @type {Listener} */
    const entry = { cb: /** @type {(event: IpcEvent<unknown>) => void} */ (cb), once, last: last === true, onGap };
    topic.listeners.add(entry); // before subscribing, so a concurrent unlisten keeps the subscription
    // The newest event this client has: what the server would give a new
    // subscription, and every later one reaches this listener too.
    if (entry.last && topic.newest) this.#call(event, entry, topic.newest);
    try {
      await this.#subscribe(event);
    } catch (err) {
      this.#removeListener(event, entry);
      throw err;
    }
    return () => this.#removeListener(event, entry);
  }

  /**
   * Subscribes this connection to `event`, once: resolves when the server has.
   * @param {string} event
   * @returns {Promise<void>}
   */
  #subscribe(event) {
    const topic = this.#topics.get(event);
    if (!topic) return Promise.resolve(); // every listener went meanwhile
    if (!topic.sub) {
      // Wait for an `ipc.unlisten` of the same name in flight: requests run concurrently.
      const prior = this.#unsubs.get(event) ?? Promise.resolve();
      /** @type {Promise<void>} */
      const sub = prior
        .then(() => {
          if (topic.sub !== sub) return undefined; // superseded: the connection closed meanwhile
          topic.live = true;
          topic.awaiting = true;
          return this.#request("ipc.listen", this.#listenParams(event, topic));
        })
        .then(
          (answer) => {
            if (topic.sub !== sub) return;
            topic.awaiting = false;
            this.#subscribed(topic, answer);
          },
          (err) => {
            if (topic.sub === sub) topic.awaiting = false;
            throw err;
          },
        );
      topic.sub = sub;
      sub.catch(() => {
        if (topic.sub === sub) topic.sub = null;
      });
    }
    return topic.sub;
  }

  /**
   * What `ipc.listen` asks for: to resume after the last event seen (of the
   * run it belongs to), or, the first time, to start with the newest kept
   * event (kept for listeners that ask for it; the answer then says the run
   * and the position, which a later resume needs).
   * @param {string} event
   * @param {Topic} topic
   * @returns {{ event: string, since?: number, epoch?: string, last?: true }}
   */
  #listenParams(event, topic) {
    if (topic.seq === null) return { event, last: true };
    // Without the run (a server that does not say it), the server takes the
    // position as unknown: a gap notice, then its newest event.
    return topic.epoch === null ? { event, since: topic.seq } : { event, since: topic.seq, epoch: topic.epoch };
  }

  /**
   * The answer to `ipc.listen`: `{ id, epoch, seq }`, or a bare id from a
   * server that keeps no positions.
   * @param {Topic} topic
   * @param {unknown} answer
   */
  #subscribed(topic, answer) {
    if (!answer || typeof answer !== "object") return;
    const { epoch, seq } = /** @type {{ epoch?: unknown, seq?: unknown }} */ (answer);
    if (typeof epoch === "string") topic.epoch = epoch;
    // Every event delivered before the answer is at or below `seq`, every later one above it.
    if (typeof seq === "number" && (topic.seq === null || seq > topic.seq)) topic.seq = seq;
  }

  /**
   * @param {string} event
   * @param {Listener} entry
   * @returns {Promise<void>}
   */
  async #removeListener(event, entry) {
    const topic = this.#topics.get(event);
    if (!topic || !topic.listeners.delete(entry) || topic.listeners.size > 0) return;
    this.#topics.delete(event);
    const sub = topic.sub;
    topic.sub = null;
    topic.live = false;
    topic.awaiting = false;
    // A topic's sub is a subscription of the current (or next) connection.
    if (!sub || this.#state === "closed") return;
    const unsub = sub.then(
      () => this.#request("ipc.unlisten", { event }),
      () => undefined,
    ).then(() => undefined, () => undefined);
    this.#unsubs.set(event, unsub);
    await unsub;
    if (this.#unsubs.get(event) === unsub) this.#unsubs.delete(event);
  }

  /** @param {unknown} params an `ipc.event` push's */
  #dispatch(params) {
    // A push carrying `handler` belongs to a `plugin:event|listen` subscription (ipc-tauri.js).
    if (!params || typeof params !== "object" || "handler" in params) return;
    const push = /** @type {EventPush} */ (params); // as the protocol has it; unchecked, like the payload
    const topic = this.#topics.get(push.event);
    if (!topic || !topic.live) return;
    if (typeof push.seq === "number") {
      if (topic.seq !== null && push.seq <= topic.seq) return; // seen already: in order, once
      topic.seq = push.seq;
    }
    /** @type {IpcEvent<unknown>} */
    const event = { event: push.event, payload: push.payload, source: push.source };
    topic.newest = event;
    // The newest event from before the subscription: only for those that asked.
    const starting = push.last === true;
    for (const entry of [...topic.listeners]) {
      if (!topic.listeners.has(entry)) continue; // removed by an earlier callback
      if (starting && !entry.last) continue;
      this.#call(push.event, entry, event);
    }
  }

  /**
   * Runs a listener (and removes it first if it runs once).
   * @param {string} name
   * @param {Listener} entry
   * @param {IpcEvent<unknown>} event
   */
  #call(name, entry, event) {
    if (entry.once) this.#removeListener(name, entry);
    safely(entry.cb, event);
  }

  /** @param {unknown} params an `ipc.gap` push's */
  #gap(params) {
    if (!params || typeof params !== "object") return;
    const { event, lost } = /** @type {GapPush} */ (params);
    if (typeof event !== "string") return;
    const count = typeof lost === "number" ? lost : null;
    const topic = this.#topics.get(event);
    // A notice comes before the answer to a subscription that resumes (one
    // of ipc-tauri.js's, if this client has none waiting for its answer).
    if (topic?.awaiting) {
      // Unknown: the position may be from another run, whose numbers say
      // nothing of this one's; what the server sends next is new.
      if (count === null) topic.seq = null;
      for (const entry of [...topic.listeners]) {
        if (topic.listeners.has(entry) && entry.onGap) safely(entry.onGap, count);
      }
    }
    if (typeof this.ongap === "function") safely(this.ongap, event, count);
  }

  // ---- channels ----

  /** @param {unknown} params an `ipc.channel` push's */
  #deliver(params) {
    if (!params || typeof params !== "object") return;
    const push = /** @type {ChannelPush} */ (params); // as the protocol has it; the channel checks `index`
    channels.get(push.channel)?.[DELIVER](this, push);
  }

  /**
   * Drops this client's channels (with `onlySent`, those whose call went out).
   * @param {boolean} onlySent
   * @param {string} why
   */
  #dropChannels(onlySent, why) {
    for (const channel of [...channels.values()]) channel[DROP](this, onlySent, why);
  }

  // ---- uploads (docs/protocol.md, "Uploads") ----

  /** @param {unknown} params an `ipc.upload` push's: more credit, or the server's end */
  #credit(params) {
    if (!params || typeof params !== "object") return;
    const { upload: id, credit, done } = /** @type {UploadPush} */ (params);
    const upload = this.#uploads.get(/** @type {number} */ (id));
    if (!upload) return;
    if (typeof credit === "number" && credit > upload.credit) upload.credit = credit;
    if (done === true) this.#stopUpload(upload);
    const wake = upload.wake;
    upload.wake = null;
    wake?.();
  }

  /** @param {OutgoingUpload} upload */
  #stopUpload(upload) {
    upload.done = true;
    this.#uploads.delete(upload.id);
    const wake = upload.wake;
    upload.wake = null;
    wake?.();
  }

  /** @param {OutgoingUpload} upload */
  #startUpload(upload) {
    if (upload.started || upload.done) return;
    upload.started = true;
    this.#uploads.set(upload.id, upload);
    this.#pump(upload).catch((err) => {
      if (upload.done) return;
      this.#stopUpload(upload);
      this.#notify("ipc.upload", { upload: upload.id, abort: `the upload's source failed: ${messageOf(err)}` });
    });
  }

  /**
   * Sends an upload's bytes as the server's credit allows, then its end.
   * @param {OutgoingUpload} upload
   */
  async #pump(upload) {
    // Nothing goes out before the first grant, not even the end of an empty
    // upload: the server opens the upload when the command's arguments are
    // read, which (behind middleware) can come after it has read later
    // messages, and it drops messages for an upload that is not open.
    while (!upload.done && upload.credit === 0) {
      await new Promise((resolve) => (upload.wake = () => resolve(undefined)));
    }
    if (upload.done) return;
    const iterator = chunksOf(upload.source);
    try {
      for (;;) {
        const next = await iterator.next();
        if (upload.done) return;
        if (next.done) break;
        const bytes = next.value;
        for (let at = 0; at < bytes.byteLength; ) {
          while (!upload.done && upload.sent >= upload.credit) {
            await new Promise((resolve) => (upload.wake = () => resolve(undefined)));
          }
          if (upload.done) return;
          const size = Math.min(UPLOAD_CHUNK, bytes.byteLength - at, upload.credit - upload.sent);
          this.#sendChunk(upload.id, bytes.subarray(at, at + size));
          upload.sent += size;
          at += size;
        }
      }
      if (!upload.done) this.#notify("ipc.upload", { upload: upload.id, end: true });
      this.#uploads.delete(upload.id);
    } finally {
      if (upload.done) await iterator.return?.(undefined);
    }
  }

  /**
   * One chunk: raw in a binary frame on an `ipc.v1` connection, else base64 in text.
   * @param {number} upload
   * @param {Uint8Array} bytes
   */
  #sendChunk(upload, bytes) {
    const socket = this.#socket;
    if (this.#state !== "open" || !socket) throw new Error("the connection closed");
    const protocol = /** @type {{ protocol?: unknown }} */ (socket).protocol;
    if (this.#binary && (protocol === undefined || protocol === SUBPROTOCOL)) {
      const header = `{"jsonrpc":"2.0","method":"ipc.upload","params":{"upload":${upload},"data":{"$bytes":0}},"attachments":[${bytes.byteLength}]}`;
      socket.send(encodeFrame(header, [bytes]));
    } else {
      socket.send(`{"jsonrpc":"2.0","method":"ipc.upload","params":{"upload":${upload},"data":"${base64(bytes)}"}}`);
    }
  }

  // ---- the socket ----

  /** @param {ConnectionState} state */
  #setState(state) {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    if (typeof this.onstatechange === "function") safely(this.onstatechange, state, previous);
  }

  /**
   * One attempt to open a socket. It ends in "open", or in a call to
   * #onClose: when the socket closes, when it reports an error (a socket
   * that never opened may report only that: Node 20's WebSocket does, for a
   * refused connection), or when it has not opened within the open timeout.
   */
  #openSocket() {
    /** @type {TransportSocket} */
    let socket;
    try {
      socket = this.#transport.open();
      if (!socket || typeof socket.addEventListener !== "function") {
        throw new TypeError("the transport's open() returned no socket");
      }
    } catch (err) {
      this.#onClose(null, { code: 0, reason: messageOf(err) });
      return;
    }
    this.#socket = socket;
    let opened = false;
    /** @param {{ code: number, reason: string }} ev */
    const ended = (ev) => {
      if (socket !== this.#socket) return; // an abandoned attempt, or already ended
      this.#onClose(opened ? socket : null, ev);
      if (!opened) abandon(socket);
    };
    if (this.#openTimeout > 0) {
      const ms = this.#openTimeout;
      this.#openTimer = setTimeout(() => ended({ code: 0, reason: `it did not open within ${ms} ms` }), ms);
    }
    socket.addEventListener("open", () => {
      if (socket !== this.#socket) return;
      opened = true;
      clearTimeout(this.#openTimer);
      this.#onOpen();
    });
    socket.addEventListener("message", (ev) => {
      if (socket === this.#socket) this.#onMessage(ev.data);
    });
    socket.addEventListener("close", (ev) => ended({ code: ev.code, reason: ev.reason }));
    // Usually followed by "close", but not always: the error is the end.
    socket.addEventListener("error", (ev) => ended({ code: 1006, reason: errorReason(ev) }));
  }

  #onOpen() {
    this.#attempts = 0;
    this.#setState("open");
    this.#openWaiter?.resolve();
    this.#openWaiter = null;
    // Events still listened to locally were subscribed on a previous
    // connection: resume them (those listened to while reconnecting are
    // already queued).
    for (const [event, topic] of this.#topics) {
      if (topic.sub) continue;
      this.#subscribe(event).catch((err) => err.code === ErrorCode.DISCONNECTED || report(err));
    }
    const outbox = this.#outbox;
    this.#outbox = [];
    for (const [id, data] of outbox) this.#send(id, data);
  }

  /** @param {string | ArrayBuffer | ArrayBufferView} data a text message or a binary frame */
  #onMessage(data) {
    /** @type {unknown} */
    let msg;
    if (typeof data === "string") {
      try {
        msg = parseJson(data);
      } catch {
        return;
      }
    } else {
      msg = decodeFrame(data);
      if (msg === undefined) return; // a malformed binary frame
    }
    for (const item of Array.isArray(msg) ? msg : [msg]) {
      if (!item || typeof item !== "object") continue;
      const m = /** @type {ServerMessage} */ (item); // a JSON object, shaped as the protocol has it
      if (typeof m.method === "string") {
        if (m.method === "ipc.event") this.#dispatch(m.params);
        else if (m.method === "ipc.channel") this.#deliver(m.params);
        else if (m.method === "ipc.gap") this.#gap(m.params);
        else if (m.method === "ipc.upload") this.#credit(m.params);
        if (typeof this.onnotification === "function") safely(this.onnotification, m.method, m.params);
        continue;
      }
      const entry = this.#settle(m.id);
      if (!entry) continue; // unknown, timed out or cancelled
      if (m.error) {
        if (NOT_RUN.has(m.error.code)) this.#endChannels(entry);
        entry.reject(new IpcError(m.error.code, m.error.message, m.error.data));
      } else entry.resolve(m.result);
    }
  }

  /**
   * `socket` is the socket that was open, or null if it never opened.
   * @param {TransportSocket | null} socket
   * @param {{ code: number, reason: string }} ev
   */
  #onClose(socket, ev) {
    this.#socket = null;
    clearTimeout(this.#openTimer);
    if (this.#state === "closed") return;
    const detail = `code ${ev.code}${ev.reason ? `, ${ev.reason}` : ""}`;
    if (this.#openWaiter) {
      this.#setState("closed");
      this.#openWaiter.reject(new IpcError(ErrorCode.DISCONNECTED, `ipc: could not connect to ${this.#describe} (${detail})`));
      this.#openWaiter = null;
      return;
    }
    if (socket) {
      // The server dropped this connection's subscriptions; each topic keeps its position.
      for (const topic of this.#topics.values()) {
        topic.sub = null;
        topic.live = false;
        topic.awaiting = false;
      }
      this.#unsubs.clear();
    }
    const why = `the connection to ${this.#describe} closed (${detail})`;
    if (!this.#backoff) {
      this.#setState("closed");
      this.#failPending(() => true, `${why} before the response arrived`);
      this.#dropChannels(false, why);
      return;
    }
    if (socket) {
      this.#failPending((e) => e.sent, `${why} before the response arrived`);
      this.#dropChannels(true, why);
      this.#setState("reconnecting");
    }
    // Another attempt, and after it another, until one opens or close() is called.
    this.#retryTimer = setTimeout(() => this.#openSocket(), this.#nextDelay());
  }

  /**
   * The wait before the next attempt: the first delay, doubled after each
   * failed attempt up to the cap, less a random part of it (`jitter`), so
   * that clients cut off together do not all come back at the same moment.
   * @returns {number}
   */
  #nextDelay() {
    const { delayMs, maxDelayMs, jitter } = /** @type {Required<ReconnectOptions>} */ (this.#backoff);
    const full = Math.min(maxDelayMs, delayMs * 2 ** Math.min(this.#attempts, 31));
    this.#attempts++;
    return Math.round(full * (1 - jitter * Math.random()));
  }
}

/**
 * What an "error" event says went wrong, if anything: `ws`, Node's WebSocket
 * and ipc-stdio.js give an `error` or a `message`; a browser gives neither.
 * @param {Event} ev
 * @returns {string}
 */
function errorReason(ev) {
  const { error, message } = /** @type {{ error?: unknown, message?: unknown }} */ (ev);
  if (error !== undefined && error !== null) return messageOf(error);
  return typeof message === "string" ? message : "";
}

/**
 * Closes a socket given up on before it opened; it may throw, or already be closed.
 * @param {TransportSocket} socket
 */
function abandon(socket) {
  try {
    socket.close();
  } catch {
    // nothing to close
  }
}

// ---- uploads ----

/** The most bytes one upload chunk carries. */
const UPLOAD_CHUNK = 256 * 1024;

/**
 * A value `invoke` streams as an upload: a Blob (a File), a
 * ReadableStream, or an async iterable of Uint8Array (not a Channel).
 * @param {unknown} value
 * @returns {value is UploadSource}
 */
function isUploadSource(value) {
  if (value === null || typeof value !== "object" || isBinary(value) || value instanceof Channel) return false;
  if (typeof Blob !== "undefined" && value instanceof Blob) return true;
  if (typeof ReadableStream !== "undefined" && value instanceof ReadableStream) return true;
  return typeof (/** @type {{ [Symbol.asyncIterator]?: unknown }} */ (value)[Symbol.asyncIterator]) === "function";
}

/**
 * `params` with each top-level upload source replaced by what `swap` returns for it.
 * @param {InvokeArgs} params
 * @param {(source: UploadSource) => string} swap
 * @returns {InvokeArgs}
 */
function swapUploads(params, swap) {
  if (isBinary(params)) return params;
  if (Array.isArray(params)) return params.some(isUploadSource) ? params.map((v) => (isUploadSource(v) ? swap(v) : v)) : params;
  const record = /** @type {Record<string, unknown>} */ (params);
  if (!Object.values(record).some(isUploadSource)) return params;
  return Object.fromEntries(Object.entries(record).map(([key, v]) => [key, isUploadSource(v) ? swap(v) : v]));
}

/**
 * The chunks of an upload source, as Uint8Arrays.
 * @param {UploadSource} source
 * @returns {AsyncIterator<Uint8Array>}
 */
function chunksOf(source) {
  const stream = typeof Blob !== "undefined" && source instanceof Blob ? source.stream() : source;
  if (typeof ReadableStream !== "undefined" && stream instanceof ReadableStream) {
    const reader = stream.getReader();
    return {
      async next() {
        const { done, value } = await reader.read();
        return done ? { done: true, value: undefined } : { done: false, value: chunkBytes(value) };
      },
      async return() {
        await reader.cancel().catch(() => {});
        return { done: true, value: undefined };
      },
    };
  }
  const inner = /** @type {AsyncIterable<unknown>} */ (stream)[Symbol.asyncIterator]();
  return {
    async next() {
      const { done, value } = await inner.next();
      return done ? { done: true, value: undefined } : { done: false, value: chunkBytes(value) };
    },
    async return() {
      await inner.return?.();
      return { done: true, value: undefined };
    },
  };
}

/**
 * A chunk's bytes; anything but binary data fails the upload.
 * @param {unknown} value
 * @returns {Uint8Array}
 */
function chunkBytes(value) {
  if (!isBinary(value)) throw new TypeError("an upload's chunks must be Uint8Arrays");
  return bytesOf(value);
}

/**
 * Base64 of some bytes (Node's Buffer when there is one).
 * @param {Uint8Array} bytes
 * @returns {string}
 */
function base64(bytes) {
  const NodeBuffer = /** @type {{ Buffer?: { from(b: ArrayBufferLike, offset: number, length: number): { toString(enc: string): string } } }} */ (globalThis).Buffer;
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  let text = "";
  for (let i = 0; i < bytes.byteLength; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

/**
 * A request as a text frame, or as one binary frame when `attach` and binary
 * values are among the top-level params (or are the params). Returns the
 * frame and the {@link Channel}s found anywhere in the params. Without
 * `attach`, bytes become JSON arrays of numbers wherever they are.
 * @param {number} id
 * @param {string} method
 * @param {InvokeArgs} params
 * @param {boolean} attach
 * @returns {{ data: string | Uint8Array, channels: ChannelWiring[] }}
 */
function encodeRequest(id, method, params, attach) {
  /** @type {Uint8Array[]} */
  const attachments = [];
  if (!attach && isBinary(params)) params = [params]; // binary args are the first positional one
  if (attach) {
    const placeholder = (/** @type {BinaryData} */ value) => ({ $bytes: attachments.push(bytesOf(value)) - 1 });
    const swap = (/** @type {unknown} */ value) => (isBinary(value) ? placeholder(value) : value);
    if (isBinary(params)) params = [placeholder(params)];
    else if (Array.isArray(params)) {
      if (params.some(isBinary)) params = params.map(swap);
    } else if (Object.values(params).some(isBinary)) {
      params = Object.fromEntries(Object.entries(params).map(([key, value]) => [key, swap(value)]));
    }
  }
  /** @type {Set<ChannelWiring>} */
  const channels = new Set();
  /** @type {{ jsonrpc: "2.0", id: number, method: string, params: InvokeArgs, attachments?: number[] }} */
  const message = { jsonrpc: "2.0", id, method, params };
  if (attachments.length > 0) message.attachments = attachments.map((a) => a.byteLength);
  const json = stringifyJson(message, function (key, value) {
    const original = this[key]; // before toJSON (a Channel's, a Buffer's)
    if (original instanceof Channel) channels.add(original);
    else if (isBinary(original)) return Array.from(bytesOf(original)); // deeper bytes: a JSON array
    return value;
  });
  return { data: attachments.length > 0 ? encodeFrame(json, attachments) : json, channels: [...channels] };
}

/** @type {IpcClient | null} */
let defaultClient = null;

/**
 * Opens a connection and resolves to its {@link IpcClient} once the socket is
 * open (rejects with an {@link IpcError} DISCONNECTED if it cannot open, even
 * with `reconnect`, which only applies once connected). The new client becomes
 * the default one used by the module-level `invoke`, `listen`, `once`, `emit`.
 *
 * Two forms: `connect(url?, options?)` over WebSocket, and
 * `connect({ transport, ...options })` over another transport (see the top of
 * this file, and ipc-stdio.js), where `WebSocket` and `protocols` do not apply.
 *
 * @overload
 * @param {string | URL} [url] default, in a browser:
 *   `ws(s)://<page host>/ipc`, with the page's `?token=` query parameter
 *   forwarded.
 * @param {ConnectOptions} [options] `WebSocket` constructor (default globalThis.WebSocket),
 *   `timeout` (default invoke timeout in ms, default none), `openTimeout`
 *   (ms each attempt to open may take, default 10000), `reconnect`
 *   (boolean or `{ delayMs, maxDelayMs, jitter }`, default false), `protocols`
 *   (default `["ipc.v1"]`, which asks for binary frames; `[]` for plain
 *   JSON-RPC, bytes then arrive as arrays of numbers), `onstatechange`,
 *   `ongap`, `onnotification`.
 * @returns {Promise<IpcClient>}
 */
/**
 * @overload
 * @param {TransportConnectOptions} options the options, with a `transport`.
 * @returns {Promise<IpcClient>}
 */
/**
 * The implementation's signature: the two forms above, which it tells apart
 * at run time, and a `transport` given with a URL, which it refuses.
 * @param {string | URL | TransportConnectOptions} [url]
 * @param {ConnectOptions & { transport?: Transport }} [options]
 * @returns {Promise<IpcClient>}
 */
export async function connect(url, options = {}) {
  /** @type {Transport} */
  let transport;
  if (url !== null && typeof url === "object" && !(url instanceof URL) && "transport" in url) {
    if (arguments.length > 1) throw new TypeError("ipc: connect({ transport, ...options }) takes one argument");
    options = url;
    transport = checkTransport(options.transport);
  } else if (options.transport !== undefined) {
    throw new TypeError("ipc: give a URL or a transport, not both: connect({ transport, ...options })");
  } else if (url == null && desktopTransport()) {
    transport = checkTransport(desktopTransport());
  } else {
    transport = webSocketTransport(String(url ?? defaultUrl()), options);
  }
  const client = new IpcClient(transport, options);
  await client[START]();
  defaultClient = client;
  return client;
}

function current() {
  if (!defaultClient) throw new Error("ipc: not connected; call `await connect()` first");
  return defaultClient;
}

/**
 * {@link IpcClient#invoke} on the default client (the latest `connect()`).
 * @type {IpcClient["invoke"]}
 */
export async function invoke(cmd, args, options) {
  return current().invoke(cmd, args, options);
}

/**
 * {@link IpcClient#listen} on the default client (the latest `connect()`).
 * @type {IpcClient["listen"]}
 */
export async function listen(event, cb, options) {
  return current().listen(event, cb, options);
}

/**
 * {@link IpcClient#once} on the default client (the latest `connect()`).
 * @type {IpcClient["once"]}
 */
export async function once(event, cb, options) {
  return current().once(event, cb, options);
}

/**
 * {@link IpcClient#emit} on the default client (the latest `connect()`).
 * @type {IpcClient["emit"]}
 */
export async function emit(event, payload, options) {
  return current().emit(event, payload, options);
}
