// The check that keeps ipc.d.ts (and ipc-tauri.d.ts, ipc-stdio.d.ts) true to
// the JavaScript next to it (tests/js/tsconfig.impl.json, run by `npm run
// check:types`) must fail when they drift apart. Each test copies the client
// and the check into a temporary tree laid out like this repository, makes
// one drift there, and expects tsc to name it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { T } from "./helpers.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSC = join(ROOT, "node_modules", ".bin", "tsc");

/** Runs the check on a copy of the client with `edits` ([file, from, to]) applied. */
function checkWith(edits) {
  const tree = mkdtempSync(join(tmpdir(), "ipc-declarations-"));
  try {
    cpSync(join(ROOT, "ipc-runtime", "js"), join(tree, "ipc-runtime", "js"), { recursive: true });
    mkdirSync(join(tree, "tests", "js"), { recursive: true });
    for (const file of ["tsconfig.impl.json", "impl-matches-declarations.ts"]) {
      cpSync(join(ROOT, "tests", "js", file), join(tree, "tests", "js", file));
    }
    for (const [file, from, to] of edits) {
      const path = join(tree, "ipc-runtime", "js", file);
      const text = readFileSync(path, "utf8");
      assert.equal(text.split(from).length, 2, `${file} contains ${JSON.stringify(from)} exactly once`);
      writeFileSync(path, text.replace(from, to));
    }
    const run = spawnSync(TSC, ["-p", join(tree, "tests", "js", "tsconfig.impl.json")], { encoding: "utf8" });
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

test("the copied tree passes as it is", T, () => {
  const { status, output } = checkWith([]);
  assert.equal(status, 0, output);
});

test("a method renamed in ipc.js fails: it is undeclared", T, () => {
  const { status, output } = checkWith([["ipc.js", "  once(event, cb, options) {", "  onlyOnce(event, cb, options) {"]]);
  assert.notEqual(status, 0);
  assert.match(output, /Property 'onlyOnce' is missing in type '\{\}' but required in type '\{ onlyOnce: "a member of ipc\.js's IpcClient, not declared"; \}'/);
});

test("an export added to ipc.js fails: it is undeclared", T, () => {
  const { status, output } = checkWith([["ipc.js", "let defaultClient = null;", "let defaultClient = null;\nexport const VERSION = 1;"]]);
  assert.notEqual(status, 0);
  assert.match(output, /\{ VERSION: "exported by ipc\.js, not declared in ipc\.d\.ts"; \}/);
});

test("an event target ipc.js takes but ipc.d.ts lacks fails, for the method too", T, () => {
  const { status, output } = checkWith([
    ["ipc.d.ts", " | { client: number } | { label: string };", " | { client: number };"],
    [
      "ipc.js",
      "   * @param {EmitOptions} [options]",
      '   * @param {{ target?: "all" | "backend" | { client: number } | { label: string } }} [options]',
    ],
  ]);
  assert.notEqual(status, 0);
  const rejected = output.match(/Type '\{ label: string; \}' is not assignable to type 'EmitTarget \| undefined'/g) ?? [];
  assert.equal(rejected.length, 2, `the module's emit and IpcClient's, strictly:\n${output}`);
});

test("a member declared writable that ipc.js only reads fails", T, () => {
  const { status, output } = checkWith([["ipc.d.ts", "  readonly url: string;", "  url: string;"]]);
  assert.notEqual(status, 0);
  assert.match(output, /\{ url: "read-only in ipc\.js, writable in ipc\.d\.ts"; \}/);
});

test("a parameter declared that ipc-stdio.js does not take fails", T, () => {
  const { status, output } = checkWith([["ipc-stdio.js", " * @param {StdioSource | (() => StdioSource)} source", " * @param {StdioSource} source"]]);
  assert.notEqual(status, 0);
  assert.match(output, /Type '\(\) => StdioSource' is not assignable to type 'StdioSource'/);
});
