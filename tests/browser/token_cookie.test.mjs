// The token and the session, in a real browser. Opening the printed
// `?token=` address swaps the token for a session (a cookie for the pages, a
// socket key in the origin's localStorage) and drops it from the address bar;
// the page keeps working across a reload; the cookie is HttpOnly,
// SameSite=Strict and neither the token nor the key; a browser with neither is
// told where to look; a page of another origin in the same browser (whose
// cookie jar holds the session cookie, and sends it to every port of
// 127.0.0.1) still cannot connect, nor frame the app's page; another local
// server the browser visits gets the cookie but cannot open the socket with
// it; and a window's address ends at `?label=…`, its page receiving events
// sent to its label and nothing else.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import WebSocket from "ws";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, launchBrowser, screenshotPath } from "./support.mjs";

let demo;
let windows;
let attacker;
let browser;
const sites = [];

// A window's page: connects with whatever the page's address says (after the
// redirect, only `?label=`), listens, and emits to its own label and another.
const WINDOW_PAGE = `<!doctype html><meta charset="utf-8"><title>window</title><body><script type="module">
import { connect } from "/ipc.js";
const results = { label: new URLSearchParams(location.search).get("label") };
try {
  const ipc = await connect();
  const got = [];
  await ipc.listen("win:direct", ({ payload }) => got.push(payload));
  await ipc.emit("win:direct", "for second", { target: { label: "second" } });
  await ipc.emit("win:direct", "for main", { target: { label: "main" } });
  const deadline = Date.now() + 5000;
  while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  // Anything meant for another window would have come by now.
  await new Promise((r) => setTimeout(r, 200));
  results.got = got;
} catch (e) {
  results.error = String(e?.message ?? e);
}
window.results = results;
document.body.dataset.done = "true";
</script></body>`;

// The attacker's page, on another port of 127.0.0.1: tries the demo's socket
// with no token (only the cookie the browser holds), and to read its page.
const ATTACK_PAGE = `<!doctype html><meta charset="utf-8"><title>elsewhere</title><body><script type="module">
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
const results = { socket: await attempt(params.get("target")) };
try {
  const response = await fetch(params.get("page"), { credentials: "include" });
  results.read = { status: response.status, body: (await response.text()).slice(0, 100) };
} catch (e) {
  results.readError = String(e);
}
window.results = results;
document.body.dataset.done = "true";
</script></body>`;

// A page on another port that frames the demo's page (clickjacking).
const FRAME_PAGE = (target) => `<!doctype html><meta charset="utf-8"><title>framed</title><body>
<iframe id="victim" src="${target}" width="800" height="500"></iframe></body>`;

function site(files) {
  const dir = mkdtempSync(join(tmpdir(), "ipc-token-cookie-"));
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  sites.push(dir);
  return dir;
}

