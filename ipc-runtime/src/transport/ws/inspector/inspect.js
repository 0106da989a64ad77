// @ts-check
// The live IPC inspector (GET /ipc/inspect loads this module): every call,
// event and connection of the server, as a devtools "IPC" tab shows them.
//
// It subscribes to `ipc:inspect` (one record per call or event, numbered by
// `seq` across both kinds), then asks `ipc.inspect` for the recent records
// and the open connections; records seen twice (live and in a snapshot) are
// told apart by `seq`. The connections table is refreshed about once a second.
//
// Every value shown comes from some client (command names, labels, origins,
// params), so nothing here is ever parsed as HTML: cells are filled with
// `textContent`, elements made with `createElement`.
import { connect, defaultUrl } from "/ipc.js";

/** Rows kept per table. */
const MAX_ROWS = 500;
/** Records kept while paused (the latest ones). */
const MAX_WAITING = 1000;
/** Sequence numbers remembered to drop duplicates. */
const MAX_SEEN = 4000;
/** How often the connections table is refreshed (ms). */
const POLL_MS = 1000;
/** The JSON-RPC error code of a connection without the inspect permission. */
const FORBIDDEN = -32001;
/** The event the records come on, and the command of the snapshots. */
const FEED = "ipc:inspect";
const SNAPSHOT = "ipc.inspect";
/** The meta tag's content when the server did not fill it in (split so that nothing replaces it here). */
const UNFILLED = "__IPC_" + "WS_PATH__";

/**
 * @typedef {object} CallRecord
 * @property {"call"} kind
 * @property {number} seq
 * @property {number} time ms since the Unix epoch when the call started
 * @property {number} client 0 for the Rust backend
 * @property {string | null} label
 * @property {string} command
 * @property {string | null} id the request id as the client wrote it
 * @property {number} argBytes
 * @property {number} durationUs
 * @property {string} outcome "ok", "error" (`code`, `message`), or "cancelled" (`code`)
 * @property {number | null} code
 * @property {string | null} message
 * @property {string | null} params JSON text (redacted, maybe cut); null when not shown
 * @property {boolean} paramsTruncated
 * @property {string | null} result JSON text, null on error
 * @property {boolean} resultTruncated
 */

/**
 * @typedef {object} EventRecord
 * @property {"event"} kind
 * @property {number} seq
 * @property {number} time
 * @property {string} event
 * @property {number} source 0 for the Rust backend
 * @property {unknown} [target] whom it was sent to
 * @property {string} [outcome] e.g. "delivered", or "stopped" by a middleware
 * @property {number} frontends
 * @property {number} listeners
 * @property {string | null} payload JSON text (maybe cut); null when not shown
 * @property {boolean} payloadTruncated
 */

/** @typedef {CallRecord | EventRecord} InspectRecord */

/**
 * @typedef {object} Connection
 * @property {number} client
 * @property {string | null} label
 * @property {string | null} origin
 * @property {number} openedAt
 * @property {number} inFlight
 * @property {number} outboxBytes
 * @property {number} outboxMessages
 * @property {number} lagged
 * @property {number} subscriptions
 */

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function $(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`inspector: the page has no #${id}`);
  return element;
}

const ui = {
  status: $("status"),
  filter: /** @type {HTMLInputElement} */ ($("filter")),
  pause: $("pause"),
  clear: $("clear"),
  waiting: $("waiting"),
  problem: $("problem"),
  main: /** @type {HTMLElement} */ (document.querySelector("main")),
  calls: /** @type {HTMLTableSectionElement} */ (document.querySelector("#calls tbody")),
  events: /** @type {HTMLTableSectionElement} */ (document.querySelector("#events tbody")),
  connections: /** @type {HTMLTableSectionElement} */ (document.querySelector("#connections tbody")),
  callsCount: $("calls-count"),
  eventsCount: $("events-count"),
  connectionsCount: $("connections-count"),
  details: $("details"),
  detailsTitle: $("details-title"),
  detailsClose: $("details-close"),
  detailsFields: $("details-fields"),
  paramsLabel: $("details-params-label"),
  paramsNote: $("details-params-note"),
  params: $("details-params"),
  resultBlock: $("details-result-block"),
  resultNote: $("details-result-note"),
  result: $("details-result"),
};

