// A title must be a string: tsc must reject this call.
import { commands } from "/bindings.js";

export const added = commands.todosAdd({ title: 42 });
