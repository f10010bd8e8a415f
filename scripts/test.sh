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
echo "== cargo doc (warnings are errors: a broken or ambiguous link in the API docs fails)"
RUSTDOCFLAGS="-D warnings" cargo doc --release --workspace --no-deps
echo "== wasm package (web/pkg) for the browser tests"
bash scripts/build-wasm.sh
echo "== wasm crate (its own workspace): fmt, clippy, docs and native unit tests"
cargo fmt --manifest-path wasm/Cargo.toml -- --check
CARGO_TARGET_DIR=target/wasm cargo clippy --manifest-path wasm/Cargo.toml --release --all-targets -- -D warnings
RUSTDOCFLAGS="-D warnings" CARGO_TARGET_DIR=target/wasm cargo doc --manifest-path wasm/Cargo.toml --release --no-deps
CARGO_TARGET_DIR=target/wasm cargo test --manifest-path wasm/Cargo.toml --release
echo "== cargo test"
cargo test --release --workspace
echo "== trainer with the wgpu backend compiled in (cargo check; the cuda feature cannot be built here, see README)"
cargo check --release -p gan-trainer --features wgpu
echo "== execution-provider fallback with the cuda feature compiled in (CPU-only ONNX Runtime here)"
cargo test --release -p gan-runtime --features cuda --test synthesis
echo "== the main job from a fresh clone: the repository's files in a temporary folder with no ../shared beside it, STEPS=20"
# The copy shares this checkout's build folder and Python environment (no second cold build),
# so what is tested is run.sh's own path: data from the npm registry, train, export, grid.
fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
mkdir "$fresh/repo"
git ls-files -z --cached --others --exclude-standard \
  | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$fresh/repo"
ln -s "$root/target" "$fresh/repo/target"
ln -s "$root/.venv" "$fresh/repo/.venv"
test ! -e "$fresh/shared"
STEPS=20 bash "$fresh/repo/scripts/run.sh"
test -s "$fresh/repo/out/grid.png" && test -s "$fresh/repo/out/generator.onnx"
echo "fresh clone: main job made out/grid.png without ../shared"