const view = {
  /** @type {import("/ipc.js").IpcClient | null} */
  client: null,
  paused: false,
  forbidden: false,
  /** Records that arrived while paused, oldest first. @type {InspectRecord[]} */
  waiting: [],
  /** Records dropped from `waiting` (it keeps the latest MAX_WAITING). */
  dropped: 0,
  /** The newest connections list that arrived while paused. @type {Connection[] | null} */
  waitingConnections: null,
  /** Sequence numbers already received, oldest first. @type {Set<number>} */
  seen: new Set(),
  /** Labels of the open connections, by client id (events carry only the id). @type {Map<number, string>} */
  labels: new Map(),
  /** The record each row shows. @type {WeakMap<HTMLTableRowElement, InspectRecord | Connection>} */
  rows: new WeakMap(),
  /** @type {HTMLTableRowElement | null} */
  selected: null,
  /** @type {ReturnType<typeof setTimeout> | null} */
  pollTimer: null,
};

// ---- formatting ----

/** @param {number} n @param {number} [width] */
const pad = (n, width = 2) => String(n).padStart(width, "0");

/** @param {unknown} ms time since the Unix epoch */
function clock(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "";
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** @param {unknown} ms */
function dateTime(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(ms)}`;
}

/** @param {unknown} us */
function duration(us) {
  if (typeof us !== "number" || !Number.isFinite(us)) return "";
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

/** @param {unknown} n */
function bytes(n) {
  if (typeof n !== "number" || !Number.isFinite(n)) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** @param {unknown} n */
const count = (n) => (typeof n === "number" && Number.isFinite(n) ? String(n) : "");

/** @param {number} client @param {string | null | undefined} label */
function who(client, label) {
  if (client === 0) return "backend";
  return label ? `#${client} ${label}` : `#${client}`;
}

/**
 * JSON text, indented when it parses (its numbers, strings and key order
 * kept exactly as written: big integers stay exact); anything else (a cut
 * text, say) as it came.
 * @param {unknown} text
 * @returns {string}
 */
function pretty(text) {
  if (text === null || text === undefined) return "(not shown)";
  const source = String(text);
  try {
    JSON.parse(source);
  } catch {
    return source;
  }
  let out = "";
  let depth = 0;
  const newline = () => "\n" + "  ".repeat(depth);
  for (let i = 0; i < source.length; ) {
    const c = source[i];
    if (c === '"') {
      let j = i + 1;
      while (j < source.length && source[j] !== '"') j += source[j] === "\\" ? 2 : 1;
      out += source.slice(i, j + 1);
      i = j + 1;
    } else if (c === "{" || c === "[") {
      let j = i + 1;
      while (j < source.length && /\s/.test(source[j])) j++;
      if (source[j] === (c === "{" ? "}" : "]")) {
        out += c + source[j];
        i = j + 1;
      } else {
        depth++;
        out += c + newline();
        i++;
      }
    } else if (c === "}" || c === "]") {
      depth--;
      out += newline() + c;
      i++;
    } else if (c === ",") {
      out += "," + newline();
      i++;
    } else if (c === ":") {
      out += ": ";
      i++;
    } else {
      if (!/\s/.test(c)) out += c;
      i++;
    }
  }
  return out;
}

/** @param {unknown} target an event's, as the server wrote it */
function targetText(target) {
  if (typeof target === "string") return target;
  try {
    return JSON.stringify(target) ?? "";
  } catch {
    return String(target);
  }
}

/** @param {unknown} error */
function describe(error) {
  return error instanceof Error ? error.message : String(error);
}

/** @param {unknown} error */
function isForbidden(error) {
  return typeof error === "object" && error !== null && /** @type {{ code?: unknown }} */ (error).code === FORBIDDEN;
}

// ---- status and problems ----

/** @param {"connecting" | "live" | "reconnecting" | "forbidden" | "closed"} state @param {string} text */
function setStatus(state, text) {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
}

