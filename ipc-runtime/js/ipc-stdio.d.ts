// Type declarations for ipc-stdio.js: a transport for ipc.js that drives a
// sidecar process over its stdin/stdout, one JSON-RPC message per line. It
// imports no Node module; the stream types below are the little it uses, which
// Node's ChildProcess and streams satisfy.

import type { Transport } from "./ipc.js";

/** The child's stdin: what ipc-stdio.js writes lines to. */
export interface StdioWritable {
  write(chunk: string): unknown;
  end(): unknown;
  on(event: string, listener: (...args: any[]) => void): unknown;
  readonly destroyed?: boolean;
  readonly writable?: boolean;
}

/** The child's stdout: where ipc-stdio.js reads lines from ("data" chunks, "end", "close", "error"). */
export interface StdioReadable {
  on(event: string, listener: (...args: any[]) => void): unknown;
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
  readonly readableEnded?: boolean;
  readonly destroyed?: boolean;
}

/** A Node `ChildProcess` spawned with piped stdin and stdout, or just the two streams. */
export interface StdioSource {
  stdin: StdioWritable | null;
  stdout: StdioReadable | null;
  /** Names the connection (`stdio (pid N)`). */
  readonly pid?: number | undefined;
}

export interface StdioTransportOptions {
  /** How `client.url` and error messages name the connection; default `stdio (pid N)`. */
  describe?: string;
}

/** What {@link stdioTransport} returns: never binary. */
export interface StdioTransport extends Transport {
  readonly binary: false;
  readonly describe: string;
}

/**
 * A transport over a child process's pipes, for `connect({ transport })`.
 * Bytes travel as JSON arrays of numbers (no binary frames on a pipe). The
 * connection closes when the child's stdout ends or the child exits; closing
 * it ends the child's stdin. Over one child it opens once; given a function,
 * it calls it at each open (so `reconnect` spawns a new child).
 */
export declare function stdioTransport(
  source: StdioSource | (() => StdioSource),
  options?: StdioTransportOptions,
): StdioTransport;
