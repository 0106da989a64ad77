// ipc.js over the stdio transport (ipc-stdio.js), against the e2e server
// spawned with `--stdio`: the same client API as over WebSocket, driven
// through a child process's pipes.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import { Channel, connect, ErrorCode, IpcError } from "../../ipc-runtime/js/ipc.js";
import { stdioTransport } from "../../ipc-runtime/js/ipc-stdio.js";
import { collector, rejectsWith, sleep, T, waitFor } from "./helpers.mjs";
import { E2E_BINARY, E2E_BUILD, spawnSidecar, within } from "./sidecar.mjs";

const SLOW = { timeout: 20_000 };

/** The child's pipes, with every line the client writes recorded (parsed) in `sent`. */
function spied(child, sent) {
  const stdin = {
    write(chunk) {
      for (const line of String(chunk).split("\n").filter(Boolean)) sent.push(JSON.parse(line));
      return child.stdin.write(chunk);
    },
    end: () => child.stdin.end(),
    on: (event, listener) => child.stdin.on(event, listener),
    get destroyed() {
      return child.stdin.destroyed;
    },
  };
  return { stdin, stdout: child.stdout, pid: child.pid };
}

describe("stdio transport", () => {
  let sidecar;
  let client;
  const sent = [];
  before(async () => {
    sidecar = spawnSidecar(E2E_BINARY, E2E_BUILD);
    client = await connect({ transport: stdioTransport(spied(sidecar.child, sent)), timeout: 10_000 });
  });
  after(async () => {
    client?.close();
    await sidecar?.kill();
  });

  test("invoke resolves the command's value", T, async () => {
    assert.equal(client.state, "open");
    assert.equal(client.url, `stdio (pid ${sidecar.child.pid})`);
    assert.equal(await client.invoke("add", { a: 2, b: 3 }), 5);
    assert.equal(await client.invoke("greet", ["Ada", true]), "Hello, Ada!");
  });

  test("a failed call rejects with a structured IpcError", T, async () => {
    const error = await rejectsWith(assert, client.invoke("fail", { reason: "no" }), ErrorCode.COMMAND_ERROR);
    assert.equal(error.message, "refused: no");
    assert.deepEqual(error.data, { kind: "refused", reason: "no" });
    const unknown = await rejectsWith(assert, client.invoke("ad", {}), ErrorCode.METHOD_NOT_FOUND);
    assert.equal(unknown.data.suggestion, "add");
  });

  test("listen receives a live event emitted by another call", T, async () => {
    const events = collector();
    const unlisten = await client.listen("stdio:news", events.cb);
    await client.invoke("emit_event", { event: "stdio:news", payload: { n: 1 } });
    const event = await events.next();
    assert.equal(event.event, "stdio:news");
    assert.deepEqual(event.payload, { n: 1 });
    assert.equal(event.source, 0, "emitted by the backend");
    await unlisten();
    await client.invoke("emit_event", { event: "stdio:news", payload: { n: 2 } });
    await sleep(100);
    assert.equal(events.events.length, 1, "no event after unlisten");
  });

  test("a channel streams its messages in order, then ends", T, async () => {
    const received = [];
    const progress = new Channel((m) => received.push(m));
    assert.equal(await client.invoke("progress", { steps: 5, delayMs: 5, onProgress: progress }), 5);
    await within(5000, progress.ended, "channel end");
    assert.deepEqual(received.map((m) => m.done), [1, 2, 3, 4, 5]);
    assert.ok(received.every((m) => m.total === 5));
  });

  test("aborting a slow call rejects at once; the server stops it and keeps answering", SLOW, async () => {
    const controller = new AbortController();
    const cancelled = client.invoke("cancellable", { ms: 1500, marker: "stdio-x" }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    await rejectsWith(assert, cancelled, ErrorCode.CANCELLED, /cancellable/);
    assert.ok(Date.now() - started < 400, `rejected after ${Date.now() - started} ms`);
    const request = sent.find((m) => m.method === "cancellable" && m.params.marker === "stdio-x");
    assert.ok(sent.some((m) => m.method === "ipc.cancel" && m.params.id === request.id && !("id" in m)));
    assert.equal(await client.invoke("add", { a: 1, b: 1 }), 2, "still answering");
    await sleep(1700);
    assert.ok(!(await client.invoke("markers")).includes("stdio-x"), "the command was stopped");
  });

  test("bytes go as JSON arrays both ways: never a binary frame", T, async () => {
    const before = sent.length;
    const echoed = await client.invoke("echo_bytes", { data: new Uint8Array([1, 2, 255]) });
    assert.deepEqual(echoed, [1, 2, 255]);
    assert.equal(await client.invoke("bytes_len", new Uint8Array([9, 9, 9, 9])), 4);
    const lines = sent.slice(before);
    assert.deepEqual(lines[0].params, { data: [1, 2, 255] });
    assert.deepEqual(lines[1].params, [[9, 9, 9, 9]], "binary args are the first positional argument");
    assert.ok(lines.every((m) => !("attachments" in m)));
  });
});

describe("stdio transport lifecycle", () => {
  test("close() ends the sidecar's stdin; it exits with code 0", T, async () => {
    const sidecar = spawnSidecar(E2E_BINARY, E2E_BUILD);
    const states = [];
    const client = await connect({
      transport: stdioTransport(sidecar.child),
      onstatechange: (state) => states.push(state),
    });
    assert.equal(await client.invoke("add", [1, 2]), 3);
    client.close();
    assert.deepEqual(await within(5000, sidecar.exited, "exit"), { code: 0, signal: null });
    assert.deepEqual(states, ["open", "closed"]);
  });

  test("a call running at close still completes before the sidecar exits", T, async () => {
    const sidecar = spawnSidecar(E2E_BINARY, E2E_BUILD);
    const client = await connect({ transport: stdioTransport(sidecar.child) });
    await client.invoke("cancellable", { ms: 50, marker: "warm-up" });
    client.invoke("cancellable", { ms: 300, marker: "last" }).catch(() => {}); // rejects: the client closed
    await sleep(50);
    const started = Date.now();
    client.close();
    assert.deepEqual(await within(5000, sidecar.exited, "exit"), { code: 0, signal: null });
    assert.ok(Date.now() - started >= 200, "exited before its call finished");
  });

  test("a sidecar that dies closes the client; pending calls reject with DISCONNECTED", T, async () => {
    const sidecar = spawnSidecar(E2E_BINARY, E2E_BUILD);
    const client = await connect({ transport: stdioTransport(sidecar.child) });
    const pending = client.invoke("sleep", { ms: 5000 });
    await sleep(100);
    sidecar.child.kill("SIGKILL");
    await rejectsWith(assert, pending, ErrorCode.DISCONNECTED, /stdio \(pid \d+\)/);
    await waitFor(() => client.state === "closed", 3000, "the client to close");
  });

  test("connect rejects with DISCONNECTED when the process cannot start", T, async () => {
    const { spawn } = await import("node:child_process");
    const child = spawn(`${E2E_BINARY}-does-not-exist`, ["--stdio"], { stdio: ["pipe", "pipe", "inherit"] });
    await rejectsWith(assert, connect({ transport: stdioTransport(child) }), ErrorCode.DISCONNECTED, /ENOENT/);
  });

  test("with a spawning function, reconnect starts a new sidecar", SLOW, async () => {
    const children = [];
    const spawnOne = () => {
      const sidecar = spawnSidecar(E2E_BINARY, E2E_BUILD);
      children.push(sidecar);
      return sidecar.child;
    };
    const events = collector();
    const client = await connect({
      transport: stdioTransport(spawnOne, { describe: "e2e sidecar" }),
      reconnect: { delayMs: 20, maxDelayMs: 100 },
    });
    try {
      assert.equal(client.url, "e2e sidecar");
      await client.listen("stdio:again", events.cb);
      children[0].child.kill("SIGKILL");
      await waitFor(() => children.length === 2 && client.state === "open", 5000, "a second sidecar");
      assert.equal(await client.invoke("add", [2, 2]), 4);
      // The listener was subscribed again on the new sidecar.
      await waitFor(async () => {
        await client.invoke("emit_event", { event: "stdio:again", payload: 1 });
        return events.events.length > 0;
      }, 5000, "the event on the new sidecar");
    } finally {
      client.close();
      for (const sidecar of children) await within(5000, sidecar.kill(), "the sidecar to end");
    }
  });

  test("a restarted sidecar is another run: listeners resubscribe, told the gap is unknown, and the new run's events arrive", SLOW, async () => {
    const children = [];
    const spawnOne = () => {
      const sidecar = spawnSidecar(E2E_BINARY, E2E_BUILD);
      children.push(sidecar);
      return sidecar.child;
    };
    const client = await connect({ transport: stdioTransport(spawnOne), reconnect: { delayMs: 20, maxDelayMs: 100 } });
    try {
      const events = collector();
      const gaps = [];
      await client.listen("e2e:stream", events.cb, { onGap: (lost) => gaps.push(lost) });
      // Far along in the first run's numbering, which the second run starts again.
      await client.invoke("emit_numbered", { event: "e2e:stream", from: 1, count: 20, delayMs: 0 });
      await waitFor(() => events.events.length === 20, 5000, "the first run's events");
      children[0].child.kill("SIGKILL");
      await waitFor(() => children.length === 2 && client.state === "open", 5000, "a second sidecar");
      await waitFor(() => gaps.length === 1, 5000, "the gap notice");
      assert.deepEqual(gaps, [null], "another run: what was lost is unknown");
      await client.invoke("emit_event", { event: "e2e:stream", payload: "second run" });
      await waitFor(() => events.events.length === 21, 5000, "the second run's event, though its number is lower");
      assert.equal(events.events[20].payload, "second run");
    } finally {
      client.close();
      for (const sidecar of children) await within(5000, sidecar.kill(), "the sidecar to end");
    }
  });

  test("a transport over one child opens once", T, async () => {
    const sidecar = spawnSidecar(E2E_BINARY, E2E_BUILD);
    const transport = stdioTransport(sidecar.child);
    const client = await connect({ transport });
    client.close();
    await within(5000, sidecar.exited, "exit");
    assert.throws(() => transport.open(), /already connected once/);
  });
});

describe("stdio transport framing (in-memory streams)", () => {
  /** A client over two PassThrough streams: `toClient` feeds its stdout, `fromClient` holds what it wrote. */
  async function fakeSidecar() {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const written = [];
    stdin.setEncoding("utf8");
    stdin.on("data", (chunk) => written.push(chunk));
    const client = await connect({ transport: stdioTransport({ stdin, stdout }), timeout: 5000 });
    const request = async () => {
      await waitFor(() => written.join("").includes("\n"), 3000, "a request");
      const [line, ...rest] = written.join("").split("\n");
      written.splice(0, written.length, rest.join("\n"));
      return JSON.parse(line);
    };
    return { client, stdin, stdout, request };
  }

  test("each message is one line; lines split anywhere, even inside a character, are joined", T, async () => {
    const { client, stdout, request } = await fakeSidecar();
    const call = client.invoke("echo", { value: "é✓😀" });
    const { id } = await request();
    const reply = Buffer.from(`${JSON.stringify({ jsonrpc: "2.0", id, result: "é✓😀" })}\r\n`, "utf8");
    for (const byte of reply) {
      stdout.write(Buffer.from([byte])); // one byte at a time: multi-byte characters arrive split
      await sleep(0);
    }
    assert.equal(await call, "é✓😀");
    client.close();
  });

  test("several messages in one chunk, blank lines and notifications", T, async () => {
    const { client, stdout, request } = await fakeSidecar();
    const seen = [];
    client.onnotification = (method, params) => seen.push([method, params]);
    const a = client.invoke("a");
    const b = client.invoke("b");
    const [ra, rb] = [await request(), await request()];
    stdout.write(
      `\n${JSON.stringify({ jsonrpc: "2.0", method: "custom", params: 1 })}\n\n` +
        `${JSON.stringify({ jsonrpc: "2.0", id: rb.id, result: "B" })}\n` +
        `${JSON.stringify({ jsonrpc: "2.0", id: ra.id, error: { code: -32000, message: "no", data: { x: 1 } } })}\n`,
    );
    assert.equal(await b, "B");
    await assert.rejects(a, (e) => e instanceof IpcError && e.code === -32000 && e.data.x === 1);
    assert.deepEqual(seen, [["custom", 1]]);
    client.close();
  });

  test("the end of stdout closes the client; a last line without a newline still counts", T, async () => {
    const { client, stdout, request } = await fakeSidecar();
    const call = client.invoke("x");
    const { id } = await request();
    stdout.end(JSON.stringify({ jsonrpc: "2.0", id, result: 7 }));
    assert.equal(await call, 7);
    await waitFor(() => client.state === "closed", 3000, "the client to close");
  });

  test("a non-binary transport never receives a binary frame", T, async () => {
    const { client, request } = await fakeSidecar();
    client.invoke("bytes_len", new ArrayBuffer(3)).catch(() => {});
    const sent = await request();
    assert.deepEqual(sent.params, [[0, 0, 0]]);
    client.invoke("echo", { deep: { data: new Uint16Array([258]) } }).catch(() => {});
    assert.deepEqual((await request()).params, { deep: { data: [2, 1] } });
    client.close();
  });
});
