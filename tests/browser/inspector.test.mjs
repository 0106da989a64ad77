// The live IPC inspector (/ipc/inspect) in a real headless chromium, next to
// the demo: the calls a demo tab makes (one that succeeds, one the command
// refuses) appear with their duration and outcome, the event they cause with
// its receivers, the tab's connection in the connections table; a call opens
// in the details panel; the filter narrows the tables; pausing freezes them
// and resuming shows what arrived meanwhile.
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

/** Opens a page of the server at `url`, collecting its script errors, and waits until it is ready. */
async function open(url, viewport) {
  const page = await browser.context.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 10_000 });
  return { page, problems };
}

/** The `data-seq` of every row of a table of the inspector, in order. */
const seqs = (page, table) =>
  page.locator(`#${table} tbody tr`).evaluateAll((rows) => rows.map((row) => row.dataset.seq ?? row.dataset.client));

/** The `data-client` of every row shown (not filtered out) of a table. */
const shownClients = (page, table) =>
  page.locator(`#${table} tbody tr:not([hidden])`).evaluateAll((rows) => rows.map((row) => row.dataset.client));

async function addTodo(demo, title) {
  await demo.fill("#title", title);
  await demo.click("#add");
}

test("the inspector shows a tab's calls, events and connection live", { timeout: 90_000 }, async () => {
  const inspectUrl = await server.waitForInspectUrl();
  assert.match(inspectUrl, /^http:\/\/127\.0\.0\.1:\d+\/ipc\/inspect\?token=/);
  assert.equal(new URL(inspectUrl).origin, new URL(server.httpUrl).origin, "the app's own server");

  const inspector = await open(inspectUrl, { width: 1200, height: 800 });
  const ins = inspector.page;
  assert.equal(new URL(ins.url()).search, "", "the hand-off took the token out of the address");
  assert.equal(await ins.getAttribute("#status", "data-state"), "live");
  assert.equal(await ins.getAttribute("meta[name=ipc-ws-path]", "content"), "/ipc", "the server filled in its WebSocket path");
  assert.equal(await ins.locator("#calls tbody tr[data-command='todos.add']").count(), 0, "no todo added yet");

  const tab = await open(server.httpUrl);
  const demo = tab.page;
  const title = `Inspect me ${Date.now()}`;
  await addTodo(demo, title);
  await demo.waitForSelector(`#todos li >> text=${title}`);
  // An empty (blank) title: the command refuses it with its own error, code -32000.
  await addTodo(demo, "   ");
  await demo.waitForFunction(() => document.querySelector("#error").textContent === "a todo needs a title");

  const ok = ins.locator("#calls tbody tr[data-command='todos.add'][data-outcome='ok']");
  const failed = ins.locator("#calls tbody tr[data-command='todos.add'][data-outcome='error']");
  await ok.first().waitFor({ timeout: 5_000 });
  await failed.first().waitFor({ timeout: 5_000 });
  assert.equal(await ok.count(), 1, "one successful todos.add");
  assert.equal(await failed.count(), 1, "one refused todos.add");
  for (const row of [ok, failed]) {
    assert.match(await row.locator("td.duration").textContent(), /^\d+(\.\d+)? (µs|ms|s)$/, "a duration");
    assert.match(await row.locator("td.time").textContent(), /^\d\d:\d\d:\d\d\.\d{3}$/, "a time");
    assert.match(await row.locator("td.size").textContent(), /^\d+(\.\d)? (B|KiB|MiB)$/, "the args' size");
  }
  assert.equal(await ok.locator("td.outcome").textContent(), "ok");
  assert.equal(await ok.locator("td.code").textContent(), "");
  assert.equal(await failed.locator("td.outcome").textContent(), "error");
  assert.equal(await failed.locator("td.code").textContent(), "-32000", "a command error");

  // Both calls came from the demo tab: one connection, not the backend's.
  const client = await ok.getAttribute("data-client");
  assert.match(client, /^[1-9]\d*$/);
  assert.equal(await failed.getAttribute("data-client"), client);
  // Newest first: the refused call came after the added one.
  const [failedSeq, okSeq] = [Number(await failed.getAttribute("data-seq")), Number(await ok.getAttribute("data-seq"))];
  assert.ok(failedSeq > okSeq, `seq ${failedSeq} after ${okSeq}`);
  const callSeqs = (await seqs(ins, "calls")).map(Number);
  assert.deepEqual(callSeqs, [...callSeqs].sort((a, b) => b - a), "the calls table is newest first");

  // The added todo was announced to the tab listening to `todos:changed`.
  const changed = ins.locator("#events tbody tr[data-event='todos:changed']");
  await changed.first().waitFor({ timeout: 5_000 });
  assert.ok(Number(await changed.first().locator("td.receivers").textContent()) >= 1, "at least the demo tab received it");

  // The demo tab's connection, from the server's own origin (the table refreshes about once a second).
  const connection = ins.locator(`#connections tbody tr[data-client='${client}']`);
  await connection.waitFor({ timeout: 5_000 });
  assert.equal(await connection.locator("td.origin").textContent(), new URL(server.httpUrl).origin);
  assert.ok(Number(await connection.locator("td.subscriptions").textContent()) >= 1, "the tab listens to events");
  assert.ok((await ins.locator("#connections tbody tr").count()) >= 2, "the demo tab and the inspector itself");

  const shot = screenshotPath("inspector.png");
  await ins.screenshot({ path: shot, fullPage: true });

  // The details of a call: its params (the title), its result, its connection.
  assert.equal(await ins.isVisible("#details"), false, "no details before a click");
  await ok.click();
  await ins.waitForSelector("#details:not([hidden])");
  assert.match(await ins.textContent("#details-params"), new RegExp(`"title": "${title}"`), "params, pretty-printed");
  assert.match(await ins.textContent("#details-result"), new RegExp(title), "the added todo");
  const fields = await ins.locator("#details dd").allTextContents();
  assert.ok(fields.includes("todos.add"), `the command among ${fields}`);
  assert.ok(fields.some((f) => f.startsWith(`#${client}`)), `the connection among ${fields}`);
  await failed.click();
  await ins.waitForFunction(() => document.querySelector("#details-params").textContent.includes('"   "'));
  assert.match(await ins.textContent("#details"), /-32000 a todo needs a title/, "the error's code and message");

  // A toggle: a call the filter below must hide.
  await demo.locator("#todos li", { hasText: title }).locator("input[type=checkbox]").check();
  await ins.locator("#calls tbody tr[data-command='todos.toggle']").waitFor({ timeout: 5_000 });

  // The filter: by command (calls), by name (events), by connection (all three).
  await ins.fill("#filter", "todos.add");
  let shown = await ins.locator("#calls tbody tr:not([hidden])").evaluateAll((rows) => rows.map((r) => r.dataset.command));
  assert.deepEqual(shown, ["todos.add", "todos.add"], "only the two todos.add calls");
  assert.ok(await ins.locator("#calls tbody tr[data-command='todos.toggle'][hidden]").count(), "the toggle is hidden, not gone");
  assert.equal(await ins.locator("#events tbody tr:not([hidden])").count(), 0, "no event is named todos.add");
  assert.equal(await ins.locator("#connections tbody tr:not([hidden])").count(), 0, "no connection is called todos.add");

  await ins.fill("#filter", "todos:changed");
  assert.equal(await ins.locator("#calls tbody tr:not([hidden])").count(), 0);
  const events = await ins.locator("#events tbody tr:not([hidden])").evaluateAll((rows) => rows.map((r) => r.dataset.event));
  assert.ok(events.length >= 2 && events.every((e) => e === "todos:changed"), `only todos:changed: ${events}`);

  await ins.fill("#filter", `#${client}`);
  const calls = await shownClients(ins, "calls");
  assert.ok(calls.length >= 3 && calls.every((c) => c === client), `only the tab's calls: ${calls}`);
  assert.deepEqual(await shownClients(ins, "connections"), [client], "only the tab's connection");

  await ins.fill("#filter", "");
  assert.equal(await ins.locator("tbody tr[hidden]").count(), 0, "an empty filter shows every row");

  // Pause: the tables freeze, what arrives waits (and is counted), resume shows it.
  const before = { calls: await seqs(ins, "calls"), events: await seqs(ins, "events"), connections: await seqs(ins, "connections") };
  await ins.click("#pause");
  assert.equal(await ins.getAttribute("#pause", "aria-pressed"), "true");
  assert.equal(await ins.textContent("#pause"), "Resume");
  const later = `While paused ${Date.now()}`;
  await addTodo(demo, later);
  await demo.waitForSelector(`#todos li >> text=${later}`);
  // Another tab opens meanwhile: a new connection (and its calls) the tables must not show yet.
  const third = await open(server.httpUrl);
  await ins.waitForFunction(() => Number(document.querySelector("#waiting").dataset.count) >= 2, null, { timeout: 5_000 });
  assert.match(await ins.textContent("#waiting"), /^\d+ waiting/);
  // Longer than the connections table's refresh period (1 s), which stops while paused.
  await ins.waitForTimeout(1_300);
  assert.deepEqual(await seqs(ins, "calls"), before.calls, "no call row changed while paused");
  assert.deepEqual(await seqs(ins, "events"), before.events, "no event row changed while paused");
  assert.deepEqual(await seqs(ins, "connections"), before.connections, "no connection row changed while paused");
  assert.equal(await ok.count(), 1);

  await ins.click("#pause");
  assert.equal(await ins.getAttribute("#pause", "aria-pressed"), "false");
  await ins.waitForFunction(
    () => document.querySelectorAll("#calls tbody tr[data-command='todos.add'][data-outcome='ok']").length === 2,
    null,
    { timeout: 5_000 },
  );
  assert.equal(await ins.isVisible("#waiting"), false, "nothing waits any more");
  await ins.waitForFunction((n) => document.querySelectorAll("#connections tbody tr").length === n + 1, before.connections.length, {
    timeout: 5_000,
  });
  const newest = ok.first();
  assert.ok(Number(await newest.getAttribute("data-seq")) > okSeq, "the new call is on top");
  await newest.click();
  await ins.waitForFunction((t) => document.querySelector("#details-params").textContent.includes(t), later, { timeout: 5_000 });
  const after = (await seqs(ins, "calls")).map(Number);
  assert.deepEqual(after, [...after].sort((a, b) => b - a), "still newest first after the waiting rows came in");

  // A closed tab leaves the connections table at the next refresh.
  const thirdClients = await seqs(ins, "connections");
  await third.page.close();
  await ins.waitForFunction((n) => document.querySelectorAll("#connections tbody tr").length === n - 1, thirdClients.length, {
    timeout: 5_000,
  });

  // An inspector opened now shows what happened before, from the snapshot, each record once.
  const late = await open(await server.waitForInspectUrl(), { width: 1200, height: 800 });
  const adds = (page) =>
    page
      .locator("#calls tbody tr[data-command='todos.add']")
      .evaluateAll((rows) => rows.map((r) => `${r.dataset.seq} ${r.dataset.outcome}`));
  const earlier = await adds(ins);
  assert.equal(earlier.length, 3, `two added, one refused: ${earlier}`);
  assert.deepEqual(await adds(late.page), earlier, "the same calls, in the same order, none twice");
  assert.ok((await late.page.locator("#events tbody tr[data-event='todos:changed']").count()) >= 3);

  for (const page of [inspector, tab, third, late]) assert.deepEqual(page.problems, [], "no script errors");
  for (const page of [inspector, tab, late]) await page.page.close();
  console.log(`screenshot: ${shot}`);
});

