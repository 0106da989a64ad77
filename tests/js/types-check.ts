// Compile-only check of ipc-runtime/js/ipc.d.ts: exercises the whole API.
// Run: npx tsc -p tests/js/tsconfig.json  (never executed).
import {
  Channel,
  connect,
  defaultUrl,
  emit,
  ErrorCode,
  invoke,
  IpcClient,
  IpcError,
  listen,
  once,
  type BinaryData,
  type ConnectionState,
  type ConnectOptions,
  type EmitTarget,
  type ErrorCodeValue,
  type IpcEvent,
  type NotificationHandler,
  type StateChangeHandler,
  type Transport,
  type TransportConnectOptions,
  type TransportSocket,
  type UnlistenFn,
} from "../../ipc-runtime/js/ipc.js";
import { installTauriInternals, type TauriInternalsOptions } from "../../ipc-runtime/js/ipc-tauri.js";
import {
  stdioTransport,
  type StdioReadable,
  type StdioSource,
  type StdioTransport,
  type StdioWritable,
} from "../../ipc-runtime/js/ipc-stdio.js";

declare const SomeWebSocket: new (url: string, protocols?: string | string[]) => WebSocket;
declare const someSocket: TransportSocket;
declare const stdin: StdioWritable;
declare const stdout: StdioReadable;

