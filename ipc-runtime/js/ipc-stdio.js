// ipc-stdio.js: a transport for ipc.js that drives a sidecar process over its
// stdin and stdout, one JSON-RPC message per line (the backend serves with
// `App::serve_stdio`; see docs/protocol.md, "stdio"). For Node and Electron's
// main process. Dependency-free, and it imports no Node module: it is handed
// the streams.
//
//   import { spawn } from "node:child_process";
//   import { connect } from "./ipc.js";                 // ipc-runtime/js/ipc.js
//   import { stdioTransport } from "./ipc-stdio.js";    // ipc-runtime/js/ipc-stdio.js
//
//   const child = spawn("./my-sidecar", [], { stdio: ["pipe", "pipe", "inherit"] });
//   const ipc = await connect({ transport: stdioTransport(child) });
//   await ipc.invoke("todos.list");
//   ipc.close();                                        // ends its stdin: the sidecar exits
//
// No binary frames on a pipe: byte arguments go as JSON arrays of numbers, and
// byte results arrive as arrays of numbers (not Uint8Arrays).
//
// The connection closes when the child's stdout ends or the child exits;
// closing it ends the child's stdin. A transport over one child opens once:
// give a function that spawns a child instead, and each open (a reconnect
// with `reconnect`) starts a new one.
//
// A reconnect is a restarted sidecar: a new run of the backend, with its
// state and its event numbers starting again. What survives is the client's
// side: its listeners are subscribed again on the new sidecar, each told of
// a gap of unknown size (`onGap(null)`, and the client's `ongap`), since the
// new run cannot know what the old one emitted; a name the backend keeps
// (`replay = N`, `last`) then starts with the new run's newest kept event, if
// it has emitted one yet. Calls in flight when the old sidecar died reject
// with DISCONNECTED; calls made meanwhile go to the new one.
//
// Types: declared once, in ipc-stdio.d.ts (and ipc.d.ts); `npm run
// check:types` checks this file against them (tests/js/tsconfig.impl.json).

/**
 * @import { StdioReadable, StdioSource, StdioTransport, StdioTransportOptions, StdioWritable } from "./ipc-stdio.d.ts"
 * @import { TransportSocket } from "./ipc.d.ts"
 */

/**
 * What this file uses of a Node `ChildProcess`, beyond its pipes: its events
 * ("error", "exit"). Told apart from bare `{ stdin, stdout }` by having `kill`
 * and `on` methods.
 * @typedef {object} ChildProcessEvents
 * @property {StdioReadable["on"]} on an EventEmitter's, as the streams'
 * @property {StdioReadable["removeListener"]} [removeListener]
 */

/**
 * A transport over a child process's pipes, for `connect({ transport })`.
 *
 * @param {StdioSource | (() => StdioSource)} source a Node `ChildProcess` spawned with
 *   piped stdin and stdout, or `{ stdin, stdout }` streams (stdin writable,
 *   stdout readable); or a function returning one, called at each open.
 * @param {StdioTransportOptions} [options] `describe`: how error messages and
 *   `client.url` name the connection (default `stdio (pid N)`).
 * @returns {StdioTransport}
 */
export function stdioTransport(source, options = {}) {
  if (typeof source !== "function" && (source === null || typeof source !== "object")) {
    throw new TypeError("ipc-stdio: give a ChildProcess, { stdin, stdout }, or a function returning one");
  }
  let used = false;
  return {
    binary: false,
    describe: options.describe ?? (typeof source === "function" ? "stdio" : describeSource(source)),
    // A StdioSocket is a TransportSocket, but its addEventListener is
    // EventTarget's, whose types promise every listener a bare Event: they
    // cannot say that its "message" and "close" events carry `data`, `code`
    // and `reason` (see #receive and #close). Hence the casts through
    // `unknown`, the one place the checker is told rather than shown.
    open() {
      if (typeof source === "function") return /** @type {TransportSocket} */ (/** @type {unknown} */ (new StdioSocket(source())));
      if (used) {
        throw new Error("this stdio transport's process was already connected once; pass a function that spawns a new one");
      }
      used = true;
      return /** @type {TransportSocket} */ (/** @type {unknown} */ (new StdioSocket(source)));
    },
  };
}

/** @param {StdioSource} source */
function describeSource(source) {
  return Number.isInteger(source.pid) ? `stdio (pid ${source.pid})` : "stdio";
}

/**
 * The WebSocket-like socket ipc.js uses, over a pair of streams: each line of
 * `stdout` is a "message", each `send` a line on `stdin`.
 */
class StdioSocket extends EventTarget {
  /** @type {StdioWritable} */
  #stdin;
  /** @type {ChildProcessEvents | null} */
  #process; // the ChildProcess, if given one
  #decoder = new TextDecoder("utf-8");
  #partial = ""; // the start of a line whose end has not arrived
  #opened = false;
  #closed = false;
  /** @type {Array<() => void>} */
  #off = []; // removes the listeners this socket added

