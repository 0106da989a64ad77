// Uploads (docs/protocol.md, "Uploads") through ipc.js against the real e2e
// server: a ReadableStream, a Blob and an async iterable stream to a command's
// `Upload` argument, over WebSocket binary frames (`ipc.v1`), base64 text
// (without it) and stdio; the server's memory stays near its window; an
// abort reaches the command; a command that stops reading ends the upload.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { Channel, connect, ErrorCode } from "../../ipc-runtime/js/ipc.js";
import { stdioTransport } from "../../ipc-runtime/js/ipc-stdio.js";
import { useServer } from "./server.mjs";
import { E2E_BINARY, E2E_BUILD, spawnSidecar } from "./sidecar.mjs";
import { rejectsWith, spyWebSocket, T } from "./helpers.mjs";

const SLOW = { timeout: 120_000 };

/** A deterministic block of bytes (not all equal, so a reordering shows in the hash). */
function block(size, seed) {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 131 + seed * 7 + (i >> 12)) & 0xff;
  return bytes;
}

/**
 * A ReadableStream of `total` bytes in `chunk`-byte pieces, with its SHA-256
 * computed as it is read (`hash()` once it has ended).
 */
function generated(total, chunk = 1 << 20) {
  const hash = createHash("sha256");
  const pieces = [block(chunk, 1), block(chunk, 2), block(chunk, 3)];
  let sent = 0;
  let n = 0;
  const stream = new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const piece = pieces[n++ % pieces.length].subarray(0, Math.min(chunk, total - sent));
      hash.update(piece);
      sent += piece.byteLength;
      controller.enqueue(piece.slice()); // a fresh buffer each time, as a real source gives
    },
  });
  return { stream, hash: () => hash.digest("hex"), sent: () => sent };
}

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

