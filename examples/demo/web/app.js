// @ts-check
// The demo page: renders the shared list, sends changes as commands, and
// re-renders whenever any tab changes the list (the `todos:changed` event).
//
// It never fetches the list: it listens with `last: true`, so the newest
// `todos:changed` the server keeps (the whole list) comes first, then every
// change, with nothing missed in between. When its connection drops (the
// laptop sleeps, the network goes), the client keeps trying to reconnect and
// resumes: the changes made meanwhile arrive first, in order. The status line
// shows the connection's state.
//
// Commands and events go through the generated bindings (`bindings.js`, the
// JavaScript twin of `bindings.ts`; `npm run check:types` checks this file
// against the TypeScript one, so a renamed argument or changed type in Rust
// is a type error here).
import { connect } from "/ipc.js";
import { commands, events, isCommandError } from "/bindings.js";

/** @typedef {import("/bindings.js").Todo} Todo */

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const status = $("status");
const list = $("todos");
const errorBox = $("error");
const input = /** @type {HTMLInputElement} */ ($("title"));

/** @param {unknown} error */
function showError(error) {
  errorBox.textContent = error instanceof Error ? error.message : error ? String(error) : "";
  errorBox.hidden = !error;
}

/** @param {Todo[]} todos */
function render(todos) {
  list.replaceChildren(
    ...todos.map((todo) => {
      const item = document.createElement("li");
      item.className = todo.done ? "done" : "";
      item.dataset.id = String(todo.id);
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = todo.done;
      box.id = `todo-${todo.id}`;
      box.addEventListener("change", () => run("todosToggle", () => commands.todosToggle({ id: todo.id }, OPTIONS)));
      const label = document.createElement("label");
      label.htmlFor = box.id;
      label.textContent = todo.title;
      const remove = document.createElement("button");
      remove.className = "delete";
      remove.type = "button";
      remove.title = "Delete";
      remove.textContent = "✕";
      remove.addEventListener("click", () => run("todosDelete", () => commands.todosDelete({ id: todo.id }, OPTIONS)));
      item.append(box, label, remove);
      return item;
    }),
  );
  const open = todos.filter((t) => !t.done).length;
  $("count").textContent = `${todos.length} item${todos.length === 1 ? "" : "s"}, ${open} to do`;
}

/** @param {number} tabs */
function showPresence(tabs) {
  $("presence").textContent = `${tabs} tab${tabs === 1 ? "" : "s"} open`;
}

const OPTIONS = { timeout: 5000 };

/**
 * Runs a command; a refusal (validation error) is shown to the user.
 * @template T
 * @param {"todosAdd" | "todosToggle" | "todosDelete"} command
 * @param {() => Promise<T>} call
 * @returns {Promise<T | undefined>}
 */
async function run(command, call) {
  try {
    const result = await call();
    showError(null);
    return result;
  } catch (error) {
    showError(error);
    // Typed error data: a todo deleted in another tab is gone here too.
    if (isCommandError(error, command) && error.data.kind === "notFound") {
      render(await commands.todosList());
    }
    return undefined;
  }
}

async function main() {
  /** @param {string} state */
  const showState = (state) => {
    status.dataset.state = state;
    status.textContent = state;
  };
  const client = await connect(undefined, { reconnect: { delayMs: 250, maxDelayMs: 5000 }, onstatechange: showState });
  showState(client.state);

  // Nothing changed yet: the list is empty (every change is announced, and
  // the server keeps the newest announcement).
  render([]);
  await events.todosChanged.listen((event) => render(event.payload), { last: true });
  await events.presence.listen((event) => showPresence(event.payload), { last: true });

  $("add-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await run("todosAdd", () => commands.todosAdd({ title: input.value }, OPTIONS))) input.value = "";
    input.focus();
  });
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  status.dataset.state = "closed";
  status.textContent = "could not connect";
  showError(error);
});
