#!/usr/bin/env bash
# Throughput benchmark (tests/benches/throughput.rs): trainer steps/s, runtime images/s and the
# same model under Python onnxruntime (scripts/bench_ort.py). Installs what is missing (via
# scripts/env.sh, which also exports ORT_DYLIB_PATH), then prints the tables. Extra arguments go
# to `cargo bench`. Figures are only meaningful on an otherwise idle machine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
. scripts/env.sh
if [ -z "${ORT_DYLIB_PATH:-}" ]; then
  echo "bench: scripts/env.sh did not set ORT_DYLIB_PATH (did scripts/setup.sh fail?)" >&2
  exit 1
fi
exec cargo bench -p gan-tests --bench throughput "$@"
