// The global-WebSocket path: Node's own WebSocket (`--experimental-websocket`
// in Node 20, built in from Node 22) instead of the `ws` package.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, test } from "node:test";
import { connect, ErrorCode } from "../../ipc-runtime/js/ipc.js";
import { useServer } from "./server.mjs";
import { collector, T } from "./helpers.mjs";

const hasGlobal = typeof globalThis.WebSocket === "function";

describe("global WebSocket", () => {
  const server = useServer();

  test("a child `node --experimental-websocket` process calls commands and gets events", T, async () => {
    const script = fileURLToPath(new URL("./global-ws-client.mjs", import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ["--experimental-websocket", script, server.wsUrl], {
      timeout: 10_000,
    });
    const seen = JSON.parse(stdout.trim().split("\n").at(-1));
    assert.equal(seen.sum, 42);
    assert.deepEqual(seen.events, [{ event: "global:ws", payload: { ok: true }, source: 0 }]);
    assert.deepEqual(seen.error, { name: "IpcError", code: ErrorCode.METHOD_NOT_FOUND, suggestion: "add" });
    assert.deepEqual(seen.bytes, { type: "Uint8Array", values: [250, 25, 56, 87], echoed: [250, 25, 56, 87] });
    assert.equal(seen.state, "closed");
  });

  test("in this process, when the global exists", { ...T, skip: !hasGlobal && "no global WebSocket (run with --experimental-websocket)" }, async () => {
    const client = await connect(server.wsUrl);
    try {
      const got = collector();
      await client.listen("here", got.cb);
      await client.invoke("emit_to_caller", { event: "here", payload: [1] });
      assert.deepEqual((await got.next()).payload, [1]);
      assert.equal(await client.invoke("greet", ["Ada", true]), "Hello, Ada!");
    } finally {
      client.close();
    }
  });

  test("without any WebSocket, connect says what to do", T, async () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, "WebSocket");
    Object.defineProperty(globalThis, "WebSocket", { value: undefined, configurable: true, writable: true });
    try {
      await assert.rejects(connect(server.wsUrl), (err) => {
        assert.match(err.message, /--experimental-websocket/);
        assert.match(err.message, /\bws\b/);
        return true;
      });
    } finally {
      if (saved) Object.defineProperty(globalThis, "WebSocket", saved);
      else delete globalThis.WebSocket;
    }
  });
});
