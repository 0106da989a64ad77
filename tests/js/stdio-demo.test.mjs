// The demo as a sidecar (`demo --stdio`), driven with raw JSON-RPC lines as
// any parent process would: nothing but protocol on stdout, and exit code 0
// once stdin closes.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { T } from "./helpers.mjs";
import { DEMO_BINARY, DEMO_BUILD, rawLines, spawnSidecar, within } from "./sidecar.mjs";

/** Runs `body` against a fresh demo, then closes its stdin and expects exit code 0. */
async function withDemo(body) {
  const demo = spawnSidecar(DEMO_BINARY, DEMO_BUILD);
  const io = rawLines(demo);
  try {
    await body(io);
    io.end();
    const exit = await within(5000, demo.exited, "exit after stdin closed");
    assert.deepEqual(exit, { code: 0, signal: null }, demo.stderr());
    assert.equal(await io.next(), null, "nothing on stdout after the last answer");
  } finally {
    await demo.kill();
  }
}

describe("demo --stdio", () => {
  test("answers todos.list with the list", T, async () => {
    await withDemo(async (io) => {
      io.send('{"jsonrpc":"2.0","id":1,"method":"todos.list","params":{}}');
      assert.equal(await io.next(), '{"jsonrpc":"2.0","id":1,"result":[]}');
    });
  });

  test("ipc.listen then todos.add: the change arrives as an ipc.event line", T, async () => {
    await withDemo(async (io) => {
      io.send('{"jsonrpc":"2.0","id":1,"method":"ipc.listen","params":{"event":"todos:changed"}}');
      const listening = await io.json();
      assert.equal(listening.id, 1);
      assert.equal(typeof listening.result, "number");
      io.send('{"jsonrpc":"2.0","id":2,"method":"todos.add","params":{"title":"from stdio"}}');
      // The event is queued before the response: both come, event first.
      const event = await io.json();
      assert.equal(event.method, "ipc.event");
      assert.equal(event.params.event, "todos:changed");
      assert.deepEqual(event.params.payload, [{ id: 1, title: "from stdio", done: false }]);
      assert.deepEqual(await io.json(), { jsonrpc: "2.0", id: 2, result: { id: 1, title: "from stdio", done: false } });
      io.send('{"jsonrpc":"2.0","id":3,"method":"todos.add","params":{"title":"  "}}');
      const refused = await io.json();
      assert.equal(refused.error.code, -32000);
      assert.deepEqual(refused.error.data, { kind: "emptyTitle" });
    });
  });

  test("a malformed line gets -32700 and the process goes on", T, async () => {
    await withDemo(async (io) => {
      io.send("{oops");
      const error = await io.json();
      assert.equal(error.id, null);
      assert.equal(error.error.code, -32700);
      io.write(Buffer.from([0xff, 0xfe, 0x0a])); // not UTF-8
      assert.equal((await io.json()).error.code, -32700);
      io.send('{"jsonrpc":"2.0","id":2,"method":"todos.list"}');
      assert.deepEqual(await io.json(), { jsonrpc: "2.0", id: 2, result: [] });
    });
  });

  test("500 pipelined calls are all answered", T, async () => {
    await withDemo(async (io) => {
      let lines = "";
      for (let id = 0; id < 500; id++) {
        lines += `{"jsonrpc":"2.0","id":${id},"method":"presence.count"}\n`;
      }
      io.write(lines);
      const ids = new Set();
      for (let i = 0; i < 500; i++) {
        const reply = await io.json();
        assert.equal(typeof reply.result, "number", JSON.stringify(reply));
        ids.add(reply.id);
      }
      assert.equal(ids.size, 500);
    });
  });

  test("closing stdin ends it with exit code 0", T, async () => {
    // withDemo checks the exit code; here with nothing sent at all.
    await withDemo(async () => {});
  });
});
