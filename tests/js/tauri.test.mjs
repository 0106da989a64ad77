// ipc-tauri.js in Node, with the real, unmodified @tauri-apps/api (core and
// event) calling the e2e server through it. The browser test
// (tests/browser/tauri.test.mjs) runs a whole page; this one also covers what
// is awkward there (bytes, Maps, custom serialization, errors).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import { Channel, invoke, isTauri, SERIALIZE_TO_IPC_FN, transformCallback } from "@tauri-apps/api/core";
import { emit, emitTo, listen, once } from "@tauri-apps/api/event";
import { installTauriInternals } from "../../ipc-runtime/js/ipc-tauri.js";
import { useServer } from "./server.mjs";
import { collector, sleep, spyWebSocket, T } from "./helpers.mjs";

globalThis.window = globalThis; // what @tauri-apps/api reaches for

/** Resolves once `fn()` is truthy. */
async function until(fn, ms = 3000, what = "a condition") {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe("ipc-tauri", () => {
  const server = useServer();
  let client;
  const sent = [];
  before(async () => {
    // The window's own address: its token binds the label "main".
    client = await installTauriInternals(server.windows.main.ws, { WebSocket: spyWebSocket(sent) });
  });
  after(() => client?.close());

  test("installs the internals @tauri-apps/api expects", T, () => {
    const internals = window.__TAURI_INTERNALS__;
    for (const name of ["invoke", "transformCallback", "unregisterCallback", "runCallback", "convertFileSrc"]) {
      assert.equal(typeof internals[name], "function", name);
    }
    assert.ok(internals.callbacks instanceof Map);
    assert.deepEqual(internals.metadata, {
      currentWindow: { label: "main" },
      currentWebview: { windowLabel: "main", label: "main" },
    });
    assert.equal(typeof window.__TAURI_EVENT_PLUGIN_INTERNALS__.unregisterListener, "function");
    assert.equal(isTauri(), true);
    assert.equal(internals.convertFileSrc("/a b.png"), "asset://localhost/%2Fa%20b.png");
    assert.equal(new URL(client.url).searchParams.get("label"), "main");
  });

  test("callbacks: numeric ids, once, unregister, run", T, () => {
    const seen = [];
    const id = transformCallback((x) => seen.push(x));
    const onceId = transformCallback((x) => seen.push(`once ${x}`), true);
    assert.ok(Number.isInteger(id) && Number.isInteger(onceId) && id !== onceId);
    const { runCallback, unregisterCallback, callbacks } = window.__TAURI_INTERNALS__;
    runCallback(id, 1);
    runCallback(onceId, 2);
    runCallback(onceId, 3);
    unregisterCallback(id);
    runCallback(id, 4);
    assert.deepEqual(seen, [1, "once 2"]);
    assert.ok(!callbacks.has(id) && !callbacks.has(onceId));
  });

  test("invoke: values, and errors as Tauri gives them", T, async () => {
    assert.equal(await invoke("greet", { name: "Ada", excited: true }), "Hello, Ada!");
    assert.equal(await invoke("add", { a: 40, b: 2 }), 42);
    assert.equal(await invoke("whoami") > 0, true);
    await assert.rejects(invoke("fail", { reason: "no" }), (e) => {
      assert.deepEqual(e, { kind: "refused", reason: "no" });
      return true;
    });
    await assert.rejects(invoke("nope"), (e) => {
      assert.equal(typeof e, "string");
      assert.match(e, /nope/);
      return true;
    });
    await assert.rejects(invoke("add", { a: 1 }), (e) => typeof e === "string" && /`b`/.test(e));
    await assert.rejects(invoke("custom_error", { code: 7, message: "teapot" }), (e) => e === "teapot");
  });

  test("args: Maps become objects, __TAURI_TO_IPC_KEY__ and toJSON are applied", T, async () => {
    class Point {
      constructor(x) {
        this.x = x;
      }
      [SERIALIZE_TO_IPC_FN]() {
        return { X: this.x };
      }
    }
    const value = { map: new Map([["k", new Point(1)]]), list: [new Point(2)], when: new Date(0) };
    assert.deepEqual(await invoke("echo", { value }), {
      map: { k: { X: 1 } },
      list: [{ X: 2 }],
      when: "1970-01-01T00:00:00.000Z",
    });
    assert.deepEqual(await invoke("echo", new Map([["value", 5]])), 5);
    // A member named "__proto__" stays a member (it does not become the prototype).
    const own = JSON.parse('{"value": {"__proto__": {"polluted": true}, "kept": 1}}');
    const echoed = await invoke("echo", own);
    assert.deepEqual(Object.keys(echoed).sort(), ["__proto__", "kept"]);
    assert.equal(Object.getPrototypeOf(echoed), Object.prototype);
  });

  test("bytes: sent raw, returned as ArrayBuffers", T, async () => {
    const data = Uint8Array.from({ length: 1024 }, (_, i) => (i * 7 + 255) % 256);
    const echoed = await invoke("echo_bytes", { data });
    assert.ok(echoed instanceof ArrayBuffer, `got a ${echoed?.constructor?.name}`);
    assert.deepEqual(new Uint8Array(echoed), data);
    assert.equal(sent.findLast((m) => m.method === "echo_bytes").attachments[0], 1024);
    const made = new Uint8Array(await invoke("make_bytes", { len: 10, seed: 3 }));
    assert.deepEqual([...made], Array.from({ length: 10 }, (_, i) => (i * 31 + 3) % 256));
    assert.equal(await invoke("bytes_len", data.buffer), 1024, "bytes as the args: the first argument");
    assert.equal(await invoke("bytes_len", { data: [1, 2] }), 2, "or as a JSON array");
  });

  test("a Tauri Channel streams progress in order", T, async () => {
    const seen = [];
    const onProgress = new Channel();
    onProgress.onmessage = (m) => seen.push(m);
    assert.equal(await invoke("progress", { steps: 5, delayMs: 10, onProgress }), 5);
    await until(() => seen.length === 5, 3000, "5 progress messages");
    assert.deepEqual(seen.map((m) => m.done), [1, 2, 3, 4, 5]);
    await until(() => !window.__TAURI_INTERNALS__.callbacks.has(onProgress.id), 3000, "the channel's end");
  });

  test("a Tauri Channel of bytes gets ArrayBuffers", T, async () => {
    const seen = [];
    const sink = new Channel((m) => seen.push(m));
    await invoke("stream_bytes", { chunks: 3, size: 4, sink });
    await until(() => seen.length === 3, 3000, "3 chunks");
    seen.forEach((chunk, c) => {
      assert.ok(chunk instanceof ArrayBuffer);
      assert.deepEqual([...new Uint8Array(chunk)], [0, 1, 2, 3].map((j) => (c * 7 + j) % 256));
    });
  });

  test("listen, once and unlisten", T, async () => {
    const got = collector();
    const unlisten = await listen("tauri:ping", got.cb);
    await invoke("emit_event", { event: "tauri:ping", payload: { n: 1 } });
    const first = await got.next();
    assert.equal(first.event, "tauri:ping");
    assert.deepEqual(first.payload, { n: 1 });
    assert.ok(Number.isInteger(first.id));

    const onceSeen = [];
    await once("tauri:once", (e) => onceSeen.push(e.payload));
    await invoke("emit_event", { event: "tauri:once", payload: 1 });
    await invoke("emit_event", { event: "tauri:once", payload: 2 });

    await unlisten();
    await invoke("emit_event", { event: "tauri:ping", payload: { n: 2 } });
    const sentinel = collector();
    await listen("tauri:sentinel", sentinel.cb);
    await invoke("emit_event", { event: "tauri:sentinel", payload: null });
    await sentinel.next();
    await sleep(50);
    assert.equal(got.events.length, 1, "nothing after unlisten");
    assert.deepEqual(onceSeen, [1]);
    const unlistens = sent.filter((m) => m.method === "plugin:event|unlisten");
    assert.ok(unlistens.length >= 2, "once and unlisten both unlistened on the server");
  });

  test("emit reaches Rust; emitTo reaches the windows with that label", T, async () => {
    await emit("to-rust", { from: "tauri" });
    const received = await invoke("rust_received");
    assert.ok(received.some((r) => r.event === "to-rust" && r.payload?.from === "tauri"), JSON.stringify(received));

    const mine = collector();
    await listen("tauri:direct", mine.cb);
    await emitTo("elsewhere", "tauri:direct", "not for main");
    await emitTo("main", "tauri:direct", "hello");
    await emitTo({ kind: "WebviewWindow", label: "main" }, "tauri:direct", "again");
    assert.equal((await mine.next()).payload, "hello");
    assert.equal((await mine.next()).payload, "again");
    await sleep(50);
    assert.equal(mine.events.length, 2);
  });

  test("another label is another window", T, async () => {
    const other = await import("../../ipc-runtime/js/ipc-tauri.js?other");
    // A second install replaces the first: done in a copy of the module so
    // this file's install stays in place, then put back.
    const saved = { ...window.__TAURI_INTERNALS__ };
    const savedEvents = { ...window.__TAURI_EVENT_PLUGIN_INTERNALS__ };
    const second = await other.installTauriInternals(server.windows.second.ws, { WebSocket });
    try {
      assert.equal(window.__TAURI_INTERNALS__.metadata.currentWindow.label, "second");
      const got = collector();
      await listen("tauri:label", got.cb);
      await emitTo("main", "tauri:label", "for main");
      await emitTo("second", "tauri:label", "for second");
      assert.equal((await got.next()).payload, "for second");
      await sleep(50);
      assert.equal(got.events.length, 1);
    } finally {
      second.close();
      Object.assign(window.__TAURI_INTERNALS__, saved);
      Object.assign(window.__TAURI_EVENT_PLUGIN_INTERNALS__, savedEvents);
    }
  });
});
