//! End to end on real data, for every architecture x conditioning: train with burn, export
//! ONNX, load it in the real ONNX Runtime, and check both compute the same images (within
//! 1e-4) for the same latents and labels. DCGAN runs long enough for its batch-norm running
//! statistics to move away from their initial values, so the exported inference-mode
//! `BatchNormalization` nodes are really exercised.

use burn::prelude::*;
use gan_runtime::{latent_batch, Generator};
use gan_tests::{require_ort, shared_data, untrained_export};
use gan_trainer::data::Dataset;
use gan_trainer::model::Arch;
use gan_trainer::train::TrainConfig;
use gan_trainer::{data, export, run};

fn fashion() -> Dataset {
    let dataset = data::load_dir(&shared_data("fashion-mnist")).expect("load fashion-mnist");
    assert_eq!((dataset.len, dataset.height, dataset.width), (4443, 28, 28));
    dataset
}

/// Trains `steps` steps of `arch` (conditional on the 10 classes when `conditional`), exports
/// it and compares burn with ONNX Runtime on seeded and explicit latents.
fn train_export_compare(arch: Arch, conditional: bool, steps: u64) -> tempfile::TempDir {
    train_export_compare_with(arch, conditional, steps, None)
}

/// [`train_export_compare`], keeping a moving average of G with decay `ema` (then the average
/// is what is exported and compared).
fn train_export_compare_with(
    arch: Arch,
    conditional: bool,
    steps: u64,
    ema: Option<f64>,
) -> tempfile::TempDir {
    train_export_compare_on(&fashion(), arch, conditional, steps, ema)
}

/// Fashion-MNIST as 32x32 colour images: each grey image padded by 2 pixels of background and
/// tinted by its class (a red, green and blue share that differ per class), so a 32x32
/// FastGAN has skip-layer excitations (4x4 gating 32x32) and three channels to export.
fn fashion_colour_32() -> Dataset {
    let grey = fashion();
    let (side, pad) = (32, 2);
    let labels = grey.labels.clone().expect("fashion-mnist has labels");
    let mut pixels = Vec::with_capacity(grey.len * 3 * side * side);
    for (i, &label) in labels.iter().enumerate() {
        let image = &grey.pixels[i * 28 * 28..(i + 1) * 28 * 28];
        let tint = [
            1.0 - 0.08 * f32::from(label),
            0.3 + 0.07 * f32::from(label),
            0.6,
        ];
        for t in tint {
            for y in 0..side {
                for x in 0..side {
                    let inside = (pad..pad + 28).contains(&y) && (pad..pad + 28).contains(&x);
                    let v = if inside {
                        f32::from(image[(y - pad) * 28 + x - pad])
                    } else {
                        0.0
                    };
                    pixels.push((v * t).round() as u8);
                }
            }
        }
    }
    Dataset {
        pixels,
        len: grey.len,
        channels: 3,
        height: side,
        width: side,
        labels: Some(labels),
    }
}

/// [`train_export_compare_with`] on `dataset`.
fn train_export_compare_on(
    dataset: &Dataset,
    arch: Arch,
    conditional: bool,
    steps: u64,
    ema: Option<f64>,
) -> tempfile::TempDir {
    require_ort();
    let tmp = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        seed: 11,
        arch,
        num_classes: if conditional { 10 } else { 0 },
        width: 16,
        batch_size: 32,
        ema,
        ..TrainConfig::default()
    };
    let options = run::RunOptions {
        sample_every: steps / 3,
        dataset_name: "fashion-mnist".into(),
        ..run::RunOptions::new(config, steps, tmp.path().join("out"))
    };
    let result = run::run(&options, dataset).expect("training");
    assert_eq!(result.history.len() as u64, steps);
    assert!(result
        .history
        .iter()
        .all(|s| s.d_loss.is_finite() && s.g_loss.is_finite()));

    let contract = result.contract();
    assert_eq!(contract.arch, arch.name());
    assert_eq!(contract.num_classes, if conditional { 10 } else { 0 });
    let g = result.trainer.generator();
    let path = tmp.path().join("g.onnx");
    export::save(&export::to_onnx(&g, &contract).unwrap(), &path).unwrap();

    let ort = Generator::load(&path).expect("ONNX Runtime loads the export");
    assert_eq!(ort.contract(), &contract);
    assert_eq!(ort.contract().train_steps, steps);

    // Same latents through both: samples 0..64 of seed 42, and an odd batch from elsewhere.
    for (seed, start, count) in [(42u64, 0u64, 64usize), (7, 1000, 3)] {
        let z = latent_batch(seed, start, count, contract.latent_dim);
        let labels: Option<Vec<i64>> = conditional.then(|| {
            (0..count as i64)
                .map(|i| (i * 7 + start as i64) % 10)
                .collect()
        });
        let burn_out = g
            .forward(
                Tensor::<2>::from_data(
                    TensorData::new(z.clone(), [count, contract.latent_dim]),
                    &gan_trainer::device::cpu(),
                ),
                labels.as_ref().map(|l| {
                    Tensor::<1, Int>::from_data(
                        TensorData::new(l.clone(), [count]),
                        &gan_trainer::device::cpu(),
                    )
                }),
            )
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let ort_out = match &labels {
            Some(l) => ort.generate_labeled(seed, start, l).unwrap(),
            None => ort.generate(seed, start, count).unwrap(),
        };
        assert_eq!(ort_out.len(), count);
        let max_diff = burn_out
            .iter()
            .zip(ort_out.data())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            max_diff <= 1e-4,
            "{arch:?} conditional={conditional}: burn and ONNX Runtime differ by {max_diff}"
        );
        // Not a degenerate comparison: the images vary.
        let spread = ort_out.data().iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(spread > 0.1, "outputs are all near zero");
        // Explicit latents give the same as seeded generation.
        assert_eq!(ort.run_latents(&z, labels.as_deref()).unwrap(), ort_out);
    }
    if conditional {
        // The label matters: the same latent as two classes gives two images.
        let z = latent_batch(1, 0, 1, contract.latent_dim);
        let a = ort.run_latents(&z, Some(&[0])).unwrap();
        let b = ort.run_latents(&z, Some(&[1])).unwrap();
        assert_ne!(a, b, "the label input is ignored");
    }
    tmp
}

