#!/usr/bin/env bash
# Installs what the project needs beyond Rust (idempotent):
# - ONNX Runtime's shared library, from the PyPI wheel `onnxruntime` (the version the `ort`
#   crate wraps), into .venv/.
# - headless Chromium + chromedriver (Debian's chromium, chromium-driver) for the browser tests.
# - npm (Debian's npm, unless an npm is already on PATH): `trainer data emoji` and its test
#   download the npm package emoji-datasource-twitter with `npm pack`.
# Prints the library path on success; source scripts/env.sh to use it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

. "$root/scripts/lib.sh"
install_debs "headless Chromium + WebDriver for the browser tests" chromium chromium-driver
command -v npm >/dev/null || install_debs "npm, for trainer data emoji and its test" npm

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