describe("uploads over WebSocket (binary frames)", () => {
  const server = useServer();
  let client;
  const sent = [];
  before(async () => {
    client = await connect(server.wsUrl, { WebSocket: spyWebSocket(sent) });
  });
  after(() => client?.close());

  test("a 256 MiB ReadableStream: size and hash match, server memory stays near the window", SLOW, async () => {
    const before = await client.invoke("upload.rss");
    const total = 256 << 20;
    const source = generated(total);
    let peak = before;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await client.invoke("upload.rss"));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const started = performance.now();
    const result = await client.invoke("upload.digest", { file: source.stream });
    const seconds = (performance.now() - started) / 1000;
    sampling = false;
    await sampler;
    assert.deepEqual(result, { size: total, sha256: source.hash() });
    const growth = peak - before;
    // The window is 1 MiB; frames being read, the allocator and the sampler's
    // own calls take some more. 256 MiB held would be far above this.
    assert.ok(growth < 48 << 20, `server RSS grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
    console.log(`# 256 MiB uploaded in ${seconds.toFixed(2)} s (${(total / 2 ** 20 / seconds).toFixed(0)} MiB/s), RSS +${(growth / 2 ** 20).toFixed(1)} MiB`);
    // The chunks went as binary frames, each within the credit.
    const chunks = sent.filter((m) => m.method === "ipc.upload" && m.$attachments);
    assert.ok(chunks.length >= total / (256 << 10), `${chunks.length} binary chunks`);
    assert.ok(chunks.every((m) => m.$attachments[0].byteLength <= 256 << 10));
  });

  test("a Blob uploads, with progress through an optional channel", T, async () => {
    const bytes = block(3 << 20, 9);
    const progress = [];
    const onProgress = new Channel((n) => progress.push(n));
    const result = await client.invoke("upload.digest", { file: new Blob([bytes]), progress: onProgress });
    assert.deepEqual(result, { size: bytes.byteLength, sha256: sha256(bytes) });
    assert.equal(progress.at(-1), bytes.byteLength);
    assert.ok(progress.every((n, i) => i === 0 || n > progress[i - 1]), "progress only grows");
    // Without the channel (`progress` omitted) it works the same.
    assert.equal((await client.invoke("upload.digest", { file: new Blob([bytes]) })).size, bytes.byteLength);
  });

  test("an async iterable of Uint8Array uploads, and an empty one", T, async () => {
    async function* parts() {
      yield new Uint8Array([1, 2, 3]);
      yield Buffer.from("four");
    }
    const result = await client.invoke("upload.digest", [parts()]);
    assert.deepEqual(result, { size: 7, sha256: sha256(Buffer.from([1, 2, 3, ...Buffer.from("four")])) });
    const empty = await client.invoke("upload.digest", { file: new Blob([]) });
    assert.equal(empty.size, 0);
  });

  test("aborting in the middle rejects the call, the command sees the abort, the server keeps serving", T, async () => {
    const source = generated(64 << 20);
    const abort = new AbortController();
    const progress = [];
    const call = client.invoke(
      "upload.digest",
      { file: source.stream, delayMs: 5, progress: new Channel((n) => progress.push(n)) },
      { signal: abort.signal },
    );
    while (progress.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    abort.abort();
    await rejectsWith(assert, call, ErrorCode.CANCELLED);
    const abortSent = sent.find((m) => m.method === "ipc.upload" && typeof m.params.abort === "string");
    assert.ok(abortSent, "the upload's abort went out");
    assert.ok(source.sent() < 64 << 20, "the source was not read to its end");
    assert.equal(await client.invoke("add", { a: 1, b: 2 }), 3);
  });

  test("a command that stops reading ends the upload, and the call resolves", T, async () => {
    const source = generated(32 << 20, 64 << 10);
    const result = await client.invoke("upload.sip", { file: source.stream });
    assert.ok(result > 0 && result <= 256 << 10, `read ${result}`);
    // The client stopped reading its source: well under what it holds.
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(source.sent() < 8 << 20, `the client read ${source.sent()} bytes of its source`);
  });

  test("past the command's size limit: a clear error, the rest is not sent", T, async () => {
    const source = generated(16 << 20, 64 << 10);
    const error = await rejectsWith(
      assert,
      client.invoke("upload.digest", { file: source.stream, limit: 100_000 }),
      ErrorCode.COMMAND_ERROR,
    );
    assert.match(error.message, /larger than its limit of 100000 bytes/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(source.sent() < 4 << 20, `the client read ${source.sent()} bytes of its source`);
  });
});

describe("uploads over WebSocket without ipc.v1 (base64 text)", () => {
  const server = useServer();
  let client;
  const sent = [];
  before(async () => {
    client = await connect(server.wsUrl, { WebSocket: spyWebSocket(sent), protocols: [] });
  });
  after(() => client?.close());

  test("a stream uploads as base64 chunks in text messages", T, async () => {
    const source = generated(5 << 20);
    assert.deepEqual(await client.invoke("upload.digest", { file: source.stream }), { size: 5 << 20, sha256: source.hash() });
    const chunks = sent.filter((m) => m.method === "ipc.upload" && m.params.data !== undefined);
    assert.ok(chunks.length > 0 && chunks.every((m) => typeof m.params.data === "string" && !m.$attachments));
  });
});

describe("uploads over stdio (base64 lines)", () => {
  let sidecar;
  let client;
  before(async () => {
    sidecar = spawnSidecar(E2E_BINARY, E2E_BUILD);
    client = await connect({ transport: stdioTransport(sidecar.child), timeout: 30_000 });
  });
  after(async () => {
    client?.close();
    await sidecar?.kill();
  });

  test("a stream uploads, and a Blob", T, async () => {
    const source = generated(4 << 20);
    assert.deepEqual(await client.invoke("upload.digest", { file: source.stream }), { size: 4 << 20, sha256: source.hash() });
    const bytes = block(100_000, 4);
    assert.deepEqual(await client.invoke("upload.digest", { file: new Blob([bytes]) }), { size: 100_000, sha256: sha256(bytes) });
  });
});

