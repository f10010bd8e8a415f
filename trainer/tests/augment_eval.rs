//! `augment-eval` on real data, at toy scale: the protocol's bookkeeping — subsets of the
//! training split, a conditional GAN per run, both classifier arms tested on the held-out
//! split, the report's counts and summaries — not its figures. Tiny budgets (a 1-epoch
//! evaluation classifier, 30 GAN steps, 15-20 classifier steps) keep each test short. One test
//! per setting: fraction on Fashion-MNIST, rebalance and filtered on MNIST.

use gan_trainer::eval::classifier::ClassifierConfig;
use gan_trainer::eval::EvalOptions;
use gan_trainer::experiments::augment_eval::{
    augment_eval, AugmentOptions, AugmentReport, Setting,
};

mod common;
use common::shared_data;

/// A 1-epoch evaluation classifier, not cached.
fn quick_eval() -> EvalOptions {
    EvalOptions {
        classifier: ClassifierConfig {
            epochs: 1,
            ..ClassifierConfig::default()
        },
        cache_dir: None,
        ..EvalOptions::default()
    }
}

/// `steps` classifier steps for both arms.
fn classifier(steps: u64) -> ClassifierConfig {
    ClassifierConfig {
        steps: Some(steps),
        ..ClassifierConfig::default()
    }
}

