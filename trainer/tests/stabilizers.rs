//! The training stabilizers on real data (MNIST), each in a short conditional DCGAN run:
//! what each one is for must be visible in what the run does.

use gan_trainer::data::{self, Dataset};
use gan_trainer::model::{Arch, Generator, ImageShape};
use gan_trainer::train::{sample_grid, GanTrainer, TrainConfig};

mod common;
use common::shared_data;

fn mnist() -> Dataset {
    data::load_dir(&shared_data("mnist")).expect("load MNIST")
}

/// A small conditional DCGAN's configuration.
fn small(arch: Arch) -> TrainConfig {
    TrainConfig {
        arch,
        num_classes: 10,
        width: 16,
        batch_size: 32,
        seed: 4,
        ..TrainConfig::default()
    }
}

fn trainer(config: TrainConfig, data: &Dataset) -> GanTrainer {
    let shape = ImageShape {
        channels: data.channels,
        height: data.height,
        width: data.width,
    };
    GanTrainer::new(config, shape, data.len, &gan_trainer::device::cpu_train()).unwrap()
}

fn mean_abs_diff(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from((x - y).abs()))
        .sum::<f64>()
        / a.len() as f64
}

/// `--ema`: the average moves smoothly. Step by step, the live generator's samples zig-zag
/// with every update, so the path they travel is much longer than the distance they end up
/// from where they started; the average's samples travel almost straight. And the average's
/// samples are not the live generator's.
#[test]
fn ema_generator_changes_smoothly_and_is_what_is_sampled() {
    let data = mnist();
    let mut t = trainer(
        TrainConfig {
            ema: Some(0.99),
            ..small(Arch::Dcgan)
        },
        &data,
    );
    let dev = gan_trainer::device::cpu();
    let grid = |g: &Generator| sample_grid(g, 3, 20, &dev).data().to_vec();
    for _ in 0..100 {
        t.step(&data);
    }
    let (mut ema_path, mut live_path) = (0.0, 0.0);
    let (mut ema, mut live) = (grid(&t.generator()), grid(&t.live_generator()));
    let (ema_start, live_start) = (ema.clone(), live.clone());
    for _ in 0..30 {
        t.step(&data);
        let (e, l) = (grid(&t.generator()), grid(&t.live_generator()));
        ema_path += mean_abs_diff(&ema, &e);
        live_path += mean_abs_diff(&live, &l);
        (ema, live) = (e, l);
    }
    // Path length over net displacement: 1 for a straight line.
    let ema_winding = ema_path / mean_abs_diff(&ema_start, &ema);
    let live_winding = live_path / mean_abs_diff(&live_start, &live);
    eprintln!("path / displacement: average {ema_winding:.3}, live {live_winding:.3}");
    assert!(
        ema_winding < 1.15 && live_winding > ema_winding + 0.15,
        "path / displacement over 30 steps: average {ema_winding:.3} ({ema_path:.4}), \
         live {live_winding:.3} ({live_path:.4})"
    );
    assert!(
        mean_abs_diff(&ema, &live) > 1e-3,
        "the average is the live generator"
    );
    assert!(ema
        .iter()
        .all(|v| v.is_finite() && (-1.0..=1.0).contains(v)));
}

/// `--lr-g` / `--lr-d`: each network steps with its own rate. With a vanishing generator rate
/// the generator stays put while the discriminator trains at full speed. (The MLP: a DCGAN
/// generator's images would still move with its batch-norm running statistics.)
#[test]
fn two_time_scales_give_each_network_its_own_rate() {
    let data = mnist();
    let mut t = trainer(
        TrainConfig {
            lr_g: Some(1e-12),
            lr_d: Some(4e-4),
            ..small(Arch::Mlp)
        },
        &data,
    );
    let dev = gan_trainer::device::cpu();
    let before = sample_grid(&t.generator(), 3, 20, &dev).data().to_vec();
    let first = t.step(&data);
    for _ in 0..30 {
        t.step(&data);
    }
    let after = sample_grid(&t.generator(), 3, 20, &dev).data().to_vec();
    // Adam's steps are about lr in size: 1e-12 leaves the images as they were.
    let g_move = mean_abs_diff(&before, &after);
    let last = t.step(&data);
    assert!(
        last.d_loss < 0.5 * first.d_loss,
        "D did not learn: loss {} -> {}",
        first.d_loss,
        last.d_loss
    );
    assert!(
        last.d_acc_fake > 0.95,
        "D does not tell the frozen G apart: {last:?}"
    );
    let mut u = trainer(small(Arch::Mlp), &data);
    let before_u = sample_grid(&u.generator(), 3, 20, &dev).data().to_vec();
    for _ in 0..31 {
        u.step(&data);
    }
    let after_u = sample_grid(&u.generator(), 3, 20, &dev).data().to_vec();
    let u_move = mean_abs_diff(&before_u, &after_u);
    assert!(
        g_move < 1e-6 && u_move > 1e-2,
        "G with lr 1e-12 moved {g_move:.4}, with the default rate {u_move:.4}"
    );
}

/// Largest singular value of `w` viewed as `[rows, rest]`, by 200 power iterations.
fn top_singular_value(w: &[f32], rows: usize) -> f64 {
    let cols = w.len() / rows;
    let mut v = vec![1.0f64; cols];
    let mut sigma = 0.0;
    for _ in 0..200 {
        let u: Vec<f64> = (0..rows)
            .map(|r| (0..cols).map(|c| f64::from(w[r * cols + c]) * v[c]).sum())
            .collect();
        let nu = u.iter().map(|x| x * x).sum::<f64>().sqrt();
        let vn: Vec<f64> = (0..cols)
            .map(|c| {
                (0..rows)
                    .map(|r| f64::from(w[r * cols + c]) * u[r] / nu)
                    .sum()
            })
            .collect();
        sigma = vn.iter().map(|x| x * x).sum::<f64>().sqrt();
        v = vn.iter().map(|x| x / sigma).collect();
    }
    sigma
}