/** @param {string | null} text */
function showProblem(text) {
  ui.problem.textContent = text ?? "";
  ui.problem.hidden = text === null;
}

/** @param {unknown} error */
function forbid(error) {
  if (view.forbidden) return;
  view.forbidden = true;
  stopPolling();
  setStatus("forbidden", "forbidden");
  showProblem(`this connection may not inspect: ${describe(error)}`);
  // A message, not empty tables that look like a quiet app.
  ui.main.hidden = true;
  for (const control of [ui.pause, ui.clear, ui.filter]) control.setAttribute("disabled", "");
  view.client?.close();
}

// ---- filtering ----

/** The filter, lower-cased; "" shows everything. */
const query = () => ui.filter.value.trim().toLowerCase();

/**
 * Whether connection `client` (its label from the record, else from the
 * connections table) matches `q`: its id (`3` or `#3`), `backend` for 0, or a
 * piece of its label.
 * @param {string} q
 * @param {number} client
 * @param {string | null | undefined} label
 */
function connectionMatches(q, client, label) {
  const id = q.startsWith("#") ? q.slice(1) : q;
  if (id !== "" && String(client) === id) return true;
  if (client === 0 && "backend".startsWith(q)) return true;
  const name = label ?? view.labels.get(client);
  return typeof name === "string" && name.toLowerCase().includes(q);
}

/**
 * @param {InspectRecord | Connection} row what a row shows
 * @param {string} q
 */
function matches(row, q) {
  if (q === "") return true;
  if ("kind" in row && row.kind === "call") {
    return row.command.toLowerCase().includes(q) || connectionMatches(q, row.client, row.label);
  }
  if ("kind" in row && row.kind === "event") {
    return row.event.toLowerCase().includes(q) || connectionMatches(q, row.source, null);
  }
  return connectionMatches(q, row.client, /** @type {Connection} */ (row).label);
}

/** @param {HTMLTableRowElement} row */
function filterRow(row, q = query()) {
  const shown = view.rows.get(row);
  row.hidden = shown !== undefined && !matches(shown, q);
}

function filterAll() {
  const q = query();
  for (const body of [ui.calls, ui.events, ui.connections]) {
    for (const row of body.rows) filterRow(row, q);
  }
  updateCounts();
}

function updateCounts() {
  const filtered = query() !== "";
  for (const [body, label] of /** @type {const} */ ([
    [ui.calls, ui.callsCount],
    [ui.events, ui.eventsCount],
    [ui.connections, ui.connectionsCount],
  ])) {
    const total = body.rows.length;
    if (!filtered) {
      label.textContent = String(total);
      continue;
    }
    let shown = 0;
    for (const row of body.rows) if (!row.hidden) shown++;
    label.textContent = `${shown} of ${total} shown`;
  }
}

// ---- rows ----

/**
 * A row of cells: [class, text] each.
 * @param {Array<[string, string]>} cells
 */
function makeRow(cells) {
  const row = document.createElement("tr");
  for (const [name, text] of cells) {
    const cell = document.createElement("td");
    cell.className = name;
    cell.textContent = text;
    cell.title = text;
    row.append(cell);
  }
  return row;
}

/** @param {CallRecord} call */
function callRow(call) {
  const row = makeRow([
    ["time", clock(call.time)],
    ["client", who(call.client, call.label)],
    ["command", call.command],
    ["num size", bytes(call.argBytes)],
    ["num duration", duration(call.durationUs)],
    ["outcome", call.outcome],
    ["num code", call.code === null || call.code === undefined ? "" : String(call.code)],
  ]);
  row.dataset.seq = String(call.seq);
  row.dataset.client = String(call.client);
  row.dataset.command = call.command;
  row.dataset.outcome = call.outcome;
  if (call.outcome !== "ok" && call.message) row.cells[6].title = call.message;
  return row;
}

/** @param {EventRecord} event */
function eventRow(event) {
  const receivers = (Number(event.frontends) || 0) + (Number(event.listeners) || 0);
  const row = makeRow([
    ["time", clock(event.time)],
    ["event", event.event],
    ["client", who(event.source, view.labels.get(event.source))],
    ["num receivers", String(receivers)],
  ]);
  row.cells[3].title = `${count(event.frontends)} frontend(s), ${count(event.listeners)} Rust listener(s)`;
  row.dataset.seq = String(event.seq);
  row.dataset.client = String(event.source);
  row.dataset.event = event.event;
  return row;
}

