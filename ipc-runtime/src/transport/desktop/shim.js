// Injected into every page of a native window (transport/desktop) before the
// page's own scripts run. It presents the webview's message channel
// (`window.ipc.postMessage` one way, scripts the Rust side evaluates the
// other) as WebSocket-like sockets, so ipc.js's `connect()` works unchanged:
// with no URL, ipc.js uses `globalThis.__IPC_DESKTOP__.transport`.
//
// Page -> Rust: "o<id>" opens socket <id>, "c<id>" closes it, "m<id>:<text>"
// sends JSON-RPC messages on it (several, separated by "\n"), "s<id>:<text>"
// exactly one (which may hold a newline). Rust -> page: `o(id)` (opened), `r(id,
// [texts])` (messages, in order), `x(id, reason)` (ended by the app).
// `__IPC_DESKTOP_LABEL__` is replaced by the window's label (a JSON string).
(() => {
  if (globalThis.__IPC_DESKTOP__) return;
  const label = __IPC_DESKTOP_LABEL__;
  /** @type {Map<number, DesktopSocket>} */
  const sockets = new Map();
  let nextId = 1;
  const post = (text) => window.ipc.postMessage(text);
  /** Messages of one socket waiting for the end of the current task. */
  const pending = { id: 0, texts: [], scheduled: false };
  const flush = () => {
    pending.scheduled = false;
    if (pending.texts.length === 0) return;
    post("m" + pending.id + ":" + pending.texts.join("\n"));
    pending.texts = [];
  };

  class DesktopSocket extends EventTarget {
    constructor() {
      super();
      this.id = nextId++;
      this.readyState = 0; // CONNECTING, as a WebSocket's
      this.binaryType = "arraybuffer";
      sockets.set(this.id, this);
      post("o" + this.id);
    }
    send(data) {
      if (typeof data !== "string") throw new TypeError("ipc desktop: only text messages travel over the window");
      if (this.readyState !== 1) throw new Error("ipc desktop: the socket is not open");
      // Messages sent in one task go in one post (a round trip of the
      // webview each), newline-separated: JSON.stringify never writes a raw
      // newline; a message holding one goes alone, as "s<id>:<text>".
      if (data.includes("\n")) {
        flush();
        post("s" + this.id + ":" + data);
        return;
      }
      if (pending.id !== this.id) flush();
      pending.id = this.id;
      pending.texts.push(data);
      if (!pending.scheduled) {
        pending.scheduled = true;
        queueMicrotask(flush);
      }
    }
    close(code = 1000, reason = "") {
      if (this.readyState >= 2) return;
      flush();
      this.readyState = 3;
      sockets.delete(this.id);
      post("c" + this.id);
      queueMicrotask(() => this.dispatchEvent(Object.assign(new Event("close"), { code, reason, wasClean: true })));
    }
  }

  const ended = (id, reason) => {
    const socket = sockets.get(id);
    if (!socket) return;
    sockets.delete(id);
    socket.readyState = 3;
    socket.dispatchEvent(Object.assign(new Event("close"), { code: 1001, reason: String(reason ?? ""), wasClean: false }));
  };

  Object.defineProperty(globalThis, "__IPC_DESKTOP__", {
    value: Object.freeze({
      label,
      transport: Object.freeze({ binary: false, describe: "desktop window " + label, open: () => new DesktopSocket() }),
      o(id) {
        const socket = sockets.get(id);
        if (!socket || socket.readyState !== 0) return;
        socket.readyState = 1;
        socket.dispatchEvent(new Event("open"));
      },
      r(id, texts) {
        const socket = sockets.get(id);
        if (!socket) return;
        for (const data of texts) {
          if (socket.readyState !== 1) return;
          socket.dispatchEvent(Object.assign(new Event("message"), { data }));
        }
      },
      x: ended,
    }),
    enumerable: false,
    configurable: false,
    writable: false,
  });
})();
