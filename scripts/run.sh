#!/usr/bin/env bash
# The main job (README): train the MLP GAN on Fashion-MNIST, export it to ONNX, and draw a grid
# with ONNX Runtime. Everything lands in out/. Pass STEPS=N to change the training length.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
. scripts/env.sh
steps="${STEPS:-2000}"
data="${DATA:-../shared/data/fashion-mnist}"

cargo build --release --bins
./target/release/trainer --data "$data" --steps "$steps" --out out/train --export out/generator.onnx
./target/release/generate --model out/generator.onnx --seed 42 --count 64 --out out/grid.png
echo "done: training samples in out/train/samples/, losses in out/train/losses.csv, model out/generator.onnx, grid out/grid.png"
