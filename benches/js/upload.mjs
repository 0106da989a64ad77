// Upload throughput from Node through ipc.js (the `ws` package's WebSocket) to
// a release e2e server's `upload.count` (reads the upload to its end, no work
// per byte): a ReadableStream of 1 MiB pieces, binary frames (`ipc.v1`) and
// base64 text (`protocols: []`), at 16 MiB (median of 5) and 1 GiB (one run).
//
//   cargo build --profile bench -p ipc-tests --bin ipc-e2e-server
//   IPC_E2E_SERVER=target/release/ipc-e2e-server node benches/js/upload.mjs [--quick]
import { WebSocket } from "ws";
import { connect } from "../../ipc-runtime/js/ipc.js";
import { startServer } from "../../tests/js/server.mjs";

const quick = process.argv.includes("--quick");
const piece = new Uint8Array(1 << 20).map((_, i) => (i * 31) % 251);

function stream(total) {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const n = Math.min(piece.byteLength, total - sent);
      sent += n;
      controller.enqueue(piece.subarray(0, n));
    },
  });
}

const server = await startServer();
try {
  const sizes = quick ? [[16 << 20, "16 MiB", 5]] : [[16 << 20, "16 MiB", 5], [1 << 30, "1 GiB", 1]];
  console.log("| size | binary frames | base64 text | binary speed-up |");
  console.log("|---|---|---|---|");
  for (const [size, label, runs] of sizes) {
    const rates = [];
    for (const protocols of [["ipc.v1"], []]) {
      const client = await connect(server.wsUrl, { WebSocket, protocols });
      const times = [];
      for (let i = 0; i < runs; i++) {
        const started = performance.now();
        const got = await client.invoke("upload.count", { file: stream(size) });
        times.push(performance.now() - started);
        if (got !== size) throw new Error(`counted ${got}, sent ${size}`);
      }
      client.close();
      times.sort((a, b) => a - b);
      const ms = times[Math.floor(times.length / 2)];
      rates.push([ms, size / (ms / 1000) / 1e6]);
    }
    const cell = ([ms, mbs]) => `${mbs.toFixed(0)} MB/s (${ms.toFixed(1)} ms)`;
    console.log(`| ${label} | ${cell(rates[0])} | ${cell(rates[1])} | ${(rates[1][0] / rates[0][0]).toFixed(2)}× |`);
  }
} finally {
  await server.stop();
}
