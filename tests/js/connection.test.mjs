// Connecting, closing, losing the connection and reconnecting.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { WebSocket } from "ws";
import { connect, ErrorCode } from "../../ipc-runtime/js/ipc.js";
import { startServer, useServer } from "./server.mjs";
import { closedPort, collector, rejectsWith, sleep, startProxy, T, waitFor } from "./helpers.mjs";

// One outer suite: node 20 runs file-level hooks unreliably around suites.
describe("connection", () => {
  const server = useServer();
  const cleanups = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  describe("connect and close", () => {
    test("connect resolves an open client and reports its states", T, async () => {
      const states = [];
      const client = await connect(server.wsUrl, {
        WebSocket,
        onstatechange: (state, previous) => states.push([previous, state]),
      });
      assert.equal(client.state, "open");
      assert.equal(client.url, server.wsUrl);
      client.close();
      assert.equal(client.state, "closed");
      client.close(); // harmless
      assert.deepEqual(states, [["connecting", "open"], ["open", "closed"]]);
    });

    test("connect rejects with DISCONNECTED when nothing listens", T, async () => {
      const url = `ws://127.0.0.1:${await closedPort()}/ipc`;
      await rejectsWith(assert, connect(url, { WebSocket }), ErrorCode.DISCONNECTED, /could not connect/);
      await rejectsWith(assert, connect(url, { WebSocket, reconnect: true }), ErrorCode.DISCONNECTED);
    });

    test("connect rejects with DISCONNECTED on a path that is not /ipc", T, async () => {
      const url = server.wsUrl.replace("/ipc?", "/not-ipc?");
      await rejectsWith(assert, connect(url, { WebSocket }), ErrorCode.DISCONNECTED);
    });

    test("connect rejects with DISCONNECTED without the server's token, or with a wrong one", T, async () => {
      const url = new URL(server.wsUrl);
      assert.equal(url.searchParams.get("token")?.length, 64, "the server prints its token in the URL");
      url.searchParams.delete("token");
      await rejectsWith(assert, connect(url.href, { WebSocket }), ErrorCode.DISCONNECTED);
      url.searchParams.set("token", "guess");
      await rejectsWith(assert, connect(url.href, { WebSocket }), ErrorCode.DISCONNECTED);
    });

    test("without a URL outside a browser, connect says so", T, async () => {
      await assert.rejects(connect(undefined, { WebSocket }), /needs a URL/);
    });

    test("subprotocols are passed to the WebSocket constructor", T, async () => {
      const seen = [];
      class Recording extends WebSocket {
        constructor(url, protocols, ...rest) {
          seen.push(protocols);
          super(url, protocols, ...rest);
        }
      }
      // The server need not accept any subprotocol, so only the constructor call is checked.
      const client = await connect(server.wsUrl, { WebSocket: Recording, protocols: ["ipc.v1"] }).catch(() => null);
      client?.close();
      assert.deepEqual(seen, [["ipc.v1"]]);
    });

    test("close() rejects pending calls with DISCONNECTED; later calls too", T, async () => {
      const client = await connect(server.wsUrl, { WebSocket });
      const pending = client.invoke("sleep", { ms: 3000 });
      await sleep(50);
      client.close();
      await rejectsWith(assert, pending, ErrorCode.DISCONNECTED, /sleep/);
      await rejectsWith(assert, client.invoke("add", [1, 2]), ErrorCode.DISCONNECTED, /closed/);
      await rejectsWith(assert, client.listen("x", () => {}), ErrorCode.DISCONNECTED);
      await rejectsWith(assert, client.emit("x", 1), ErrorCode.DISCONNECTED);
    });
  });

  describe("losing the server", () => {
    test("pending invokes reject with DISCONNECTED when the server process dies", T, async () => {
      const own = await startServer();
      cleanups.push(() => own.stop());
      const states = [];
      const client = await connect(own.wsUrl, { WebSocket, onstatechange: (s) => states.push(s) });
      const calls = [client.invoke("sleep", { ms: 5000 }), client.invoke("sleep", { ms: 6000 })];
      await sleep(100);
      const started = Date.now();
      const rejected = Promise.all(calls.map((call) => rejectsWith(assert, call, ErrorCode.DISCONNECTED, /sleep.*closed/)));
      await own.kill();
      await rejected;
      assert.ok(Date.now() - started < 2000);
      assert.equal(client.state, "closed");
      assert.deepEqual(states, ["open", "closed"]);
      await rejectsWith(assert, client.invoke("add", [1, 2]), ErrorCode.DISCONNECTED);
    });
  });

  // The server has no command that closes a caller's socket, so these tests put a
  // TCP proxy between client and server and cut the connection there: the client
  // sees its socket close and reconnects to the same URL.
  describe("reconnect", () => {
    test("reconnects to the same server and subscribes its listeners again", T, async () => {
      const proxy = await startProxy(server.wsUrl);
      cleanups.push(() => proxy.close());
      const states = [];
      const client = await connect(proxy.url, {
        WebSocket,
        reconnect: { delayMs: 50, maxDelayMs: 200 },
        onstatechange: (s) => states.push(s),
      });
      cleanups.push(() => client.close());
      const got = collector();
      await client.listen("survives", got.cb);
      const firstId = await client.invoke("whoami");
      const inFlight = client.invoke("sleep", { ms: 3000 });
      await sleep(50);

      proxy.dropAll();
      await rejectsWith(assert, inFlight, ErrorCode.DISCONNECTED, /sleep/);
      assert.equal(client.state, "reconnecting");
      // Calls made while reconnecting wait for the new connection.
      assert.equal(await client.invoke("add", [20, 22]), 42);
      assert.equal(client.state, "open");
      assert.notEqual(await client.invoke("whoami"), firstId, "a new connection has a new client id");

      // The listener works again once its ipc.listen went out on the new connection.
      await waitFor(async () => {
        await client.invoke("emit_to_caller", { event: "survives", payload: "again" });
        await sleep(50);
        return got.events.length > 0;
      }, 5000, "the event after reconnecting");
      assert.equal(got.events[0].payload, "again");
      assert.deepEqual(states, ["open", "reconnecting", "open"]);
      client.close();
    });

    test("keeps retrying with backoff until a server is back, then resubscribes", T, async () => {
      const first = await startServer();
      cleanups.push(() => first.stop());
      const proxy = await startProxy(first.wsUrl);
      cleanups.push(() => proxy.close());
      const client = await connect(proxy.url, { WebSocket, reconnect: { delayMs: 20, maxDelayMs: 100 } });
      cleanups.push(() => client.close());
      const got = collector();
      await client.listen("restart", got.cb);

      await first.kill();
      await waitFor(() => client.state === "reconnecting", 3000, "reconnecting");
      const waiting = client.invoke("add", [1, 2]);
      await sleep(300); // several failed attempts: the proxy finds nothing upstream
      assert.equal(client.state, "reconnecting");

      // The restarted app keeps its token (as an app with a fixed token would),
      // so the URL the client already has still opens.
      const second = await startServer({ token: new URL(first.wsUrl).searchParams.get("token") });
      cleanups.push(() => second.stop());
      proxy.upstream = new URL(second.wsUrl);
      assert.equal(await waiting, 3);
      await waitFor(async () => {
        await client.invoke("emit_event", { event: "restart", payload: 1 });
        await sleep(50);
        return got.events.length > 0;
      }, 5000, "the event from the restarted server");
      client.close();
    });

    test("close() while reconnecting rejects the waiting calls and stops retrying", T, async () => {
      const proxy = await startProxy(server.wsUrl);
      cleanups.push(() => proxy.close());
      const client = await connect(proxy.url, { WebSocket, reconnect: { delayMs: 1000 } });
      proxy.dropAll();
      await waitFor(() => client.state === "reconnecting", 3000, "reconnecting");
      const waiting = client.invoke("add", [1, 2]);
      client.close();
      await rejectsWith(assert, waiting, ErrorCode.DISCONNECTED);
      await sleep(1200);
      assert.equal(client.state, "closed");
    });

    test("a call waiting for the reconnection still times out", T, async () => {
      const proxy = await startProxy(server.wsUrl);
      cleanups.push(() => proxy.close());
      const client = await connect(proxy.url, { WebSocket, reconnect: { delayMs: 2000 } });
      cleanups.push(() => client.close());
      proxy.dropAll();
      await waitFor(() => client.state === "reconnecting", 3000, "reconnecting");
      await rejectsWith(assert, client.invoke("add", [1, 2], { timeout: 100 }), ErrorCode.TIMEOUT);
      client.close();
    });
  });
});
