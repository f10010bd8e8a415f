#!/usr/bin/env python3
"""PyTorch peer benchmark: training steps/s of the same GANs the Rust trainer trains, and the
time of its two convolution layers, so that the Rust figures can be reported as ratios.

Install PyTorch once (its own venv, .venv-bench/, bench-only):
    bash scripts/bench_torch_setup.sh
Run:
    .venv-bench/bin/python scripts/bench_torch.py [CASE ...] [--threads 2] [--steps N]
        [--warmup N] [--batch N] [--seed 0] [--json FILE]
CASE is one or more of mlp, dcgan28, dcgan64rgb, cdcgan28, conv, convT, or all (the default).

Cases (what the Rust trainer calls one step, trainer/src/train.rs `GanTrainer::step` with the
default d_steps = 1: one D update on a real batch and a fake batch, then one G update on fresh
noise, each network with its own Adam):
- mlp:        MLP GAN, 28x28x1, latent 100, batch 128;
- dcgan28:    DCGAN, 28x28x1, width 64, batch 64;
- dcgan64rgb: DCGAN, 64x64x3, width 64, batch 64;
- cdcgan28:   conditional DCGAN, 28x28x1, 10 classes, width 64, batch 64;
- conv:       one Conv2d 64->128, 14x14 -> 7x7 (kernel 4, stride 2, padding 1, with bias: D's
              second convolution in dcgan28), batch 64, forward + backward (dX, dW, db);
- convT:      one ConvTranspose2d 128->64, 7x7 -> 14x14 (kernel 4, stride 2, padding 1, no
              bias: G's first transposed convolution in dcgan28), batch 64, forward +
              backward (dX, dW).
The data is random (the point is time, not quality): real images torch.randn clamped to
[-1, 1], labels uniform over the classes. float32, CPU, torch.set_num_threads(--threads).

Timing: --warmup untimed steps, then --steps timed steps (time.perf_counter around the whole
loop; per-step times are kept for the median and min in the JSON). The defaults aim at 5-10 s a
case on two cores.

Output: comment lines start with `#` (torch version, threads, parameter counts, and how many
cores other processes kept busy meanwhile, from /proc/stat: the figures mean something only
when that is near 0). Each case prints one machine-readable line:
    torch mlp steps_per_s=81.2 ms_per_step=12.3 steps=200 batch=128 busy_other=0.02
    torch conv ms=11.9 steps=800 batch=64 busy_other=0.02
--json FILE also writes every figure as one JSON object. Errors go to stderr, exit status 1.
"""

import argparse
import json
import resource
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

# --- Constants mirrored from the Rust sources ---------------------------------------------

# trainer/src/model/mlp.rs: G_HIDDEN, D_HIDDEN, LEAKY_SLOPE.
MLP_G_HIDDEN = (256, 512, 1024)
MLP_D_HIDDEN = (512, 256)
LEAKY_SLOPE = 0.2
# trainer/src/model/dcgan.rs: KERNEL, MAX_BLOCKS, MIN_SIDE; BN_EPSILON = 1e-5 and
# BN_MOMENTUM = 0.1 are PyTorch's BatchNorm2d defaults, so nn.BatchNorm2d(c) matches.
KERNEL = 4
MAX_BLOCKS = 4
MIN_SIDE = 3
# trainer/src/model/net.rs: LABEL_EMBED_DIM.
LABEL_EMBED_DIM = 50
# trainer/src/train.rs: TrainConfig::default() and GanTrainer::new's AdamConfig
# (lr 2e-4, beta1 0.5, beta2 0.999, epsilon 1e-8; no weight decay), latent 100, width 64,
# dropout 0.3.
LR = 2e-4
BETAS = (0.5, 0.999)
ADAM_EPS = 1e-8
LATENT_DIM = 100
WIDTH = 64
DROPOUT = 0.3

# Real batches drawn up front and cycled, so drawing them is not timed (the Rust trainer copies
# a batch out of the in-memory dataset, which is cheap next to a step).
REAL_POOL = 4
# Cores kept busy by other processes above which a case's figure is flagged as skewed (the
# Rust benchmark's BUSY_CORES, tests/benches/throughput.rs).
BUSY_CORES = 0.2


