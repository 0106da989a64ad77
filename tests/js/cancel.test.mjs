// Cancelling calls against the real e2e server: an aborted call rejects at
// once, and the server really stops it (`cancellable` never records its marker).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ErrorCode, connect } from "../../ipc-runtime/js/ipc.js";
import { useServer } from "./server.mjs";
import { rejectsWith, sleep, spyWebSocket } from "./helpers.mjs";

const SLOW = { timeout: 20_000 };

describe("cancellation", () => {
  const server = useServer();
  let client;
  const sent = [];
  before(async () => {
    client = await connect(server.wsUrl, { WebSocket: spyWebSocket(sent) });
  });
  after(() => client?.close());

  test("an aborted call rejects at once and the command never finishes", SLOW, async () => {
    const controller = new AbortController();
    const cancelled = client.invoke("cancellable", { ms: 1500, marker: "x" }, { signal: controller.signal });
    const finished = client.invoke("cancellable", { ms: 200, marker: "y" });
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    await rejectsWith(assert, cancelled, ErrorCode.CANCELLED, /cancellable/);
    assert.ok(Date.now() - started < 400, `rejected after ${Date.now() - started} ms`);
    const request = sent.find((m) => m.method === "cancellable" && m.params.marker === "x");
    assert.ok(sent.some((m) => m.method === "ipc.cancel" && m.params.id === request.id && !("id" in m)));
    await finished;
    await sleep(2000);
    const markers = await client.invoke("markers");
    assert.ok(markers.includes("y"), `markers: ${JSON.stringify(markers)}`);
    assert.ok(!markers.includes("x"), `markers: ${JSON.stringify(markers)}`);
  });

  test("ipc.cancel as a request answers whether it cancelled a running call", SLOW, async () => {
    assert.equal(await client.invoke("ipc.cancel", { id: 987654 }), false);
    // The client sends ipc.cancel itself on abort; here the call is cancelled by
    // hand, so it gets no response and only its timeout ends it.
    const call = client.invoke("cancellable", { ms: 1500, marker: "z" }, { timeout: 800 });
    await sleep(100);
    const request = sent.findLast((m) => m.method === "cancellable" && m.params.marker === "z");
    assert.equal(await client.invoke("ipc.cancel", { id: request.id }), true);
    assert.equal(await client.invoke("ipc.cancel", { id: request.id }), false, "already cancelled");
    await rejectsWith(assert, call, ErrorCode.TIMEOUT, /cancellable/);
    await sleep(1200);
    assert.ok(!(await client.invoke("markers")).includes("z"));
  });

  test("aborting after the response changes nothing", SLOW, async () => {
    const controller = new AbortController();
    assert.equal(await client.invoke("cancellable", { ms: 10, marker: "w" }, { signal: controller.signal }), null);
    controller.abort();
    assert.ok((await client.invoke("markers")).includes("w"));
  });
});
