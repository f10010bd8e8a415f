#!/usr/bin/env python3
"""Images/s of an exported GAN generator under Python onnxruntime, for comparison with the
Rust runtime (the `throughput` benchmark in tests/benches/ runs this script).

Usage: .venv/bin/python scripts/bench_ort.py MODEL [--batches 1,64,1024] [--threads 1,2]
                                                   [--rounds 5] [--seconds 0.3]

For each intra-op thread count, one InferenceSession (graph optimizations ORT_ENABLE_ALL, as the
Rust runtime uses) runs batches of precomputed float32 N(0, 1) latents fed to input `z`
[N, latent_dim] (latent_dim read from the model's input shape). Each cell is warmed up, then
timed in --rounds rounds of at least --seconds (and at least 3 calls) each; the best round is
reported, as the Rust benchmark does, so that load from other processes skews it less.

Output: comment lines start with `#`; each cell is one machine-readable line
    batch=64 threads=1 images_per_s=12345.6 rounds=5
Errors go to stderr with a non-zero exit status.
"""

import argparse
import sys
import time

import numpy as np
import onnxruntime as ort

INPUT_LATENT = "z"
MIN_CALLS = 3


def int_list(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def latent_dim(session, model):
    for inp in session.get_inputs():
        if inp.name == INPUT_LATENT:
            shape = inp.shape
            if len(shape) != 2 or not isinstance(shape[1], int):
                sys.exit(f"{model}: input {INPUT_LATENT!r} has shape {shape}, expected [N, latent_dim]")
            return shape[1]
    names = [i.name for i in session.get_inputs()]
    sys.exit(f"{model}: no input named {INPUT_LATENT!r} (inputs: {names})")


def seconds_per_call(session, feed, seconds):
    """Mean seconds per call of one round of at least `seconds` and MIN_CALLS calls."""
    calls = 0
    start = time.perf_counter()
    while True:
        session.run(None, feed)
        calls += 1
        elapsed = time.perf_counter() - start
        if calls >= MIN_CALLS and elapsed >= seconds:
            return elapsed / calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="exported generator (.onnx)")
    parser.add_argument("--batches", type=int_list, default=[1, 64, 1024])
    parser.add_argument("--threads", type=int_list, default=[1, 2])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per cell (best kept)")
    parser.add_argument("--seconds", type=float, default=0.3, help="minimum time per round")
    args = parser.parse_args()

    print(f"# onnxruntime {ort.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
    rng = np.random.default_rng(0)
    for threads in args.threads:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types
            sys.exit(f"cannot load {args.model}: {e}")
        dim = latent_dim(session, args.model)
        for batch in args.batches:
            z = rng.standard_normal((batch, dim), dtype=np.float32)
            feed = {INPUT_LATENT: z}
            session.run(None, feed)  # warm-up
            best = min(seconds_per_call(session, feed, args.seconds) for _ in range(args.rounds))
            print(
                f"batch={batch} threads={threads} images_per_s={batch / best:.1f} rounds={args.rounds}",
                flush=True,
            )


if __name__ == "__main__":
    main()
