// The transport seam of ipc.js: connect({ transport }) with a transport made
// here from FakeSocket, so every frame is visible. WebSocket stays the default.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { connect, ErrorCode } from "../../ipc-runtime/js/ipc.js";
import { FakeSocket, rejectsWith, T, waitFor } from "./helpers.mjs";

/** A transport whose sockets are FakeSockets; `opened` counts open() calls. */
function fakeTransport({ binary }) {
  const transport = {
    binary,
    describe: "fake transport",
    opened: 0,
    open() {
      transport.opened++;
      return new FakeSocket("fake://", []);
    },
  };
  return transport;
}

/** Answers the latest request of `socket` with `result`. */
function answer(socket, result) {
  const { id } = socket.request();
  socket.receive(JSON.stringify({ jsonrpc: "2.0", id, result }));
}

describe("transport seam", () => {
  test("connect({ transport }) opens through it and names it in url", T, async () => {
    const transport = fakeTransport({ binary: false });
    const client = await connect({ transport, timeout: 1000 });
    assert.equal(transport.opened, 1);
    assert.equal(client.url, "fake transport");
    const call = client.invoke("add", [1, 2]);
    assert.deepEqual(FakeSocket.last.request(), { jsonrpc: "2.0", id: 1, method: "add", params: [1, 2] });
    answer(FakeSocket.last, 3);
    assert.equal(await call, 3);
    client.close();
  });

  test("a transport that is not binary gets only text: bytes as JSON arrays", T, async () => {
    const client = await connect({ transport: fakeTransport({ binary: false }) });
    const socket = FakeSocket.last;
    client.invoke("echo_bytes", { data: new Uint8Array([1, 2, 3]) }).catch(() => {});
    client.invoke("bytes_len", new Uint8Array([4, 5])).catch(() => {});
    client.invoke("bytes_len", [new ArrayBuffer(2)]).catch(() => {});
    assert.ok(socket.sent.every((frame) => typeof frame === "string"), "only text frames");
    assert.deepEqual(socket.request(0).params, { data: [1, 2, 3] });
    assert.deepEqual(socket.request(1).params, [[4, 5]]);
    assert.deepEqual(socket.request(2).params, [[0, 0]]);
    client.close();
  });

  test("a binary transport gets binary frames for top-level bytes, as WebSocket does", T, async () => {
    const client = await connect({ transport: fakeTransport({ binary: true }) });
    client.invoke("echo_bytes", { data: new Uint8Array([1, 2, 3]) }).catch(() => {});
    const frame = FakeSocket.last.sent[0];
    assert.ok(frame instanceof Uint8Array, "a binary frame");
    const header = FakeSocket.last.request(0);
    assert.deepEqual(header.params, { data: { $bytes: 0 } });
    assert.deepEqual([...header.$attachments[0]], [1, 2, 3]);
    client.close();
  });

  test("binary must be said: a transport without it is treated as text-only", T, async () => {
    const transport = { open: () => new FakeSocket("fake://", []) };
    const client = await connect({ transport });
    client.invoke("bytes_len", new Uint8Array([1])).catch(() => {});
    assert.equal(typeof FakeSocket.last.sent[0], "string");
    assert.equal(client.url, "a custom transport");
    client.close();
  });

  test("reconnecting calls open() again", T, async () => {
    const transport = fakeTransport({ binary: false });
    const client = await connect({ transport, reconnect: { delayMs: 10, maxDelayMs: 20 } });
    const first = FakeSocket.last;
    first.drop();
    await waitFor(() => transport.opened === 2 && client.state === "open", 3000, "a second open()");
    assert.notEqual(FakeSocket.last, first);
    const call = client.invoke("add", [2, 2]);
    answer(FakeSocket.last, 4);
    assert.equal(await call, 4);
    client.close();
  });

  test("an open() that throws rejects connect with DISCONNECTED", T, async () => {
    const transport = {
      binary: false,
      describe: "broken",
      open() {
        throw new Error("no pipe");
      },
    };
    await rejectsWith(assert, connect({ transport }), ErrorCode.DISCONNECTED, /could not connect to broken.*no pipe/);
    const noSocket = { binary: false, open: () => null };
    await rejectsWith(assert, connect({ transport: noSocket }), ErrorCode.DISCONNECTED, /returned no socket/);
  });

  test("a transport may throw anything, not only Errors", T, async () => {
    const throwing = (thrown) => ({
      describe: "odd",
      open() {
        throw thrown;
      },
    });
    await rejectsWith(assert, connect({ transport: throwing("no pipe") }), ErrorCode.DISCONNECTED, /could not connect to odd \(code 0, no pipe\)/);
    await rejectsWith(assert, connect({ transport: throwing(null) }), ErrorCode.DISCONNECTED, /could not connect to odd/);

    const client = await connect({ transport: fakeTransport({ binary: false }) });
    FakeSocket.last.send = () => {
      throw "the pipe is gone";
    };
    await rejectsWith(assert, client.invoke("add", [1, 2]), ErrorCode.DISCONNECTED, /could not send `add`: the pipe is gone/);
    client.close();
  });

  test("wrong uses are TypeErrors", T, async () => {
    const transport = fakeTransport({ binary: false });
    await assert.rejects(connect("ws://127.0.0.1:1/ipc", { transport }), TypeError);
    await assert.rejects(connect({ transport }, { timeout: 1 }), TypeError);
    await assert.rejects(connect({ transport: {} }), /open\(\) method/);
    await assert.rejects(connect({ transport: null }), TypeError);
    assert.equal(transport.opened, 0, "nothing was opened");
  });

  test("without a transport, connect(url, options) still makes a WebSocket", T, async () => {
    const client = await connect("ws://example.invalid/ipc", { WebSocket: FakeSocket, protocols: ["ipc.v1"] });
    assert.equal(FakeSocket.last.url, "ws://example.invalid/ipc");
    assert.deepEqual(FakeSocket.last.protocols, ["ipc.v1"]);
    assert.equal(FakeSocket.last.binaryType, "arraybuffer");
    assert.equal(client.url, "ws://example.invalid/ipc");
    client.close();
  });
});
