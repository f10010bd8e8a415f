#!/usr/bin/env bash
# Installs PyTorch for the PyTorch peer benchmark (scripts/bench_torch.py) into its own venv,
# .venv-bench/ at the repository root, kept apart from .venv/ (ONNX Runtime, scripts/setup.sh)
# because the torch wheel is large (about 5 GB with its CUDA libraries). Bench-only: neither
# the tests nor CI install it.
#
# Idempotent: does nothing when `import torch` already works in that venv. `torch` comes from
# PyPI (the default index); numpy is installed beside it. Prints the venv's python path, so:
#   py=$(bash scripts/bench_torch_setup.sh | tail -n1) && "$py" scripts/bench_torch.py all
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-bench"
py="$venv/bin/python"

if [ ! -x "$py" ]; then
  echo "bench_torch_setup: creating $venv" >&2
  python3 -m venv "$venv"
fi
if ! "$py" -c "import torch, numpy" 2>/dev/null; then
  echo "bench_torch_setup: installing torch and numpy into $venv (a large download)" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check torch "numpy<3" >&2
fi
"$py" -c "import torch, numpy; print(f'bench_torch_setup: torch {torch.__version__}, numpy {numpy.__version__}')" >&2
echo "$py"
