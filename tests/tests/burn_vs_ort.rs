//! End to end on real data: train the MLP GAN a few hundred steps with burn, export ONNX,
//! load it in the real ONNX Runtime, and check both compute the same images.

use burn::prelude::*;
use gan_runtime::{latent_batch, Generator};
use gan_tests::{require_ort, shared_data, untrained_export};
use gan_trainer::train::{InferBackend, TrainConfig};
use gan_trainer::{data, export, run};

#[test]
fn trained_generator_matches_in_onnx_runtime() {
    require_ort();
    let dataset = data::load_dir(&shared_data("fashion-mnist")).expect("load fashion-mnist");
    assert_eq!((dataset.len, dataset.height, dataset.width), (4443, 28, 28));

    let tmp = tempfile::tempdir().unwrap();
    let options = run::RunOptions {
        config: TrainConfig {
            seed: 11,
            ..TrainConfig::default()
        },
        steps: 300,
        out_dir: tmp.path().join("out"),
        sample_every: 100,
        progress: false,
        dataset_name: "fashion-mnist".into(),
        checkpoint_every: 0,
        resume: false,
    };
    let result = run::run(&options, &dataset).expect("training");
    assert_eq!(result.history.len(), 300);
    assert!(result
        .history
        .iter()
        .all(|s| s.d_loss.is_finite() && s.g_loss.is_finite()));
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

    let contract = result.contract("fashion-mnist");
    let g = result.trainer.generator();
    let path = tmp.path().join("g.onnx");
    export::save(&export::mlp_to_onnx(&g, &contract).unwrap(), &path).unwrap();

    let ort = Generator::load(&path).expect("ONNX Runtime loads the export");
    assert_eq!(ort.contract(), &contract);
    assert_eq!(ort.contract().train_steps, 300);

    // Same latents through both: samples 0..64 of seed 42, and an odd batch from elsewhere.
    for (seed, start, count) in [(42u64, 0u64, 64usize), (7, 1000, 3)] {
        let z = latent_batch(seed, start, count, contract.latent_dim);
        let burn_out = g
            .forward(Tensor::<InferBackend, 2>::from_data(
                TensorData::new(z.clone(), [count, contract.latent_dim]),
                &Default::default(),
            ))
            .into_data()
            .into_vec::<f32>()
            .unwrap();
        let ort_out = ort.generate(seed, start, count).unwrap();
        assert_eq!(ort_out.len(), count);
        let max_diff = burn_out
            .iter()
            .zip(ort_out.data())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            max_diff <= 1e-4,
            "burn and ONNX Runtime differ by {max_diff}"
        );
        // Not a degenerate comparison: the images vary.
        let spread = ort_out.data().iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(spread > 0.1, "outputs are all near zero");
        // Explicit latents give the same as seeded generation.
        assert_eq!(ort.run_latents(&z, None).unwrap(), ort_out);
    }
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
