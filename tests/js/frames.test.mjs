// The client's side of binary frames and channels, against a fake socket the
// test drives: what goes on the wire, and what the client makes of frames a
// real server would never send (malformed, out of order).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Channel, connect, ErrorCode } from "../../ipc-runtime/js/ipc.js";
import { binaryFrame, FakeSocket, rejectsWith, sleep, T } from "./helpers.mjs";

const URL_ = "ws://fake.invalid/ipc";

async function fakeClient(options = {}) {
  const client = await connect(URL_, { WebSocket: FakeSocket, ...options });
  return { client, socket: FakeSocket.last };
}

/** A call the test does not wait for: it fails when the client closes. */
const quiet = (promise) => promise.catch(() => {});
const text = (message) => JSON.stringify({ jsonrpc: "2.0", ...message });
const push = (socket, method, params) => socket.receive(text({ method, params }));

describe("frames", () => {
  describe("connecting", () => {
    test("offers ipc.v1 by default and asks for ArrayBuffers", T, async () => {
      const { client, socket } = await fakeClient();
      assert.deepEqual(socket.protocols, ["ipc.v1"]);
      assert.equal(socket.binaryType, "arraybuffer");
      client.close();
    });

    test("protocols: [] offers none; given ones replace the default", T, async () => {
      const none = await fakeClient({ protocols: [] });
      assert.deepEqual(none.socket.protocols, []);
      none.client.close();
      const own = await fakeClient({ protocols: "custom" });
      assert.equal(own.socket.protocols, "custom");
      own.client.close();
    });
  });

  describe("receiving binary frames", () => {
    test("a result placeholder becomes a Uint8Array view into the frame", T, async () => {
      const { client, socket } = await fakeClient();
      const call = client.invoke("make_bytes", { len: 3, seed: 0 });
      const { id } = socket.request();
      const frame = binaryFrame({ jsonrpc: "2.0", id, result: { $bytes: 0 } }, [new Uint8Array([0xff, 0, 0xfe])]);
      socket.receive(frame);
      const result = await call;
      assert.ok(result instanceof Uint8Array);
      assert.deepEqual([...result], [0xff, 0, 0xfe]);
      assert.equal(result.buffer, frame, "a view, not a copy");
      client.close();
    });

    test("placeholders anywhere in the message, several attachments, empty ones", T, async () => {
      const { client, socket } = await fakeClient();
      const call = client.invoke("files");
      const { id } = socket.request();
      socket.receive(binaryFrame(
        { jsonrpc: "2.0", id, result: { a: { $bytes: 1 }, list: [{ $bytes: 0 }, { $bytes: 2 }, { $bytes: 0, other: 1 }] } },
        [new Uint8Array([1]), new Uint8Array([2, 3]), new Uint8Array(0)],
      ));
      const result = await call;
      assert.deepEqual([...result.a], [2, 3]);
      assert.deepEqual([...result.list[0]], [1]);
      assert.equal(result.list[1].length, 0);
      assert.deepEqual(result.list[2], { $bytes: 0, other: 1 }, "only exact placeholders are replaced");
      client.close();
    });

    test("a member named __proto__ stays a member", T, async () => {
      const { client, socket } = await fakeClient();
      const call = client.invoke("x");
      const { id } = socket.request();
      const header = `{"jsonrpc":"2.0","id":${id},"result":{"__proto__":{"$bytes":0}},"attachments":[1]}`;
      const json = new TextEncoder().encode(header);
      const frame = new Uint8Array(4 + json.length + 1);
      new DataView(frame.buffer).setUint32(0, json.length);
      frame.set(json, 4);
      frame[frame.length - 1] = 7;
      socket.receive(frame.buffer);
      const result = await call;
      assert.equal(Object.getPrototypeOf(result), Object.prototype);
      assert.deepEqual([...Object.getOwnPropertyDescriptor(result, "__proto__").value], [7]);
      client.close();
    });

    test("malformed binary frames are ignored; the connection goes on", T, async () => {
      const { client, socket } = await fakeClient();
      const notified = [];
      client.onnotification = (method) => notified.push(method);
      const call = client.invoke("make_bytes");
      const { id } = socket.request();
      const good = { jsonrpc: "2.0", id, result: { $bytes: 0 } };
      const header = new TextEncoder().encode(JSON.stringify({ ...good, attachments: [1] }));
      const withHeader = (bytes) => {
        const frame = new Uint8Array(4 + bytes.length + 1);
        new DataView(frame.buffer).setUint32(0, bytes.length);
        frame.set(bytes, 4);
        return frame.buffer;
      };
      const malformed = [
        new ArrayBuffer(0),
        new Uint8Array([0, 0, 1]).buffer, // shorter than the length prefix
        binaryFrame(good, [new Uint8Array([1])], { headerLength: 1 << 30 }), // header past the end
        binaryFrame(good, [new Uint8Array([1])], { headerLength: 3 }), // header cut short
        withHeader(new TextEncoder().encode("{not json")),
        withHeader(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), // not UTF-8
        withHeader(new TextEncoder().encode("[1,2]")), // not an object
        withHeader(new TextEncoder().encode(JSON.stringify({ jsonrpc: "2.0", id, result: 1 }))), // no attachments
        withHeader(header).slice(0, -1), // attachments longer than the frame
        (() => { const f = new Uint8Array(withHeader(header).byteLength + 1); f.set(new Uint8Array(withHeader(header))); return f.buffer; })(), // shorter
        binaryFrame({ jsonrpc: "2.0", id, result: { $bytes: 1 } }, [new Uint8Array([1])]), // no attachment 1
        binaryFrame({ jsonrpc: "2.0", id, result: { $bytes: -1 } }, [new Uint8Array([1])]),
        binaryFrame({ jsonrpc: "2.0", id, result: { $bytes: "0" } }, [new Uint8Array([1])]),
        binaryFrame({ jsonrpc: "2.0", method: "ipc.channel", params: { channel: 1, index: 0, message: { $bytes: 3 } } }, []),
        withHeader(new TextEncoder().encode(JSON.stringify({ ...good, attachments: [-1] }))),
        withHeader(new TextEncoder().encode(JSON.stringify({ ...good, attachments: [0.5] }))),
        new Blob([new Uint8Array(8)]), // binaryType not honoured
      ];
      for (const frame of malformed) socket.receive(frame);
      socket.receive("{not json either");
      await sleep(20);
      assert.deepEqual(notified, []);
      socket.receive(binaryFrame(good, [new Uint8Array([42])]));
      assert.deepEqual([...(await call)], [42]);
      client.close();
    });

    test("a Node Buffer (binaryType not honoured) is decoded too", T, async () => {
      const { client, socket } = await fakeClient();
      const call = client.invoke("x");
      const { id } = socket.request();
      socket.receive(Buffer.from(binaryFrame({ jsonrpc: "2.0", id, result: [{ $bytes: 0 }] }, [new Uint8Array([5, 6])])));
      assert.deepEqual([...(await call)[0]], [5, 6]);
      client.close();
    });

    test("placeholders in text frames are plain JSON", T, async () => {
      const { client, socket } = await fakeClient();
      const call = client.invoke("echo");
      socket.receive(text({ id: socket.request().id, result: { $bytes: 0 } }));
      assert.deepEqual(await call, { $bytes: 0 });
      client.close();
    });
  });

  describe("sending bytes", () => {
    test("without bytes, requests stay text frames", T, async () => {
      const { client, socket } = await fakeClient();
      quiet(client.invoke("add", { a: 1, b: 2 }));
      quiet(client.invoke("add", [1, 2]));
      assert.equal(typeof socket.sent[0], "string");
      assert.deepEqual(JSON.parse(socket.sent[0]), { jsonrpc: "2.0", id: 1, method: "add", params: { a: 1, b: 2 } });
      assert.deepEqual(JSON.parse(socket.sent[1]), { jsonrpc: "2.0", id: 2, method: "add", params: [1, 2] });
      client.close();
    });

    test("top-level binary members go in one binary frame, as placeholders", T, async () => {
      const { client, socket } = await fakeClient();
      const data = new Uint8Array([0, 255, 128]);
      const floats = new Float32Array([1.5]);
      quiet(client.invoke("upload", { name: "a.bin", data, floats, view: new DataView(new Uint8Array([9, 8, 7]).buffer, 1, 2), raw: new ArrayBuffer(2) }));
      const frame = socket.request();
      assert.deepEqual(frame.params, { name: "a.bin", data: { $bytes: 0 }, floats: { $bytes: 1 }, view: { $bytes: 2 }, raw: { $bytes: 3 } });
      assert.deepEqual(frame.attachments, [3, 4, 2, 2]);
      assert.deepEqual([...frame.$attachments[0]], [0, 255, 128]);
      assert.deepEqual([...frame.$attachments[1]], [...new Uint8Array(floats.buffer)]);
      assert.deepEqual([...frame.$attachments[2]], [8, 7]);
      assert.deepEqual([...frame.$attachments[3]], [0, 0]);
      assert.deepEqual(Object.keys(frame).sort(), ["$attachments", "attachments", "id", "jsonrpc", "method", "params"]);
      client.close();
    });

    test("positional bytes, bytes as the args, empty bytes", T, async () => {
      const { client, socket } = await fakeClient();
      quiet(client.invoke("bytes_len", ["x", new Uint8Array([1, 2]).subarray(1)]));
      let frame = socket.request();
      assert.deepEqual(frame.params, ["x", { $bytes: 0 }]);
      assert.deepEqual([...frame.$attachments[0]], [2], "a subarray sends its own bytes only");
      quiet(client.invoke("bytes_len", new Uint8Array([3, 4, 5])));
      frame = socket.request();
      assert.deepEqual(frame.params, [{ $bytes: 0 }]);
      assert.deepEqual([...frame.$attachments[0]], [3, 4, 5]);
      quiet(client.invoke("bytes_len", new ArrayBuffer(0)));
      frame = socket.request();
      assert.deepEqual(frame.params, [{ $bytes: 0 }]);
      assert.deepEqual(frame.attachments, [0]);
      client.close();
    });

    test("deeper bytes, and bytes in event payloads, are JSON arrays", T, async () => {
      const { client, socket } = await fakeClient();
      quiet(client.invoke("save", { file: { data: new Uint8Array([1, 2]), buf: Buffer.from([3]), raw: new Uint16Array([258]).buffer } }));
      assert.equal(typeof socket.sent.at(-1), "string");
      assert.deepEqual(socket.request().params, { file: { data: [1, 2], buf: [3], raw: [...new Uint8Array(new Uint16Array([258]).buffer)] } });
      quiet(client.emit("bytes", new Uint8Array([7, 8])));
      assert.deepEqual(socket.request().params, { event: "bytes", payload: [7, 8] });
      client.close();
    });
  });

  describe("channels", () => {
    test("ids are unique and increasing; a channel serializes as __CHANNEL__:<id>", T, () => {
      const a = new Channel();
      const b = new Channel(() => {});
      assert.ok(Number.isInteger(a.id) && a.id >= 0);
      assert.equal(b.id, a.id + 1);
      assert.equal(JSON.stringify({ a }), `{"a":"__CHANNEL__:${a.id}"}`);
      assert.equal(a.onmessage, null);
      assert.equal(typeof b.onmessage, "function");
    });

    test("messages are delivered in index order; ended resolves after the last", T, async () => {
      const { client, socket } = await fakeClient();
      const seen = [];
      const channel = new Channel((m) => seen.push(m));
      quiet(client.invoke("download", { onProgress: channel, nested: { again: channel } }));
      assert.equal(socket.request().params.onProgress, `__CHANNEL__:${channel.id}`);
      let ended = false;
      channel.ended.then(() => (ended = true));
      const at = (index, extra) => push(socket, "ipc.channel", { channel: channel.id, index, ...extra });
      at(2, { message: "c" });
      at(4, { end: true });
      at(1, { message: "b" });
      await sleep(10);
      assert.deepEqual(seen, []);
      at(0, { message: "a" });
      assert.deepEqual(seen, ["a", "b", "c"]);
      await sleep(10);
      assert.equal(ended, false, "not ended while message 3 is missing");
      at(1, { message: "duplicate" });
      at(3, { message: { done: true } });
      await channel.ended;
      assert.deepEqual(seen, ["a", "b", "c", { done: true }]);
      at(5, { message: "late" });
      assert.equal(seen.length, 4);
      client.close();
    });

    test("onmessage may be set later and replaced; a throwing one does not stall", T, async () => {
      const { client, socket } = await fakeClient();
      const channel = new Channel();
      quiet(client.invoke("stream", [channel]));
      const seen = [];
      const reported = [];
      const saved = globalThis.reportError;
      globalThis.reportError = (e) => reported.push(e.message);
      try {
        push(socket, "ipc.channel", { channel: channel.id, index: 0, message: "dropped: no handler" });
        channel.onmessage = () => {
          throw new Error("boom");
        };
        push(socket, "ipc.channel", { channel: channel.id, index: 1, message: 1 });
        channel.onmessage = (m) => seen.push(m);
        push(socket, "ipc.channel", { channel: channel.id, index: 2, message: 2 });
        push(socket, "ipc.channel", { channel: channel.id, index: 3, end: true });
        await channel.ended;
      } finally {
        globalThis.reportError = saved;
      }
      assert.deepEqual(seen, [2]);
      assert.deepEqual(reported, ["boom"]);
      client.close();
    });

    test("binary channel messages arrive as Uint8Arrays", T, async () => {
      const { client, socket } = await fakeClient();
      const seen = [];
      const channel = new Channel((m) => seen.push(m));
      quiet(client.invoke("stream_bytes", { sink: channel }));
      socket.receive(binaryFrame({ jsonrpc: "2.0", method: "ipc.channel", params: { channel: channel.id, index: 0, message: { $bytes: 0 } } }, [new Uint8Array([1, 2])]));
      push(socket, "ipc.channel", { channel: channel.id, index: 1, end: true });
      await channel.ended;
      assert.ok(seen[0] instanceof Uint8Array);
      assert.deepEqual([...seen[0]], [1, 2]);
      client.close();
    });

    test("pushes for another client's channel, or an unknown one, are ignored", T, async () => {
      const one = await fakeClient();
      const two = await fakeClient();
      const seen = [];
      const channel = new Channel((m) => seen.push(m));
      quiet(one.client.invoke("stream", { channel }));
      push(two.socket, "ipc.channel", { channel: channel.id, index: 0, message: "wrong connection" });
      push(one.socket, "ipc.channel", { channel: channel.id + 1000, index: 0, message: "unknown" });
      push(one.socket, "ipc.channel", null);
      push(one.socket, "ipc.channel", { channel: channel.id, index: "0", message: "bad index" });
      await sleep(10);
      assert.deepEqual(seen, []);
      one.client.close();
      two.client.close();
    });

    test("a channel serves one call", T, async () => {
      const one = await fakeClient();
      const two = await fakeClient();
      const channel = new Channel();
      quiet(one.client.invoke("stream", { channel, again: [channel] })); // twice in one call is one use
      assert.equal(one.socket.sent.length, 1);
      await assert.rejects(one.client.invoke("stream", { channel }), /already in use/);
      await assert.rejects(two.client.invoke("stream", [channel]), /already in use/);
      assert.equal(one.socket.sent.length, 1);
      assert.equal(two.socket.sent.length, 0);
      push(one.socket, "ipc.channel", { channel: channel.id, index: 0, end: true });
      await channel.ended;
      await assert.rejects(one.client.invoke("stream", { channel }), /has ended/);
      one.client.close();
      two.client.close();
    });

    test("a call that fails before its command runs ends its channel", T, async () => {
      const { client, socket } = await fakeClient();
      for (const code of [ErrorCode.METHOD_NOT_FOUND, ErrorCode.INVALID_PARAMS, ErrorCode.FORBIDDEN]) {
        const channel = new Channel();
        const call = client.invoke("stream", { channel });
        socket.receive(text({ id: socket.request().id, error: { code, message: "no" } }));
        await rejectsWith(assert, call, code);
        await channel.ended;
      }
      // A command's own error: the command ran, so its end is still to come.
      const channel = new Channel();
      let ended = false;
      channel.ended.then(() => (ended = true));
      const call = client.invoke("stream", { channel });
      socket.receive(text({ id: socket.request().id, error: { code: ErrorCode.COMMAND_ERROR, message: "no" } }));
      await rejectsWith(assert, call, ErrorCode.COMMAND_ERROR);
      await sleep(10);
      assert.equal(ended, false);
      push(socket, "ipc.channel", { channel: channel.id, index: 0, end: true });
      await channel.ended;
      client.close();
    });

    test("a call that never went out ends its channel", T, async () => {
      const { client, socket } = await fakeClient({ reconnect: { delayMs: 60_000 } });
      socket.drop();
      await sleep(10);
      assert.equal(client.state, "reconnecting");
      const channel = new Channel();
      await rejectsWith(assert, client.invoke("stream", { channel }, { timeout: 20 }), ErrorCode.TIMEOUT);
      await channel.ended;
      const aborted = new Channel();
      const controller = new AbortController();
      const call = client.invoke("stream", { channel: aborted }, { signal: controller.signal });
      controller.abort();
      await rejectsWith(assert, call, ErrorCode.CANCELLED);
      await aborted.ended;
      client.close();
    });

    test("a closed connection rejects ended with DISCONNECTED", T, async () => {
      const { client, socket } = await fakeClient();
      const sent = new Channel();
      quiet(client.invoke("stream", { channel: sent }));
      const seen = [];
      client.onnotification = (method) => seen.push(method);
      socket.drop();
      await rejectsWith(assert, sent.ended, ErrorCode.DISCONNECTED, /closed before its end/);
      // nothing is delivered any more, and the channel cannot be reused
      push(socket, "ipc.channel", { channel: sent.id, index: 0, end: true });
      assert.deepEqual(seen, []);
      const { client: other } = await fakeClient();
      await assert.rejects(other.invoke("stream", { channel: sent }), /has ended/);
      other.close();

      const { client: closing } = await fakeClient();
      const pending = new Channel();
      quiet(closing.invoke("stream", { channel: pending }));
      closing.close();
      await rejectsWith(assert, pending.ended, ErrorCode.DISCONNECTED);
    });

    test("with reconnect, channels whose call was sent are dropped with the socket", T, async () => {
      const { client, socket } = await fakeClient({ reconnect: { delayMs: 10 } });
      const channel = new Channel();
      const call = client.invoke("stream", { channel });
      socket.drop();
      await rejectsWith(assert, call, ErrorCode.DISCONNECTED);
      await rejectsWith(assert, channel.ended, ErrorCode.DISCONNECTED);
      client.close();
    });
  });

  describe("notifications", () => {
    test("onnotification sees every notification, after the client handled it", T, async () => {
      const seen = [];
      const { client, socket } = await fakeClient({ onnotification: (method, params) => seen.push([method, params]) });
      const events = [];
      await Promise.all([
        client.listen("tick", (e) => events.push(e)),
        Promise.resolve().then(() => socket.receive(text({ id: socket.request().id, result: 1 }))),
      ]);
      push(socket, "ipc.event", { event: "tick", payload: 1, source: 0 });
      push(socket, "ipc.event", { event: "tick", payload: 2, source: 0, id: 9, handler: 4 }); // a Tauri listener's
      push(socket, "ipc.future", { x: 1 });
      socket.receive(binaryFrame({ jsonrpc: "2.0", method: "ipc.channel", params: { channel: 77, index: 0, message: { $bytes: 0 } } }, [new Uint8Array([1])]));
      assert.deepEqual(events, [{ event: "tick", payload: 1, source: 0 }], "pushes with a handler are not for ipc.listen");
      assert.deepEqual(seen.map(([m]) => m), ["ipc.event", "ipc.event", "ipc.future", "ipc.channel"]);
      assert.deepEqual([...seen[3][1].message], [1]);
      client.close();
    });
  });
});
