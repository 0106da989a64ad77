#!/usr/bin/env bash
# The whole benchmark suite, then the tables of BENCHMARKS.md (printed, and
# saved to target/ipc-benches/report.md). About 5 minutes on 2 cores, plus the
# release build. Loopback and child processes' pipes only.
set -euo pipefail
cd "$(dirname "$0")/.."

for bench in dispatch events ws_roundtrip binary ws_load stdio_load memory; do
  printf '\n==> cargo bench -p ipc-benches --bench %s\n' "$bench"
  cargo bench -p ipc-benches --bench "$bench"
done

# The transports against their floors again, with this process and the
# children it spawns confined to one CPU: one call in flight then measures
# the work of a round trip rather than how long an idle CPU takes to wake up.
if command -v taskset >/dev/null; then
  for bench in ws_load stdio_load; do
    printf '\n==> IPC_BENCH_ONE_CORE=1 taskset -c 0 cargo bench -p ipc-benches --bench %s\n' "$bench"
    IPC_BENCH_ONE_CORE=1 taskset -c 0 cargo bench -p ipc-benches --bench "$bench"
  done
else
  printf '\n(taskset not found: no one-CPU run of ws_load and stdio_load)\n'
  results="${CARGO_TARGET_DIR:-target}/ipc-benches"
  rm -f "$results/ws_load.one_core.json" "$results/stdio_load.one_core.json"
fi

printf '\n==> cargo bench -p ipc-benches --bench report\n'
cargo bench -p ipc-benches --bench report
