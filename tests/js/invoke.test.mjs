// invoke(): results, every error code, timeouts, cancellation, concurrency and
// the module-level functions, against the real e2e server.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WebSocket } from "ws";
import { connect, ErrorCode, invoke, IpcError } from "../../ipc-runtime/js/ipc.js";
import { useServer } from "./server.mjs";
import { rejectsWith, sleep, spyWebSocket, T } from "./helpers.mjs";

// One outer suite: node 20 runs file-level hooks unreliably around suites.
describe("invoke", () => {
  const server = useServer();
  let client;
  const sent = [];

  before(async () => {
    client = await connect(server.wsUrl, { WebSocket: spyWebSocket(sent) });
  });
  after(() => client?.close());

  describe("results", () => {
    test("arguments by name", T, async () => {
      assert.equal(await client.invoke("add", { a: 40, b: 2 }), 42);
      assert.equal(await client.invoke("add", { a: -5, b: 3 }), -2);
    });

    test("arguments by position", T, async () => {
      assert.equal(await client.invoke("add", [40, 2]), 42);
      assert.equal(await client.invoke("greet", ["Ada", true]), "Hello, Ada!");
    });

    test("an Option argument may be omitted or null", T, async () => {
      assert.equal(await client.invoke("greet", { name: "Ada" }), "Hello, Ada.");
      assert.equal(await client.invoke("greet", { name: "Ada", excited: null }), "Hello, Ada.");
      assert.equal(await client.invoke("greet", { name: "Ada", excited: false }), "Hello, Ada.");
      assert.equal(await client.invoke("greet", { name: "Ada", excited: true }), "Hello, Ada!");
      assert.equal(await client.invoke("greet", ["Ada"]), "Hello, Ada.");
    });

    test("no arguments, and JSON values round-trip", T, async () => {
      const id = await client.invoke("whoami");
      assert.ok(Number.isInteger(id) && id > 0, `whoami returned ${id}`);
      const value = { list: [1, "two", null, true, 2.5], nested: { "ünï": "☃", empty: {} } };
      assert.deepEqual(await client.invoke("echo", { value }), value);
      assert.equal(await client.invoke("echo", [null]), null);
      assert.equal(await client.invoke("emit_event", { event: "nobody:listens", payload: 1 }), null);
    });

    test("request ids are incrementing integers, params as given", T, async () => {
      const start = sent.length;
      await client.invoke("add", [1, 1]);
      await client.invoke("add", { a: 1, b: 1 });
      const [first, second] = sent.slice(start);
      assert.deepEqual(first, { jsonrpc: "2.0", id: first.id, method: "add", params: [1, 1] });
      assert.ok(Number.isInteger(first.id));
      assert.equal(second.id, first.id + 1);
      assert.deepEqual(second.params, { a: 1, b: 1 });
    });

    test("args that are neither an object nor an array are refused locally", T, async () => {
      await assert.rejects(client.invoke("echo", 5), TypeError);
    });
  });

  describe("errors", () => {
    test("unknown command: -32601 with a suggestion", T, async () => {
      const err = await rejectsWith(assert, client.invoke("ad", { a: 1, b: 2 }), ErrorCode.METHOD_NOT_FOUND);
      assert.ok(err instanceof IpcError && err instanceof Error);
      assert.equal(err.data.command, "ad");
      assert.equal(err.data.suggestion, "add");
      assert.match(err.message, /ad/);
    });

    test("unknown ipc.* method: -32601", T, async () => {
      await rejectsWith(assert, client.invoke("ipc.nope"), ErrorCode.METHOD_NOT_FOUND);
    });

    test("wrong argument type: -32602 naming the argument", T, async () => {
      const err = await rejectsWith(assert, client.invoke("add", { a: 1, b: "two" }), ErrorCode.INVALID_PARAMS, /`b`/);
      assert.equal(err.data.argument, "b");
      assert.equal(err.data.expected, "i64");
      assert.equal(typeof err.data.reason, "string");
    });

    test("missing argument and too many positional ones: -32602", T, async () => {
      const missing = await rejectsWith(assert, client.invoke("add", { a: 1 }), ErrorCode.INVALID_PARAMS);
      assert.equal(missing.data.argument, "b");
      await rejectsWith(assert, client.invoke("add", [1, 2, 3]), ErrorCode.INVALID_PARAMS);
      await rejectsWith(assert, client.invoke("greet", {}), ErrorCode.INVALID_PARAMS);
    });

    test("the command's own error: -32000 with the error as data", T, async () => {
      const err = await rejectsWith(assert, client.invoke("fail", { reason: "no way" }), ErrorCode.COMMAND_ERROR);
      assert.equal(err.message, "refused: no way");
      assert.deepEqual(err.data, { kind: "refused", reason: "no way" });
    });

    test("an application's own code and message", T, async () => {
      const err = await rejectsWith(assert, client.invoke("custom_error", { code: 4242, message: "teapot" }), 4242);
      assert.equal(err.message, "teapot");
    });

    test("a panic is -32603 and the server keeps serving", T, async () => {
      await rejectsWith(assert, client.invoke("panic"), ErrorCode.INTERNAL_ERROR);
      assert.equal(await client.invoke("add", [2, 2]), 4);
    });
  });

  describe("timeouts and cancellation", () => {
    test("a timeout rejects with TIMEOUT naming the command and the delay", T, async () => {
      const started = Date.now();
      await rejectsWith(assert, client.invoke("sleep", { ms: 2000 }, { timeout: 100 }), ErrorCode.TIMEOUT, /sleep.*100 ?ms/);
      assert.ok(Date.now() - started < 1500, "the timeout fired late");
      assert.equal(await client.invoke("add", [1, 2]), 3); // the connection is fine
    });

    test("the client's default timeout applies, and an invoke may override it", T, async () => {
      const impatient = await connect(server.wsUrl, { WebSocket, timeout: 100 });
      try {
        await rejectsWith(assert, impatient.invoke("sleep", { ms: 2000 }), ErrorCode.TIMEOUT);
        assert.equal(await impatient.invoke("sleep", { ms: 200 }, { timeout: 5000 }), 200);
        assert.equal(await impatient.invoke("sleep", { ms: 200 }, { timeout: 0 }), 200);
      } finally {
        impatient.close();
      }
    });

    test("aborting rejects at once with CANCELLED and sends ipc.cancel", T, async () => {
      const controller = new AbortController();
      const call = client.invoke("sleep", { ms: 3000 }, { signal: controller.signal });
      await sleep(50);
      const request = sent.findLast((m) => m.method === "sleep");
      const started = Date.now();
      controller.abort();
      await rejectsWith(assert, call, ErrorCode.CANCELLED, /sleep/);
      assert.ok(Date.now() - started < 500, "the cancellation was not immediate");
      assert.deepEqual(sent.at(-1), { jsonrpc: "2.0", method: "ipc.cancel", params: { id: request.id } });
      assert.equal(await client.invoke("add", [1, 2]), 3);
    });

    test("an already aborted signal rejects without sending anything", T, async () => {
      const count = sent.length;
      await rejectsWith(assert, client.invoke("add", [1, 2], { signal: AbortSignal.abort() }), ErrorCode.CANCELLED);
      assert.equal(sent.length, count);
    });
  });

  describe("concurrency", () => {
    test("responses arrive in completion order", T, async () => {
      const order = [];
      const slow = client.invoke("sleep", { ms: 300 }).then((r) => order.push(["sleep", r]));
      const fast = client.invoke("add", [1, 2]).then((r) => order.push(["add", r]));
      await Promise.all([slow, fast]);
      assert.deepEqual(order, [["add", 3], ["sleep", 300]]);
    });

    test("many calls in flight each get their own result", T, async () => {
      const calls = Array.from({ length: 100 }, (_, i) => client.invoke("add", [i, 1000]));
      assert.deepEqual(await Promise.all(calls), Array.from({ length: 100 }, (_, i) => i + 1000));
    });
  });

  describe("module-level functions", () => {
    test("reject with a clear error before connect()", T, async () => {
      const fresh = await import("../../ipc-runtime/js/ipc.js?fresh");
      await assert.rejects(fresh.invoke("add", [1, 2]), /connect\(\)/);
      await assert.rejects(fresh.listen("x", () => {}), /connect\(\)/);
      await assert.rejects(fresh.once("x", () => {}), /connect\(\)/);
      await assert.rejects(fresh.emit("x", 1), /connect\(\)/);
    });

    test("use the client of the latest connect()", T, async () => {
      const latest = await connect(server.wsUrl, { WebSocket });
      try {
        assert.equal(await invoke("whoami"), await latest.invoke("whoami"));
        assert.notEqual(await invoke("whoami"), await client.invoke("whoami"));
        assert.equal(await invoke("add", { a: 1, b: 2 }), 3);
      } finally {
        latest.close();
      }
    });
  });
});