async function main(): Promise<void> {
  const options: ConnectOptions = {
    WebSocket: SomeWebSocket,
    timeout: 5000,
    reconnect: { delayMs: 100, maxDelayMs: 2000 },
    protocols: ["ipc"],
    onstatechange: (state: ConnectionState, previous: ConnectionState) => console.log(previous, "->", state),
  };
  const client: IpcClient = await connect("ws://127.0.0.1:1234/ipc", options);
  await connect(new URL("ws://127.0.0.1:1234/ipc"), { WebSocket: globalThis.WebSocket, reconnect: true });
  await connect(); // browser default URL
  await connect(undefined, { timeout: 100 });

  const url: string = client.url;
  const state: ConnectionState = client.state;
  client.onstatechange = (next, prev) => console.log(url, state, prev, next);
  client.onstatechange = null;
  const logState: StateChangeHandler = (next, prev) => console.log(prev, "->", next);
  client.onstatechange = logState;

  const sum = await client.invoke<number>("add", { a: 1, b: 2 });
  const n: number = sum;
  const greeting: string = await client.invoke("greet", ["Ada", true]);
  await client.invoke("whoami");
  const controller = new AbortController();
  await client.invoke("sleep", { ms: 10 }, { timeout: 100, signal: controller.signal });
  controller.abort();

  const unlisten: UnlistenFn = await client.listen<{ count: number }>("todos:changed", (e) => {
    const count: number = e.payload.count;
    const source: number = e.source;
    const name: string = e.event;
    console.log(count, source, name);
  });
  await unlisten();
  const unlistenOnce = await client.once("ready", (e: IpcEvent) => console.log(e.payload));
  await unlistenOnce();

  await client.emit("cursor:moved", { x: 1 });
  await client.emit("cursor:moved", { x: 1 }, { target: "backend" });
  const target: EmitTarget = { client: 3 };
  await client.emit("ping", undefined, { target });
  await client.emit("ping");
  client.close();

  // Module-level functions on the default client.
  const r: string = await invoke<string>("greet", { name: "Ada" });
  await invoke("add", [1, 2], { timeout: 50 });
  const off = await listen("progress", (e: IpcEvent<number>) => console.log(e.payload.toFixed()));
  const offOnce = await once("done", () => {});
  await emit("hello", "world", { target: "all" });
  await off();
  await offOnce();
  console.log(n, greeting, r);

  try {
    await invoke("fail", { reason: "no" });
  } catch (err) {
    if (err instanceof IpcError) {
      const code: number = err.code;
      const data: unknown = err.data;
      const name: "IpcError" = err.name;
      const message: string = err.message;
      if (code === ErrorCode.COMMAND_ERROR || code === ErrorCode.TIMEOUT) console.log(data, name, message);
    }
  }
  const e = new IpcError(ErrorCode.CANCELLED, "cancelled", { why: 1 });
  const c: ErrorCodeValue = ErrorCode.DISCONNECTED;
  const all: number[] = [
    ErrorCode.PARSE_ERROR, ErrorCode.INVALID_REQUEST, ErrorCode.METHOD_NOT_FOUND, ErrorCode.INVALID_PARAMS,
    ErrorCode.INTERNAL_ERROR, ErrorCode.COMMAND_ERROR, ErrorCode.FORBIDDEN, ErrorCode.LIMIT_EXCEEDED,
    ErrorCode.CANCELLED, ErrorCode.TIMEOUT, ErrorCode.DISCONNECTED,
  ];
  console.log(e instanceof Error, c, all);

  // Subprotocols, notifications, the default URL.
  const onnotification: NotificationHandler = (method: string, params: any) => console.log(method, params);
  const plain = await connect(defaultUrl(), { protocols: [], onnotification });
  plain.onnotification = null;
  plain.onnotification = (method) => console.log(method.toUpperCase());

  // Bytes: typed arrays, DataView and ArrayBuffer as args or among them; results as Uint8Array.
  const bytes: Uint8Array = await plain.invoke<Uint8Array>("make_bytes", { len: 3, seed: 1 });
  await plain.invoke("echo_bytes", { data: bytes });
  await plain.invoke("bytes_len", bytes);
  await plain.invoke("bytes_len", new ArrayBuffer(8));
  await plain.invoke("bytes_len", [new DataView(new ArrayBuffer(2))]);
  await invoke("bytes_len", new Float32Array(2));
  const data: BinaryData = new Uint16Array(4);
  await invoke("bytes_len", data);

  // Channels.
  const progress = new Channel<{ done: number; total: number }>((m) => console.log(m.done / m.total));
  const id: number = progress.id;
  progress.onmessage = (m) => console.log(m.total);
  progress.onmessage = null;
  const wire: `__CHANNEL__:${number}` = progress.toJSON();
  await plain.invoke("progress", { steps: 3, delayMs: 10, onProgress: progress });
  const done: Promise<void> = progress.ended;
  await done;
  const untyped = new Channel();
  untyped.onmessage = (m: unknown) => console.log(m);
  console.log(id, wire);

  // The Tauri shim.
  const tauriOptions: TauriInternalsOptions = {
    label: "main",
    timeout: 1000,
    convertFileSrc: (path: string, protocol?: string) => `/files/${protocol ?? "asset"}/${path}`,
  };
  const tauri: IpcClient = await installTauriInternals(undefined, tauriOptions);
  await installTauriInternals("ws://127.0.0.1:1234/ipc");
  await installTauriInternals(new URL("ws://127.0.0.1:1234/ipc"), { WebSocket: SomeWebSocket, label: "second" });
  tauri.close();

  // Other transports: connect({ transport, ...options }).
  const custom: Transport = { open: () => someSocket, binary: false, describe: "in-memory" };
  const viaTransport: IpcClient = await connect({ transport: custom, timeout: 100, reconnect: true });
  const transportOptions: TransportConnectOptions = { transport: { open: () => someSocket, binary: true } };
  await connect(transportOptions);
  await connect({ transport: { open: () => someSocket } }); // text-only by default
  someSocket.addEventListener("message", (ev) => console.log(typeof ev.data === "string" ? ev.data.length : 0));
  someSocket.addEventListener("close", (ev) => console.log(ev.code, ev.reason));
  someSocket.send("{}");
  someSocket.close(1000);
  console.log(viaTransport.url);

  // ipc-stdio.js: a ChildProcess-like value, or just its streams, or a function spawning one.
  const child: StdioSource = { stdin, stdout, pid: 42 };
  const stdio: StdioTransport = stdioTransport(child);
  const notBinary: false = stdio.binary;
  const name: string = stdio.describe;
  await connect({ transport: stdio, onstatechange: (state) => console.log(state) });
  await connect({ transport: stdioTransport(() => ({ stdin, stdout }), { describe: "sidecar" }), reconnect: { delayMs: 10 } });
  console.log(notBinary, name);
}

// @ts-expect-error: WebSocket options do not go with a transport
connect({ transport: stdioTransport({ stdin: null, stdout: null }), protocols: [] });
// @ts-expect-error: a transport has an open() method
connect({ transport: { binary: false } });
// @ts-expect-error: a transport goes in the one-argument form
connect("ws://127.0.0.1:1/ipc", { transport: stdioTransport({ stdin: null, stdout: null }) });

// @ts-expect-error: clients are made by connect(), not constructed
new IpcClient();
// @ts-expect-error: ErrorCode is read-only
ErrorCode.TIMEOUT = 1;
// @ts-expect-error: the target must be "all", "backend" or { client }
emit("x", null, { target: "everyone" });
// @ts-expect-error: a channel's id is read-only
new Channel().id = 3;
// @ts-expect-error: a typed channel's messages are typed
new Channel<number>((m: string) => console.log(m));
// @ts-expect-error: args are an object, an array or bytes
invoke("add", 5);
// @ts-expect-error: the label is a string
installTauriInternals(undefined, { label: 1 });

void main;