/// The JSON report, written and read back.
fn json(report: &AugmentReport, dir: &std::path::Path) -> serde_json::Value {
    let path = dir.join("augment.json");
    report.write_json(&path).unwrap();
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn assert_unit(values: &[f64], what: &dyn std::fmt::Debug) {
    for v in values {
        assert!((0.0..=1.0).contains(v), "{v} outside [0, 1]: {what:?}");
    }
}

#[test]
fn augment_eval_runs_every_fraction_and_seed() {
    let data = gan_trainer::data::load_dir(&shared_data("fashion-mnist")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let options = AugmentOptions {
        fractions: vec![0.05],
        seeds: vec![0, 1],
        gan_steps: 30,
        synthetic_per_class: Some(5),
        classifier: classifier(15),
        eval: quick_eval(),
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
    // The interval is of the same paired differences, with the sample std.
    let t = row.difference_interval;
    assert_eq!(t.n, 2);
    assert!((t.mean - diff).abs() < 1e-12);
    assert!((t.std - row.difference.std * 2f64.sqrt()).abs() < 1e-12);
    let (lo, hi) = (t.low.unwrap(), t.high.unwrap());
    assert!(lo <= diff && diff <= hi);
    assert_eq!(t.excludes_zero, lo > 0.0 || hi < 0.0);
    assert_eq!(report.setting, Setting::Fraction);

    let md = report.to_markdown();
    assert!(md.contains("| 5% |"), "{md}");
    assert!(md.contains("95% interval of the difference"), "{md}");
    let j = json(&report, out.path());
    assert_eq!(j["runs"].as_array().unwrap().len(), 2);
    assert_eq!(j["rows"][0]["seeds"], 2);
    assert_eq!(j["setting"], "fraction");
    assert_eq!(j["synthetic_per_class"], 5);
    // The other settings' fields stay out of this setting's report.
    for key in ["rebalance", "filter", "real_augment"] {
        assert!(j.get(key).is_none(), "{key} in {j}");
    }
    assert!(j["runs"][0].get("baseline_minority_recall").is_none());
}

#[test]
fn rebalance_fills_the_minority_classes_and_reports_their_recall() {
    let data = gan_trainer::data::load_dir(&shared_data("mnist")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let options = AugmentOptions {
        seeds: vec![0],
        gan_steps: 30,
        minority_classes: vec![3, 8],
        classifier: classifier(20),
        eval: quick_eval(),
        out_dir: out.path().join("runs"),
        ..AugmentOptions::for_setting(Setting::Rebalance)
    };
    let report = augment_eval(&data, &options, |_| {}).unwrap();
    assert_eq!(report.setting, Setting::Rebalance);
    assert_eq!((report.runs.len(), report.rows.len()), (1, 1));
    let rb = report.rebalance.as_ref().expect("rebalance parameters");
    assert_eq!(rb.minority_classes, vec![3, 8]);
    assert_eq!(rb.minority_fraction, 0.05);
    let fill = rb.fill_to.expect("filled up to the other classes' mean");
    let r = &report.runs[0];
    // The minority classes keep ceil(5%) of their training images, the others all of theirs.
    let kept: Vec<usize> = rb
        .minority_train_images
        .iter()
        .map(|&n| (n * 5).div_ceil(100))
        .collect();
    let cut: usize = rb.minority_train_images.iter().sum::<usize>() - kept.iter().sum::<usize>();
    assert_eq!(r.real_images, report.train_split - cut, "{r:?}");
    assert_eq!(r.fraction, 0.05);
    // Synthetic images of the minority classes only, up to the others' mean count.
    assert_eq!(r.synthetic_by_class.len(), 10);
    for (c, &n) in r.synthetic_by_class.iter().enumerate() {
        match [3, 8].iter().position(|&m| m == c) {
            Some(k) => assert_eq!(n + kept[k], fill, "class {c}"),
            None => assert_eq!(n, 0, "class {c}"),
        }
    }
    assert_eq!(
        r.synthetic_by_class.iter().sum::<usize>(),
        r.synthetic_images
    );
    assert!(
        fill > 700 && fill < 900,
        "MNIST's 8,000 training images: ~800 a class"
    );
    assert!(r.filter.is_none());
    assert!(rb.minority_test_images > 0 && rb.minority_test_images < report.test_images);
    let (bm, am) = (
        r.baseline_minority_recall.unwrap(),
        r.augmented_minority_recall.unwrap(),
    );
    assert_unit(
        &[
            r.baseline_accuracy,
            r.augmented_accuracy,
            bm,
            am,
            r.synthetic_class_accuracy,
        ],
        r,
    );
    // A recall is a share of the minority classes' test images.
    for v in [bm, am] {
        let right = v * rb.minority_test_images as f64;
        assert!((right - right.round()).abs() < 1e-6, "{v}");
    }
    assert!(r.gan_dir.ends_with("rebalance-3-8-5pct-seed0"), "{r:?}");
    assert!(r.gan_dir.join("losses.csv").is_file());

    let row = &report.rows[0];
    assert_eq!(row.seeds, 1);
    assert_eq!(row.baseline_minority_recall.unwrap().mean, bm);
    assert_eq!(row.augmented_minority_recall.unwrap().mean, am);
    let t = row.minority_difference_interval.unwrap();
    assert_eq!((t.n, t.mean), (1, am - bm));
    // One seed gives no interval.
    assert_eq!((t.low, t.excludes_zero), (None, false));
    assert_eq!(row.difference_interval.low, None);

    let md = report.to_markdown();
    assert!(md.contains("| minority fraction |"), "{md}");
    assert!(md.contains("minority recall: real only"), "{md}");
    assert!(md.contains("| 5% |"), "{md}");
    let j = json(&report, out.path());
    assert_eq!(j["setting"], "rebalance");
    assert!(j["synthetic_per_class"].is_null());
    assert_eq!(j["rebalance"]["fill_to"], fill);
    assert_eq!(j["runs"][0]["augmented_minority_recall"], am);
    assert!(j["rows"][0]["minority_difference_interval"]["low"].is_null());
}

#[test]
fn filtered_keeps_confident_images_and_counts_the_rest() {
    let data = gan_trainer::data::load_dir(&shared_data("mnist")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let options = AugmentOptions {
        seeds: vec![0],
        gan_steps: 30,
        synthetic_per_class: Some(6),
        // 30 GAN steps make poor images: a lower bar than the default 0.9 lets some pass.
        min_confidence: 0.5,
        max_tries: 3,
        classifier: classifier(20),
        eval: quick_eval(),
        out_dir: out.path().join("runs"),
        ..AugmentOptions::for_setting(Setting::Filtered)
    };
    assert_eq!(options.fractions, vec![0.01]);
    assert!(
        !options.real_augment.is_off(),
        "classic augmentation by default"
    );
    let report = augment_eval(&data, &options, |_| {}).unwrap();
    assert_eq!(report.setting, Setting::Filtered);
    let r = &report.runs[0];
    // 1% of each class's ~800 training images.
    assert!((70..=90).contains(&r.real_images), "{r:?}");
    let f = r.filter.expect("filter counts");
    assert_eq!(f.generated, f.kept + f.rejected);
    assert_eq!(f.kept, r.synthetic_images);
    assert_eq!(r.synthetic_by_class.iter().sum::<usize>(), f.kept);
    assert!(r.synthetic_by_class.iter().all(|&n| n <= 6), "{r:?}");
    // The first round asks 6 of each class; no class is asked more than 3 x 6.
    assert!((60..=180).contains(&f.generated), "{f:?}");
    assert!(f.rounds >= 1 && f.rounds <= 3 * 6, "{f:?}");
    if f.kept < 60 {
        assert!(f.rounds > 1, "a short class is asked again: {f:?}");
    }
    assert_unit(
        &[
            r.baseline_accuracy,
            r.augmented_accuracy,
            r.synthetic_class_accuracy,
        ],
        r,
    );
    assert!(r.baseline_minority_recall.is_none());
    assert!(r.gan_dir.ends_with("filtered-1pct-seed0"), "{r:?}");
    let row = &report.rows[0];
    assert_eq!(row.filter, Some(f));
    let info = report.filter.as_ref().unwrap();
    assert_eq!((info.min_confidence, info.max_tries), (0.5, 3));

    let md = report.to_markdown();
    assert!(md.contains("synthetic kept / generated"), "{md}");
    assert!(
        md.contains(&format!("| {} / {} |", f.kept, f.generated)),
        "{md}"
    );
    assert!(md.contains("in both arms"), "{md}");
    let j = json(&report, out.path());
    assert_eq!(j["setting"], "filtered");
    assert_eq!(j["runs"][0]["filter"]["rejected"], f.rejected);
    assert_eq!(j["real_augment"]["rotate_deg"], 10.0);
}
