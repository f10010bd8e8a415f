//! Runs training steps of one configuration on synthetic data, for profiling (`perf record`):
//! `cargo run --release -p gan-trainer --example step_profile -- mlp|dcgan|cdcgan|fastgan|cfastgan
//! BATCH STEPS SIDE CHANNELS`. The FastGAN cases use the shipped emoji64 recipe (width 32,
//! hinge, spectral norm, DiffAugment, mode seeking, EMA).

/// See trainer/Cargo.toml: large buffers are reused instead of page-faulted in each step.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use gan_trainer::data::Dataset;
use gan_trainer::model::{Arch, ImageShape};
use gan_trainer::train::{GanTrainer, TrainConfig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arch = args.get(1).map(String::as_str).unwrap_or("dcgan");
    let batch: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(64);
    let steps: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(20);
    let side: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(28);
    let channels: usize = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(1);
    let n = 512;
    let data = Dataset {
        pixels: (0..n * channels * side * side)
            .map(|i| (i * 37 % 256) as u8)
            .collect(),
        len: n,
        channels,
        height: side,
        width: side,
        labels: Some((0..n).map(|i| (i % 10) as u8).collect()),
    };
    let fastgan = arch.ends_with("fastgan");
    let config = TrainConfig {
        batch_size: batch,
        arch: match arch {
            "mlp" => Arch::Mlp,
            _ if fastgan => Arch::Fastgan,
            _ => Arch::Dcgan,
        },
        num_classes: if arch.starts_with('c') { 10 } else { 0 },
        ..TrainConfig::default()
    };
    let config = if fastgan {
        TrainConfig {
            width: 32,
            loss: gan_trainer::loss::Loss::Hinge,
            spectral_norm: true,
            ema: Some(0.999),
            mode_seeking: Some(1.0),
            diffaugment: "color,translation,cutout".parse().unwrap(),
            ..config
        }
    } else {
        config
    };
    let shape = ImageShape {
        channels,
        height: side,
        width: side,
    };
    let mut t = GanTrainer::new(config, shape, n, &gan_trainer::device::cpu_train()).unwrap();
    for _ in 0..3 {
        t.step(&data);
    }
    let start = std::time::Instant::now();
    for _ in 0..steps {
        t.step(&data);
    }
    let s = start.elapsed().as_secs_f64();
    println!(
        "{arch} batch {batch} {side}x{side}x{channels}: {:.1} ms/step, {:.2} steps/s",
        s * 1e3 / steps as f64,
        steps as f64 / s
    );
}
