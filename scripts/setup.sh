#!/usr/bin/env bash
# Installs what the project needs beyond Rust (idempotent):
# - OpenBLAS (Debian's libopenblas-dev), which the trainer's burn ndarray backend links for GEMM;
# - ONNX Runtime's shared library, from the PyPI wheel `onnxruntime` (the version the `ort`
#   crate wraps), into .venv/.
# - headless Chromium + chromedriver (Debian's chromium, chromium-driver) for the browser tests.
# Prints the library path on success; source scripts/env.sh to use it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

need_debs=()
for deb in libopenblas-dev pkg-config; do
  dpkg -s "$deb" >/dev/null 2>&1 || need_debs+=("$deb")
done
if [ ${#need_debs[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "setup: install OpenBLAS (${need_debs[*]}) with your package manager" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${need_debs[*]} (apt-get)" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_debs[@]}" >&2
fi
# --- Browser tests (tests/tests/browser.rs): headless Chromium and its WebDriver, from Debian.
# (The wasm toolchain itself is set up by scripts/build-wasm.sh.)
browser_debs=()
for deb in chromium chromium-driver; do
  dpkg -s "$deb" >/dev/null 2>&1 || browser_debs+=("$deb")
done
if [ ${#browser_debs[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "setup: install ${browser_debs[*]} (headless Chromium + chromedriver) for the browser tests" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${browser_debs[*]} (apt-get)" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${browser_debs[@]}" >&2
fi
# --- end of browser tests

ORT_WHEEL_VERSION="1.31.1" # ort 2.0.0-rc.15 wraps ONNX Runtime 1.31
venv="$root/.venv"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import onnxruntime, sys; sys.exit(onnxruntime.__version__ != '$ORT_WHEEL_VERSION')" 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check "onnxruntime==$ORT_WHEEL_VERSION" "numpy<3"
fi
lib=$(ls "$venv"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so* 2>/dev/null | head -n1 || true)
if [ -z "$lib" ]; then
  echo "setup: libonnxruntime.so not found in the onnxruntime wheel under $venv" >&2
  exit 1
fi
echo "export ORT_DYLIB_PATH='$lib'" > "$venv/ort.env"
echo "$lib"
