// Type declarations for ipc-tauri.js: runs a frontend written for Tauri v2
// (`@tauri-apps/api`), unmodified, in a plain browser against this runtime's
// backend. See the comment at the top of ipc-tauri.js for what differs from Tauri.

import type { ConnectOptions, IpcClient } from "./ipc.js";

export interface TauriInternalsOptions extends ConnectOptions {
  /**
   * This window's label (`getCurrentWindow().label`), sent to the server as
   * the `label` query parameter of the WebSocket URL; `emitTo(label, ...)`
   * reaches the connections with that label. The server binds labels: it
   * accepts only one the browser was given (a window's own address, from
   * `ServerHandle::window_url`, carries it). Default: the URL's own `label`
   * parameter; without one the connection has no label, and
   * `getCurrentWindow().label` reads "main".
   */
  label?: string;
  /**
   * What `convertFileSrc(path, protocol)` returns. Default: Tauri's
   * `asset://localhost/<encoded path>`, which a plain browser cannot load.
   */
  convertFileSrc?: (filePath: string, protocol?: string) => string;
}

/**
 * Connects to the backend and installs `window.__TAURI_INTERNALS__` (`invoke`,
 * `transformCallback`, `unregisterCallback`, `runCallback`, `callbacks`,
 * `convertFileSrc`, `metadata`) and
 * `window.__TAURI_EVENT_PLUGIN_INTERNALS__.unregisterListener`, and sets
 * `window.isTauri`. The internals are in place at once (calls made before the
 * connection opens wait for it); resolves with the connection once it is open,
 * and rejects if it cannot open. Installing again closes the previous
 * connection. The connection becomes ipc.js's default client.
 *
 * With `options.reconnect`, event listeners survive a reconnect: each is
 * listened to again on the new connection, resuming after the last event it
 * saw (the events the backend kept arrive first, in order, once), under the
 * event id `listen` gave. The shim sets the client's `onstatechange` and
 * `onnotification` for this: pass yours as options, not on the client.
 *
 * @param url default: the page's `ws(s)://<host>/ipc`, as ipc.js's `connect`.
 */
export declare function installTauriInternals(url?: string | URL, options?: TauriInternalsOptions): Promise<IpcClient>;
