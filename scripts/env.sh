# Source me: runs setup (idempotent) and exports ORT_DYLIB_PATH for ONNX Runtime.
_gan_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$_gan_root/scripts/setup.sh" >/dev/null && . "$_gan_root/.venv/ort.env"
unset _gan_root
