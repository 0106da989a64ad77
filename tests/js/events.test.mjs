// listen/once/unlisten/emit between Node clients and Rust, against the real
// e2e server.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import { connect } from "../../ipc-runtime/js/ipc.js";
import { useServer } from "./server.mjs";
import { collector, sleep, spyWebSocket, T, waitFor } from "./helpers.mjs";

// One outer suite: node 20 runs file-level hooks unreliably around suites.
describe("events", () => {
  const server = useServer();
  const clients = [];
  const open = async (options = {}) => {
    const c = await connect(server.wsUrl, { WebSocket, ...options });
    clients.push(c);
    return c;
  };
  let a; // the main client, with a record of what it sends
  let aId;
  const sent = [];

  before(async () => {
    a = await open({ WebSocket: spyWebSocket(sent) });
    aId = await a.invoke("whoami");
  });
  after(() => clients.forEach((c) => c.close()));

  /** Has Rust emit `event` to everyone and to `client` a marker event, then waits
   * for the marker: events of one connection arrive in order, so anything sent
   * before the marker has arrived by then. */
  async function flush(client) {
    const marker = collector();
    const unlisten = await client.listen("test:marker", marker.cb);
    await client.invoke("emit_to_caller", { event: "test:marker", payload: null });
    await marker.next();
    await unlisten();
  }

  describe("listen", () => {
    test("receives events emitted by Rust, with event, payload and source", T, async () => {
      const got = collector();
      const unlisten = await a.listen("basic", got.cb);
      await a.invoke("emit_event", { event: "basic", payload: { n: 1, s: "x" } });
      assert.deepEqual(await got.next(), { event: "basic", payload: { n: 1, s: "x" }, source: 0 });
      await unlisten();
    });

    test("sends ipc.listen, and ipc.unlisten when unlistened", T, async () => {
      const start = sent.length;
      const unlisten = await a.listen("wire", () => {});
      const listenMsg = sent.slice(start).find((m) => m.method === "ipc.listen");
      // Always with `last`: the answer then gives the position a resume needs.
      assert.deepEqual(listenMsg, { jsonrpc: "2.0", id: listenMsg.id, method: "ipc.listen", params: { event: "wire", last: true } });
      await unlisten();
      const unlistenMsg = sent.slice(start).find((m) => m.method === "ipc.unlisten");
      assert.deepEqual(unlistenMsg.params, { event: "wire" });
    });

    test("events stop after unlisten, and unlisten twice is harmless", T, async () => {
      const got = collector();
      const unlisten = await a.listen("stop", got.cb);
      await a.invoke("emit_event", { event: "stop", payload: 1 });
      assert.equal((await got.next()).payload, 1);
      await unlisten();
      await a.invoke("emit_event", { event: "stop", payload: 2 });
      await flush(a);
      assert.equal(got.events.length, 1);
      const start = sent.length;
      await unlisten();
      await unlisten();
      assert.equal(sent.length, start, "a second unlisten must not go to the server");
    });

    test("two local callbacks on one event share one subscription and both fire", T, async () => {
      const one = collector();
      const two = collector();
      const start = sent.length;
      const [unOne, unTwo] = await Promise.all([a.listen("shared", one.cb), a.listen("shared", two.cb)]);
      const listens = () => sent.slice(start).filter((m) => m.method === "ipc.listen" && m.params.event === "shared");
      assert.equal(listens().length, 1, "one ipc.listen per event name");
      await a.invoke("emit_event", { event: "shared", payload: "both" });
      assert.equal((await one.next()).payload, "both");
      assert.equal((await two.next()).payload, "both");

      await unOne();
      const unlistens = () => sent.slice(start).filter((m) => m.method === "ipc.unlisten");
      assert.equal(unlistens().length, 0, "the subscription stays while a callback remains");
      await a.invoke("emit_event", { event: "shared", payload: "two only" });
      assert.equal((await two.next()).payload, "two only");
      await unTwo();
      assert.equal(unlistens().length, 1);
      await a.invoke("emit_event", { event: "shared", payload: "none" });
      await flush(a);
      assert.equal(one.events.length, 1);
      assert.equal(two.events.length, 2);
    });

    test("listening again after the last unlisten subscribes again", T, async () => {
      const first = await a.listen("again", () => {});
      await first();
      const got = collector();
      const unlisten = await a.listen("again", got.cb);
      await a.invoke("emit_event", { event: "again", payload: 3 });
      assert.equal((await got.next()).payload, 3);
      await unlisten();
    });

    test("an exception in a callback does not stop the others", T, async (t) => {
      const errors = t.mock.method(console, "error", () => {});
      const got = collector();
      const unThrow = await a.listen("throws", () => {
        throw new Error("callback failure");
      });
      const unOk = await a.listen("throws", got.cb);
      await a.invoke("emit_event", { event: "throws", payload: 1 });
      assert.equal((await got.next()).payload, 1);
      await Promise.all([unThrow(), unOk()]);
      if (typeof globalThis.reportError !== "function") assert.equal(errors.mock.callCount(), 1);
    });
  });

  describe("once", () => {
    test("fires once, then unlistens itself", T, async () => {
      const got = collector();
      const start = sent.length;
      const unlisten = await a.once("one-shot", got.cb);
      await a.invoke("emit_event", { event: "one-shot", payload: 1 });
      await a.invoke("emit_event", { event: "one-shot", payload: 2 });
      await flush(a);
      assert.deepEqual(got.events.map((e) => e.payload), [1]);
      await waitFor(() => sent.slice(start).some((m) => m.method === "ipc.unlisten"), 3000, "ipc.unlisten");
      await unlisten(); // harmless
    });

    test("can be unlistened before it fires", T, async () => {
      const got = collector();
      const unlisten = await a.once("never", got.cb);
      await unlisten();
      await a.invoke("emit_event", { event: "never", payload: 1 });
      await flush(a);
      assert.equal(got.events.length, 0);
    });
  });

  describe("emit", () => {
    test("reaches Rust listeners, with the emitter as source", T, async () => {
      await a.emit("to-rust", { from: "node", n: 1 });
      await a.emit("to-rust", [1, 2], { target: "backend" });
      const received = await a.invoke("rust_received");
      assert.deepEqual(received.slice(-2), [
        { event: "to-rust", payload: { from: "node", n: 1 }, source: aId },
        { event: "to-rust", payload: [1, 2], source: aId },
      ]);
    });

    test("reaches another connection, and the sender if it subscribed", T, async () => {
      const b = await open();
      const atA = collector();
      const atB = collector();
      const unA = await a.listen("chat", atA.cb);
      const unB = await b.listen("chat", atB.cb);
      await a.emit("chat", { text: "hi" });
      assert.deepEqual(await atB.next(), { event: "chat", payload: { text: "hi" }, source: aId });
      assert.deepEqual(await atA.next(), { event: "chat", payload: { text: "hi" }, source: aId });
      await Promise.all([unA(), unB()]);
    });

    test('target "backend" reaches Rust only', T, async () => {
      const b = await open();
      const atB = collector();
      const unB = await b.listen("to-rust", atB.cb);
      await a.emit("to-rust", "backend only", { target: "backend" });
      const received = await a.invoke("rust_received");
      assert.deepEqual(received.at(-1), { event: "to-rust", payload: "backend only", source: aId });
      await flush(b);
      assert.equal(atB.events.length, 0);
      await unB();
    });

    test("target {client} reaches that connection only", T, async () => {
      const b = await open();
      const c = await open();
      const bId = await b.invoke("whoami");
      const got = { a: collector(), b: collector(), c: collector() };
      const offs = await Promise.all([a.listen("direct", got.a.cb), b.listen("direct", got.b.cb), c.listen("direct", got.c.cb)]);
      await a.emit("direct", "for b", { target: { client: bId } });
      assert.deepEqual(await got.b.next(), { event: "direct", payload: "for b", source: aId });
      await Promise.all([flush(a), flush(c)]);
      assert.equal(got.a.events.length, 0);
      assert.equal(got.c.events.length, 0);
      await Promise.all(offs.map((off) => off()));
    });

    test("emit_to_caller reaches the calling connection only", T, async () => {
      const b = await open();
      const atA = collector();
      const atB = collector();
      const unA = await a.listen("mine", atA.cb);
      const unB = await b.listen("mine", atB.cb);
      await b.invoke("emit_to_caller", { event: "mine", payload: 7 });
      assert.deepEqual(await atB.next(), { event: "mine", payload: 7, source: 0 });
      await flush(a);
      assert.equal(atA.events.length, 0);
      await Promise.all([unA(), unB()]);
    });

    test("the runtime's ipc:connected event announces a new client", T, async () => {
      const got = collector();
      const unlisten = await a.listen("ipc:connected", got.cb);
      const b = await open();
      const bId = await b.invoke("whoami");
      const event = await got.next();
      assert.equal(event.payload.client, bId);
      assert.equal(event.source, 0);
      await unlisten();
    });

    test("events and responses keep flowing under load", T, async () => {
      const got = collector();
      const unlisten = await a.listen("burst", got.cb);
      await Promise.all(Array.from({ length: 50 }, (_, i) => a.invoke("emit_event", { event: "burst", payload: i })));
      await waitFor(() => got.events.length === 50, 5000, "50 events");
      assert.deepEqual(got.events.map((e) => e.payload).sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
      await unlisten();
      await sleep(0);
    });
  });
});
