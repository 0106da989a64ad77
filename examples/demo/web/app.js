// The demo page: renders the shared list, sends changes as commands, and
// re-renders whenever any tab changes the list (the `todos:changed` event).
import { connect } from "/ipc.js";

const $ = (id) => document.getElementById(id);
const status = $("status");
const list = $("todos");
const errorBox = $("error");

function showError(error) {
  errorBox.textContent = error ? error.message : "";
  errorBox.hidden = !error;
}

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
      box.addEventListener("change", () => run("todos.toggle", { id: todo.id }));
      const label = document.createElement("label");
      label.htmlFor = box.id;
      label.textContent = todo.title;
      const remove = document.createElement("button");
      remove.className = "delete";
      remove.type = "button";
      remove.title = "Delete";
      remove.textContent = "✕";
      remove.addEventListener("click", () => run("todos.delete", { id: todo.id }));
      item.append(box, label, remove);
      return item;
    }),
  );
  const open = todos.filter((t) => !t.done).length;
  $("count").textContent = `${todos.length} item${todos.length === 1 ? "" : "s"}, ${open} to do`;
}

let client;

// Calls a command; a refusal (validation error) is shown to the user.
async function run(command, args) {
  try {
    const result = await client.invoke(command, args, { timeout: 5000 });
    showError(null);
    return result;
  } catch (error) {
    showError(error);
    return undefined;
  }
}

async function main() {
  const showState = (state) => {
    status.dataset.state = state;
    status.textContent = state;
  };
  client = await connect(undefined, { reconnect: true, onstatechange: showState });
  showState(client.state);

  await client.listen("todos:changed", (event) => render(event.payload));
  await client.listen("presence", (event) => {
    $("presence").textContent = `${event.payload} tab${event.payload === 1 ? "" : "s"} open`;
  });
  render(await client.invoke("todos.list"));
  const tabs = await client.invoke("presence.count");
  $("presence").textContent = `${tabs} tab${tabs === 1 ? "" : "s"} open`;

  $("add-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("title");
    if (await run("todos.add", { title: input.value })) input.value = "";
    input.focus();
  });
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  status.dataset.state = "closed";
  status.textContent = "could not connect";
  showError(error);
});