# --- Networks -----------------------------------------------------------------------------
#
# Initialization: the Rust default `--init pytorch` (trainer/src/model/mod.rs `Init::Pytorch`,
# `init_weights`, `init_bias`, `seeded_linear`) draws every Linear / Conv2d / ConvTranspose2d
# weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), which is exactly PyTorch's default
# for these modules (kaiming_uniform(a=sqrt(5)) reduces to it). For ConvTranspose2d both sides
# take fan_in = c_out * k * k from the weight [c_in, c_out, k, k] (comment in dcgan.rs
# `DcganGenerator::new`). BatchNorm: gamma 1, beta 0 (PyTorch's default; dcgan.rs `batch_norm`
# only changes gamma for `--init normal`). The label embedding is N(0, 1), nn.Embedding's
# default (net.rs `Generator::new`). Only the projection embedding needs explicit init: the
# Rust side draws it with `init_weights(classes * f, fan_in = f, ...)`, i.e. U(-1/sqrt(f), ..),
# not nn.Embedding's N(0, 1). The Rust side keeps Linear weights as [d_in, d_out] (burn's
# layout) where PyTorch keeps [d_out, d_in]: the same products either way.


def blocks_for(height, width):
    """trainer/src/model/dcgan.rs `blocks_for`: the most stride-2 halvings (at most 4) that
    leave a map of at least 3x3 with both sides still divisible: 28 -> 2, 32 -> 3, 64 -> 4."""
    k = 0
    for cand in range(1, MAX_BLOCKS + 1):
        d = 1 << cand
        if height % d or width % d or height // d < MIN_SIDE or width // d < MIN_SIDE:
            break
        k = cand
    if k == 0:
        raise ValueError(f"DCGAN needs a side that halves at least once to >= {MIN_SIDE}")
    return k


class MlpGenerator(nn.Module):
    """trainer/src/model/mlp.rs `MlpGenerator`: in -> 256 -> 512 -> 1024 -> C*H*W, LeakyReLU(0.2)
    after each hidden layer, tanh last, reshaped to [N, C, H, W]."""

    def __init__(self, in_dim, shape):
        super().__init__()
        self.shape = shape
        c, h, w = shape
        dims = (in_dim, *MLP_G_HIDDEN, c * h * w)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))

    def forward(self, x):
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            x = F.leaky_relu(x, LEAKY_SLOPE) if i < last else torch.tanh(x)
        return x.reshape(x.shape[0], *self.shape)


class MlpDiscriminatorBody(nn.Module):
    """trainer/src/model/mlp.rs `MlpDiscriminator`: flatten -> 512 -> 256, LeakyReLU(0.2) after
    each; no dropout, no batch norm. The 256 outputs are the features."""

    def __init__(self, shape):
        super().__init__()
        c, h, w = shape
        dims = (c * h * w, *MLP_D_HIDDEN)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))
        self.feature_dim = MLP_D_HIDDEN[-1]

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.layers:
            x = F.leaky_relu(layer(x), LEAKY_SLOPE)
        return x


class DcganGenerator(nn.Module):
    """trainer/src/model/dcgan.rs `DcganGenerator`: Linear(in, C0*h0*w0) -> reshape
    [C0, h0, w0] -> BatchNorm + ReLU -> k ConvTranspose2d(4, stride 2, padding 1), channels
    width << (k-1-i) halving towards the image, BatchNorm + ReLU after all but the last, tanh
    after the last. Only the last transposed convolution has a bias (`.with_bias(last)`: the
    others feed a batch norm). 28x28 width 64: Linear -> 128x7x7, 128->64 (14), 64->1 (28)."""

    def __init__(self, in_dim, shape, width):
        super().__init__()
        c, h, w = shape
        k = blocks_for(h, w)
        chans = [width << (k - 1 - i) for i in range(k)]
        self.start = (chans[0], h >> k, w >> k)
        self.project = nn.Linear(in_dim, chans[0] * (h >> k) * (w >> k))
        self.project_norm = nn.BatchNorm2d(chans[0])
        self.ups = nn.ModuleList()
        self.norms = nn.ModuleList()
        for i in range(k):
            last = i + 1 == k
            c_out = c if last else chans[i + 1]
            self.ups.append(nn.ConvTranspose2d(chans[i], c_out, KERNEL, stride=2, padding=1,
                                               bias=last))
            if not last:
                self.norms.append(nn.BatchNorm2d(c_out))

    def forward(self, z):
        x = self.project(z).reshape(z.shape[0], *self.start)
        x = F.relu(self.project_norm(x))
        for i, up in enumerate(self.ups):
            x = up(x)
            x = F.relu(self.norms[i](x)) if i < len(self.norms) else torch.tanh(x)
        return x


