// Run by global-websocket.test.mjs as `node --experimental-websocket
// global-ws-client.mjs <wsUrl>`: uses ipc.js with Node's global WebSocket (no
// `WebSocket` option) and prints what it saw as one JSON line.
import { connect, emit, invoke, listen } from "../../ipc-runtime/js/ipc.js";

const client = await connect(process.argv[2]);
const events = [];
const unlisten = await listen("global:ws", (e) => events.push(e));
const sum = await invoke("add", { a: 40, b: 2 });
await client.invoke("emit_to_caller", { event: "global:ws", payload: { ok: true } });
await emit("to-rust", "from the global WebSocket");
while (events.length === 0) await new Promise((r) => setTimeout(r, 10));
let error = null;
await client.invoke("ad").catch((e) => (error = { name: e.name, code: e.code, suggestion: e.data?.suggestion }));
const made = await invoke("make_bytes", { len: 4, seed: 250 }); // a binary frame, with ipc.v1
const bytes = { type: made?.constructor?.name, values: Array.from(made), echoed: Array.from(await invoke("echo_bytes", [made])) };
await unlisten();
client.close();
console.log(JSON.stringify({ sum, events, error, bytes, state: client.state }));
