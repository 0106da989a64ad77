// Run by reconnect.test.mjs as `node --experimental-websocket
// reconnect-child.mjs <wsUrl> <reconnect options as JSON>`: a client on Node's
// own WebSocket (no `WebSocket` option), which reports on stdout, one JSON
// line each, every state change (`{"state", "previous", "at"}`, `at` in ms
// since it started) and the answer to each `add` line read on stdin
// (`{"sum"}` or `{"error"}`). Ends when stdin ends.
import { createInterface } from "node:readline";
import { connect } from "../../ipc-runtime/js/ipc.js";

const started = Date.now();
const print = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
// onstatechange reports "open" too, once connected.
const client = await connect(process.argv[2], {
  reconnect: JSON.parse(process.argv[3]),
  onstatechange: (state, previous) => print({ state, previous, at: Date.now() - started }),
});
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== "add") continue;
  try {
    print({ sum: await client.invoke("add", [1, 2], { timeout: 5000 }) });
  } catch (err) {
    print({ error: err.message });
  }
}
client.close();
