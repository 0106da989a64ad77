#!/usr/bin/env bash
# The whole benchmark suite, then the tables of BENCHMARKS.md (printed, and
# saved to target/ipc-benches/report.md). About 4 minutes on 2 cores, plus the
# release build. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

for bench in dispatch events ws_roundtrip binary ws_load memory; do
  printf '\n==> cargo bench -p ipc-benches --bench %s\n' "$bench"
  cargo bench -p ipc-benches --bench "$bench"
done
printf '\n==> cargo bench -p ipc-benches --bench report\n'
cargo bench -p ipc-benches --bench report
