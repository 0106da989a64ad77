// An unmodified Tauri v2 frontend in headless chromium: the real
// @tauri-apps/api (copied from node_modules, untouched) runs on /ipc-tauri.js
// against the e2e server. The page's "app" imports `@tauri-apps/api/core` and
// `@tauri-apps/api/event` as any Tauri app does (an import map resolves them),
// and reports what it saw in `window.__results`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startServer, launchBrowser } from "./support.mjs";

let server;
let browser;
let site;

const INDEX_HTML = `<!doctype html>
<meta charset="utf-8">
<title>tauri app</title>
<script type="importmap">
{
  "imports": {
    "@tauri-apps/api/core": "/vendor/@tauri-apps/api/core.js",
    "@tauri-apps/api/event": "/vendor/@tauri-apps/api/event.js",
    "@tauri-apps/api/window": "/vendor/@tauri-apps/api/window.js"
  }
}
</script>
<script type="module">
  try {
    await (await import("/ipc-tauri.js")).installTauriInternals();
    await import("/app.js");
  } catch (e) {
    window.__error = String(e && e.stack || e);
  }
</script>
<p>tauri app</p>
`;

// Written as a Tauri frontend is: only @tauri-apps/api, nothing of ipc.js.
const APP_JS = `
import { invoke, Channel, isTauri } from "@tauri-apps/api/core";
import { listen, once, emit, emitTo } from "@tauri-apps/api/event";
import { getCurrentWindow } from "@tauri-apps/api/window";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await sleep(10);
  }
}
const rejection = (promise) => promise.then((v) => ({ resolved: v }), (e) => ({ rejected: e }));

const r = {};
r.isTauri = isTauri();
r.label = getCurrentWindow().label;

// commands: values and errors
r.greet = await invoke("greet", { name: "Ada", excited: true });
r.add = await invoke("add", { a: 40, b: 2 });
r.fail = await rejection(invoke("fail", { reason: "not today" }));
r.unknown = await rejection(invoke("no_such_command"));

// listen / once / unlisten, with events pushed from Rust
const pings = [];
const unlisten = await listen("app:ping", (e) => pings.push(e));
await invoke("emit_event", { event: "app:ping", payload: { n: 1 } });
await until("the first ping", () => pings.length === 1);
const onces = [];
await once("app:once", (e) => onces.push(e.payload));
await invoke("emit_event", { event: "app:once", payload: "first" });
await invoke("emit_event", { event: "app:once", payload: "second" });
await unlisten();
await invoke("emit_event", { event: "app:ping", payload: { n: 2 } });
const sentinel = [];
await listen("app:sentinel", (e) => sentinel.push(e));
await invoke("emit_event", { event: "app:sentinel", payload: null });
await until("the sentinel", () => sentinel.length === 1);
await sleep(100);
r.pings = pings;
r.onces = onces;

// emit reaches Rust
await emit("to-rust", { from: "the tauri page" });
r.rustReceived = await invoke("rust_received");

// emitTo a label: this window is "main"
const direct = [];
await listen("app:direct", (e) => direct.push(e.payload));
await emitTo("somebody-else", "app:direct", "not for main");
await emitTo("main", "app:direct", "for main");
await until("the direct event", () => direct.length === 1);
await sleep(100);
r.direct = direct;

// a Channel streaming progress
const progress = [];
const onProgress = new Channel();
onProgress.onmessage = (m) => progress.push(m);
r.steps = await invoke("progress", { steps: 5, delayMs: 20, onProgress });
await until("5 progress messages", () => progress.length === 5);
r.progress = progress;

// bytes
const made = await invoke("make_bytes", { len: 8, seed: 250 });
r.made = { isArrayBuffer: made instanceof ArrayBuffer, bytes: Array.from(new Uint8Array(made)) };
const echoed = await invoke("echo_bytes", { data: new Uint8Array([255, 0, 254, 1]) });
r.echoed = Array.from(new Uint8Array(echoed));

window.__results = r;
`;

before(async () => {
  site = mkdtempSync(join(tmpdir(), "ipc-tauri-site-"));
  cpSync(join(ROOT, "node_modules", "@tauri-apps", "api"), join(site, "vendor", "@tauri-apps", "api"), { recursive: true });
  writeFileSync(join(site, "index.html"), INDEX_HTML);
  writeFileSync(join(site, "app.js"), APP_JS);
  server = await startServer("target/debug/ipc-e2e-server", ["--port", "0", "--static", site]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (site) rmSync(site, { recursive: true, force: true });
});

test("an unmodified Tauri frontend runs against the backend", { timeout: 60_000 }, async () => {
  const page = await browser.context.newPage();
  const problems = [];
  const logs = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  // The window "main"'s own address: the server swaps its token for a session
  // (a cookie, and a socket key the page keeps in localStorage) and sends the
  // page on to `?label=main`; the shim forwards both to the WebSocket, and the
  // server checks the browser was given that window.
  const page_url = new URL(server.windows.main.http);
  page_url.pathname = "/index.html";
  await page.goto(page_url.href);
  assert.equal(new URL(page.url()).searchParams.get("token"), null, "the token left the address bar");
  assert.equal(new URL(page.url()).searchParams.get("label"), "main");
  await page.waitForFunction(() => window.__results || window.__error, null, { timeout: 30_000 }).catch(() => {});
  const { results, error } = await page.evaluate(() => ({ results: window.__results, error: window.__error }));
  const context = `\npage errors: ${JSON.stringify(problems)}\nconsole:\n${logs.join("\n")}`;
  assert.equal(error, undefined, `the page failed: ${error}${context}`);
  assert.ok(results, `the page reported nothing${context}`);

  assert.equal(results.isTauri, true);
  assert.equal(results.label, "main");
  assert.equal(results.greet, "Hello, Ada!");
  assert.equal(results.add, 42);
  assert.deepEqual(results.fail, { rejected: { kind: "refused", reason: "not today" } }, "the command's error value, as Tauri gives it");
  assert.equal(typeof results.unknown.rejected, "string", `an unknown command rejects with a string: ${JSON.stringify(results.unknown)}`);
  assert.match(results.unknown.rejected, /no_such_command/);

  assert.equal(results.pings.length, 1, `after unlisten nothing arrives: ${JSON.stringify(results.pings)}`);
  assert.equal(results.pings[0].event, "app:ping");
  assert.deepEqual(results.pings[0].payload, { n: 1 });
  assert.equal(typeof results.pings[0].id, "number");
  assert.deepEqual(results.onces, ["first"], "once fires once");

  assert.ok(
    results.rustReceived.some((seen) => seen.event === "to-rust" && seen.payload?.from === "the tauri page"),
    `Rust did not get the emitted event: ${JSON.stringify(results.rustReceived)}`,
  );
  assert.deepEqual(results.direct, ["for main"]);

  assert.equal(results.steps, 5);
  assert.deepEqual(results.progress, [1, 2, 3, 4, 5].map((done) => ({ done, total: 5 })));

  assert.deepEqual(results.made, { isArrayBuffer: true, bytes: Array.from({ length: 8 }, (_, i) => (i * 31 + 250) % 256) });
  assert.deepEqual(results.echoed, [255, 0, 254, 1]);

  assert.deepEqual(problems, [], "no script errors");
  await page.close();
});
