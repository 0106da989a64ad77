// The demo in a real headless chromium: add and toggle through the UI, a second
// tab updates live through events, validation errors reach the user; a tab
// whose connection drops shows what it missed when it is back.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startProxy } from "../js/helpers.mjs";
import { startServer, launchBrowser, screenshotPath } from "./support.mjs";

let server;
let browser;
let proxy;

before(async () => {
  server = await startServer("target/debug/examples/demo");
  proxy = await startProxy(server.wsUrl);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await proxy?.close();
  await server?.stop();
});

/**
 * A tab of the demo. With `throughProxy`, its WebSocket goes through the
 * test's proxy (the page itself, and so its origin, stay the server's): a
 * test hook swaps the port in the URL the page's ipc.js gives to WebSocket.
 * `window.__status` records each state the status line shows.
 */
async function openDemo({ throughProxy = false } = {}) {
  const page = await browser.context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await page.addInitScript(
    ({ from, to }) => {
      window.__status = [];
      document.addEventListener("DOMContentLoaded", () => {
        const status = document.getElementById("status");
        new MutationObserver(() => window.__status.push(status.dataset.state)).observe(status, { attributeFilter: ["data-state"] });
      });
      if (!to) return;
      const Native = window.WebSocket;
      window.WebSocket = class extends Native {
        constructor(url, protocols) {
          const target = new URL(url, location.href);
          if (target.port === from) target.port = to;
          super(target.href, protocols);
        }
      };
    },
    { from: new URL(server.wsUrl).port, to: throughProxy ? new URL(proxy.url).port : null },
  );
  await page.goto(server.httpUrl);
  await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
  return { page, problems };
}

const titles = (page) => page.locator("#todos li label").allTextContents();

test("two tabs share one live todo list", { timeout: 60_000 }, async () => {
  const first = await openDemo();
  const second = await openDemo();
  const { page: a } = first;
  const { page: b } = second;

  await a.fill("#title", "Buy milk");
  await a.click("#add");
  await a.waitForSelector("#todos li >> text=Buy milk");
  // The other tab never asked: the `todos:changed` event brought it.
  await b.waitForSelector("#todos li >> text=Buy milk", { timeout: 5_000 });

  await b.fill("#title", "Write the report");
  await b.press("#title", "Enter");
  await a.waitForSelector("#todos li >> text=Write the report", { timeout: 5_000 });
  assert.deepEqual(await titles(a), ["Buy milk", "Write the report"]);
  assert.equal(await a.inputValue("#title"), "", "the input clears after adding");

  // Toggle in the second tab; the first shows it done.
  await b.locator("#todos li", { hasText: "Buy milk" }).locator("input[type=checkbox]").check();
  await a.waitForSelector("#todos li.done >> text=Buy milk", { timeout: 5_000 });
  assert.match(await a.textContent("#count"), /2 items, 1 to do/);

  // Validation errors are shown to the user, and nothing is added.
  await a.fill("#title", "x".repeat(81));
  await a.click("#add");
  await a.waitForSelector("#error:not([hidden])");
  assert.equal(await a.textContent("#error"), "titles are at most 80 characters");
  await a.fill("#title", "   ");
  await a.click("#add");
  await a.waitForFunction(() => document.querySelector("#error").textContent === "a todo needs a title");
  assert.equal((await titles(b)).length, 2);

  assert.match(await a.textContent("#presence"), /2 tabs open/);
  assert.equal(await a.getAttribute("#status", "data-state"), "open");
  const shot = screenshotPath("demo.png");
  await a.screenshot({ path: shot, fullPage: true });

  // Delete from the first tab; the second empties that row.
  await a.locator("#todos li", { hasText: "Write the report" }).locator("button.delete").click();
  await b.waitForFunction(() => !document.body.textContent.includes("Write the report"), null, { timeout: 5_000 });
  assert.deepEqual(await titles(b), ["Buy milk"]);

  assert.deepEqual(first.problems, [], "no script errors in the first tab");
  assert.deepEqual(second.problems, [], "no script errors in the second tab");
  await a.close();
  await b.waitForFunction(() => document.querySelector("#presence").textContent.startsWith("1 tab "), null, {
    timeout: 5_000,
  });
  await b.close();
  console.log(`screenshot: ${shot}`);
});

test("a tab whose connection drops shows the missed changes when it comes back", { timeout: 60_000 }, async () => {
  const first = await openDemo({ throughProxy: true });
  const second = await openDemo();
  const { page: away } = first;
  const { page: b } = second;

  await b.fill("#title", "Before the drop");
  await b.press("#title", "Enter");
  await away.waitForSelector("#todos li >> text=Before the drop", { timeout: 5_000 });
  assert.equal(await away.getAttribute("#status", "data-state"), "open");

  // The laptop sleeps: the connection is cut, and nothing answers for a while.
  await proxy.refuse();
  await away.waitForSelector("#status[data-state=reconnecting]", { timeout: 5_000 });
  for (const title of ["Added while away", "And another"]) {
    await b.fill("#title", title);
    await b.press("#title", "Enter");
    await b.waitForSelector(`#todos li >> text=${title}`);
  }
  await b.locator("#todos li", { hasText: "Before the drop" }).locator("input[type=checkbox]").check();
  await b.waitForSelector("#todos li.done >> text=Before the drop");
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(await away.locator("#todos li", { hasText: "Added while away" }).count(), 0, "the tab was cut off");
  assert.equal(await away.getAttribute("#status", "data-state"), "reconnecting");

  await proxy.accept();
  await away.waitForSelector("#status[data-state=open]", { timeout: 15_000 });
  await away.waitForSelector("#todos li >> text=And another", { timeout: 5_000 });
  assert.deepEqual(await titles(away), await titles(b), "the same list as the tab that stayed");
  assert.equal(await away.locator("#todos li.done", { hasText: "Before the drop" }).count(), 1, "the toggle made meanwhile too");
  assert.deepEqual((await away.evaluate(() => window.__status)).slice(-2), ["reconnecting", "open"]);
  const shot = screenshotPath("demo-reconnected.png");
  await away.screenshot({ path: shot, fullPage: true });

  // A tab opened now fetches nothing: the newest change, kept by the server, is its list.
  const third = await openDemo();
  await third.page.waitForSelector("#todos li >> text=And another", { timeout: 5_000 });
  assert.deepEqual(await titles(third.page), await titles(b));

  for (const tab of [first, second, third]) assert.deepEqual(tab.problems, [], "no script errors");
  for (const tab of [first, second, third]) await tab.page.close();
  console.log(`screenshot: ${shot}`);
});