/** @param {Connection} connection */
function connectionRow(connection) {
  const outbox = `${bytes(connection.outboxBytes)} / ${count(connection.outboxMessages)} msg`;
  const row = makeRow([
    ["num id", connection.client === 0 ? "backend" : String(connection.client)],
    ["label", connection.label ?? "—"],
    ["origin", connection.origin ?? "—"],
    ["time opened", clock(connection.openedAt)],
    ["num in-flight", count(connection.inFlight)],
    ["num outbox", outbox],
    ["num lagged", count(connection.lagged)],
    ["num subscriptions", count(connection.subscriptions)],
  ]);
  row.dataset.client = String(connection.client);
  return row;
}

/**
 * Makes a row openable in the details panel (click, Enter or Space).
 * @param {HTMLTableRowElement} row
 */
function openable(row) {
  row.tabIndex = 0;
  row.addEventListener("click", () => select(row));
  row.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      select(row);
    }
  });
}

/**
 * Inserts `row` by sequence number, newest first, and keeps MAX_ROWS.
 * @param {HTMLTableSectionElement} body
 * @param {HTMLTableRowElement} row
 * @param {number} seq
 */
function insert(body, row, seq) {
  let before = body.firstElementChild;
  while (before && Number(/** @type {HTMLElement} */ (before).dataset.seq) > seq) before = before.nextElementSibling;
  body.insertBefore(row, before);
  while (body.rows.length > MAX_ROWS) body.lastElementChild?.remove();
}

/**
 * A record as the feed or a snapshot gives it, checked enough to be shown.
 * @param {unknown} value
 * @returns {InspectRecord | null}
 */
function asRecord(value) {
  if (typeof value !== "object" || value === null) return null;
  const record = /** @type {Record<string, unknown>} */ (value);
  if (typeof record.seq !== "number" || !Number.isFinite(record.seq)) return null;
  if (record.kind === "call" && typeof record.command === "string" && typeof record.client === "number") {
    return /** @type {CallRecord} */ (/** @type {unknown} */ (record));
  }
  if (record.kind === "event" && typeof record.event === "string" && typeof record.source === "number") {
    return /** @type {EventRecord} */ (/** @type {unknown} */ (record));
  }
  return null;
}

/**
 * This page's own traffic: its snapshots (once a second) and the feed's
 * event itself would bury what it is there to show.
 * @param {InspectRecord} record
 */
const ownTraffic = (record) =>
  record.kind === "call" ? record.command === SNAPSHOT : record.event === FEED;

/** @param {unknown} value a record from the feed or a snapshot */
function receive(value) {
  const record = asRecord(value);
  if (!record || view.seen.has(record.seq)) return;
  view.seen.add(record.seq);
  if (view.seen.size > MAX_SEEN) {
    const oldest = view.seen.values().next().value;
    if (oldest !== undefined) view.seen.delete(oldest);
  }
  if (ownTraffic(record)) return;
  if (view.paused) {
    view.waiting.push(record);
    if (view.waiting.length > MAX_WAITING) {
      view.waiting.shift();
      view.dropped++;
    }
    showWaiting();
    return;
  }
  show(record);
  updateCounts();
}

/** @param {InspectRecord} record */
function show(record) {
  const row = record.kind === "call" ? callRow(record) : eventRow(record);
  view.rows.set(row, record);
  openable(row);
  filterRow(row);
  insert(record.kind === "call" ? ui.calls : ui.events, row, record.seq);
}

/** @param {unknown} list the snapshot's `connections` */
function showConnections(list) {
  if (!Array.isArray(list)) return;
  /** @type {Connection[]} */
  const connections = list.filter((c) => typeof c === "object" && c !== null && typeof c.client === "number");
  if (view.paused) {
    view.waitingConnections = connections;
    return;
  }
  view.labels = new Map();
  for (const c of connections) if (typeof c.label === "string") view.labels.set(c.client, c.label);
  const q = query();
  const rows = [...connections]
    .sort((a, b) => b.client - a.client)
    .map((connection) => {
      const row = connectionRow(connection);
      view.rows.set(row, connection);
      filterRow(row, q);
      return row;
    });
  ui.connections.replaceChildren(...rows);
  updateCounts();
}

