// ipc-tauri.js across a reconnect, in Node with the real @tauri-apps/api
// (its own file: installing the internals is global). Listeners made with
// `listen` are listened to again on the new connection, resuming after the
// last event each saw; one unlistened while disconnected is not; ids stay.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { WebSocket } from "ws";
import { listen } from "@tauri-apps/api/event";
import { connect } from "../../ipc-runtime/js/ipc.js";
import { installTauriInternals } from "../../ipc-runtime/js/ipc-tauri.js";
import { useServer } from "./server.mjs";
import { spyWebSocket, startProxy, T, waitFor } from "./helpers.mjs";

globalThis.window = globalThis; // what @tauri-apps/api reaches for

describe("ipc-tauri across a reconnect", () => {
  const server = useServer();
  const cleanups = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  test("listeners are listened to again, resuming; one unlistened meanwhile is not", T, async () => {
    const proxy = await startProxy(server.wsUrl);
    cleanups.push(() => proxy.close());
    const sent = [];
    const states = [];
    const client = await installTauriInternals(proxy.url, {
      WebSocket: spyWebSocket(sent),
      reconnect: { delayMs: 20, maxDelayMs: 100 },
      onstatechange: (state) => states.push(state),
    });
    cleanups.push(() => client.close());
    const writer = await connect(server.wsUrl, { WebSocket });
    cleanups.push(() => writer.close());

    const kept = [];
    const dropped = [];
    await listen("e2e:stream", (e) => kept.push([e.payload, e.id]));
    const unlistenDropped = await listen("e2e:stream", (e) => dropped.push(e.payload));
    await writer.emit("e2e:stream", 1);
    await waitFor(() => kept.length === 1 && dropped.length === 1, 3000, "the first event");
    const [, keptId] = kept[0];

    await proxy.refuse();
    await waitFor(() => client.state === "reconnecting", 3000, "reconnecting");
    const before = sent.length;
    await unlistenDropped(); // nothing to tell the server: it dropped the subscription with the socket
    await writer.emit("e2e:stream", 2);
    await writer.emit("e2e:stream", 3);
    await proxy.accept();
    await waitFor(() => kept.length === 3, 5000, "the missed events");
    await writer.emit("e2e:stream", 4);
    await waitFor(() => kept.length === 4, 3000, "a live event");

    assert.deepEqual(kept, [1, 2, 3, 4].map((n) => [n, keptId]), "each once, in order, under the id listen gave");
    assert.deepEqual(dropped, [1]);
    assert.deepEqual(states, ["open", "reconnecting", "open"]);
    const again = sent.slice(before).filter((m) => m.method?.startsWith("plugin:event|"));
    assert.equal(again.length, 1, `one listen again, no stale unlisten: ${JSON.stringify(again)}`);
    assert.equal(again[0].method, "plugin:event|listen");
    assert.equal(typeof again[0].params.since, "number");
    assert.equal(typeof again[0].params.epoch, "string");
    assert.equal(again[0].params.event, "e2e:stream");
  });
});
