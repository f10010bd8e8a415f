//! The trainer against its PyTorch peer, from one run: `bash scripts/bench.sh` (or
//! `GAN_BENCH_ONLY=peer bash scripts/bench.sh` for this table alone).
//!
//! For each case it times our `GanTrainer::step` (burn 0.22, burn-flex, our kernels, the
//! trainer binary's allocator) and then runs `scripts/bench_torch.py` (same networks, Adam,
//! BCE, 2 threads; PyTorch from `.venv-bench/`, installed by `scripts/bench_torch_setup.sh` for
//! the benchmark only) and prints one table: steps/s (or ms for the single layers) of both and
//! the ratio ours / PyTorch (above 1: we are faster).
//!
//! Cases: MLP GAN batch 128 (1x28x28); DCGAN 28x28 width 64 batch 64; DCGAN 64x64 RGB width 64
//! batch 64; conditional DCGAN 28x28 (10 classes) batch 64; one conv 64->128, 14->7, k4 s2 p1
//! and one conv-transpose 128->64, 7->14, batch 64, forward + backward. Both sides train on
//! random images (the cost does not depend on the pixels). Then the peak resident memory of a
//! DCGAN 28x28 batch-64 training (20 steps, each side in a process of its own).
//!
//! Nothing is asserted; figures are meaningful only on an otherwise idle machine (a line under
//! the table says how busy the other cores were). PyTorch runs with `OPENBLAS_CORETYPE` and
//! `OPENBLAS_L2_SIZE` removed from its environment: set on this kind of machine for old
//! OpenBLAS builds, they slow current numerical libraries.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use burn::prelude::*;
use gan_trainer::data::Dataset;
use gan_trainer::kernels::{self, Conv};
use gan_trainer::model::{Arch, ImageShape};
use gan_trainer::train::{GanTrainer, TrainConfig};

/// The trainer binary's allocator (trainer/Cargo.toml says why), so the figures are the
/// binary's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct GanCase {
    name: &'static str,
    label: &'static str,
    arch: Arch,
    shape: ImageShape,
    classes: usize,
    batch: usize,
    warmup: usize,
    max_steps: usize,
}

const fn shape(channels: usize, side: usize) -> ImageShape {
    ImageShape {
        channels,
        height: side,
        width: side,
    }
}

const GAN_CASES: [GanCase; 4] = [
    GanCase {
        name: "mlp",
        label: "MLP GAN 28x28, batch 128",
        arch: Arch::Mlp,
        shape: shape(1, 28),
        classes: 0,
        batch: 128,
        warmup: 5,
        max_steps: 300,
    },
    GanCase {
        name: "dcgan28",
        label: "DCGAN 28x28 w64, batch 64",
        arch: Arch::Dcgan,
        shape: shape(1, 28),
        classes: 0,
        batch: 64,
        warmup: 5,
        max_steps: 80,
    },
    GanCase {
        name: "dcgan64rgb",
        label: "DCGAN 64x64 RGB w64, batch 64",
        arch: Arch::Dcgan,
        shape: shape(3, 64),
        classes: 0,
        batch: 64,
        warmup: 2,
        max_steps: 10,
    },
    GanCase {
        name: "cdcgan28",
        label: "cond. DCGAN 28x28 w64, batch 64",
        arch: Arch::Dcgan,
        shape: shape(1, 28),
        classes: 10,
        batch: 64,
        warmup: 5,
        max_steps: 80,
    },
];

/// Time budget of one of our cases after its warm-up (the step count caps it first when fast).
const BUDGET: Duration = Duration::from_secs(10);

fn random_dataset(shape: ImageShape, classes: usize, len: usize) -> Dataset {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    Dataset {
        pixels: (0..len * shape.len()).map(|_| next() as u8).collect(),
        len,
        channels: shape.channels,
        height: shape.height,
        width: shape.width,
        labels: (classes > 0).then(|| (0..len).map(|i| (i % classes) as u8).collect()),
    }
}

