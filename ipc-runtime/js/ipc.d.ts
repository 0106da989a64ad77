// Type declarations for ipc.js, the frontend client of the IPC runtime
// (JSON-RPC 2.0 over WebSocket, or another {@link Transport}; the wire format
// is docs/protocol.md).
//
// Bytes: commands returning `Vec<u8>`/`Bytes` resolve to a `Uint8Array` (a view
// into the received frame), or to a `number[]` on a connection opened without
// the `ipc.v1` subprotocol. Binary values at the top level of `invoke`'s args
// are sent raw; deeper ones as arrays of bytes.
//
// Large integers: integers in received messages beyond Number.MAX_SAFE_INTEGER
// (Rust's u64, i64, i128, u128 values past 2^53) arrive as `bigint`, exactly;
// smaller ones as `number`. `bigint` values in args and payloads are sent as
// exact JSON integers.

/** JSON-RPC error codes used by the runtime. */
export declare const ErrorCode: {
  readonly PARSE_ERROR: -32700;
  readonly INVALID_REQUEST: -32600;
  readonly METHOD_NOT_FOUND: -32601;
  readonly INVALID_PARAMS: -32602;
  readonly INTERNAL_ERROR: -32603;
  readonly COMMAND_ERROR: -32000;
  readonly FORBIDDEN: -32001;
  readonly LIMIT_EXCEEDED: -32002;
  readonly CANCELLED: -32003;
  /** Raised by the client when an invoke's timeout fires; never sent by the server. */
  readonly TIMEOUT: -32004;
  /** Raised by the client for calls pending when the connection closed; never sent by the server. */
  readonly DISCONNECTED: -32005;
  /** The connection's rate limit is spent; `data.retryAfterMs` says when to try again. */
  readonly RATE_LIMITED: -32006;
};

/** One of the {@link ErrorCode} values. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * The error every failed call rejects with: the server's JSON-RPC error object,
 * or one raised by the client itself (TIMEOUT, CANCELLED, DISCONNECTED).
 */
export declare class IpcError extends Error {
  constructor(code: number, message: string, data?: unknown);
  readonly name: "IpcError";
  /** The JSON-RPC error code: an {@link ErrorCode} value, or an application's own. */
  code: number;
  /** The error object's `data` (e.g. `{ command, suggestion }` for -32601), or undefined. */
  data: unknown;
}

/** The state of a client's connection. */
export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

/** Told of each change of a client's {@link ConnectionState}: the new one, and the one before. */
export type StateChangeHandler = (state: ConnectionState, previous: ConnectionState) => void;

/** What a listener receives. */
export interface IpcEvent<T = any> {
  /** The event name. */
  event: string;
  /** The emitted payload. */
  payload: T;
  /** The client id of the emitter, 0 for the Rust backend. */
  source: number;
}

/** Removes a listener; calling it again does nothing. */
export type UnlistenFn = () => Promise<void>;

/** Options of `listen` and `once`. */
export interface ListenOptions {
  /**
   * Start with the newest event of the name from before listening, if there
   * is one: the one the backend keeps (names it keeps events of: `#[event(..,
   * replay = N)]`, `#[event(.., last)]`), or the newest this client already
   * received for another listener. Then the live ones, with no gap and no
   * duplicate in between. The callback may run before `listen` resolves.
   * Default false: only events from after the subscription.
   */
  last?: boolean;
  /**
   * Called when events of the name were missed, before the events that come
   * after them: `lost` of them, or null when the number is unknown (the
   * backend restarted, or resuming from further back than it remembers).
   * Happens when a reconnect resumes past what the backend keeps.
   */
  onGap?: ((lost: number | null) => void) | null;
}

/** Told of each gap notice: events of `event` were missed, `lost` of them (null: unknown). */
export type GapHandler = (event: string, lost: number | null) => void;

/** Who receives an emitted event (docs/protocol.md, "Event targets"). */
export type EmitTarget = "all" | "backend" | { client: number } | { label: string };

/** Values sent as bytes: any typed array, a DataView, an ArrayBuffer. */
export type BinaryData = ArrayBuffer | ArrayBufferView;

/**
 * Arguments of a command: by name (object) or by position (array); binary
 * args are the command's first positional argument.
 */
export type InvokeArgs = Record<string, unknown> | readonly unknown[] | BinaryData;

/**
 * What `invoke` streams to a command's `Upload` argument when it is given at
 * the top level of the args: a Blob (a File), a ReadableStream of bytes, or
 * an async iterable of Uint8Array (Node's streams are one).
 */
export type UploadSource = Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export interface InvokeOptions {
  /** Milliseconds before the call rejects with TIMEOUT; 0 = none. Default: the client's `timeout`. */
  timeout?: number;
  /** Aborting it rejects the call at once with CANCELLED and asks the server to cancel it. */
  signal?: AbortSignal;
}

export interface EmitOptions {
  /** Default "all": Rust listeners and every subscribed connection. */
  target?: EmitTarget;
}

