// The chat example scaled out: two instances on two ports, joined by one
// nats-server started here on a free loopback port; a page on each sees the
// other's messages live. Needs `nats-server` (scripts/test installs it) and
// `cargo build -p ipc-examples --example chat`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, connect as tcpConnect } from "node:net";
import { startServer, launchBrowser, screenshotPath } from "./support.mjs";

let broker;
let first;
let second;
let browser;

/** A free loopback port. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on `port` (at most 10 s). */
async function listening(port) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = tcpConnect(port, "127.0.0.1", () => {
        socket.end();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  const port = await freePort();
  broker = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  broker.once("error", (e) => {
    throw new Error(`cannot start nats-server: ${e.message} (Debian: apt-get install nats-server)`);
  });
  await listening(port);
  const nats = `nats://127.0.0.1:${port}`;
  first = await startServer("target/debug/examples/chat", ["--port", "0", "--nats", nats, "--name", "first"]);
  second = await startServer("target/debug/examples/chat", ["--port", "0", "--nats", nats, "--name", "second"]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await first?.stop();
  await second?.stop();
  broker?.kill();
});

async function openChat(server) {
  const page = await browser.context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(server.httpUrl);
  await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
  return { page, problems };
}

const messages = (page) => page.locator("#messages li").allTextContents();

test("two pages on two instances see each other's messages", { timeout: 60_000 }, async () => {
  const { page: a, problems: aProblems } = await openChat(first);
  const { page: b, problems: bProblems } = await openChat(second);
  assert.notEqual(new URL(first.httpUrl).port, new URL(second.httpUrl).port);

  await a.fill("#text", "hello from the first");
  await a.press("#text", "Enter");
  await b.waitForSelector("#messages li >> text=hello from the first", { timeout: 10_000 });
  await a.waitForSelector("#messages li >> text=hello from the first", { timeout: 5_000 });

  await b.fill("#text", "and back from the second");
  await b.click("#send");
  await a.waitForSelector("#messages li >> text=and back from the second", { timeout: 10_000 });
  await b.waitForSelector("#messages li >> text=and back from the second", { timeout: 5_000 });

  // Each once, in the same order on both, saying which instance sent it.
  const onA = await messages(a);
  const onB = await messages(b);
  assert.deepEqual(onA, onB);
  assert.equal(onA.length, 2, JSON.stringify(onA));
  assert.match(onA[0], /^first\/\d+hello from the first$/);
  assert.match(onA[1], /^second\/\d+and back from the second$/);

  // A refusal reaches the user, and crosses nothing.
  await a.fill("#text", "   ");
  await a.click("#send");
  await a.waitForSelector("#error:not([hidden])", { timeout: 5_000 });
  assert.match(await a.textContent("#error"), /needs some text/);
  assert.equal((await messages(b)).length, 2);

  await a.screenshot({ path: screenshotPath("chat-first.png") });
  await b.screenshot({ path: screenshotPath("chat-second.png") });
  assert.deepEqual([...aProblems, ...bProblems], []);
});
