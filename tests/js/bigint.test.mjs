// Integers beyond Number.MAX_SAFE_INTEGER (Rust's u64, i64, i128, u128) keep
// every digit: ipc.js decodes them as BigInt and sends BigInt exactly.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { connect } from "../../ipc-runtime/js/ipc.js";
import { startServer } from "./server.mjs";
import { T } from "./helpers.mjs";

const U64_MAX = 18446744073709551615n;
const I64_MIN = -9223372036854775808n;
const I64_MAX = 9223372036854775807n;

let server;
let ipc;
/** Every text frame the client sent, as written. */
const sent = [];

class RawSpyWebSocket extends WebSocket {
  send(data, ...rest) {
    if (typeof data === "string") sent.push(data);
    return super.send(data, ...rest);
  }
}

before(async () => {
  server = await startServer();
  ipc = await connect(server.wsUrl, { WebSocket: RawSpyWebSocket });
});

after(async () => {
  ipc?.close();
  await server?.stop();
});

test("u64::MAX and i64::MIN round-trip exactly as BigInt", T, async () => {
  assert.equal(await ipc.invoke("echo_u64", { value: U64_MAX }), U64_MAX);
  assert.equal(await ipc.invoke("echo_i64", { value: I64_MIN }), I64_MIN);
  assert.equal(await ipc.invoke("echo_i64", [I64_MAX]), I64_MAX);
  // BigInts go out as exact JSON integers, not strings.
  assert.ok(sent.some((text) => text.includes('"method":"echo_u64","params":{"value":18446744073709551615}')), sent.join("\n"));
  assert.ok(sent.some((text) => text.includes('"params":[9223372036854775807]')));
});

test("safe integers stay numbers, unsafe ones become BigInt", T, async () => {
  assert.equal(await ipc.invoke("echo_u64", { value: 5 }), 5);
  assert.equal(await ipc.invoke("echo_u64", { value: 5n }), 5, "a small BigInt comes back as a number");
  const limits = await ipc.invoke("limits");
  assert.deepEqual(limits, {
    u64Max: U64_MAX,
    i64Min: I64_MIN,
    i64Max: I64_MAX,
    maxSafe: Number.MAX_SAFE_INTEGER,
    aboveSafe: 9007199254740993n,
    digits: "18446744073709551615",
    values: [I64_MIN, -1, 0, 1, I64_MAX],
  });
  assert.equal(typeof limits.maxSafe, "number");
});

test("big integers inside values, strings and events", T, async () => {
  const value = {
    big: U64_MAX,
    nested: [{ min: I64_MIN }, 1.5, -2e300, "not \" 12345678901234567890 a number"],
    "key with 99999999999999999999 digits": true,
  };
  assert.deepEqual(await ipc.invoke("echo", { value }), value);

  let deliver;
  const received = new Promise((resolve) => (deliver = resolve));
  await ipc.once("big:event", (e) => deliver(e.payload));
  await ipc.emit("big:event", { id: U64_MAX });
  assert.deepEqual(await received, { id: U64_MAX });
});

test("an unsafe integer is not silently rounded", T, async () => {
  // The server sends 2^53 + 1; as a plain JSON.parse number it would read 2^53.
  const { aboveSafe } = await ipc.invoke("limits");
  assert.equal(aboveSafe, 2n ** 53n + 1n);
  assert.notEqual(Number(aboveSafe), aboveSafe);
});
