// Spawns the end-to-end test server (target/debug/ipc-e2e-server) for the Node
// tests. Build it first: cargo build -p ipc-tests --bin ipc-e2e-server
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { after, before } from "node:test";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The server binary; IPC_E2E_SERVER overrides it. */
export const BINARY = process.env.IPC_E2E_SERVER ?? `${ROOT}target/debug/ipc-e2e-server`;
const STARTUP_MS = 20_000;

const running = new Set();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

/**
 * Starts a server; resolves once it has printed its `ws://` URL. `token`
 * fixes the server's token (default: a random one), `port` its port (default
 * a free one: give the port of a server that was stopped to start it again
 * where its clients look for it).
 * @returns {Promise<{ wsUrl: string, httpUrl: string, pid: number,
 *   windows: Record<string, { http: string, ws: string }>,
 *   stop(): Promise<void>, kill(): Promise<void>, output(): string }>}
 *   `stop` sends SIGINT (a graceful shutdown), `kill` sends SIGKILL; both
 *   wait for the exit;
 *   `output` is what it wrote to stderr (its log), for failure messages.
 */
export function startServer({ token, port = 0 } = {}) {
  if (!existsSync(BINARY)) {
    return Promise.reject(
      new Error(`${BINARY} does not exist: build it with \`cargo build -p ipc-tests --bin ipc-e2e-server\``),
    );
  }
  // The server serves until Ctrl-C (SIGINT).
  const args = ["--port", String(port), ...(token ? ["--token", token] : [])];
  const child = spawn(BINARY, args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-20_000);
    if (process.env.IPC_E2E_LOG) process.stderr.write(chunk);
  });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => {
    running.delete(child);
    resolve({ code, signal });
  }));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const end = async (signal) => {
    if (alive()) child.kill(signal);
    await exited;
  };
  /** Sends SIGINT (a graceful shutdown); kills it if it is still there after 5 s. */
  const stop = async () => {
    if (alive()) child.kill("SIGINT");
    const timer = setTimeout(() => alive() && child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };

  return new Promise((resolve, reject) => {
    let httpUrl = null;
    /** label -> { http, ws }: the windows the server printed. */
    const windows = {};
    let buffered = "";
    let settled = false;
    const fail = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      end("SIGKILL");
      reject(new Error(`ipc-e2e-server ${why}; its output:\n${buffered}${stderr}`));
    };
    const timer = setTimeout(() => fail(`printed no ws:// URL within ${STARTUP_MS} ms`), STARTUP_MS);
    child.once("error", (err) => fail(`could not start (${err.message})`));
    exited.then(({ code, signal }) => fail(`exited during start-up (code ${code}, signal ${signal})`));
    child.stdout.setEncoding("utf8");
    let partial = "";
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      const lines = (partial + chunk).split("\n");
      partial = lines.pop(); // not yet a complete line
      for (const line of lines.map((l) => l.trim())) {
        const window = /^window (\S+) ((https?|wss?):\/\/\S+)$/.exec(line);
        if (window) {
          const [, label, url, scheme] = window;
          windows[label] = { ...windows[label], [scheme.startsWith("ws") ? "ws" : "http"]: url };
          continue;
        }
        if (line.startsWith("http://")) httpUrl = line;
        if (!line.startsWith("ws://")) continue;
        settled = true;
        clearTimeout(timer);
        child.stdout.removeAllListeners("data");
        child.stdout.resume(); // keep draining whatever it prints later
        resolve({
          wsUrl: line,
          httpUrl: httpUrl ?? line.replace(/^ws:/, "http:").replace(/ipc$/, ""),
          windows,
          pid: child.pid,
          stop,
          kill: () => end("SIGKILL"),
          output: () => stderr,
        });
        return;
      }
    });
  });
}

/**
 * Starts a server before this file's tests and stops it after them. Returns an
 * object whose fields (`wsUrl`, `httpUrl`, `stop`, ...) are filled in `before`.
 */
export function useServer() {
  const server = {};
  before(async () => Object.assign(server, await startServer()));
  after(async () => server.stop?.());
  return server;
}
