// Binary payloads against the real e2e server: bytes go out in binary frames
// and come back as Uint8Arrays (with `ipc.v1`), or as JSON arrays without it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import { connect } from "../../ipc-runtime/js/ipc.js";
import { useServer } from "./server.mjs";
import { spyWebSocket, T } from "./helpers.mjs";

/** `len` bytes that are not valid UTF-8 (0xff, lone continuation bytes, NULs). */
function notUtf8(len) {
  const bytes = new Uint8Array(len);
  for (let i = 0; i < len; i++) bytes[i] = (i * 131 + 255) % 256;
  if (len > 0) bytes[0] = 0xff;
  return bytes;
}

/** What `make_bytes(len, seed)` returns. */
const made = (len, seed) => Uint8Array.from({ length: len }, (_, i) => (i * 31 + seed) % 256);

const same = (a, b) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe("binary", () => {
  const server = useServer();
  let client;
  const sent = [];
  before(async () => {
    client = await connect(server.wsUrl, { WebSocket: spyWebSocket(sent) });
  });
  after(() => client?.close());

  for (const [name, len] of [["0 B", 0], ["1 KiB", 1024], ["16 MiB", 16 << 20]]) {
    test(`echo_bytes round-trips ${name} exactly`, { timeout: 60_000 }, async () => {
      const data = notUtf8(len);
      const echoed = await client.invoke("echo_bytes", { data });
      assert.ok(echoed instanceof Uint8Array, `got a ${echoed?.constructor?.name}`);
      assert.equal(echoed.length, len);
      assert.ok(same(echoed, data), "the bytes differ");
      const request = sent.findLast((m) => m.method === "echo_bytes");
      assert.deepEqual(request.params, { data: { $bytes: 0 } }, "sent as an attachment");
      assert.deepEqual(request.attachments, [len]);
    });
  }

  test("bytes_len takes bytes::Bytes, by name, by position, or as the args", T, async () => {
    const data = notUtf8(1024);
    assert.equal(await client.invoke("bytes_len", { data }), 1024);
    assert.equal(await client.invoke("bytes_len", [data.subarray(0, 10)]), 10);
    assert.equal(await client.invoke("bytes_len", data.buffer), 1024);
    assert.equal(await client.invoke("bytes_len", new Uint16Array(3)), 6, "a typed array is its bytes");
    assert.equal(await client.invoke("bytes_len", new ArrayBuffer(0)), 0);
  });

  test("byte arguments also accept JSON arrays of numbers", T, async () => {
    assert.equal(await client.invoke("bytes_len", { data: [1, 2, 3] }), 3);
    const echoed = await client.invoke("echo_bytes", [[0, 255, 128]]);
    assert.deepEqual([...echoed], [0, 255, 128]);
  });

  test("make_bytes gives a Uint8Array with the right content", T, async () => {
    const bytes = await client.invoke("make_bytes", { len: 1000, seed: 7 });
    assert.ok(bytes instanceof Uint8Array);
    assert.ok(same(bytes, made(1000, 7)));
    const empty = await client.invoke("make_bytes", { len: 0, seed: 0 });
    assert.ok(empty instanceof Uint8Array);
    assert.equal(empty.length, 0);
  });

  test("a client without ipc.v1 gets bytes as a JSON array of numbers", T, async () => {
    const plain = await connect(server.wsUrl, { WebSocket, protocols: [] });
    try {
      const bytes = await plain.invoke("make_bytes", { len: 300, seed: 200 });
      assert.ok(Array.isArray(bytes), `got a ${bytes?.constructor?.name}`);
      assert.deepEqual(bytes, [...made(300, 200)]);
      // sending binary frames needs no subprotocol
      assert.deepEqual(await plain.invoke("echo_bytes", { data: new Uint8Array([0xff, 0]) }), [0xff, 0]);
      assert.equal(await plain.invoke("bytes_len", notUtf8(5000)), 5000);
    } finally {
      plain.close();
    }
  });

  test("other calls on the connection are unaffected by large binary ones", T, async () => {
    const big = client.invoke("echo_bytes", { data: notUtf8(4 << 20) });
    const small = await Promise.all([client.invoke("add", [1, 2]), client.invoke("make_bytes", { len: 3, seed: 1 })]);
    assert.equal(small[0], 3);
    assert.deepEqual([...small[1]], [...made(3, 1)]);
    assert.equal((await big).length, 4 << 20);
  });
});
