//! Evaluation on real data: the shipped generator `models/fashion-mlp.onnx` against the
//! Fashion-MNIST subset in `../shared/data/fashion-mnist`, through the library and the
//! `trainer eval` binary.
//!
//! Runtime: one classifier training with the default options (3 epochs over 3,554 images,
//! about 25-50 s on 2 CPU cores); every later step reuses it from the test's own cache
//! directory, which is itself under test.

use std::path::PathBuf;
use std::process::Command;

use gan_trainer::eval::{self, EvalOptions, Evaluator};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

mod common;
use common::shared_data;

#[test]
fn shipped_generator_on_fashion_mnist() {
    gan_runtime::generator::use_project_library_if_unset();
    let data_dir = shared_data("fashion-mnist");
    let model = repo().join("models/fashion-mlp.onnx");
    let cache = tempfile::tempdir().unwrap();
    let options = EvalOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..EvalOptions::default()
    };

    // The library, end to end: trains the classifier and caches it.
    let report = eval::evaluate(&model, &data_dir, &options).unwrap();
    println!("{}", report.to_markdown());
    let acc = report.classifier.heldout_accuracy;
    assert!(acc > 0.8, "classifier held-out accuracy {acc}");
    assert!(!report.classifier.provenance.from_cache);
    let cache_file = report.classifier.provenance.cache_file.clone().unwrap();
    assert!(cache_file.is_file());
    assert!(report.fd_floor >= 0.0);
    assert!(
        report.fd > report.fd_floor,
        "FD {} vs floor {}",
        report.fd,
        report.fd_floor
    );
    for pr in [report.precision_recall, report.precision_recall_real] {
        assert!((0.0..=1.0).contains(&pr.precision), "{pr:?}");
        assert!((0.0..=1.0).contains(&pr.recall), "{pr:?}");
        assert_eq!(pr.k, 3);
    }
    // 20% of 4,443 held out; as many generated.
    assert_eq!(report.data.heldout, 889);
    assert_eq!(report.data.train + report.data.heldout, 4443);
    assert_eq!(report.generated, 889);
    assert_eq!(report.class_histogram.iter().sum::<usize>(), 889);
    assert_eq!(report.real_class_histogram.iter().sum::<usize>(), 889);
    assert_eq!(report.class_histogram.len(), 10);
    for is in [report.inception_score, report.inception_score_real] {
        assert!(is.mean >= 1.0 && is.mean <= 10.0, "{is:?}");
    }
    assert!(report.conditional_accuracy.is_none());
    let m = report.model.as_ref().unwrap();
    assert_eq!(
        (m.latent_dim, m.shape, m.num_classes),
        (100, [1, 28, 28], 0)
    );

    // The binary: same options, so it loads the cached classifier and measures the same.
    let json = cache.path().join("out/report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["eval", "--quiet", "--model"])
        .arg(&model)
        .arg("--data")
        .arg(&data_dir)
        .arg("--cache-dir")
        .arg(cache.path())
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("| Fréchet distance"), "{stdout}");
    assert!(stdout.contains("held-out accuracy"), "{stdout}");
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(j["classifier"]["provenance"]["from_cache"], true);
    let fd = j["fd"].as_f64().unwrap();
    assert!(
        (fd - report.fd).abs() < 1e-6 * report.fd,
        "{fd} vs {}",
        report.fd
    );
    assert_eq!(j["fd_floor"].as_f64().unwrap(), report.fd_floor);
    assert_eq!(j["generated"], 889);

    // During training: a conditional run with --eval-every logs and plots the FD, keeps the
    // best generator as ONNX (with the same contract as the final export, class names
    // included), and reuses the cached classifier.
    let out_dir = cache.path().join("train");
    let names = "top,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,boot";
    let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args([
            "--quiet",
            "--conditional",
            "--steps",
            "20",
            "--batch-size",
            "32",
            "--eval-every",
            "10",
            "--lr-plateau-patience",
            "5",
            "--early-stop-patience",
            "10",
            "--class-names",
            names,
            "--data",
        ])
        .arg(&data_dir)
        .arg("--export")
        .arg(out_dir.join("final.onnx"))
        .arg("--eval-cache-dir")
        .arg(cache.path())
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("best FD"), "{stderr}");
    let log = std::fs::read_to_string(out_dir.join("fd.csv")).unwrap();
    let rows: Vec<&str> = log.lines().collect();
    assert_eq!(rows[0], "step,fd");
    assert_eq!(rows.len(), 3, "{log}");
    assert!(
        rows[1].starts_with("10,") && rows[2].starts_with("20,"),
        "{log}"
    );
    assert!(image::open(out_dir.join("fd.png")).is_ok());
    assert!(out_dir.join("best.gan").is_file());
    let best = gan_runtime::Generator::load(out_dir.join("best.onnx")).unwrap();
    assert_eq!(best.contract().num_classes, 10);
    assert_eq!(best.contract().class_names.join(","), names);
    let last = gan_runtime::Generator::load(out_dir.join("final.onnx")).unwrap();
    let mut best_contract = best.contract().clone();
    // The best generator may be from an earlier step; everything else is the same.
    best_contract.train_steps = last.contract().train_steps;
    assert_eq!(&best_contract, last.contract());

    // The in-training API, on real images whose answers are known.
    let data = gan_trainer::data::load_dir(&data_dir).unwrap();
    let ev = Evaluator::new(&data, &options).unwrap();
    assert!(ev.provenance().from_cache);
    assert_eq!(ev.heldout_accuracy(), acc);
    let heldout = ev.split().heldout.clone();
    let mut images = Vec::new();
    data.fill_batch(&heldout, &mut images);
    // The held-out set against itself: distance 0.
    let fd_self = ev.fd_of_images(&images, heldout.len()).unwrap();
    assert!(
        fd_self.abs() < 1e-6,
        "FD of the held-out set to itself: {fd_self}"
    );
    // Real images "generated" with their true labels: conditional accuracy per class is the
    // classifier's accuracy on that class, and the mean is close to its overall accuracy.
    let labels: Vec<i64> = heldout
        .iter()
        .map(|&i| data.labels.as_ref().unwrap()[i] as i64)
        .collect();
    let r = ev
        .evaluate_images(&images, heldout.len(), Some(&labels))
        .unwrap();
    let per_class = r.conditional_accuracy.as_ref().unwrap();
    assert_eq!(per_class.len(), 10);
    let correct: usize = per_class.iter().map(|c| c.correct).sum();
    assert_eq!(correct as f64 / heldout.len() as f64, acc);
    let requested: Vec<usize> = per_class.iter().map(|c| c.requested).collect();
    assert_eq!(requested, r.real_class_histogram);
    assert_eq!(
        (r.precision_recall.precision, r.precision_recall.recall),
        (1.0, 1.0)
    );
    assert!(r.to_markdown().contains("conditional accuracy"));
}