// ---- details ----

/** @param {HTMLTableRowElement} row */
function select(row) {
  const record = view.rows.get(row);
  if (!record || !("kind" in record)) return;
  view.selected?.classList.remove("selected");
  view.selected = row;
  row.classList.add("selected");
  showDetails(record);
}

/** @param {Array<[string, string]>} fields */
function setFields(fields) {
  ui.detailsFields.replaceChildren(
    ...fields.flatMap(([name, value]) => {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = value;
      dd.dataset.field = name.toLowerCase();
      return [dt, dd];
    }),
  );
}

/** @param {InspectRecord} record */
function showDetails(record) {
  ui.details.dataset.seq = String(record.seq);
  ui.details.dataset.kind = record.kind;
  if (record.kind === "call") {
    ui.detailsTitle.textContent = `Call ${record.command}`;
    const failed = record.outcome !== "ok";
    setFields([
      ["Command", record.command],
      ["Connection", who(record.client, record.label)],
      ["Request id", record.id ?? "(none: a notification)"],
      ["Started", dateTime(record.time)],
      ["Duration", duration(record.durationUs)],
      ["Args", bytes(record.argBytes)],
      ["Outcome", record.outcome],
      ...(failed ? /** @type {Array<[string, string]>} */ ([["Error", `${record.code ?? ""} ${record.message ?? ""}`.trim()]]) : []),
    ]);
    ui.paramsLabel.textContent = "Params";
    ui.params.textContent = pretty(record.params);
    ui.paramsNote.hidden = !record.paramsTruncated;
    ui.resultBlock.hidden = false;
    ui.result.textContent = record.result === null || record.result === undefined
      ? failed ? "(none: the call failed)" : "(none)"
      : pretty(record.result);
    ui.resultNote.hidden = !record.resultTruncated;
  } else {
    ui.detailsTitle.textContent = `Event ${record.event}`;
    setFields([
      ["Event", record.event],
      ["Source", who(record.source, view.labels.get(record.source))],
      ["Emitted", dateTime(record.time)],
      ["Receivers", `${count(record.frontends)} frontend(s), ${count(record.listeners)} Rust listener(s)`],
      ...(record.target === undefined ? [] : /** @type {Array<[string, string]>} */ ([["Target", targetText(record.target)]])),
      ...(typeof record.outcome === "string" ? /** @type {Array<[string, string]>} */ ([["Outcome", record.outcome]]) : []),
    ]);
    ui.paramsLabel.textContent = "Payload";
    ui.params.textContent = pretty(record.payload);
    ui.paramsNote.hidden = !record.payloadTruncated;
    ui.resultBlock.hidden = true;
    ui.result.textContent = "";
    ui.resultNote.hidden = true;
  }
  ui.details.hidden = false;
  ui.main.classList.remove("no-details");
}

function closeDetails() {
  ui.details.hidden = true;
  ui.main.classList.add("no-details");
  view.selected?.classList.remove("selected");
  view.selected?.focus();
  view.selected = null;
}

// ---- pause ----

function showWaiting() {
  const dropped = view.dropped > 0 ? ` (${view.dropped} older dropped)` : "";
  ui.waiting.textContent = `${view.waiting.length} waiting${dropped}`;
  ui.waiting.dataset.count = String(view.waiting.length);
  ui.waiting.hidden = !view.paused;
}

function togglePause() {
  view.paused = !view.paused;
  ui.pause.textContent = view.paused ? "Resume" : "Pause";
  ui.pause.setAttribute("aria-pressed", String(view.paused));
  if (view.paused) {
    stopPolling();
    showWaiting();
    return;
  }
  const waiting = view.waiting;
  view.waiting = [];
  view.dropped = 0;
  showWaiting();
  if (view.waitingConnections) showConnections(view.waitingConnections);
  view.waitingConnections = null;
  for (const record of waiting) show(record);
  updateCounts();
  if (!view.forbidden && document.body.dataset.ready === "true") {
    stopPolling();
    void poll();
  }
}

