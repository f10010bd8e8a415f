//! `augment-eval` on real data (Fashion-MNIST), at toy scale: the protocol's bookkeeping —
//! stratified subsets of the training split, a conditional GAN per run, both classifier arms
//! tested on the held-out split — not its figures. Tiny budgets (a 1-epoch evaluation
//! classifier, 30 GAN steps, 15 classifier steps) keep it to about half a minute.

use gan_trainer::eval::augment::{augment_eval, AugmentOptions};
use gan_trainer::eval::classifier::ClassifierConfig;
use gan_trainer::eval::EvalOptions;

mod common;
use common::shared_data;

#[test]
fn augment_eval_runs_every_fraction_and_seed() {
    let data = gan_trainer::data::load_dir(&shared_data("fashion-mnist")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let options = AugmentOptions {
        fractions: vec![0.05],
        seeds: vec![0, 1],
        gan_steps: 30,
        synthetic_per_class: 5,
        classifier: ClassifierConfig {
            steps: Some(15),
            ..ClassifierConfig::default()
        },
        eval: EvalOptions {
            classifier: ClassifierConfig {
                epochs: 1,
                ..ClassifierConfig::default()
            },
            cache_dir: None,
            ..EvalOptions::default()
        },
        out_dir: out.path().join("runs"),
        ..AugmentOptions::default()
    };
    let mut seen = Vec::new();
    let report = augment_eval(&data, &options, |r| seen.push((r.fraction, r.seed))).unwrap();
    assert_eq!(seen, vec![(0.05, 0), (0.05, 1)]);
    assert_eq!(report.test_images, 889);
    assert_eq!(report.train_split, 3554);
    assert_eq!(report.runs.len(), 2);
    for r in &report.runs {
        // 5% of each class of the training split (about 355 per class), rounded per class.
        assert!((170..=185).contains(&r.real_images), "{r:?}");
        assert_eq!(r.synthetic_images, 50);
        for a in [
            r.baseline_accuracy,
            r.augmented_accuracy,
            r.synthetic_class_accuracy,
        ] {
            assert!((0.0..=1.0).contains(&a), "{r:?}");
        }
        assert!(r.synthetic_fd > 0.0);
        assert!(r.gan_dir.join("samples/latest.png").is_file());
        assert!(r.gan_dir.join("losses.csv").is_file());
    }
    assert_eq!(report.runs[0].real_images, report.runs[1].real_images);
    let row = &report.rows[0];
    assert_eq!(row.seeds, 2);
    let (a, b) = (&report.runs[0], &report.runs[1]);
    let mean = (a.baseline_accuracy + b.baseline_accuracy) / 2.0;
    assert!((row.baseline.mean - mean).abs() < 1e-12);
    let diff = (a.augmented_accuracy - a.baseline_accuracy + b.augmented_accuracy
        - b.baseline_accuracy)
        / 2.0;
    assert!((row.difference.mean - diff).abs() < 1e-12);

    let md = report.to_markdown();
    assert!(md.contains("| 5% |"), "{md}");
    let json = out.path().join("augment.json");
    report.write_json(&json).unwrap();
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(j["runs"].as_array().unwrap().len(), 2);
    assert_eq!(j["rows"][0]["seeds"], 2);
}
