// Shared set-up for the browser tests: start a server binary, and launch
// Debian's chromium through playwright-core with a fresh profile.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const SCREENSHOTS = join(ROOT, "target", "screenshots");

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Starts `binary` (relative to the repository root) with `args`, and resolves
 * once it has printed its `http://` and `ws://` lines. A server that prints
 * its IPC inspector's address (a line with `/ipc/inspect`, after those two)
 * has it as `inspectUrl` once printed: `waitForInspectUrl()` waits for it.
 */
export async function startServer(binary, args = ["--port", "0"]) {
  const child = spawn(join(ROOT, binary), args, { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  /** `windows`: label -> { http, ws }, for servers that print windows' addresses. */
  const urls = { windows: {} };
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${binary} printed no URLs within 15 s`)), 15_000);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${binary}: ${e.message} (build it first: see scripts/test)`));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${binary} exited with ${code} before printing its URLs`));
    });
    lines.on("line", (line) => {
      const window = /^window (\S+) ((https?|wss?):\/\/\S+)$/.exec(line.trim());
      if (window) {
        const [, label, url, scheme] = window;
        urls.windows[label] = { ...urls.windows[label], [scheme.startsWith("ws") ? "ws" : "http"]: url };
        return;
      }
      if (line.includes("/ipc/inspect")) {
        // Also an http:// line: it must not take the app's address.
        urls.inspectUrl = line.trim();
        return;
      }
      if (line.startsWith("http://")) urls.httpUrl = line.trim();
      if (line.startsWith("ws://")) urls.wsUrl = line.trim();
      if (urls.httpUrl && urls.wsUrl) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.removeAllListeners("exit");
  return {
    ...urls,
    /** The inspector's address, once printed (undefined before). */
    get inspectUrl() {
      return urls.inspectUrl;
    },
    /** Resolves to the inspector's address once printed; rejects after `timeoutMs`. */
    async waitForInspectUrl(timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (urls.inspectUrl === undefined) {
        if (child.exitCode !== null) throw new Error(`${binary} exited without printing its inspector's address`);
        if (Date.now() > deadline) throw new Error(`${binary} printed no /ipc/inspect address within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return urls.inspectUrl;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A headless chromium with a fresh profile; `close()` removes the profile. */
export async function launchBrowser() {
  const profile = mkdtempSync(join(tmpdir(), "ipc-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 900, height: 700 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export function screenshotPath(name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return join(SCREENSHOTS, name);
}
