// Cross-site WebSocket hijacking, in a real browser: a page served by another
// local server (another origin) tries to drive the demo's backend. It must not
// get a connection, even when it knows the token; the demo's own page can.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, launchBrowser } from "./support.mjs";

let demo;
let attacker;
let browser;
let site;

// The attacker's page: tries to open the demo's WebSocket and to invoke a command.
const ATTACK_PAGE = `<!doctype html><title>evil</title><script type="module">
const params = new URLSearchParams(location.search);
function attempt(url) {
  return new Promise((resolve) => {
    let opened = false;
    const socket = new WebSocket(url);
    socket.onopen = () => {
      opened = true;
      socket.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "todos.add", params: { title: "pwned" } }));
    };
    socket.onmessage = (e) => resolve({ opened, reply: String(e.data) });
    socket.onclose = (e) => resolve({ opened, closed: e.code });
    setTimeout(() => resolve({ opened, timeout: true }), 5000);
  });
}
window.results = {
  withToken: await attempt(params.get("target")),
  withoutToken: await attempt(params.get("target").replace(/\\?token=.*/, "")),
};
document.body.dataset.done = "true";
</script>`;

before(async () => {
  demo = await startServer("target/debug/examples/demo", ["--port", "0"]);
  site = mkdtempSync(join(tmpdir(), "ipc-attacker-"));
  writeFileSync(join(site, "attack.html"), ATTACK_PAGE);
  attacker = await startServer("target/debug/ipc-e2e-server", ["--port", "0", "--static", site]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await attacker?.stop();
  await demo?.stop();
  if (site) rmSync(site, { recursive: true, force: true });
});

test("a page from another origin cannot connect or invoke; the demo page can", { timeout: 60_000 }, async () => {
  const evilOrigin = new URL(attacker.httpUrl).origin;
  const demoOrigin = new URL(demo.httpUrl).origin;
  assert.notEqual(evilOrigin, demoOrigin, "two origins (same host, other port)");

  const evil = await browser.context.newPage();
  const attackUrl = new URL(attacker.httpUrl);
  attackUrl.pathname = "/attack.html";
  attackUrl.searchParams.set("target", demo.wsUrl);
  await evil.goto(attackUrl.href);
  await evil.waitForSelector("body[data-done=true]", { state: "attached", timeout: 15_000 });
  const results = await evil.evaluate(() => window.results);
  for (const [attempt, outcome] of Object.entries(results)) {
    assert.equal(outcome.opened, false, `${attempt}: the socket never opened: ${JSON.stringify(outcome)}`);
    assert.equal(outcome.reply, undefined, `${attempt}: no reply reached the attacker`);
  }

  // The demo's own page connects and works.
  const page = await browser.context.newPage();
  await page.goto(demo.httpUrl);
  await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
  await page.fill("#title", "legit");
  await page.click("#add");
  await page.waitForSelector("#todos li >> text=legit");
  assert.deepEqual(await page.locator("#todos li label").allTextContents(), ["legit"], "nothing the attacker sent got in");
});
