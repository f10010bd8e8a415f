#!/usr/bin/env python3
"""Pools the runs of several `trainer augment-eval --setting rebalance --json` reports (e.g. the
same settings run with --seeds 0,1,2 and --seeds 3,4,5,6,7) and prints the paired differences
with a 95% t-interval: mean +- t(0.975, n-1) * s / sqrt(n), s the sample standard deviation,
as the trainer's own report computes it for one file.

Usage: python3 scripts/augment_combine.py REPORT.json [REPORT.json ...]
"""
import json
import math
import sys
from statistics import mean, stdev

# t(0.975, df), df = 1..10
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228]


def interval(xs):
    n = len(xs)
    if n < 2 or n - 1 > len(T975):
        sys.exit(f"need 2..{len(T975) + 1} runs, got {n}")
    m, s = mean(xs), stdev(xs)
    h = T975[n - 2] * s / math.sqrt(n)
    return f"{m:+.2f} points (sample sd {s:.2f}), 95% interval [{m - h:+.2f}, {m + h:+.2f}]"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    runs = []
    for path in sys.argv[1:]:
        with open(path) as f:
            runs += json.load(f)["runs"]
    pct = lambda k: [100 * r[k] for r in runs]
    print("seeds:", [r["seed"] for r in runs])
    for k in ("baseline_accuracy", "augmented_accuracy", "baseline_minority_recall",
              "augmented_minority_recall", "synthetic_class_accuracy"):
        v = pct(k)
        print(f"{k}: {mean(v):.1f}% (sample sd {stdev(v):.1f})")
    acc = [100 * (r["augmented_accuracy"] - r["baseline_accuracy"]) for r in runs]
    rec = [100 * (r["augmented_minority_recall"] - r["baseline_minority_recall"]) for r in runs]
    print("accuracy difference:", interval(acc), [round(x, 1) for x in acc])
    print("minority recall difference:", interval(rec), [round(x, 1) for x in rec])


main()