class DcganDiscriminatorBody(nn.Module):
    """trainer/src/model/dcgan.rs `DcganDiscriminator`: k Conv2d(4, stride 2, padding 1), all
    with a bias, channels width << i; BatchNorm after every convolution but the first (on by
    default: train.rs `TrainConfig::net` turns it off only for WGAN-GP), then LeakyReLU(0.2),
    then dropout (inverted, p = 0.3) after every block. Features: the flattened last map
    (28x28 width 64: 1->64 (14), 64->128 (7); 128*7*7 = 6272 features)."""

    def __init__(self, shape, width, dropout):
        super().__init__()
        c, h, w = shape
        k = blocks_for(h, w)
        self.dropout = dropout
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        c_in = c
        for i in range(k):
            c_out = width << i
            self.convs.append(nn.Conv2d(c_in, c_out, KERNEL, stride=2, padding=1, bias=True))
            if i > 0:
                self.norms.append(nn.BatchNorm2d(c_out))
            c_in = c_out
        self.feature_dim = c_in * (h >> k) * (w >> k)

    def forward(self, x):
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i > 0:
                x = self.norms[i - 1](x)
            x = F.leaky_relu(x, LEAKY_SLOPE)
            # The Rust D always gets a dropout seed while training (train.rs d_step / g_step
            # pass Some(seed)), so dropout is on in both updates; so is it here (train mode).
            x = F.dropout(x, self.dropout, training=self.training)
        return x.flatten(1)


class Generator(nn.Module):
    """trainer/src/model/net.rs `Generator`: conditional models append a learned 50-d label
    embedding (N(0, 1)) to the latent before the body."""

    def __init__(self, arch, shape, num_classes, width):
        super().__init__()
        in_dim = LATENT_DIM + (LABEL_EMBED_DIM if num_classes else 0)
        self.body = (MlpGenerator(in_dim, shape) if arch == "mlp"
                     else DcganGenerator(in_dim, shape, width))
        self.label_embedding = nn.Embedding(num_classes, LABEL_EMBED_DIM) if num_classes else None

    def forward(self, z, labels=None):
        if self.label_embedding is not None:
            z = torch.cat([z, self.label_embedding(labels)], dim=1)
        return self.body(z)


class Discriminator(nn.Module):
    """trainer/src/model/net.rs `Discriminator`: features h from the body, score
    head(h) (Linear(f, 1)) plus, when conditional, <embed(y), h> (projection discriminator,
    Miyato & Koyama 2018) with a [classes, f] embedding."""

    def __init__(self, arch, shape, num_classes, width, dropout):
        super().__init__()
        self.body = (MlpDiscriminatorBody(shape) if arch == "mlp"
                     else DcganDiscriminatorBody(shape, width, dropout))
        f = self.body.feature_dim
        self.head = nn.Linear(f, 1)
        self.projection = None
        if num_classes:
            self.projection = nn.Embedding(num_classes, f)
            bound = 1.0 / math.sqrt(f)  # mod.rs init_weights, Init::Pytorch, fan_in = f
            nn.init.uniform_(self.projection.weight, -bound, bound)

    def forward(self, images, labels=None):
        h = self.body(images)
        score = self.head(h)
        if self.projection is not None:
            # `score + (e * h).sum_dim(1)` in net.rs: burn's sum_dim keeps the dim -> [N, 1].
            score = score + (self.projection(labels) * h).sum(dim=1, keepdim=True)
        return score


