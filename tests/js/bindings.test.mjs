// The generated TypeScript bindings: they type-check under `tsc --strict`
// with code that uses them, a wrong argument type is a type error, and, called
// from Node against the real demo server, each demo command's function
// returns the value its type promises (both the generated JavaScript twin
// and the TypeScript compiled by tsc).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { register } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { WebSocket } from "ws";
import { T } from "./helpers.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSC = join(ROOT, "node_modules", ".bin", "tsc");
const DEMO = join(ROOT, "target", "debug", "examples", "demo");
const WEB = join(ROOT, "examples", "demo", "web");
const IPC_JS = pathToFileURL(join(ROOT, "ipc-runtime", "js", "ipc.js")).href;

// The bindings import the client as "/ipc.js" (where the server serves it);
// in Node that specifier maps to the file.
register(
  "data:text/javascript," +
    encodeURIComponent(`
      export async function resolve(specifier, context, next) {
        if (specifier === "/ipc.js") return { url: ${JSON.stringify(IPC_JS)}, shortCircuit: true };
        return next(specifier, context);
      }`),
);

function tsc(...args) {
  const run = spawnSync(TSC, args, { cwd: ROOT, encoding: "utf8" });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

test("the generated bindings and their usages type-check (tsc --strict)", T, () => {
  const { status, output } = tsc("-p", "tests/types/tsconfig.json");
  assert.equal(status, 0, output);
});

test("a wrong argument type fails to type-check", T, () => {
  const { status, output } = tsc("-p", "tests/types/fail/tsconfig.json");
  assert.notEqual(status, 0, "tsc accepted a number where the title string goes");
  assert.match(
    output,
    /wrong-argument\.ts\(4,42\): error TS2322: Type 'number' is not assignable to type 'string'\./,
  );
  assert.equal(output.trim().split("\n").length, 1, `exactly one error expected:\n${output}`);
});

// ---- round trip against the demo server ----

let demo;
let wsUrl;
let tmp;

before(async () => {
  demo = spawn(DEMO, ["--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
  wsUrl = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the demo printed no ws:// URL within 15 s")), 15_000);
    demo.once("error", (e) => reject(new Error(`cannot start ${DEMO}: ${e.message} (cargo build --example demo)`)));
    createInterface({ input: demo.stdout }).on("line", (line) => {
      if (line.startsWith("ws://")) {
        clearTimeout(timer);
        resolve(line.trim());
      }
    });
  });
  // The TypeScript module compiled by tsc, next to the generated JavaScript.
  tmp = mkdtempSync(join(tmpdir(), "ipc-bindings-"));
  writeFileSync(
    join(tmp, "tsconfig.json"),
    JSON.stringify({
      extends: join(ROOT, "tests", "types", "tsconfig.json"),
      compilerOptions: {
        noEmit: false,
        allowJs: false,
        checkJs: false,
        outDir: join(tmp, "out"),
        rootDir: WEB,
        paths: { "/ipc.js": [join(ROOT, "ipc-runtime", "js", "ipc.d.ts")] },
      },
      files: [join(WEB, "bindings.ts")],
    }),
  );
  const { status, output } = tsc("-p", join(tmp, "tsconfig.json"));
  assert.equal(status, 0, output);
});

after(async () => {
  if (demo && demo.exitCode === null) {
    const exited = new Promise((resolve) => demo.once("exit", resolve));
    demo.kill("SIGINT");
    await exited;
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// What each TypeScript type the demo uses promises, checked at run time.
const isLargeInt = (v) => (typeof v === "number" && Number.isInteger(v)) || typeof v === "bigint";
const isTodo = (v) =>
  v !== null &&
  typeof v === "object" &&
  Object.keys(v).sort().join() === "done,id,title" &&
  isLargeInt(v.id) &&
  typeof v.title === "string" &&
  typeof v.done === "boolean";
const CHECKS = {
  Todo: isTodo,
  "Array<Todo>": (v) => Array.isArray(v) && v.every(isTodo),
  number: (v) => typeof v === "number",
  null: (v) => v === null,
};

/** `name(...): Promise<T>` of every command in bindings.ts: name → T. */
function declaredResults() {
  const source = readFileSync(join(WEB, "bindings.ts"), "utf8");
  const commands = source.slice(source.indexOf("export const commands"), source.indexOf("export interface CommandErrorData"));
  return Object.fromEntries([...commands.matchAll(/^ {2}(\w+)\(.*\): Promise<(.+)> \{$/gm)].map((m) => [m[1], m[2]]));
}

for (const flavor of ["generated JavaScript", "TypeScript compiled by tsc"]) {
  test(`each demo command returns what its type promises (${flavor})`, T, async () => {
    const url = flavor.startsWith("generated") ? pathToFileURL(join(WEB, "bindings.js")) : pathToFileURL(join(tmp, "out", "bindings.js"));
    const { commands, events, isCommandError } = await import(url.href);
    const { connect, IpcError } = await import("/ipc.js");
    const client = await connect(wsUrl, { WebSocket });
    try {
      const declared = declaredResults();
      assert.deepEqual(Object.keys(declared).sort(), Object.keys(commands).sort(), "every command is declared once");
      const returned = (name, value) => {
        const check = CHECKS[declared[name]];
        assert.ok(check, `no run-time check for ${name}'s type ${declared[name]}: add one`);
        assert.ok(check(value), `${name} promised ${declared[name]}, returned ${JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))}`);
        return value;
      };

      let changed;
      const listChanged = new Promise((resolve) => (changed = resolve));
      const unlisten = await events.todosChanged.listen((event) => changed(event.payload));

      const called = new Set();
      const call = async (name, ...args) => {
        called.add(name);
        return returned(name, await commands[name](...args));
      };

      const before = await call("todosList");
      const todo = await call("todosAdd", { title: `  ${flavor}  ` });
      assert.equal(todo.title, flavor);
      assert.equal(todo.done, false);
      const list = await listChanged;
      assert.ok(CHECKS["Array<Todo>"](list), "todos:changed carries Array<Todo>");
      assert.deepEqual(list.at(-1), todo);
      await unlisten();

      assert.equal((await call("todosToggle", { id: todo.id })).done, true);
      assert.equal((await call("todosList")).length, before.length + 1);
      assert.ok((await call("presenceCount", { timeout: 5000 })) >= 1);
      await call("todosDelete", { id: todo.id });
      assert.equal((await call("todosList")).length, before.length);
      assert.deepEqual([...called].sort(), Object.keys(commands).sort(), "every demo command was called");

      // Rejections carry the typed error data (TodoError).
      const rejection = async (promise) => {
        try {
          await promise;
        } catch (error) {
          return error;
        }
        assert.fail("the call did not reject");
      };
      const empty = await rejection(commands.todosAdd({ title: " " }));
      assert.ok(empty instanceof IpcError);
      assert.ok(isCommandError(empty, "todosAdd"));
      assert.deepEqual(empty.data, { kind: "emptyTitle" });
      const long = await rejection(commands.todosAdd({ title: "x".repeat(81) }));
      assert.deepEqual(long.data, { kind: "titleTooLong", max: 80 });
      // A u64 id beyond 2^53 travels both ways exactly.
      const missing = await rejection(commands.todosToggle({ id: 18446744073709551615n }));
      assert.ok(isCommandError(missing, "todosToggle"));
      assert.deepEqual(missing.data, { kind: "notFound", id: 18446744073709551615n });
      const notCommandError = await rejection(commands.todosToggle({ id: "seven" }));
      assert.equal(notCommandError.code, -32602);
      assert.equal(isCommandError(notCommandError, "todosToggle"), false);
    } finally {
      client.close();
    }
  });
}