test("a connection that may not inspect is refused the feed and told so", { timeout: 30_000 }, async () => {
  // The e2e server with capabilities: its launch token may inspect, a scoped
  // token may do everything else. Both open the real page.
  const scoped = "a-scoped-token-that-may-not-inspect-0123";
  const e2e = await startServer("target/debug/ipc-e2e-server", ["--port", "0", "--scoped-token", scoped]);
  // A browser of its own: one browser holds one session per server, which
  // keeps the credential it was first given.
  const scopedBrowser = await launchBrowser();
  try {
    const origin = new URL(e2e.httpUrl).origin;
    const refusedPage = await scopedBrowser.context.newPage();
    const problems = [];
    refusedPage.on("pageerror", (e) => problems.push(e.message));
    await refusedPage.goto(`${origin}/ipc/inspect?token=${scoped}`);
    await refusedPage.waitForSelector("#status[data-state=forbidden]", { timeout: 10_000 });
    const told = await refusedPage.textContent("#problem");
    assert.match(told, /^this connection may not inspect: inspecting the app's traffic is not allowed/);
    assert.equal(await refusedPage.isVisible("#calls"), false, "no empty tables");
    assert.equal(await refusedPage.getAttribute("body", "data-ready"), null);
    // The same refusal for the page's own client, asked directly.
    const direct = await refusedPage.evaluate(async (url) => {
      const { connect } = await import("/ipc.js");
      const client = await connect(url);
      const outcome = await client.listen("ipc:inspect", () => {}).then(
        () => "subscribed",
        (e) => `${e.code} ${e.data?.kind}`,
      );
      client.close();
      return outcome;
    }, `${origin.replace("http", "ws")}/ipc?token=${scoped}`);
    assert.equal(direct, "-32001 inspect");
    assert.deepEqual(problems, []);
    await refusedPage.close();

    // The launch token's page, on the same server, may watch.
    const { page: allowed, problems: allowedProblems } = await open(e2e.httpUrl.replace("/?", "/ipc/inspect?"));
    assert.equal(await allowed.getAttribute("#status", "data-state"), "live");
    assert.deepEqual(allowedProblems, []);
    await allowed.close();
  } finally {
    await scopedBrowser.close();
    await e2e.stop();
  }
});
