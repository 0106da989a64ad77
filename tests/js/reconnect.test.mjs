// A reconnect that keeps trying: against a proxy that refuses connections for
// a while, one that takes them and never answers, a server that is down for
// a while and comes back on the same port, and sockets that fail in each way
// a WebSocket may (a "close", an "error" alone, nothing at all).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { after, describe, test } from "node:test";
import { WebSocket } from "ws";
import { connect, ErrorCode } from "../../ipc-runtime/js/ipc.js";
import { startServer, useServer } from "./server.mjs";
import { FakeSocket, rejectsWith, sleep, startProxy, T, waitFor } from "./helpers.mjs";

/** A socket that fails as Node 20's own WebSocket does when refused: an "error", and never a "close". */
class ErrorOnlySocket extends EventTarget {
  constructor() {
    super();
    setTimeout(() => this.dispatchEvent(new Event("error")), 0);
  }
  send() {
    throw new Error("not open");
  }
  close() {} // still "connecting" for ever: no event
}

/** A socket that never opens, never fails, and ignores close(). */
class SilentSocket extends EventTarget {
  send() {
    throw new Error("not open");
  }
  close() {}
}

/**
 * A transport whose first socket opens (a FakeSocket) and whose next ones are
 * made by `failing()` until `healthy` is set; `opens` holds the time of each
 * open() call.
 */
function flakyTransport(failing) {
  const transport = {
    describe: "flaky",
    healthy: false,
    opens: [],
    open() {
      transport.opens.push(performance.now());
      return transport.opens.length === 1 || transport.healthy ? new FakeSocket("fake://", []) : failing();
    },
  };
  return transport;
}

