// Uses the demo's generated bindings (examples/demo/web/bindings.ts) the way a
// typed frontend would; `tsc --strict` must accept all of it.
import { connect, IpcError, type UnlistenFn } from "/ipc.js";
import { commands, events, isCommandError, type CommandErrorData, type Todo, type TodoError } from "/bindings.js";

export async function usage(): Promise<void> {
  await connect("ws://127.0.0.1:8080/ipc");

  const todo: Todo = await commands.todosAdd({ title: "write docs" });
  const id: number | bigint = todo.id;
  const toggled: Todo = await commands.todosToggle({ id }, { timeout: 1000 });
  const done: boolean = toggled.done;
  const all: Todo[] = await commands.todosList();
  const nothing: null = await commands.todosDelete({ id: 12345678901234567890n });
  const tabs: number = await commands.presenceCount({ signal: new AbortController().signal });
  void [done, all, nothing, tabs];

  try {
    await commands.todosAdd({ title: "" });
  } catch (error) {
    if (isCommandError(error, "todosAdd")) {
      const code: -32000 = error.code;
      const data: TodoError = error.data;
      switch (data.kind) {
        case "emptyTitle":
          break;
        case "titleTooLong": {
          const max: number = data.max;
          void max;
          break;
        }
        case "notFound": {
          const missing: number | bigint = data.id;
          void missing;
          break;
        }
      }
      void code;
    } else if (error instanceof IpcError) {
      const unknownData: unknown = error.data;
      void unknownData;
    }
  }

  const unlisten: UnlistenFn = await events.todosChanged.listen((event) => {
    const list: Todo[] = event.payload;
    void list;
  });
  await unlisten();
  await events.presence.once(({ payload }) => {
    const count: number = payload;
    void count;
  });
  await events.todosChanged.emit([todo]);
  await events.ipcConnected.listen(({ payload }) => {
    const origin: string | null = payload.origin;
    void origin;
  });
  const name: "todos:changed" = events.todosChanged.name;
  const neverFails: never[] = [] as CommandErrorData["todosList"][];
  void [name, neverFails];
}