def bce_with_logits(logits, real):
    """trainer/src/loss.rs `bce_with_logits`: mean BCE against an all-1 (real) or all-0 target;
    the Rust side computes it as the stable softplus(-x) / softplus(x), which is what
    PyTorch's binary_cross_entropy_with_logits computes too."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


class GanStep:
    """One `GanTrainer::step` (trainer/src/train.rs) with `--loss ns` (the default)."""

    def __init__(self, arch, shape, num_classes, batch, width=WIDTH, dropout=DROPOUT):
        self.batch = batch
        self.num_classes = num_classes
        # Built in the Rust order: G, then D (GanTrainer::new); both start in train mode and stay
        # there, as the Rust trainer's autodiff networks do (batch statistics in batch norm).
        self.g = Generator(arch, shape, num_classes, width)
        self.d = Discriminator(arch, shape, num_classes, width, dropout)
        self.g.train()
        self.d.train()
        # Separate Adam optimizers over separate parameter sets (GanTrainer::new: opt_g, opt_d).
        # PyTorch's default Adam implementation for CPU tensors is used (not fused/foreach).
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=LR, betas=BETAS, eps=ADAM_EPS)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=LR, betas=BETAS, eps=ADAM_EPS)
        self.real = [torch.randn(batch, *shape).clamp_(-1.0, 1.0) for _ in range(REAL_POOL)]
        self.real_labels = [self.labels() for _ in range(REAL_POOL)]
        self.count = 0

    def labels(self):
        # next_noise / the dataset's labels: uniform classes; None when unconditional.
        if not self.num_classes:
            return None
        return torch.randint(0, self.num_classes, (self.batch,))

    def noise(self):
        # GanTrainer::next_noise: N(0, 1) latents [N, 100], plus uniformly drawn classes.
        return torch.randn(self.batch, LATENT_DIM), self.labels()

    def __call__(self):
        i = self.count % REAL_POOL
        self.count += 1
        real, real_labels = self.real[i], self.real_labels[i]

        # --- D update (GanTrainer::d_step) ---
        z, fake_labels = self.noise()
        # G's images are constants for this update: the Rust side runs G in training mode and
        # `.detach()`es the result; no_grad is PyTorch's equivalent (no graph kept for G).
        # Batch norm running statistics of G are updated either way.
        with torch.no_grad():
            fake = self.g(z, fake_labels)
        # Two separate D passes, real then fake (not one concatenated batch): batch norm's
        # statistics and the dropout masks are per pass, as in d_step.
        logits_real = self.d(real, real_labels)
        logits_fake = self.d(fake, fake_labels)
        # The Rust step reads D's accuracies and loss back as scalars each step (StepStats).
        acc_real = (logits_real > 0.0).float().mean().item()
        acc_fake = (logits_fake <= 0.0).float().mean().item()
        d_loss = bce_with_logits(logits_real, True) + bce_with_logits(logits_fake, False)
        d_loss_value = d_loss.item()
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()

        # --- G update (GanTrainer::g_step), on fresh noise ---
        z, fake_labels = self.noise()
        # `self.d.clone().no_grad()` on the Rust side: D's parameters get no gradient (no dW
        # work in D's backward pass), gradients still flow through D to G. D stays in train
        # mode (dropout with its own seed, batch statistics).
        self.d.requires_grad_(False)
        try:
            g_loss = bce_with_logits(self.d(self.g(z, fake_labels), fake_labels), True)
            g_loss_value = g_loss.item()
            self.opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            self.opt_g.step()
        finally:
            self.d.requires_grad_(True)
        return d_loss_value, g_loss_value, acc_real, acc_fake


class LayerStep:
    """Forward + backward of one layer on a fixed input: y = layer(x), then the gradients of
    <y, dy> with respect to x and the weight (and bias), dy random. torch.autograd.grad returns
    them without accumulating into .grad, so every step does the same work."""

    def __init__(self, layer, x_shape):
        self.layer = layer
        self.x = torch.randn(*x_shape, requires_grad=True)
        with torch.no_grad():
            y_shape = layer(self.x).shape
        self.dy = torch.randn(y_shape)
        self.wrt = [self.x, *layer.parameters()]

    def __call__(self):
        y = self.layer(self.x)
        return torch.autograd.grad(y, self.wrt, self.dy)


# --- Cases --------------------------------------------------------------------------------
#
# kind "gan": steps/s of GanStep; kind "layer": ms per LayerStep. Default steps/warm-up aim at
# 5-10 s a case on two cores (the Rust benchmark, tests/benches/throughput.rs, warms up 5 steps).

CASES = {
    "mlp": dict(kind="gan", arch="mlp", shape=(1, 28, 28), classes=0, batch=128,
                steps=300, warmup=5),
    "dcgan28": dict(kind="gan", arch="dcgan", shape=(1, 28, 28), classes=0, batch=64,
                    steps=80, warmup=5),
    "dcgan64rgb": dict(kind="gan", arch="dcgan", shape=(3, 64, 64), classes=0, batch=64,
                       steps=10, warmup=2),
    "cdcgan28": dict(kind="gan", arch="dcgan", shape=(1, 28, 28), classes=10, batch=64,
                     steps=80, warmup=5),
    # D's second convolution of dcgan28 (with its bias).
    "conv": dict(kind="layer", batch=64, steps=800, warmup=10,
                 make=lambda: nn.Conv2d(64, 128, KERNEL, stride=2, padding=1, bias=True),
                 x_shape=(64, 14, 14)),
    # G's first transposed convolution of dcgan28 (no bias: a batch norm follows it).
    "convT": dict(kind="layer", batch=64, steps=800, warmup=10,
                  make=lambda: nn.ConvTranspose2d(128, 64, KERNEL, stride=2, padding=1,
                                                  bias=False),
                  x_shape=(128, 7, 7)),
}


class CpuTimes:
    """Machine-wide busy CPU time and this process's own, from Linux's /proc/stat and
    os.times(), to tell how many cores other processes kept busy during a case (as the Rust
    benchmark's `print_interference` does). None where /proc/stat is missing."""

    def __init__(self):
        self.wall = time.perf_counter()
        t = os.times()
        self.own = t.user + t.system + t.children_user + t.children_system
        self.busy = None
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
            # user nice system idle iowait irq softirq steal ...: busy = all - idle - iowait.
            self.busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass

    def other_cores_since(self, start):
        if self.busy is None or start.busy is None:
            return None
        wall = self.wall - start.wall
        if wall <= 0:
            return None
        other = (self.busy - start.busy) - (self.own - start.own)
        return max(other, 0.0) / wall


def run_case(name, spec, args):
    torch.manual_seed(args.seed)
    batch = args.batch or spec["batch"]
    steps = args.steps or spec["steps"]
    warmup = spec["warmup"] if args.warmup is None else args.warmup
    if spec["kind"] == "gan":
        step = GanStep(spec["arch"], spec["shape"], spec["classes"], batch)
        params = {"g_params": sum(p.numel() for p in step.g.parameters()),
                  "d_params": sum(p.numel() for p in step.d.parameters())}
        c, h, w = spec["shape"]
        desc = (f"{spec['arch']} {c}x{h}x{w}"
                + (f" classes={spec['classes']}" if spec["classes"] else "")
                + (f" width={WIDTH}" if spec["arch"] == "dcgan" else ""))
    else:
        layer = spec["make"]()
        step = LayerStep(layer, (batch, *spec["x_shape"]))
        params = {"params": sum(p.numel() for p in layer.parameters())}
        desc = f"{layer!r} x=[{batch}, {', '.join(map(str, spec['x_shape']))}]"
    print(f"# {name}: {desc}, " + ", ".join(f"{k}={v}" for k, v in params.items()), flush=True)

    for _ in range(warmup):
        step()
    times = []
    start = CpuTimes()
    for _ in range(steps):
        t0 = time.perf_counter()
        out = step()
        times.append(time.perf_counter() - t0)
    total = time.perf_counter() - start.wall
    end = CpuTimes()
    busy = end.other_cores_since(start)
    if spec["kind"] == "gan":
        d_loss, g_loss = out[0], out[1]
        if not (math.isfinite(d_loss) and math.isfinite(g_loss)):
            raise RuntimeError(f"{name}: non-finite loss (D {d_loss}, G {g_loss})")

    result = dict(kind=spec["kind"], batch=batch, steps=steps, warmup=warmup,
                  seconds=total, ms_mean=1e3 * total / steps,
                  ms_median=1e3 * statistics.median(times), ms_min=1e3 * min(times),
                  busy_other_cores=busy, **params)
    busy_text = "" if busy is None else f" busy_other={busy:.2f}"
    if spec["kind"] == "gan":
        result["steps_per_s"] = steps / total
        result["images_per_s"] = steps * batch / total
        print(f"torch {name} steps_per_s={steps / total:.3f} ms_per_step={1e3 * total / steps:.2f} "
              f"steps={steps} batch={batch}{busy_text}", flush=True)
    else:
        print(f"torch {name} ms={1e3 * total / steps:.3f} steps={steps} batch={batch}{busy_text}",
              flush=True)
    if busy is not None and busy > BUSY_CORES:
        # With --threads >= the free cores, PyTorch's OpenMP workers wait on each other at
        # every op, and a descheduled one stalls them all: a step can get many times slower.
        print(f"# warning: other processes kept {busy:.2f} cores busy during {name}: its figure "
              "is skewed", flush=True)
    return result


def int_at_least(lowest, what):
    """An argparse type: an integer >= `lowest`, named `what` in the error."""
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            v = None
        if v is None or v < lowest:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return v
    return parse


positive_int = int_at_least(1, "a positive integer")
non_negative_int = int_at_least(0, "a non-negative integer")


def main():
    parser = argparse.ArgumentParser(
        description="PyTorch peer benchmark of the Rust GAN trainer (see the module docstring).")
    parser.add_argument("cases", nargs="*", default=["all"], metavar="CASE",
                        choices=[*CASES, "all"],
                        help=f"cases to run: {', '.join(CASES)}, or all (default)")
    parser.add_argument("--threads", type=positive_int, default=2,
                        help="torch.set_num_threads (default 2)")
    parser.add_argument("--steps", type=positive_int,
                        help="timed steps for every case (default: per case, about 5-10 s each)")
    parser.add_argument("--warmup", type=non_negative_int,
                        help="untimed steps before timing (default: per case, 2-10)")
    parser.add_argument("--batch", type=positive_int,
                        help="batch size for every case (default: 128 for mlp, 64 otherwise)")
    parser.add_argument("--seed", type=int, default=0, help="torch.manual_seed (default 0)")
    parser.add_argument("--json", metavar="FILE", help="also write all figures to FILE as JSON")
    args = parser.parse_args()

    names = list(CASES) if "all" in args.cases else list(dict.fromkeys(args.cases))
    torch.set_num_threads(args.threads)
    capability = (torch.backends.cpu.get_cpu_capability()
                  if hasattr(torch.backends, "cpu") else "unknown")
    print(f"# torch {torch.__version__} threads={torch.get_num_threads()} "
          f"cpu_capability={capability} mkldnn={torch.backends.mkldnn.is_available()} "
          f"cores={os.cpu_count()}", flush=True)

    report = {"torch": torch.__version__, "threads": torch.get_num_threads(),
              "cpu_capability": capability, "mkldnn": torch.backends.mkldnn.is_available(),
              "cores": os.cpu_count(), "cases": {}}
    try:
        for name in names:
            report["cases"][name] = run_case(name, CASES[name], args)
    except (RuntimeError, ValueError) as e:
        print(f"bench_torch: {e}", file=sys.stderr)
        return 1
    # Peak resident memory of this process (Linux reports ru_maxrss in KiB).
    report["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"# peak_rss_mib={report['peak_rss_mib']:.1f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
