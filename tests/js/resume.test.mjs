// Events that survive reconnects, and the last value (docs/protocol.md,
// "Resuming after a reconnect, and the last value"): the client resumes each
// name it listens to after the last event it saw; what it missed arrives in
// order, once; past the backend's buffer it is told how many it lost; and
// `last: true` starts a listener with the newest event. Against the e2e
// server, which keeps `e2e:stream` (64), `e2e:short` (4), `e2e:burst` (256)
// and `e2e:last` (1); then, frame by frame, against a fake socket.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { WebSocket } from "ws";
import { connect } from "../../ipc-runtime/js/ipc.js";
import { startServer, useServer } from "./server.mjs";
import { collector, FakeSocket, sleep, spyWebSocket, startProxy, T, waitFor } from "./helpers.mjs";

const SLOW = { timeout: 30_000 };

/** The payloads `got` collected. */
const payloads = (got) => got.events.map((e) => e.payload);

/** `from`, `from + 1`, ..., `to`. */
const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("resuming and the last value", () => {
  const server = useServer();
  const cleanups = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const open = async (url, options = {}) => {
    const client = await connect(url, { WebSocket, ...options });
    cleanups.push(() => client.close());
    return client;
  };

  test("cut and refused for 2.5 s in the middle of a stream from another client: every change arrives once, in order", SLOW, async () => {
    const proxy = await startProxy(server.wsUrl);
    cleanups.push(() => proxy.close());
    const states = [];
    const reader = await open(proxy.url, { reconnect: { delayMs: 50, maxDelayMs: 400 }, onstatechange: (s) => states.push(s) });
    const writer = await open(server.wsUrl);
    const got = collector();
    const gaps = [];
    await reader.listen("e2e:stream", got.cb, { onGap: (lost) => gaps.push(lost) });

    // The writer changes things every 60 ms, 80 times (4.8 s), while the
    // reader's connection is cut after the 10th and refused for 2.5 s: about
    // 42 changes, and up to 7 more before its next attempt (the backoff's
    // cap is 400 ms), all within what the server keeps of the name (64).
    const total = 80;
    let emitted = 0;
    const writing = (async () => {
      for (let n = 1; n <= total; n++) {
        await writer.emit("e2e:stream", n);
        emitted = n;
        await sleep(60);
      }
    })();
    await waitFor(() => got.events.length >= 10, 5000, "the first changes");
    await proxy.refuse();
    const cutAt = emitted;
    await sleep(2500);
    const missedWhileCut = emitted - cutAt;
    await proxy.accept();
    await writing;
    await waitFor(() => got.events.length >= total, 10_000, `all ${total} changes (got ${got.events.length})`);
    await sleep(100); // a duplicate would come now
    assert.ok(missedWhileCut >= 25, `changes made while the reader was cut off: ${missedWhileCut}`);
    assert.deepEqual(payloads(got), range(1, total), "each change once, in order");
    assert.deepEqual(gaps, [], "nothing lost: the server kept what was missed");
    assert.deepEqual(states, ["open", "reconnecting", "open"]);
    assert.equal(await reader.invoke("add", [2, 2]), 4, "calls work afterwards");
  });

  test("past the buffer: a gap notice with the number lost, then what is kept", T, async () => {
    const proxy = await startProxy(server.wsUrl);
    cleanups.push(() => proxy.close());
    const clientGaps = [];
    const reader = await open(proxy.url, { reconnect: { delayMs: 50, maxDelayMs: 200 }, ongap: (event, lost) => clientGaps.push([event, lost]) });
    const writer = await open(server.wsUrl);
    const got = collector();
    const gaps = [];
    // The gap comes before the events that follow it.
    const order = [];
    await reader.listen("e2e:short", (e) => (got.cb(e), order.push(e.payload)), { onGap: (lost) => (gaps.push(lost), order.push(`gap ${lost}`)) });
    await writer.emit("e2e:short", 0);
    await got.next();
    await proxy.refuse();
    await waitFor(() => reader.state === "reconnecting", 3000, "the reader to see the cut");
    for (let n = 1; n <= 10; n++) await writer.emit("e2e:short", n);
    await proxy.accept();
    await waitFor(() => got.events.length >= 5, 5000, "the kept changes");
    await sleep(100);
    // e2e:short keeps 4: 7 to 10; 1 to 6 are lost.
    assert.deepEqual(gaps, [6]);
    assert.deepEqual(order, [0, "gap 6", 7, 8, 9, 10]);
    assert.deepEqual(clientGaps, [["e2e:short", 6]], "the client-level hook hears it too");
  });

  test("a server down for longer than several backoff steps, then back: the client reconnects by itself, and the gap is unknown", SLOW, async () => {
    const first = await startServer();
    cleanups.push(() => first.stop());
    const url = new URL(first.wsUrl);
    const reader = await open(first.wsUrl, { reconnect: { delayMs: 50, maxDelayMs: 200 } });
    const got = collector();
    const gaps = [];
    await reader.listen("e2e:stream", got.cb, { onGap: (lost) => gaps.push(lost) });
    // Many events first: the reader's position is far beyond where the next run starts counting.
    await reader.invoke("emit_numbered", { event: "e2e:stream", from: 1, count: 50, delayMs: 0 });
    await waitFor(() => got.events.length === 50, 5000, "the first run's events");

    await first.kill();
    await waitFor(() => reader.state === "reconnecting", 3000, "reconnecting");
    await sleep(1200); // several failed attempts: 50, 100, 200, 200, ... ms apart
    assert.equal(reader.state, "reconnecting");
    const second = await startServer({ port: Number(url.port), token: url.searchParams.get("token") });
    cleanups.push(() => second.stop());
    // The restarted backend's state, emitted before or after the reader is back.
    const other = await open(second.wsUrl);
    await other.emit("e2e:stream", "after the restart");
    await waitFor(() => reader.state === "open", 5000, "the reader to reconnect by itself");
    await waitFor(() => got.events.length === 51, 5000, "the restarted backend's event");
    await other.emit("e2e:stream", "and then");
    await waitFor(() => got.events.length === 52, 5000, "a live event of the new run");
    await sleep(100);
    assert.deepEqual(gaps, [null], "a restarted backend cannot say what was lost");
    assert.deepEqual(payloads(got).slice(50), ["after the restart", "and then"], "its numbers start again: none is taken for a duplicate");
  });

  test("last: a listener attached after the event gets the last value, then the live ones", T, async () => {
    const writer = await open(server.wsUrl);
    await writer.emit("e2e:last", "v1");
    await writer.emit("e2e:last", "v2");
    const sent = [];
    const reader = await open(server.wsUrl, { WebSocket: spyWebSocket(sent) });
    const withLast = collector();
    const without = collector();
    await Promise.all([reader.listen("e2e:last", withLast.cb, { last: true }), reader.listen("e2e:last", without.cb)]);
    assert.deepEqual(payloads(withLast), ["v2"], "the newest, at once");
    await writer.emit("e2e:last", "v3");
    await withLast.next();
    await without.next();
    assert.deepEqual(payloads(withLast), ["v2", "v3"]);
    assert.deepEqual(payloads(without), ["v3"], "a listener that did not ask gets only live events");

    // A later listener on the same subscription gets the newest this client has, at once.
    const listens = sent.filter((m) => m.method === "ipc.listen").length;
    const later = collector();
    const onceLast = collector();
    await reader.listen("e2e:last", later.cb, { last: true });
    await reader.once("e2e:last", onceLast.cb, { last: true });
    assert.deepEqual(payloads(later), ["v3"]);
    assert.deepEqual(payloads(onceLast), ["v3"]);
    assert.equal(sent.filter((m) => m.method === "ipc.listen").length, listens, "no second subscription");
    await writer.emit("e2e:last", "v4");
    await later.next();
    await sleep(50);
    assert.deepEqual(payloads(onceLast), ["v3"], "once is once");

    // A name the backend keeps nothing of: nothing to start with.
    const none = collector();
    await reader.listen("e2e:never-emitted", none.cb, { last: true });
    await sleep(50);
    assert.deepEqual(none.events, []);
  });

  test("last: a listener attached during a burst sees no gap and no duplicate", T, async () => {
    const writer = await open(server.wsUrl);
    const watcher = collector();
    await writer.listen("e2e:burst", watcher.cb);
    const burst = writer.invoke("emit_numbered", { event: "e2e:burst", from: 1, count: 200, delayMs: 2 });
    await waitFor(() => watcher.events.length >= 20, 5000, "the burst to be under way");
    const reader = await open(server.wsUrl);
    const got = collector();
    await reader.listen("e2e:burst", got.cb, { last: true });
    const attachedAt = got.events[0]?.payload;
    assert.equal(await burst, 200);
    await waitFor(() => got.events.at(-1)?.payload === 200, 5000, "the end of the burst");
    await sleep(50);
    const seen = payloads(got);
    assert.ok(seen[0] >= 20 && seen[0] < 200, `started in the middle of the burst, at ${seen[0]}`);
    assert.equal(attachedAt, seen[0], "the last value came before listen resolved");
    assert.deepEqual(seen, range(seen[0], 200), "from the last value on: every event once, in order");
  });
});