/**
 * How to reconnect. A setting that is missing, not a finite number, negative
 * (or, for `jitter`, above 1) takes its default.
 */
export interface ReconnectOptions {
  /** First delay before reconnecting (ms; less than 1 is taken as 1), doubled after each failed attempt. Default 500. */
  delayMs?: number;
  /** Upper bound of the delay (ms); it also caps `delayMs`. Default 10000. */
  maxDelayMs?: number;
  /**
   * The random part of each delay, from 0 to 1: a delay `d` becomes a value
   * between `d * (1 - jitter)` and `d`, so that clients cut off together do
   * not all come back at once. Default 0.5.
   */
  jitter?: number;
}

/**
 * The WebSocket-like socket a {@link Transport} opens: the subset of the
 * WebSocket interface ipc.js uses. Events: "open" once it is usable;
 * "message" with `data` (a JSON-RPC message: a string, or a binary frame as
 * an ArrayBuffer or a view); "close" with `code` and `reason`, once, also when
 * it never opened; "error", with an `error` or `message` saying why if it
 * can. The client takes the first "close" or "error" as the end of the socket
 * (Node 20's WebSocket reports a refused connection with an "error" alone),
 * and one that has not opened within `openTimeout` as failed: it calls
 * `close()` on a socket it gives up on, which may then do nothing.
 */
export interface TransportSocket {
  addEventListener(type: "open" | "error", listener: (event: Event) => void): void;
  addEventListener(type: "message", listener: (event: { data: string | ArrayBuffer | ArrayBufferView }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  /** Sends one message: a string, or a binary frame (only if the transport is `binary`). */
  send(data: string | Uint8Array): void;
  close(code?: number): void;
}

/**
 * A way to reach the backend other than the default WebSocket, for
 * `connect({ transport })`: ipc-stdio.js's `stdioTransport`, or your own.
 */
export interface Transport {
  /** Opens a connection; called once per connect, and again at each reconnect. May throw. */
  open(): TransportSocket;
  /**
   * Whether the connection carries binary frames (default false). When not
   * `true`, the client never sends one: byte arguments go as JSON arrays of numbers.
   */
  readonly binary?: boolean;
  /** How `client.url` and error messages name the connection. */
  readonly describe?: string;
}

/** The shape of a WebSocket constructor: the browser's, Node's global one, or `ws`'s. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => any;

export interface ConnectOptions {
  /** WebSocket constructor; default `globalThis.WebSocket`. In Node 20 pass `WebSocket` from `ws`, or run with `--experimental-websocket`. */
  WebSocket?: WebSocketConstructor;
  /** Default timeout in ms of every call (invoke, listen, emit); default none. */
  timeout?: number;
  /**
   * How long each attempt to open a socket may take (ms) before it counts as
   * failed; 0 for no limit. Default 10000. The first attempt then rejects
   * `connect`; a reconnect attempt is followed by the next one.
   */
  openTimeout?: number;
  /**
   * Reconnect with backoff when an open connection closes (default false):
   * the client keeps trying, with `delayMs` doubled after each failed attempt
   * up to `maxDelayMs` (less a random `jitter`), until a socket opens or the
   * client is closed; `state` is "reconnecting" meanwhile. Calls in flight
   * when it closes reject with DISCONNECTED; calls made while reconnecting
   * wait for the new socket (or their timeout); events still listened to are
   * subscribed again once it is back. Not used for the first connection:
   * `connect` rejects if that one cannot open.
   */
  reconnect?: boolean | ReconnectOptions;
  /**
   * WebSocket subprotocols. Default `["ipc.v1"]`, which asks the server for
   * binary frames; `[]` makes a plain JSON-RPC connection (bytes then arrive
   * as arrays of numbers).
   */
  protocols?: string | string[];
  /** Set as the client's `onstatechange` before it starts connecting. */
  onstatechange?: StateChangeHandler | null;
  /** Set as the client's `ongap` before it starts connecting. */
  ongap?: GapHandler | null;
  /** Set as the client's `onnotification` before it starts connecting. */
  onnotification?: NotificationHandler | null;
}

/** Options of `connect({ transport, ...options })`: those of {@link ConnectOptions} that do not concern WebSocket. */
export interface TransportConnectOptions extends Omit<ConnectOptions, "WebSocket" | "protocols"> {
  /** How to reach the backend. */
  transport: Transport;
}

/**
 * Sees every notification the server pushes (`ipc.event`, `ipc.channel`, any
 * other), after the client has handled it, with binary placeholders already
 * replaced by `Uint8Array`s.
 */
export type NotificationHandler = (method: string, params: any) => void;

/**
 * A stream of messages from a running command (one taking a `Channel<T>`) to
 * this page. Pass it as an `invoke` argument; messages reach `onmessage` in
 * the order they were sent, and `ended` resolves once the command has dropped
 * the channel and every message was delivered.
 *
 * A channel serves one call: passing it to a second call rejects that call
 * with a TypeError. If its call fails before the command runs (unknown
 * command, bad arguments, ...) or never goes out (timeout, abort), the
 * channel ends at once.
 */
export declare class Channel<T = any> {
  constructor(onmessage?: ((message: T) => void) | null);
  /** Unique in the page; the id the server sees. */
  readonly id: number;
  /** Called with each message in order; messages arriving while it is null are dropped. */
  onmessage: ((message: T) => void) | null;
  /**
   * Resolves once the command has dropped the channel and every message was
   * delivered (or its call failed before the command ran); rejects with an
   * {@link IpcError} DISCONNECTED if the connection closed first (nobody has
   * to await it).
   */
  readonly ended: Promise<void>;
  /** What a `Channel<T>` argument is on the wire. */
  toJSON(): `__CHANNEL__:${number}`;
}

/** A connection to the backend; create one with {@link connect}. */
export declare class IpcClient {
  private constructor();
  /** The WebSocket URL this client connects to (a transport's `describe`, for other transports). */
  readonly url: string;
  /** The connection's state. */
  readonly state: ConnectionState;
  /** Called whenever `state` changes. */
  onstatechange: StateChangeHandler | null;
  /**
   * Called with `(event, lost)` for every gap notice the server sends (events
   * of that name were missed), after the listeners' own `onGap`.
   */
  ongap: GapHandler | null;
  /** Called with every notification the server pushes, after the client has handled it. */
  onnotification: NotificationHandler | null;

