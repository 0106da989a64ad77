// The chat page: lists `chat:message` events as they come (from this
// instance or, through NATS, from the others) and sends with `chat.send`.
// A page that reconnects resumes: the messages it missed come first (those
// this instance still keeps; see docs/scale-out.md).
import { connect } from "/ipc.js";

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const status = $("status");
const list = $("messages");
const errorBox = $("error");
const input = /** @type {HTMLInputElement} */ ($("text"));

/** @param {unknown} error */
function showError(error) {
  errorBox.textContent = error instanceof Error ? error.message : error ? String(error) : "";
  errorBox.hidden = !error;
}

/** @param {{ from: string, text: string }} message */
function show(message) {
  const item = document.createElement("li");
  const from = document.createElement("span");
  from.className = "from";
  from.textContent = message.from;
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = message.text;
  item.append(from, text);
  list.append(item);
  list.scrollTop = list.scrollHeight;
}

async function main() {
  /** @param {string} state */
  const showState = (state) => {
    status.dataset.state = state;
    status.textContent = state;
  };
  const ipc = await connect(undefined, { reconnect: { delayMs: 250, maxDelayMs: 5000 }, onstatechange: showState });
  showState(ipc.state);
  await ipc.listen("chat:message", ({ payload }) => show(payload), {
    onGap: (lost) => show({ from: "", text: `(${lost ?? "some"} messages missed)` }),
  });

  $("send-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await ipc.invoke("chat.send", { text: input.value }, { timeout: 5000 });
      input.value = "";
      showError(null);
    } catch (error) {
      showError(error);
    }
    input.focus();
  });
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  status.dataset.state = "closed";
  status.textContent = "could not connect";
  showError(error);
});
