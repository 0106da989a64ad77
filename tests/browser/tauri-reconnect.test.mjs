// Tauri listeners survive a reconnect: the real @tauri-apps/api in headless
// chromium, on /ipc-tauri.js, whose WebSocket goes through a TCP proxy the
// test cuts and refuses for a second (the page itself is served by the e2e
// server, so its origin is the server's own). The callbacks `listen` and
// `once` registered before the cut keep receiving after it, with what was
// missed first (the e2e server keeps `e2e:stream` and `e2e:short`), under the
// event ids they had; unlisten still reaches the server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocket } from "ws";
import { connect } from "../../ipc-runtime/js/ipc.js";
import { startProxy } from "../js/helpers.mjs";
import { ROOT, startServer, launchBrowser } from "./support.mjs";

let server;
let browser;
let site;
let proxy;
let writer;

const INDEX_HTML = `<!doctype html>
<meta charset="utf-8">
<title>tauri app, reconnecting</title>
<script type="importmap">
{
  "imports": {
    "@tauri-apps/api/core": "/vendor/@tauri-apps/api/core.js",
    "@tauri-apps/api/event": "/vendor/@tauri-apps/api/event.js"
  }
}
</script>
<script type="module">
  try {
    window.__states = [];
    window.__pushes = [];
    const { installTauriInternals } = await import("/ipc-tauri.js");
    // The proxy's address is not the page's: the page adds the session key
    // the server's hand-off stored, as defaultUrl() does for its own address.
    const ws = new URL(new URLSearchParams(location.search).get("ws"));
    ws.searchParams.set("session", localStorage.getItem("ipc-session"));
    await installTauriInternals(ws.href, {
      reconnect: { delayMs: 50, maxDelayMs: 200 },
      onstatechange: (state) => window.__states.push(state),
      onnotification: (method, params) => window.__pushes.push([method, params && params.event, params && params.payload]),
    });
    await import("/app.js");
  } catch (e) {
    window.__error = String(e && e.stack || e);
  }
</script>
<p>tauri app</p>
`;

// Written as a Tauri frontend is: only @tauri-apps/api.
const APP_JS = `
import { listen, once } from "@tauri-apps/api/event";

window.__got = [];
window.__ids = [];
window.__unlisten = await listen("e2e:stream", (e) => {
  window.__got.push(e.payload);
  window.__ids.push(e.id);
});
window.__once = [];
await once("e2e:short", (e) => window.__once.push(e.payload));
window.__plain = [];
await listen("tauri:plain", (e) => window.__plain.push(e.payload));
window.__ready = true;
`;

before(async () => {
  site = mkdtempSync(join(tmpdir(), "ipc-tauri-reconnect-"));
  cpSync(join(ROOT, "node_modules", "@tauri-apps", "api"), join(site, "vendor", "@tauri-apps", "api"), { recursive: true });
  writeFileSync(join(site, "index.html"), INDEX_HTML);
  writeFileSync(join(site, "app.js"), APP_JS);
  server = await startServer("target/debug/ipc-e2e-server", ["--port", "0", "--static", site]);
  proxy = await startProxy(server.wsUrl);
  writer = await connect(server.wsUrl, { WebSocket });
  browser = await launchBrowser();
});

after(async () => {
  writer?.close();
  await browser?.close();
  await proxy?.close();
  await server?.stop();
  if (site) rmSync(site, { recursive: true, force: true });
});

test("Tauri listeners keep receiving after the page's socket is cut and refused, resuming what they missed", { timeout: 60_000 }, async () => {
  const page = await browser.context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  const logs = [];
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  // The WebSocket goes through the proxy, without the token: the page opens
  // with the token, is handed a session and sends its key (see INDEX_HTML).
  const wsUrl = new URL(proxy.url);
  wsUrl.search = "";
  const pageUrl = new URL(server.httpUrl);
  pageUrl.pathname = "/index.html";
  pageUrl.searchParams.set("ws", wsUrl.href);
  await page.goto(pageUrl.href);
  await page.waitForFunction(() => window.__ready || window.__error, null, { timeout: 30_000 });
  assert.equal(await page.evaluate(() => window.__error), undefined);
  const read = (name) => page.evaluate((n) => window[n], name);
  const until = (fn, arg, what) =>
    page.waitForFunction(fn, arg, { timeout: 10_000 }).catch(async (e) => {
      throw new Error(`${what}: ${e.message}\nstates ${JSON.stringify(await read("__states"))}, got ${JSON.stringify(await read("__got"))}, pushes ${JSON.stringify(await read("__pushes"))}, console ${JSON.stringify(logs)}`);
    });

  for (const n of [1, 2, 3]) await writer.emit("e2e:stream", n);
  await until(() => window.__got.length === 3, null, "the first events");

  await proxy.refuse();
  await until(() => window.__states.includes("reconnecting"), null, "the page to see the cut");
  for (const n of [4, 5, 6, 7, 8]) await writer.emit("e2e:stream", n);
  await writer.emit("e2e:short", "while away");
  await writer.emit("tauri:plain", "not kept: lost");
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await proxy.accept();
  await until(() => window.__states.at(-1) === "open", null, "the page to reconnect");
  for (const n of [9, 10]) await writer.emit("e2e:stream", n);
  await writer.emit("tauri:plain", "after");
  await until(() => window.__got.length >= 10 && window.__plain.length >= 1, null, "the missed and the new events");

  assert.deepEqual(await read("__got"), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "what was missed first, then the live ones, each once");
  const ids = await read("__ids");
  assert.equal(typeof ids[0], "number");
  assert.deepEqual(ids, Array(10).fill(ids[0]), "the event id stays the one listen gave");
  assert.deepEqual(await read("__once"), ["while away"], "a once listener from before the cut fires, after it");
  assert.deepEqual(await read("__plain"), ["after"], "a name the backend keeps nothing of: listening again, the time away lost");
  assert.deepEqual(await read("__states"), ["open", "reconnecting", "open"]);

  // unlisten (with the id from before the cut) reaches the server: it stops pushing.
  await page.evaluate(() => window.__unlisten());
  const pushesBefore = (await read("__pushes")).length;
  await writer.emit("e2e:stream", 11);
  await writer.emit("e2e:short", "again");
  await writer.emit("tauri:plain", "flush");
  await until(() => window.__plain.includes("flush"), null, "the flush");
  const after = (await read("__pushes")).slice(pushesBefore);
  assert.deepEqual(after.filter(([m, event]) => m === "ipc.event" && event !== "tauri:plain"), [], "nothing more for e2e:stream or the once listener's e2e:short");
  assert.deepEqual(await read("__got"), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

  assert.deepEqual(problems, [], "no script errors");
  await page.close();
});