  /** @param {StdioSource & Partial<ChildProcessEvents> & { kill?: unknown }} source */
  constructor(source) {
    super();
    if (source === null || typeof source !== "object") {
      throw new TypeError("ipc-stdio: the function gave no ChildProcess or { stdin, stdout }");
    }
    this.#process =
      typeof source.kill === "function" && typeof source.on === "function" ? /** @type {ChildProcessEvents} */ (source) : null;
    // First, and never removed: a process that fails to start emits "error",
    // which would crash the host if nobody listened.
    this.#process?.on("error", (/** @type {Error} */ err) => this.#fail(err));
    const { stdin, stdout } = source;
    if (!stdin || typeof stdin.write !== "function" || !stdout || typeof stdout.on !== "function") {
      throw new TypeError("ipc-stdio: the process needs piped stdin and stdout: spawn it with stdio: [\"pipe\", \"pipe\", ...]");
    }
    this.#stdin = stdin;

    this.#listen(stdout, "data", (/** @type {string | Uint8Array} */ chunk) => this.#receive(chunk));
    this.#listen(stdout, "end", () => this.#close(1000, "its stdout ended"));
    this.#listen(stdout, "close", () => this.#close(1000, "its stdout closed"));
    this.#listen(stdout, "error", (/** @type {Error} */ err) => this.#fail(err));
    // Never removed: a write failing after the close (EPIPE) must not crash the host.
    stdin.on?.("error", (/** @type {Error} */ err) => this.#fail(err));
    if (this.#process) {
      // Lines still in the pipe come first: close at stdout's end, or soon after the exit.
      this.#listen(this.#process, "exit", (/** @type {number | null} */ code, /** @type {string | null} */ signal) => {
        // Node's timers have unref() (this one must not keep the host alive);
        // the DOM types this file is checked with know only a number.
        const timer = /** @type {{ unref?(): void }} */ (setTimeout(() => this.#close(1006, exitReason(code, signal)), 1000));
        timer.unref?.();
      });
    }
    // Like a WebSocket, "open" comes later; a process that failed to start
    // reports its error first (Node emits it on the next tick).
    setTimeout(() => {
      if (this.#closed) return;
      if (stdout.readableEnded || stdout.destroyed || stdin.destroyed || stdin.writable === false) {
        this.#close(1006, "its pipes are closed");
        return;
      }
      this.#opened = true;
      this.dispatchEvent(new Event("open"));
    }, 0);
  }

  /**
   * Writes one message as one line. Text only: a pipe carries no binary frames.
   * @param {string | Uint8Array} data
   */
  send(data) {
    if (typeof data !== "string") throw new TypeError("ipc-stdio: only text messages go over stdio");
    if (this.#closed) throw new Error("ipc-stdio: the connection is closed");
    // JSON.stringify never writes a raw newline, so the line is the message.
    this.#stdin.write(data + "\n");
  }

  /** Ends the child's stdin: a sidecar answers what is running and exits. */
  close() {
    try {
      this.#stdin.end();
    } catch {
      // already ended
    }
  }

  /**
   * Adds a listener that the close removes.
   * @param {StdioReadable | ChildProcessEvents} emitter
   * @param {string} event
   * @param {Parameters<StdioReadable["on"]>[1]} listener
   */
  #listen(emitter, event, listener) {
    emitter.on(event, listener);
    this.#off.push(() => emitter.removeListener?.(event, listener));
  }

  /** @param {string | Uint8Array} chunk */
  #receive(chunk) {
    if (this.#closed) return;
    const text = typeof chunk === "string" ? chunk : this.#decoder.decode(chunk, { stream: true });
    const lines = (this.#partial + text).split("\n");
    this.#partial = /** @type {string} */ (lines.pop()); // not yet ended (split gives at least one)
    for (let line of lines) {
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line.trim() === "") continue;
      this.dispatchEvent(Object.assign(new Event("message"), { data: line }));
      if (this.#closed) return;
    }
  }

  /** @param {Error | undefined} err what an "error" event gave */
  #fail(err) {
    if (this.#closed) return;
    this.dispatchEvent(Object.assign(new Event("error"), { error: err }));
    this.#close(1006, err?.message ?? String(err));
  }

  /**
   * @param {number} code
   * @param {string} reason
   */
  #close(code, reason) {
    if (this.#closed) return;
    // A last line without a newline still counts.
    const rest = (this.#partial + this.#decoder.decode()).replace(/\r$/, "");
    this.#partial = "";
    if (this.#opened && rest.trim() !== "") this.dispatchEvent(Object.assign(new Event("message"), { data: rest }));
    this.#closed = true;
    for (const off of this.#off.splice(0)) off();
    this.close();
    this.dispatchEvent(Object.assign(new Event("close"), { code, reason }));
  }
}

/**
 * @param {number | null} code
 * @param {string | null} signal
 */
function exitReason(code, signal) {
  return signal ? `the process was killed by ${signal}` : `the process exited with code ${code}`;
}