// ---- the connection ----

/** The WebSocket address: the page's own (with its session), at the path the server filled in. */
function socketUrl() {
  const meta = document.querySelector('meta[name="ipc-ws-path"]');
  const path = meta?.getAttribute("content") ?? "";
  const url = new URL(defaultUrl());
  url.pathname = path.startsWith("/") && path !== UNFILLED ? path : "/ipc";
  return url.href;
}

/**
 * Asks for a snapshot: the recent records too with `recent`.
 * @param {boolean} recent
 */
async function snapshot(recent) {
  const client = view.client;
  if (!client) return;
  const answer = await client.invoke(SNAPSHOT, { recent }, { timeout: 10_000 });
  if (typeof answer !== "object" || answer === null) throw new Error(`${SNAPSHOT} answered ${JSON.stringify(answer)}`);
  // The connections first: their labels name the sources of the events.
  showConnections(answer.connections);
  if (recent && Array.isArray(answer.recent)) for (const record of answer.recent) receive(record);
}

function stopPolling() {
  if (view.pollTimer !== null) clearTimeout(view.pollTimer);
  view.pollTimer = null;
}

/** Refreshes the connections table, then again in POLL_MS (not while paused). */
async function poll() {
  view.pollTimer = null;
  if (view.paused || view.forbidden) return;
  if (view.client?.state === "open") {
    try {
      await snapshot(false);
    } catch (error) {
      if (isForbidden(error)) return forbid(error);
      // A dropped connection or a slow answer: the next poll tries again.
    }
  }
  if (!view.paused && !view.forbidden && view.pollTimer === null) view.pollTimer = setTimeout(poll, POLL_MS);
}

/**
 * @param {string} state the client's
 * @param {string} previous
 */
function onStateChange(state, previous) {
  if (view.forbidden) return;
  if (state === "reconnecting") setStatus("reconnecting", "reconnecting…");
  else if (state === "closed") setStatus("closed", "disconnected");
  else if (state === "open" && previous === "reconnecting") {
    // The feed resumes by itself; the snapshot fills in what it could not keep.
    snapshot(true).then(
      () => {
        if (!view.forbidden) setStatus("live", "live");
      },
      (error) => {
        if (isForbidden(error)) forbid(error);
      },
    );
  }
}

async function main() {
  setStatus("connecting", "connecting…");
  let url = "";
  try {
    url = socketUrl();
    view.client = await connect(url, {
      reconnect: { delayMs: 250, maxDelayMs: 5000 },
      onstatechange: onStateChange,
    });
  } catch (error) {
    setStatus("closed", "could not connect");
    showProblem(`could not connect${url ? ` to ${url.replace(/\?.*/, "")}` : ""}: ${describe(error)}`);
    return;
  }
  try {
    // Subscribe first, then fetch: nothing falls between the two (duplicates are dropped by `seq`).
    await view.client.listen(FEED, (event) => receive(event.payload));
    await snapshot(true);
  } catch (error) {
    if (isForbidden(error)) return forbid(error);
    setStatus("closed", "failed");
    showProblem(`the inspector could not start: ${describe(error)}`);
    return;
  }
  if (view.client.state === "open") setStatus("live", "live");
  showProblem(null);
  document.body.dataset.ready = "true";
  view.pollTimer = setTimeout(poll, POLL_MS);
}

ui.filter.addEventListener("input", filterAll);
ui.pause.addEventListener("click", togglePause);
ui.clear.addEventListener("click", () => {
  ui.calls.replaceChildren();
  ui.events.replaceChildren();
  view.waiting = [];
  view.dropped = 0;
  showWaiting();
  closeDetails();
  updateCounts();
});
ui.detailsClose.addEventListener("click", closeDetails);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !ui.details.hidden) closeDetails();
});
updateCounts();
main().catch((error) => {
  setStatus("closed", "failed");
  showProblem(`the inspector failed: ${describe(error)}`);
});