before(async () => {
  demo = await startServer("target/debug/examples/demo", ["--port", "0"]);
  windows = await startServer("target/debug/ipc-e2e-server", ["--port", "0", "--static", site({ "index.html": WINDOW_PAGE })]);
  attacker = await startServer("target/debug/ipc-e2e-server", [
    "--port",
    "0",
    "--static",
    site({ "attack.html": ATTACK_PAGE, "frame.html": FRAME_PAGE(`${new URL(demo.httpUrl).origin}/`) }),
  ]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await attacker?.stop();
  await windows?.stop();
  await demo?.stop();
  for (const dir of sites) rmSync(dir, { recursive: true, force: true });
});

const demoOrigin = () => new URL(demo.httpUrl).origin;
const demoToken = () => new URL(demo.httpUrl).searchParams.get("token");
const cookieName = () => `ipc-session-${new URL(demo.httpUrl).port}`;
const titles = (page) => page.locator("#todos li label").allTextContents();

async function openDemo(url = demo.httpUrl) {
  const page = await browser.context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  const response = await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
  return { page, response, problems };
}

async function addTodo(page, title) {
  await page.fill("#title", title);
  await page.click("#add");
  await page.waitForSelector(`#todos li >> text=${title}`, { timeout: 5_000 });
}

test("the token leaves the address bar and the session keeps the page working", { timeout: 60_000 }, async () => {
  const { page, response, problems } = await openDemo();
  const landed = new URL(page.url());
  assert.equal(landed.searchParams.get("token"), null, `no token in the address bar: ${page.url()}`);
  assert.equal(landed.href, `${demoOrigin()}/`, "the same address, without the token");
  assert.equal(await page.evaluate(() => location.search), "");

  // The first answer was the hand-off page: it set the cookie, stored the
  // socket key, and replaced itself with the address without the token.
  assert.equal(new URL(response.url()).searchParams.get("token"), demoToken());
  assert.equal(response.status(), 200);
  assert.equal(await response.headerValue("location"), null);
  assert.match(await response.headerValue("set-cookie"), new RegExp(`^${cookieName()}=`));
  const key = await page.evaluate(() => localStorage.getItem("ipc-session"));
  assert.ok(key && key.length >= 32, `a socket key in localStorage: ${key}`);
  assert.ok(!key.includes(demoToken()), "the key is not the token");

  await addTodo(page, "kept by the session");

  // A reload has no token at all: the session alone must carry the page and its socket.
  const reloaded = await page.reload();
  assert.equal(reloaded.status(), 200);
  await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
  assert.equal(await page.getAttribute("#status", "data-state"), "open");
  assert.ok((await titles(page)).includes("kept by the session"), "the list came back after the reload");
  await addTodo(page, "added after a reload");
  assert.equal(new URL(page.url()).searchParams.get("token"), null);

  const cookies = await browser.context.cookies(demoOrigin());
  const session = cookies.find((c) => c.name === cookieName());
  assert.ok(session, `a session cookie named ${cookieName()}: ${JSON.stringify(cookies.map((c) => c.name))}`);
  assert.equal(session.httpOnly, true, "HttpOnly");
  assert.equal(session.sameSite, "Strict", "SameSite=Strict");
  assert.equal(session.path, "/");
  assert.notEqual(session.value, demoToken(), "the cookie is not the token");
  assert.ok(!session.value.includes(demoToken()) && !demoToken().includes(session.value), "nor part of it");
  assert.ok(session.value.length >= 32, `a long random value: ${session.value.length} characters`);
  assert.notEqual(session.value, key, "the cookie is not the socket key");
  assert.equal(await page.evaluate(() => document.cookie), "", "scripts cannot read it");

  const shot = screenshotPath("token-cookie.png");
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
  assert.deepEqual(problems, [], "no script errors");
  await page.close();
});

test("a browser with neither token nor cookie is told to open the printed address", { timeout: 60_000 }, async () => {
  const fresh = await launchBrowser();
  try {
    assert.deepEqual(await fresh.context.cookies(demoOrigin()), [], "a fresh profile holds no cookie");
    const page = await fresh.context.newPage();
    const response = await page.goto(`${demoOrigin()}/`);
    assert.equal(response.status(), 401);
    assert.match(await page.title(), /Open the address from the terminal/);
    const text = await page.textContent("body");
    assert.match(text, /Open the address printed in the terminal/);
    assert.match(text, /http:\/\/127\.0\.0\.1:8080\/\?token=/, "it shows what the address looks like");
    assert.ok(!text.includes(demoToken()), "and never the token");
    // A wrong token is no better, and sets no cookie.
    const wrong = await page.goto(`${demoOrigin()}/?token=${"0".repeat(64)}`);
    assert.equal(wrong.status(), 401);
    assert.deepEqual(await fresh.context.cookies(demoOrigin()), [], "no cookie for a wrong token");
    // Its scripts and socket are refused too.
    const script = await page.evaluate(async (url) => (await fetch(url)).status, `${demoOrigin()}/app.js`);
    assert.equal(script, 401);
    const socket = await page.evaluate(
      (url) =>
        new Promise((resolve) => {
          const ws = new WebSocket(url);
          ws.onopen = () => resolve("open");
          ws.onclose = () => resolve("closed");
          setTimeout(() => resolve("timeout"), 5000);
        }),
      demo.wsUrl.replace(/\?.*/, ""),
    );
    assert.equal(socket, "closed");
  } finally {
    await fresh.close();
  }
});

test("a page of another origin, in a browser holding the session cookie, cannot connect", { timeout: 60_000 }, async () => {
  // The browser has the demo's session (opened with the token).
  const { page: demoPage } = await openDemo();
  const before = await titles(demoPage);
  const attackerOrigin = new URL(attacker.httpUrl).origin;
  assert.notEqual(attackerOrigin, demoOrigin());
  // Cookies are not kept per port: the jar sends the demo's session cookie
  // with every request to 127.0.0.1, the attacker's port included, so the
  // attack below does carry it.
  const jar = await browser.context.cookies(attackerOrigin);
  assert.ok(jar.some((c) => c.name === cookieName()), "the attacker's requests carry the demo's cookie");

  const evil = await browser.context.newPage();
  const attackUrl = new URL(attacker.httpUrl);
  attackUrl.pathname = "/attack.html";
  attackUrl.searchParams.set("target", `ws://127.0.0.1:${new URL(demo.httpUrl).port}/ipc`);
  attackUrl.searchParams.set("page", `${demoOrigin()}/`);
  await evil.goto(attackUrl.href);
  assert.equal(new URL(evil.url()).origin, attackerOrigin, "the attacker's page runs on its own origin");
  await evil.waitForSelector("body[data-done=true]", { state: "attached", timeout: 20_000 });
  const results = await evil.evaluate(() => window.results);
  assert.equal(results.socket.opened, false, `the socket never opened: ${JSON.stringify(results.socket)}`);
  assert.equal(results.socket.reply, undefined, "no reply reached the attacker");
  assert.equal(results.read, undefined, `the attacker could not read the demo's page: ${JSON.stringify(results.read)}`);
  assert.ok(results.readError, "the read was refused (no CORS)");

  // Nothing reached the demo: its list is as it was.
  await demoPage.reload();
  await demoPage.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
  const after = await titles(demoPage);
  assert.deepEqual(after, before, "the todo list is unchanged");
  assert.ok(!after.includes("pwned"));
  await evil.close();
  await demoPage.close();
});

test("a window's address ends at ?label=main, and its page gets events sent to its label only", { timeout: 60_000 }, async () => {
  const main = windows.windows.main?.http;
  assert.ok(main, "the e2e server printed the main window's address");
  assert.equal(new URL(main).searchParams.get("label"), "main");
  const page = await browser.context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(main);
  const landed = new URL(page.url());
  assert.equal(landed.searchParams.get("token"), null, `the window's token left the address bar: ${page.url()}`);
  assert.equal(landed.search, "?label=main");
  await page.waitForSelector("body[data-done=true]", { state: "attached", timeout: 20_000 });
  const results = await page.evaluate(() => window.results);
  assert.equal(results.error, undefined, `the window's page failed: ${results.error}`);
  assert.equal(results.label, "main");
  assert.deepEqual(results.got, ["for main"], "the event for its label, not the one for `second`");
  assert.deepEqual(problems, []);

  // This browser was given the window `main`, not `second`: naming it gets no socket.
  const other = await browser.context.newPage();
  await other.goto(`${new URL(main).origin}/?label=second`);
  await other.waitForSelector("body[data-done=true]", { state: "attached", timeout: 20_000 });
  const refused = await other.evaluate(() => window.results);
  assert.equal(refused.got, undefined, `a window this browser was not given: ${JSON.stringify(refused)}`);
  assert.ok(refused.error, "connect() failed");
  await other.close();
  await page.close();
});

// A page on another port of 127.0.0.1 is the same *site*, so SameSite=Strict
// does not keep the session cookie out of an iframe, and a framed app page
// would connect (its own origin passes the Origin check, its own storage holds
// the key) and act on the user's clicks inside the frame. Pages say
// `frame-ancestors 'self'` (and X-Frame-Options: SAMEORIGIN), so the browser
// refuses to render them there.
test(
  "a page of another origin cannot frame the app's page (clickjacking)",
  { timeout: 60_000 },
  async () => {
    const { page: demoPage } = await openDemo();
    const evil = await browser.context.newPage();
    const frameUrl = new URL(attacker.httpUrl);
    frameUrl.pathname = "/frame.html";
    await evil.goto(frameUrl.href);
    const framed = evil.frames().find((f) => f.url().startsWith(demoOrigin()));
    const connected = framed
      ? await framed
          .waitForSelector("body[data-ready=true]", { timeout: 5_000 })
          .then(() => true)
          .catch(() => false)
      : false;
    await evil.close();
    await demoPage.close();
    assert.equal(connected, false, "the demo page loaded and connected inside another origin's frame");
  },
);

// Cookies are not kept per port, so any other server on 127.0.0.1 that this
// browser visits (typed, bookmarked, or a page of it that fetches itself)
// receives the session cookie, and the process behind it, which never saw the
// token, could replay it from a non-browser client (no Origin, or any Origin
// it likes). So the cookie only loads pages: the socket wants the session's
// key, which lives in the app origin's localStorage and is never sent by the
// browser on its own.
test(
  "another local server the browser visits cannot reuse the session cookie",
  { timeout: 60_000 },
  async () => {
    const received = [];
    const other = createServer((request, response) => {
      received.push(request.headers.cookie ?? "");
      response.end("another local server");
    });
    await new Promise((resolve) => other.listen(0, "127.0.0.1", resolve));
    try {
      const { page } = await openDemo();
      const key = await page.evaluate(() => localStorage.getItem("ipc-session"));
      assert.ok(key, "the demo's page holds its socket key");
      await page.goto(`http://127.0.0.1:${other.address().port}/`);
      await page.close();
      const cookie = received.find((c) => c.includes(`${cookieName()}=`));
      assert.ok(cookie, "the other server received the demo's session cookie");
      assert.ok(!received.some((c) => c.includes(key)), "but never the socket key");
      const outcome = await new Promise((resolve) => {
        const socket = new WebSocket(`ws://127.0.0.1:${new URL(demo.httpUrl).port}/ipc`, { headers: { Cookie: cookie } });
        socket.on("open", () => {
          socket.close();
          resolve("open");
        });
        socket.on("unexpected-response", (_request, response) => resolve(`refused ${response.statusCode}`));
        socket.on("error", (e) => resolve(`error: ${e.message}`));
        setTimeout(() => resolve("timeout"), 5_000);
      });
      assert.notEqual(outcome, "open", "a process that never saw the token opened the socket with the replayed cookie");
    } finally {
      other.close();
    }
  },
);
