// examples/files in a real headless chromium: a file set on the page's
// <input type=file> (and one built in the page and dropped) streams to Rust
// as an upload; the progress bar moves through a Channel; the SHA-256 the page
// shows is the file's. Screenshot: target/screenshots/files.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { startServer, launchBrowser, screenshotPath } from "./support.mjs";

let server;
let browser;

before(async () => {
  server = await startServer("target/debug/examples/files");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The page, ready, recording every value its progress bar takes. */
async function openPage() {
  const page = await browser.context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await page.addInitScript(() => {
    window.__progress = [];
    document.addEventListener("DOMContentLoaded", () => {
      const bar = document.getElementById("bar");
      new MutationObserver(() => window.__progress.push(Number(bar.getAttribute("value")))).observe(bar, {
        attributeFilter: ["value"],
      });
    });
  });
  await page.goto(server.httpUrl);
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("Ready"), null, {
    timeout: 10_000,
  });
  return { page, problems };
}

test("a picked file is hashed in Rust, with progress, and the hash shown matches", { timeout: 60_000 }, async () => {
  const { page, problems } = await openPage();
  const size = 12 << 20;
  const buffer = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buffer[i] = (i * 131 + (i >> 10)) & 0xff;
  const expected = createHash("sha256").update(buffer).digest("hex");
  await page.setInputFiles("#pick", { name: "generated.bin", mimeType: "application/octet-stream", buffer });
  await page.waitForFunction(() => document.getElementById("sha256").textContent.length === 64, null, {
    timeout: 45_000,
  });
  assert.equal(await page.textContent("#sha256"), expected);
  assert.equal(await page.textContent("#size"), `${size.toLocaleString("en-US")} bytes`);
  assert.equal(await page.textContent("#name"), "generated.bin");
  const progress = await page.evaluate(() => window.__progress);
  const between = progress.filter((v) => v > 0 && v < size);
  assert.ok(between.length >= 3, `progress updates between 0 and the end: ${progress.join(", ")}`);
  assert.ok(progress.includes(size), "the bar reaches the end");
  await page.screenshot({ path: screenshotPath("files.png"), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test("a File built in the page and dropped on it is hashed too", { timeout: 30_000 }, async () => {
  const { page, problems } = await openPage();
  const expected = createHash("sha256").update("hello, uploads\n".repeat(1000)).digest("hex");
  await page.evaluate(() => {
    const file = new File(["hello, uploads\n".repeat(1000)], "dropped.txt", { type: "text/plain" });
    const data = new DataTransfer();
    data.items.add(file);
    document.getElementById("drop").dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
  });
  await page.waitForFunction(() => document.getElementById("sha256").textContent.length === 64, null, {
    timeout: 20_000,
  });
  assert.equal(await page.textContent("#sha256"), expected);
  assert.equal(await page.textContent("#name"), "dropped.txt");
  assert.deepEqual(problems, []);
  await page.close();
});