fn trainer(case: &GanCase) -> Result<(GanTrainer, Dataset)> {
    let data = random_dataset(case.shape, case.classes, 512);
    let config = TrainConfig {
        batch_size: case.batch,
        arch: case.arch,
        num_classes: case.classes,
        ..TrainConfig::default()
    };
    let t = GanTrainer::new(
        config,
        case.shape,
        data.len,
        &gan_trainer::device::cpu_train(),
    )
    .with_context(|| format!("setting up {}", case.name))?;
    Ok((t, data))
}

/// Our steps/s for `case`.
fn ours_gan(case: &GanCase) -> Result<f64> {
    let (mut t, data) = trainer(case)?;
    for _ in 0..case.warmup {
        t.step(&data);
    }
    let start = Instant::now();
    let mut steps = 0;
    while steps < case.max_steps && (steps < 3 || start.elapsed() < BUDGET) {
        let s = t.step(&data);
        if !(s.d_loss.is_finite() && s.g_loss.is_finite()) {
            bail!("{}: non-finite loss at step {}", case.name, s.step);
        }
        steps += 1;
    }
    Ok(steps as f64 / start.elapsed().as_secs_f64())
}

/// Our ms for one forward + backward (dX, dW, db) of a conv (`transpose`: conv-transpose) layer.
fn ours_layer(transpose: bool) -> f64 {
    let device = gan_trainer::device::cpu_train();
    let dist = burn::tensor::Distribution::Normal(0.0, 1.0);
    let (x_dims, w_dims) = if transpose {
        ([64, 128, 7, 7], [128, 64, 4, 4])
    } else {
        ([64, 64, 14, 14], [128, 64, 4, 4])
    };
    let x = Tensor::<4>::random(x_dims, dist, &device).require_grad();
    let w = Tensor::<4>::random(w_dims, dist, &device).require_grad();
    let b = (!transpose).then(|| Tensor::<1>::zeros([128], &device).require_grad());
    let c = Conv { stride: 2, pad: 1 };
    let run = || {
        let y = if transpose {
            kernels::conv_transpose2d(x.clone(), w.clone(), None, c)
        } else {
            kernels::conv2d(x.clone(), w.clone(), b.clone(), c)
        };
        let probe = y.ones_like().inner().autodiff();
        let grads = (y * probe).sum().backward();
        let gx = x.grad(&grads).expect("input gradient");
        let gw = w.grad(&grads).expect("weight gradient");
        std::hint::black_box((gx.into_data(), gw.into_data()));
    };
    for _ in 0..10 {
        run();
    }
    let n = 200;
    let start = Instant::now();
    for _ in 0..n {
        run();
    }
    start.elapsed().as_secs_f64() * 1e3 / n as f64
}

