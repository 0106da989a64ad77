// Channels against the real e2e server: a command streams messages to its
// caller (`progress`, `stream_bytes`), in order, and then ends.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import { Channel, connect, ErrorCode } from "../../ipc-runtime/js/ipc.js";
import { useServer } from "./server.mjs";
import { rejectsWith, T } from "./helpers.mjs";

/** Byte j of chunk c of `stream_bytes`. */
const chunkByte = (c, j) => (c * 7 + j) % 256;

describe("channels", () => {
  const server = useServer();
  let client;
  const pushes = []; // every ipc.channel push, as the server sent it
  before(async () => {
    client = await connect(server.wsUrl, {
      WebSocket,
      onnotification: (method, params) => method === "ipc.channel" && pushes.push(params),
    });
  });
  after(() => client?.close());

  test("messages arrive in order, and the end after the last", T, async () => {
    const log = [];
    const channel = new Channel((m) => log.push(m));
    const steps = await client.invoke("progress", { steps: 5, delayMs: 10, onProgress: channel });
    assert.equal(steps, 5);
    await channel.ended;
    log.push("ended");
    assert.deepEqual(log, [
      { done: 1, total: 5 },
      { done: 2, total: 5 },
      { done: 3, total: 5 },
      { done: 4, total: 5 },
      { done: 5, total: 5 },
      "ended",
    ]);
    const wire = pushes.filter((p) => p.channel === channel.id);
    assert.deepEqual(wire.map((p) => p.index), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(wire.at(-1), { channel: channel.id, index: 5, end: true });
  });

  test("a channel with no message just ends", T, async () => {
    const log = [];
    const channel = new Channel((m) => log.push(m));
    assert.equal(await client.invoke("progress", { steps: 0, delayMs: 0, onProgress: channel }), 0);
    await channel.ended;
    assert.deepEqual(log, []);
  });

  test("several channels at once each get their own messages, in order", T, async () => {
    const runs = [3, 6, 9].map((steps) => {
      const seen = [];
      const channel = new Channel((m) => seen.push(m.done));
      const call = client.invoke("progress", [steps, 5, channel]); // by position too
      return { steps, seen, channel, call };
    });
    for (const run of runs) {
      assert.equal(await run.call, run.steps);
      await run.channel.ended;
      assert.deepEqual(run.seen, Array.from({ length: run.steps }, (_, i) => i + 1));
    }
  });

  test("send_bytes messages arrive as Uint8Arrays", T, async () => {
    const chunks = [];
    const sink = new Channel((m) => chunks.push(m));
    await client.invoke("stream_bytes", { chunks: 4, size: 1000, sink });
    await sink.ended;
    assert.equal(chunks.length, 4);
    chunks.forEach((chunk, c) => {
      assert.ok(chunk instanceof Uint8Array, `chunk ${c} is a ${chunk?.constructor?.name}`);
      assert.equal(chunk.length, 1000);
      assert.ok(chunk.every((byte, j) => byte === chunkByte(c, j)), `chunk ${c} has the wrong bytes`);
    });
  });

  test("without ipc.v1, send_bytes messages are arrays of numbers", T, async () => {
    const plain = await connect(server.wsUrl, { WebSocket, protocols: [] });
    try {
      const chunks = [];
      const sink = new Channel((m) => chunks.push(m));
      await plain.invoke("stream_bytes", { chunks: 2, size: 5, sink });
      await sink.ended;
      assert.deepEqual(chunks, [0, 1].map((c) => Array.from({ length: 5 }, (_, j) => chunkByte(c, j))));
    } finally {
      plain.close();
    }
  });

  test("a channel serves one call: a second one is refused before it is sent", T, async () => {
    const seen = [];
    const channel = new Channel((m) => seen.push(m.done));
    const first = client.invoke("progress", { steps: 3, delayMs: 20, onProgress: channel });
    await assert.rejects(client.invoke("progress", { steps: 1, delayMs: 0, onProgress: channel }), TypeError);
    assert.equal(await first, 3);
    await channel.ended;
    assert.deepEqual(seen, [1, 2, 3]);
    await assert.rejects(client.invoke("progress", { steps: 1, delayMs: 0, onProgress: channel }), /has ended/);
  });

  test("a call rejected before its command runs ends its channel", T, async () => {
    const unknown = new Channel();
    await rejectsWith(assert, client.invoke("progres", { steps: 1, delayMs: 0, onProgress: unknown }), ErrorCode.METHOD_NOT_FOUND);
    await unknown.ended;
    const invalid = new Channel();
    await rejectsWith(assert, client.invoke("progress", { steps: "x", delayMs: 0, onProgress: invalid }), ErrorCode.INVALID_PARAMS);
    await invalid.ended;
  });

  test("cancelling the call ends its channel after what was sent", T, async () => {
    const seen = [];
    const channel = new Channel((m) => seen.push(m.done));
    const controller = new AbortController();
    const call = client.invoke("progress", { steps: 20, delayMs: 50, onProgress: channel }, { signal: controller.signal });
    while (seen.length < 2) await new Promise((r) => setTimeout(r, 5));
    controller.abort();
    await rejectsWith(assert, call, ErrorCode.CANCELLED);
    await channel.ended; // the server dropped the command, and with it the channel
    assert.ok(seen.length >= 2 && seen.length < 20, `got ${seen.length} messages`);
    assert.deepEqual(seen, Array.from({ length: seen.length }, (_, i) => i + 1));
  });

  test("a client that closes mid-stream rejects ended; the server goes on", T, async () => {
    const leaving = await connect(server.wsUrl, { WebSocket });
    const seen = [];
    const channel = new Channel((m) => seen.push(m));
    const call = leaving.invoke("progress", { steps: 50, delayMs: 20, onProgress: channel });
    call.catch(() => {});
    while (seen.length < 2) await new Promise((r) => setTimeout(r, 10));
    leaving.close();
    await assert.rejects(channel.ended, { code: -32005 });
    assert.equal(await client.invoke("add", [1, 2]), 3);
  });
});
