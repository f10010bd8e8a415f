#!/usr/bin/env bash
# The project's test command (README; .ci/run calls it): installs what is missing, then checks
# formatting and lints, and runs every test on real data in ../shared/data.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
. scripts/env.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --release --workspace
echo "== execution-provider fallback with the cuda feature compiled in (CPU-only ONNX Runtime here)"
cargo test --release -p gan-runtime --features cuda --test augment