  /**
   * Calls a command. Resolves to its result (bytes as a `Uint8Array`); rejects
   * with an {@link IpcError} carrying the server's code, message and data (or
   * TIMEOUT, CANCELLED, DISCONNECTED raised by the client). Aborting
   * `options.signal` cancels the call on the server too.
   */
  invoke<T = any>(cmd: string, args?: InvokeArgs, options?: InvokeOptions): Promise<T>;
  /**
   * Subscribes `cb` to an event. Resolves once the server has confirmed the
   * subscription, so no event emitted afterwards is missed. The listener
   * stays across reconnects: the client resumes after the last event it saw
   * of the name, and the events it missed (those the backend keeps) come
   * first, in order, once; `options.onGap` is told of the ones it lost.
   * With `options.last`, the newest event from before listening comes first.
   */
  listen<T = any>(event: string, cb: (event: IpcEvent<T>) => void, options?: ListenOptions): Promise<UnlistenFn>;
  /** Like {@link IpcClient.listen}, but `cb` runs at most once. */
  once<T = any>(event: string, cb: (event: IpcEvent<T>) => void, options?: ListenOptions): Promise<UnlistenFn>;
  /** Emits an event; resolves once the server has dispatched it. */
  emit(event: string, payload?: unknown, options?: EmitOptions): Promise<void>;
  /** Closes the connection for good; pending calls reject with DISCONNECTED. */
  close(): void;
}

/**
 * Opens a connection; resolves once the socket is open (rejects with an
 * {@link IpcError} DISCONNECTED if it cannot). The client becomes the default
 * one used by the module-level {@link invoke}, {@link listen}, {@link once},
 * {@link emit}.
 *
 * @param url default, in a browser: `ws(s)://<page host>/ipc`, forwarding the
 *   page's `?token=` query parameter.
 */
export declare function connect(url?: string | URL, options?: ConnectOptions): Promise<IpcClient>;
/**
 * Opens a connection over another transport (e.g. `stdioTransport(child)`
 * from ipc-stdio.js), like {@link connect} over WebSocket otherwise.
 */
export declare function connect(options: TransportConnectOptions): Promise<IpcClient>;

/**
 * The URL {@link connect} uses when given none: the page's own
 * `ws(s)://<host>/ipc`, forwarding its `token` and `label` query parameters,
 * or, without a token, the session key the server's hand-off page stored in
 * this origin's `localStorage` (item `ipc-session`) as `session`. Throws a
 * TypeError outside a browser page.
 */
export declare function defaultUrl(): string;

/** {@link IpcClient.invoke} on the default client; rejects if `connect()` has not succeeded yet. */
export declare function invoke<T = any>(cmd: string, args?: InvokeArgs, options?: InvokeOptions): Promise<T>;
/** {@link IpcClient.listen} on the default client; rejects if `connect()` has not succeeded yet. */
export declare function listen<T = any>(event: string, cb: (event: IpcEvent<T>) => void, options?: ListenOptions): Promise<UnlistenFn>;
/** {@link IpcClient.once} on the default client; rejects if `connect()` has not succeeded yet. */
export declare function once<T = any>(event: string, cb: (event: IpcEvent<T>) => void, options?: ListenOptions): Promise<UnlistenFn>;
/** {@link IpcClient.emit} on the default client; rejects if `connect()` has not succeeded yet. */
export declare function emit(event: string, payload?: unknown, options?: EmitOptions): Promise<void>;
