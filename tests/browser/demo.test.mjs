// The demo in a real headless chromium: add and toggle through the UI, a second
// tab updates live through events, validation errors reach the user.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, screenshotPath } from "./support.mjs";

let server;
let browser;

before(async () => {
  server = await startServer("target/debug/examples/demo");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function openDemo() {
  const page = await browser.context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
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