describe("a reconnect that keeps trying", () => {
  const server = useServer();
  const cleanups = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test("a socket that reports an error and never closes is a failed attempt: the next one follows", T, async () => {
    const transport = flakyTransport(() => new ErrorOnlySocket());
    const states = [];
    const client = await connect({ transport, reconnect: { delayMs: 10, maxDelayMs: 20 }, onstatechange: (s) => states.push(s) });
    cleanups.push(() => client.close());
    FakeSocket.last.drop();
    await waitFor(() => transport.opens.length >= 4, 3000, "three failed attempts");
    assert.equal(client.state, "reconnecting");
    transport.healthy = true;
    await waitFor(() => client.state === "open", 3000, "the client to reopen");
    assert.deepEqual(states, ["open", "reconnecting", "open"], "attempts are not state changes");
    client.close();
  });

  test("an attempt that never opens is given up after openTimeout", T, async () => {
    const transport = flakyTransport(() => new SilentSocket());
    const client = await connect({ transport, openTimeout: 50, reconnect: { delayMs: 10, maxDelayMs: 10, jitter: 0 } });
    cleanups.push(() => client.close());
    FakeSocket.last.drop();
    await waitFor(() => transport.opens.length >= 3, 3000, "a second attempt after the first hung");
    const [, first, second] = transport.opens;
    assert.ok(second - first >= 55, `the hung attempt had its ${second - first} ms, not 50 + 10`);
    transport.healthy = true;
    await waitFor(() => client.state === "open", 3000, "the client to reopen");
    client.close();

    // The first connection too: connect rejects instead of waiting for ever.
    const hung = { open: () => new SilentSocket() };
    await rejectsWith(assert, connect({ transport: hung, openTimeout: 50 }), ErrorCode.DISCONNECTED, /did not open within 50 ms/);
  });

  test("delays double from delayMs up to maxDelayMs; jitter only shortens them", T, async () => {
    const transport = flakyTransport(() => new ErrorOnlySocket());
    const client = await connect({ transport, reconnect: { delayMs: 20, maxDelayMs: 80, jitter: 0 } });
    cleanups.push(() => client.close());
    FakeSocket.last.drop();
    await waitFor(() => transport.opens.length >= 7, 5000, "six attempts");
    client.close();
    const gaps = transport.opens.slice(1).map((t, i, all) => (i === 0 ? null : t - all[i - 1])).slice(1);
    // Timers fire late on a busy machine, never early: the lower bounds show
    // the doubling, the upper ones the cap (uncapped: 160, 320, 640 ms).
    const expected = [40, 80, 80, 80, 80];
    gaps.forEach((gap, i) => {
      assert.ok(gap >= expected[i] - 2 && gap < expected[i] + 150, `attempt ${i + 2} came ${gap} ms after the one before, not ${expected[i]}: ${gaps}`);
    });

    const jittery = flakyTransport(() => new ErrorOnlySocket());
    const other = await connect({ transport: jittery, reconnect: { delayMs: 100, maxDelayMs: 100, jitter: 1 } });
    cleanups.push(() => other.close());
    FakeSocket.last.drop();
    await waitFor(() => jittery.opens.length >= 6, 5000, "five attempts");
    other.close();
    const spread = jittery.opens.slice(2).map((t, i) => t - jittery.opens[i + 1]);
    assert.ok(spread.every((gap) => gap < 100 + 150), `never much longer than the delay: ${spread}`);
    assert.ok(new Set(spread.map((gap) => Math.round(gap / 10))).size > 1, `random, not constant: ${spread}`);
  });

  test("settings that are missing or not numbers take their defaults (delayMs: undefined is not NaN)", T, async () => {
    for (const reconnect of [{ delayMs: undefined, maxDelayMs: 100, jitter: 0 }, { delayMs: "fast", maxDelayMs: 100, jitter: Number.NaN }, { delayMs: -5, maxDelayMs: 100, jitter: 0 }]) {
      const transport = flakyTransport(() => new ErrorOnlySocket());
      const client = await connect({ transport, reconnect });
      FakeSocket.last.drop();
      await sleep(450);
      client.close();
      // The default first delay (500 ms) capped at 100: about four attempts
      // in 450 ms. A NaN delay retries at once, hundreds of times.
      const attempts = transport.opens.length - 1;
      assert.ok(attempts >= 2 && attempts <= 6, `${attempts} attempts in 450 ms with ${JSON.stringify(reconnect)}`);
    }
  });

  test("Node's own WebSocket, refused for 1.5 s: open again soon after the server is reachable, and calls work", { timeout: 30_000 }, async () => {
    const proxy = await startProxy(server.wsUrl);
    cleanups.push(() => proxy.close());
    const child = spawn(
      process.execPath,
      ["--experimental-websocket", fileURLToPath(new URL("./reconnect-child.mjs", import.meta.url)), proxy.url, JSON.stringify({ delayMs: 100, maxDelayMs: 400 })],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    cleanups.push(() => child.kill("SIGKILL"));
    const lines = [];
    createInterface({ input: child.stdout }).on("line", (line) => lines.push(JSON.parse(line)));
    await waitFor(() => lines.some((l) => l.state === "open"), 10_000, "the child to connect");

    await proxy.refuse();
    await waitFor(() => lines.some((l) => l.state === "reconnecting"), 3000, "the child to see the cut");
    await sleep(1500);
    await proxy.accept();
    const back = performance.now();
    await waitFor(() => lines.filter((l) => l.state === "open").length === 2, 5000, "the child to reopen");
    const took = performance.now() - back;
    // The longest wait is the cap (400 ms), plus the attempt itself.
    assert.ok(took < 1500, `open ${Math.round(took)} ms after the server was reachable again`);
    child.stdin.write("add\n");
    await waitFor(() => lines.some((l) => "sum" in l || "error" in l), 6000, "the call's answer");
    assert.deepEqual(lines.find((l) => "sum" in l || "error" in l), { sum: 3 });
    assert.deepEqual(lines.filter((l) => l.state).map((l) => l.state), ["open", "reconnecting", "open"]);
    child.stdin.end();
  });

  test("a proxy that takes connections and never answers: each attempt times out, then one succeeds", T, async () => {
    const proxy = await startProxy(server.wsUrl);
    cleanups.push(() => proxy.close());
    const client = await connect(proxy.url, { WebSocket, openTimeout: 200, reconnect: { delayMs: 20, maxDelayMs: 50 } });
    cleanups.push(() => client.close());
    proxy.hang = true;
    proxy.dropAll();
    const before = proxy.connections;
    await waitFor(() => proxy.connections >= before + 3, 5000, "three attempts on the hanging proxy");
    assert.equal(client.state, "reconnecting");
    proxy.hang = false;
    assert.equal(await client.invoke("add", [2, 3], { timeout: 3000 }), 5);
    assert.equal(client.state, "open");
    client.close();
  });

  test("a server down for longer than several backoff steps, then back on its port: the client reconnects by itself", T, async () => {
    const first = await startServer();
    cleanups.push(() => first.stop());
    const url = new URL(first.wsUrl);
    const states = [];
    const client = await connect(first.wsUrl, {
      WebSocket,
      reconnect: { delayMs: 50, maxDelayMs: 200 },
      onstatechange: (s) => states.push(s),
    });
    cleanups.push(() => client.close());
    await first.kill();
    await waitFor(() => client.state === "reconnecting", 3000, "reconnecting");
    const waiting = client.invoke("add", [1, 2]);
    await sleep(1200); // at least 4 failed attempts: 50, 100, 200, 200, ... ms apart
    assert.equal(client.state, "reconnecting");
    const second = await startServer({ port: Number(url.port), token: url.searchParams.get("token") });
    cleanups.push(() => second.stop());
    assert.equal(await waiting, 3, "the call made while reconnecting went out on the new connection");
    assert.deepEqual(states, ["open", "reconnecting", "open"]);
    client.close();
  });
});