/// `--spectral-norm`: after training, every convolution D applies has spectral norm about 1
/// (one power iteration per D update tracks the weights as they move), where the raw
/// weights it normalizes do not.
#[test]
fn spectral_norm_keeps_each_discriminator_layer_at_norm_one() {
    let data = mnist();
    let mut t = trainer(
        TrainConfig {
            spectral_norm: true,
            loss: gan_trainer::loss::Loss::Hinge,
            dropout: 0.0,
            ..small(Arch::Dcgan)
        },
        &data,
    );
    for _ in 0..60 {
        t.step(&data);
    }
    let stats = t.step(&data);
    assert!(stats.d_loss.is_finite() && stats.g_loss.is_finite());
    let gan_trainer::model::net::DiscriminatorBody::Dcgan(body) = &t.d.body else {
        panic!("a DCGAN discriminator");
    };
    let mut raw_norms = Vec::new();
    for (i, conv) in body.convs.iter().enumerate() {
        let rows = conv.weight.dims()[0];
        let used: Vec<f32> = body
            .weight(i)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        let raw: Vec<f32> = conv
            .weight
            .val()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap();
        let (s_used, s_raw) = (
            top_singular_value(&used, rows),
            top_singular_value(&raw, rows),
        );
        assert!(
            (s_used - 1.0).abs() < 0.05,
            "layer {i}: the normalized weight has spectral norm {s_used}"
        );
        raw_norms.push(s_raw);
    }
    assert!(
        raw_norms.iter().any(|s| (s - 1.0).abs() > 0.1),
        "the raw weights already had norm 1: {raw_norms:?}"
    );
}

/// `--diffaugment`: a run trains through the augmentation (G learns from D's verdict on
/// augmented fakes) and repeats bit for bit.
#[test]
fn diffaugment_trains_and_repeats() {
    let data = mnist();
    let config = TrainConfig {
        diffaugment: "color,translation,cutout".parse().unwrap(),
        ..small(Arch::Dcgan)
    };
    let dev = gan_trainer::device::cpu();
    let run = || {
        let mut t = trainer(config.clone(), &data);
        let before = sample_grid(&t.generator(), 3, 20, &dev).data().to_vec();
        let stats: Vec<_> = (0..30).map(|_| t.step(&data)).collect();
        let after = sample_grid(&t.generator(), 3, 20, &dev).data().to_vec();
        (before, stats, after)
    };
    let (before, stats, after) = run();
    assert!(mean_abs_diff(&before, &after) > 1e-2, "G did not learn");
    assert!(stats
        .iter()
        .all(|s| s.d_loss.is_finite() && s.g_loss.is_finite()));
    let (_, stats2, after2) = run();
    assert_eq!(stats, stats2);
    assert_eq!(after, after2);
    // And it is not the run without augmentation.
    let mut plain = trainer(small(Arch::Dcgan), &data);
    let plain_stats: Vec<_> = (0..30).map(|_| plain.step(&data)).collect();
    assert_ne!(stats, plain_stats);
}

/// Mean per-pixel standard deviation of `g`'s images of one class over `n` latents.
fn spread_within_class(g: &Generator, class: i64, n: usize) -> f64 {
    use burn::prelude::*;
    let dev = gan_trainer::device::cpu();
    let dim = g.latent_dim();
    let z = gan_runtime::latent_batch(9, 0, n, dim);
    let images = g
        .forward(
            Tensor::from_data(TensorData::new(z, [n, dim]), &dev),
            Some(Tensor::from_data(
                TensorData::new(vec![class; n], [n]),
                &dev,
            )),
        )
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap();
    let d = images.len() / n;
    (0..d)
        .map(|j| {
            let m = (0..n).map(|i| f64::from(images[i * d + j])).sum::<f64>() / n as f64;
            let v = (0..n)
                .map(|i| (f64::from(images[i * d + j]) - m).powi(2))
                .sum::<f64>()
                / n as f64;
            v.sqrt()
        })
        .sum::<f64>()
        / d as f64
}

/// `--mode-seeking`: a conditional G left alone learns its classes and comes to ignore its
/// latent (one drawing per class by step 300-600 on MNIST); with the mode-seeking term,
/// images of one class keep varying with the latent. 200 steps is early in that process
/// (measured spread: 0.23 plain, 0.33 with the term; by step 1,000 plain is at 0.06).
#[test]
fn mode_seeking_makes_the_latent_matter_within_a_class() {
    let data = mnist();
    let spread = |mode_seeking| {
        let mut t = trainer(
            TrainConfig {
                mode_seeking,
                ..small(Arch::Dcgan)
            },
            &data,
        );
        for _ in 0..200 {
            t.step(&data);
        }
        spread_within_class(&t.generator(), 3, 32)
    };
    let (plain, seeking) = (spread(None), spread(Some(1.0)));
    eprintln!("within-class spread: plain {plain:.4}, mode seeking {seeking:.4}");
    assert!(
        seeking > 1.25 * plain,
        "within-class spread: plain {plain:.4}, mode seeking {seeking:.4}"
    );
}
