#!/usr/bin/env bash
# Builds the browser generator (wasm/, its own cargo workspace) into web/pkg/:
#   1. the wasm32-unknown-unknown cdylib. Normal path: `rustup target add` + cargo. Where rustup
#      cannot download the target (no network but the package registries), Debian's Rust for
#      the web (rustc-web, cargo-web, rust-web-src, rust-web-llvm; lld-22 for wasm-ld) builds
#      std from source: RUSTC_BOOTSTRAP=1 -Zbuild-std=std,panic_abort.
#   2. wasm-bindgen (the CLI at the exact version of the crate in wasm/Cargo.lock, installed
#      into .tools/ with `cargo install`) makes web/pkg/gan_wasm.js + gan_wasm_bg.wasm.
#   3. The weights files the page fetches per model (int8, written by wasm/build.rs) go to
#      web/pkg/models/<id>.bpk; the models with those weights (ONNX, for ONNX Runtime in the
#      browser test and benchmark) to target/web-reference/<id>.onnx.
# The generators come from the four shipped models in models/ (GAN_WASM_MODELS=a.onnx,b.onnx
# for others, paths relative to the repository root). Prints the sizes.
# Build output: target/wasm (CARGO_TARGET_DIR to change).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

target=wasm32-unknown-unknown
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/wasm}"
cargo=(cargo)
build_std=()

# WASM_TOOLCHAIN=debian skips rustup (to check the fallback).
if [ "${WASM_TOOLCHAIN:-}" != debian ] && {
  rustup target list --installed 2>/dev/null | grep -qx "$target" \
    || rustup target add "$target" >/dev/null 2>&1
}; then
  echo "build-wasm: rustup toolchain with $target" >&2
else
  echo "build-wasm: no rustup $target (WASM_TOOLCHAIN=debian, or it cannot be added here); using Debian's rustc-web with -Zbuild-std" >&2
  . "$root/scripts/lib.sh"
  install_debs "Rust for wasm32 with std sources, wasm-ld" rustc-web cargo-web rust-web-src rust-web-llvm lld-22
  # Debian's rustc-web (/usr/bin) with its std sources; wasm-ld from lld-22.
  export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 PATH="/usr/lib/llvm-22/bin:$PATH"
  cargo=(/usr/bin/cargo)
  build_std=(-Zbuild-std=std,panic_abort)
fi

# 128-bit SIMD (every current browser: Chrome 91+, Firefox 89+, Safari 16.4+): LLVM vectorizes
# the GEMM kernels with it.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:--C target-feature=+simd128}"
mkdir -p "$CARGO_TARGET_DIR"   # absent on a fresh clone
messages="$CARGO_TARGET_DIR/build-wasm.messages.json"
"${cargo[@]}" build --manifest-path wasm/Cargo.toml --release --target "$target" \
  ${build_std[@]+"${build_std[@]}"} --message-format=json-render-diagnostics >"$messages"
wasm="$CARGO_TARGET_DIR/$target/release/gan_wasm.wasm"
# The build script's OUT_DIR (weights and reference models), from cargo's JSON messages.
out_dir=$(grep '"reason":"build-script-executed"' "$messages" | grep '"package_id":"[^"]*gan-wasm' \
  | sed -n 's/.*"out_dir":"\([^"]*\)".*/\1/p' | tail -n 1)
[ -d "$out_dir/weights" ] || { echo "build-wasm: gan-wasm's build output not found in $messages" >&2; exit 1; }

# wasm-bindgen's CLI must match the wasm-bindgen crate exactly.
version=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' \
  wasm/Cargo.lock)
[ -n "$version" ] || { echo "build-wasm: wasm-bindgen not found in wasm/Cargo.lock" >&2; exit 1; }
bindgen="$root/.tools/bin/wasm-bindgen"
if [ "$("$bindgen" --version 2>/dev/null)" != "wasm-bindgen $version" ]; then
  echo "build-wasm: installing wasm-bindgen-cli $version into .tools/" >&2
  mkdir -p "$root/.tools"
  printf '# local tools (scripts/build-wasm.sh), not committed\n*\n' >"$root/.tools/.gitignore"
  # Not --locked: a dependency pinned in the CLI's own lockfile can be missing from the
  # registry mirror; the CLI's version is what must match.
  env -u RUSTC -u RUSTC_BOOTSTRAP cargo install wasm-bindgen-cli --version "=$version" \
    --root "$root/.tools" >&2
fi

# Into a fresh folder, then swapped in: a failed step leaves the previous web/pkg whole.
rm -rf web/pkg.new
"$bindgen" --target web --no-typescript --remove-name-section --remove-producers-section \
  --out-dir web/pkg.new "$wasm"
mkdir -p web/pkg.new/models "$root/target/web-reference"
cp "$out_dir"/weights/*.bpk web/pkg.new/models/
cp "$out_dir"/reference/*.onnx "$root/target/web-reference/"
rm -rf web/pkg.old
[ ! -d web/pkg ] || mv web/pkg web/pkg.old
mv web/pkg.new web/pkg
rm -rf web/pkg.old

size() {
  local raw gz
  raw=$(stat -c %s "$1")
  gz=$(gzip -9 -c "$1" | wc -c)
  echo "build-wasm: $1: $((raw / 1024)) KiB, gzip -9: $((gz / 1024)) KiB"
}
size web/pkg/gan_wasm_bg.wasm
for f in web/pkg/models/*.bpk; do size "$f"; done
