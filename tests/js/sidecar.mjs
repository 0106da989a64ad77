// Spawns server binaries in stdio mode (`--stdio`) for the Node tests, and
// reads their stdout line by line with deadlines. Not a test file itself.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The e2e server; IPC_E2E_SERVER overrides it (as in server.mjs). */
export const E2E_BINARY = process.env.IPC_E2E_SERVER ?? `${ROOT}target/debug/ipc-e2e-server`;
export const E2E_BUILD = "cargo build -p ipc-tests --bin ipc-e2e-server";
/** The demo, built as an example; IPC_DEMO_BINARY overrides it. */
export const DEMO_BINARY = process.env.IPC_DEMO_BINARY ?? `${ROOT}target/debug/examples/demo`;
export const DEMO_BUILD = "cargo build -p ipc-examples --example demo";

const running = new Set();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * Starts `binary --stdio` with piped stdin, stdout and stderr.
 * @returns {{ child: import("node:child_process").ChildProcess,
 *   exited: Promise<{ code: number | null, signal: string | null }>,
 *   stderr(): string, kill(): Promise<void> }}
 */
export function spawnSidecar(binary, build) {
  if (!existsSync(binary)) throw new Error(`${binary} does not exist: build it with \`${build}\``);
  const child = spawn(binary, ["--stdio"], { stdio: ["pipe", "pipe", "pipe"] });
  running.add(child);
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-20_000);
    if (process.env.IPC_E2E_LOG) process.stderr.write(chunk);
  });
  const exited = new Promise((resolve) =>
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  return {
    child,
    exited,
    stderr: () => stderr,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Resolves with `promise`, or rejects after `ms` saying what it waited for. */
export function within(ms, promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Raw access to a sidecar's protocol: `send(line)` writes one line to its
 * stdin; `next()` resolves with its next stdout line (null once stdout has
 * ended), `json()` with it parsed; `end()` closes its stdin.
 */
export function rawLines({ child }) {
  const lines = [];
  let partial = "";
  let ended = false;
  let wake = null;
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop();
    lines.push(...parts);
    wake?.();
  });
  child.stdout.on("end", () => {
    ended = true;
    wake?.();
  });
  let read = 0;
  const next = async (ms = 5000) => {
    const deadline = Date.now() + ms;
    while (read >= lines.length) {
      if (ended) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line on stdout within ${ms} ms (got ${read})`);
      await new Promise((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.min(left, 100));
      });
    }
    return lines[read++];
  };
  return {
    send(line) {
      child.stdin.write(line + "\n");
    },
    write(data) {
      child.stdin.write(data);
    },
    next,
    async json(ms) {
      const line = await next(ms);
      if (line === null) throw new Error("stdout ended");
      return JSON.parse(line);
    },
    end() {
      child.stdin.end();
    },
  };
}