describe("resuming, frame by frame", () => {
  const URL_ = "ws://fake.invalid/ipc";
  const text = (message) => JSON.stringify({ jsonrpc: "2.0", ...message });
  const push = (socket, method, params) => socket.receive(text({ method, params }));
  /** Answers the latest request on `socket` with `result`. */
  const answer = (socket, result) => socket.receive(text({ id: socket.request().id, result }));

  async function listening(options = {}) {
    const client = await connect(URL_, { WebSocket: FakeSocket, reconnect: { delayMs: 5, maxDelayMs: 5 }, ...options });
    const socket = FakeSocket.last;
    const got = collector();
    const gaps = [];
    const listened = client.listen("news", got.cb, { onGap: (lost) => gaps.push(lost) });
    await waitFor(() => socket.sent.length === 1, 1000, "ipc.listen");
    return { client, socket, got, gaps, listened };
  }

  test("pushes at or below the last number seen are dropped", T, async () => {
    const { client, socket, got, listened } = await listening();
    answer(socket, { id: 1, epoch: "run-1", seq: 3 });
    await listened;
    for (const seq of [2, 3, 5, 5, 4, 8]) push(socket, "ipc.event", { event: "news", payload: seq, source: 0, seq });
    assert.deepEqual(payloads(got), [5, 8]);
    client.close();
  });

  test("after a reconnect, ipc.listen resumes since the last event seen, of its run", T, async () => {
    const { client, socket, got, listened } = await listening();
    assert.deepEqual(socket.request().params, { event: "news", last: true }, "the first time: last, for the position");
    answer(socket, { id: 1, epoch: "run-1", seq: 10 });
    await listened;
    push(socket, "ipc.event", { event: "news", payload: "a", source: 0, seq: 12 });
    socket.drop();
    await waitFor(() => FakeSocket.last !== socket && FakeSocket.last.sent.length === 1, 2000, "the resubscription");
    const next = FakeSocket.last;
    assert.deepEqual(next.request().params, { event: "news", since: 12, epoch: "run-1" });
    // What was missed comes before the answer; a replayed duplicate is dropped.
    push(next, "ipc.event", { event: "news", payload: "a", source: 0, seq: 12 });
    push(next, "ipc.event", { event: "news", payload: "b", source: 0, seq: 15 });
    answer(next, { id: 7, epoch: "run-1", seq: 15 });
    push(next, "ipc.event", { event: "news", payload: "c", source: 0, seq: 16 });
    assert.deepEqual(payloads(got), ["a", "b", "c"]);

    // Seen nothing since: resume from the position the answer gave.
    next.drop();
    await waitFor(() => FakeSocket.last !== next && FakeSocket.last.sent.length === 1, 2000, "the second resubscription");
    assert.deepEqual(FakeSocket.last.request().params, { event: "news", since: 16, epoch: "run-1" });
    answer(FakeSocket.last, { id: 8, epoch: "run-1", seq: 40 });
    await sleep(10);
    FakeSocket.last.drop();
    await waitFor(() => FakeSocket.last.sent.length === 1 && FakeSocket.last.request().params.since === 40, 2000, "since the answer's seq");
    client.close();
  });

  test("an unknown gap (another run) resets the numbers; a counted one does not", T, async () => {
    const { client, socket, got, gaps, listened } = await listening();
    answer(socket, { id: 1, epoch: "run-1", seq: 100 });
    await listened;
    socket.drop();
    await waitFor(() => FakeSocket.last !== socket && FakeSocket.last.sent.length === 1, 2000, "the resubscription");
    const next = FakeSocket.last;
    // Before the answer: the notices are this subscription's.
    push(next, "ipc.gap", { event: "news", lost: 2 });
    push(next, "ipc.event", { event: "news", payload: "old", source: 0, seq: 90 });
    push(next, "ipc.gap", { event: "news", lost: null });
    push(next, "ipc.event", { event: "news", payload: "new run", source: 0, seq: 3 });
    push(next, "ipc.event", { event: "news", payload: "again", source: 0, seq: 3 });
    push(next, "ipc.gap", { event: "elsewhere", lost: 1 });
    answer(next, { id: 2, epoch: "run-2", seq: 5 });
    await sleep(10);
    // After it, a notice is for another subscription of the name (a Tauri listener's).
    push(next, "ipc.gap", { event: "news", lost: 4 });
    push(next, "ipc.event", { event: "news", payload: "live", source: 0, seq: 6 });
    assert.deepEqual(gaps, [2, null], "only this name's, while resuming");
    assert.deepEqual(payloads(got), ["new run", "live"]);
    client.close();
  });

  test("a push marked last goes only to the listeners that asked for it", T, async () => {
    const client = await connect(URL_, { WebSocket: FakeSocket });
    const socket = FakeSocket.last;
    const withLast = collector();
    const without = collector();
    const both = Promise.all([client.listen("state", withLast.cb, { last: true }), client.listen("state", without.cb)]);
    await waitFor(() => socket.sent.length === 1, 1000, "one ipc.listen");
    push(socket, "ipc.event", { event: "state", payload: "before", source: 0, seq: 4, last: true });
    answer(socket, { id: 1, epoch: "run-1", seq: 9 });
    await both;
    push(socket, "ipc.event", { event: "state", payload: "live", source: 0, seq: 11 });
    assert.deepEqual(payloads(withLast), ["before", "live"]);
    assert.deepEqual(payloads(without), ["live"]);
    await assert.rejects(client.listen("state", () => {}, { onGap: 5 }), TypeError);
    client.close();
  });

  test("a server that answers with a bare id: no numbers to resume from, events still flow", T, async () => {
    const { client, socket, got, listened } = await listening();
    answer(socket, 17);
    await listened;
    push(socket, "ipc.event", { event: "news", payload: 1, source: 0 });
    push(socket, "ipc.event", { event: "news", payload: 2, source: 0 });
    socket.drop();
    await waitFor(() => FakeSocket.last !== socket && FakeSocket.last.sent.length === 1, 2000, "the resubscription");
    assert.deepEqual(FakeSocket.last.request().params, { event: "news", last: true });
    assert.deepEqual(payloads(got), [1, 2]);
    client.close();
  });
});
