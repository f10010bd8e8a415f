#!/usr/bin/env bash
# The benchmarks, from one run (figures are only meaningful on an otherwise idle machine):
#   1. trainer vs PyTorch (tests/benches/peer.rs): steps/s of our trainer and of the same
#      networks in PyTorch (scripts/bench_torch.py), their ratio, the two conv layers and the
#      peak memory of a DCGAN training. PyTorch is installed into .venv-bench/ by
#      scripts/bench_torch_setup.sh (about 5 GB, benchmark only; tests never install it).
#   2. throughput (tests/benches/throughput.rs): trainer steps/s on real data, runtime images/s
#      (ONNX Runtime through `ort`) and Python onnxruntime on the same model.
# GAN_BENCH_ONLY=peer runs only the first, GAN_BENCH_ONLY=throughput (or =trainer, the
# throughput bench's own switch) only the second. Installs what is missing via scripts/env.sh,
# which also exports ORT_DYLIB_PATH. Extra arguments go to `cargo bench`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
. scripts/env.sh
if [ -z "${ORT_DYLIB_PATH:-}" ]; then
  echo "bench: scripts/env.sh did not set ORT_DYLIB_PATH (did scripts/setup.sh fail?)" >&2
  exit 1
fi
only="${GAN_BENCH_ONLY:-}"
if [ "$only" != throughput ] && [ "$only" != trainer ]; then
  GAN_TORCH_PYTHON="$(bash scripts/bench_torch_setup.sh | tail -n 1)"
  export GAN_TORCH_PYTHON
  cargo bench -p gan-tests --bench peer "$@"
fi
if [ "$only" != peer ]; then
  [ "$only" = throughput ] && unset GAN_BENCH_ONLY
  cargo bench -p gan-tests --bench throughput "$@"
fi