#[test]
fn mlp_matches_in_onnx_runtime() {
    let tmp = train_export_compare(Arch::Mlp, false, 300);
    // The run leaves its grids and loss log behind.
    for f in [
        "samples/step_000100.png",
        "samples/step_000300.png",
        "samples/latest.png",
        "losses.csv",
    ] {
        assert!(tmp.path().join("out").join(f).is_file(), "missing {f}");
    }
    let csv = std::fs::read_to_string(tmp.path().join("out/losses.csv")).unwrap();
    assert_eq!(csv.lines().count(), 301);
}

#[test]
fn conditional_mlp_matches_in_onnx_runtime() {
    train_export_compare(Arch::Mlp, true, 60);
}

#[test]
fn dcgan_matches_in_onnx_runtime() {
    train_export_compare(Arch::Dcgan, false, 30);
}

#[test]
fn conditional_dcgan_matches_in_onnx_runtime() {
    train_export_compare(Arch::Dcgan, true, 30);
}

#[test]
fn fastgan_matches_in_onnx_runtime() {
    train_export_compare(Arch::Fastgan, false, 20);
}

/// 32x32 colour, conditional, with a moving average: the skip-layer excitation (4x4 gates
/// 32x32), three channels and the label input all go through the export.
#[test]
fn conditional_colour_fastgan_matches_in_onnx_runtime() {
    let tmp = train_export_compare_on(&fashion_colour_32(), Arch::Fastgan, true, 20, Some(0.9));
    let bytes = std::fs::read(tmp.path().join("g.onnx")).unwrap();
    let onnx: onnx_protobuf::ModelProto = protobuf::Message::parse_from_bytes(&bytes).unwrap();
    let ops: Vec<&str> = onnx.graph.node.iter().map(|n| n.op_type.as_str()).collect();
    assert!(!ops.contains(&"ConvTranspose"), "{ops:?}");
    for op in ["Resize", "Conv", "Split", "Flatten", "Sigmoid", "Mul"] {
        assert!(ops.contains(&op), "no {op} in {ops:?}");
    }
}

/// The exported average (weights and batch-norm statistics both averaged) is a valid
/// generator too: ONNX Runtime computes what burn does.
#[test]
fn conditional_dcgan_moving_average_matches_in_onnx_runtime() {
    train_export_compare_with(Arch::Dcgan, true, 30, Some(0.9));
}

#[test]
fn batch_size_does_not_change_images_in_ort() {
    require_ort();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("g.onnx");
    untrained_export(&path);
    let whole = Generator::builder(&path).batch(256).load().unwrap();
    let small = Generator::builder(&path).batch(7).load().unwrap();
    let a = whole.generate(3, 10, 40).unwrap();
    let b = small.generate(3, 10, 40).unwrap();
    let max_diff = a
        .data()
        .iter()
        .zip(b.data())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    // Batching may change summation order inside GEMM, nothing more.
    assert!(max_diff < 1e-5, "{max_diff}");
    let c = whole.generate(3, 25, 1).unwrap();
    assert!(c
        .data()
        .iter()
        .zip(a.image(15))
        .all(|(x, y)| (x - y).abs() < 1e-5));
}