/// Peak resident memory (MiB) of a DCGAN 28x28 batch-64 training of 20 steps, measured in a
/// child process (this bench re-run with `GAN_BENCH_PEER_RSS` set).
fn ours_peak_rss() -> Result<f64> {
    let exe = std::env::current_exe()?;
    let out = Command::new(exe)
        .env("GAN_BENCH_PEER_RSS", "1")
        .output()
        .context("starting the memory child")?;
    if !out.status.success() {
        bail!(
            "the memory child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("peak_rss_mib="))
        .and_then(|v| v.trim().parse().ok())
        .context("the memory child printed no peak_rss_mib")
}

fn rss_child() -> Result<()> {
    let (mut t, data) = trainer(&GAN_CASES[1])?;
    for _ in 0..20 {
        t.step(&data);
    }
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc/self/status")?;
    println!("peak_rss_mib={:.1}", kib / 1024.0);
    Ok(())
}

/// Runs the PyTorch peer with `args`, returning its JSON report.
fn torch(python: &Path, script: &Path, args: &[&str]) -> Result<serde_json::Value> {
    let dir = tempfile::tempdir()?;
    let json = dir.path().join("torch.json");
    let status = Command::new(python)
        .arg(script)
        .args(args)
        .arg("--json")
        .arg(&json)
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE")
        .status()
        .with_context(|| format!("running {} {}", python.display(), script.display()))?;
    if !status.success() {
        bail!("the PyTorch peer failed ({status})");
    }
    let text = std::fs::read_to_string(&json).with_context(|| json.display().to_string())?;
    Ok(serde_json::from_str(&text)?)
}

/// Cores other processes kept busy between two `/proc/stat` readings (None off Linux).
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let idle = cpu.get(3)? + cpu.get(4).unwrap_or(&0);
    Some((cpu.iter().sum(), idle))
}

fn main() -> Result<()> {
    if std::env::var_os("GAN_BENCH_PEER_RSS").is_some() {
        return rss_child();
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = std::env::var_os("GAN_TORCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv-bench/bin/python"));
    if !python.exists() {
        bail!(
            "no PyTorch for the peer at {}: run `bash scripts/bench_torch_setup.sh` (or \
             `bash scripts/bench.sh`, which does), or set GAN_TORCH_PYTHON",
            python.display()
        );
    }
    let script = root.join("scripts/bench_torch.py");
    let self_ticks = || {
        std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| {
                let f: Vec<&str> = s.rsplit(')').next()?.split_whitespace().collect();
                Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
            })
    };
    let (t0, self0) = (cpu_ticks(), self_ticks());
    let wall = Instant::now();

    println!("Trainer vs PyTorch: ours first, then the PyTorch peer, same machine, 2 threads each");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("  cores: {cores}");
    let mut ours = Vec::new();
    for case in &GAN_CASES {
        let v = ours_gan(case)?;
        eprintln!("  ours {}: {v:.2} steps/s", case.name);
        ours.push(v);
    }
    let conv = ours_layer(false);
    let convt = ours_layer(true);
    eprintln!("  ours conv {conv:.2} ms, convT {convt:.2} ms");
    let ours_rss = ours_peak_rss()?;
    let busy_ours = match (t0, cpu_ticks(), self0, self_ticks()) {
        (Some((a, ai)), Some((b, bi)), Some(s0), Some(s1)) => {
            let total = (b - a) as f64;
            let busy = total - (bi - ai) as f64 - (s1 - s0) as f64;
            Some(cores as f64 * busy.max(0.0) / total.max(1.0))
        }
        _ => None,
    };
    let ours_secs = wall.elapsed().as_secs_f64();

    let report = torch(&python, &script, &["all"])?;
    let rss_report = torch(&python, &script, &["dcgan28", "--steps", "20"])?;
    let case = |name: &str, key: &str| -> Result<f64> {
        report["cases"][name][key]
            .as_f64()
            .with_context(|| format!("PyTorch report lacks cases.{name}.{key}"))
    };

    println!();
    println!(
        "  PyTorch {} ({} threads, {})",
        report["torch"].as_str().unwrap_or("?"),
        report["threads"],
        report["cpu_capability"].as_str().unwrap_or("?")
    );
    println!(
        "  {:<34} {:>12} {:>12} {:>14}",
        "case", "ours", "PyTorch", "ours/PyTorch"
    );
    for (case_def, ours) in GAN_CASES.iter().zip(&ours) {
        let theirs = case(case_def.name, "steps_per_s")?;
        println!(
            "  {:<34} {:>8.2} st/s {:>7.2} st/s {:>13.2}x",
            case_def.label,
            ours,
            theirs,
            ours / theirs
        );
    }
    for (label, name, ms) in [
        ("conv 64->128 14->7 fwd+bwd", "conv", conv),
        ("conv-T 128->64 7->14 fwd+bwd", "convT", convt),
    ] {
        let theirs = case(name, "ms_mean")?;
        println!(
            "  {:<34} {:>9.2} ms {:>9.2} ms {:>13.2}x",
            label,
            ms,
            theirs,
            theirs / ms
        );
    }
    let theirs_rss = rss_report["peak_rss_mib"]
        .as_f64()
        .context("PyTorch report lacks peak_rss_mib")?;
    println!(
        "  {:<34} {:>8.0} MiB {:>8.0} MiB {:>13.2}x",
        "peak RSS, DCGAN 28x28 b64 training",
        ours_rss,
        theirs_rss,
        ours_rss / theirs_rss
    );
    println!("  (ratios: above 1 means ours is faster; for memory, ours / PyTorch)");
    match busy_ours {
        Some(b) => println!(
            "  other processes kept {b:.2} of {cores} cores busy during our {ours_secs:.0} s; \
             the PyTorch script reports its own (busy_other) above"
        ),
        None => println!("  (no /proc/stat: could not tell how busy the machine was)"),
    }
    Ok(())
}
