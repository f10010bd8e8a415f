//! `trainer eval`'s conditional path on the conditional test model (see `conditional_export`):
//! class-balanced labels are requested, and the classifier's accuracy is reported per class.
//!
//! The classifier here trains for one epoch on the first 1,000 Fashion-MNIST images (a few
//! seconds): the test checks the bookkeeping, not the figures.

use gan_runtime::Generator;
use gan_tests::{conditional_export, require_ort, shared_data};
use gan_trainer::eval::{classifier::ClassifierConfig, EvalError, EvalOptions, Evaluator};

#[test]
fn conditional_models_get_per_class_accuracy() {
    require_ort();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cond.onnx");
    conditional_export(&path);
    let g = Generator::load(&path).unwrap();

    let mut data = gan_trainer::data::load_dir(&shared_data("fashion-mnist")).unwrap();
    let n = 1000;
    data.pixels.truncate(n * data.image_len());
    data.labels.as_mut().unwrap().truncate(n);
    data.len = n;
    let options = EvalOptions {
        classifier: ClassifierConfig {
            epochs: 1,
            ..ClassifierConfig::default()
        },
        cache_dir: None,
        samples: Some(100),
        ..EvalOptions::default()
    };
    let ev = Evaluator::new(&data, &options).unwrap();
    let report = ev.evaluate_generator(&g).unwrap();
    assert_eq!(report.generated, 100);
    assert_eq!(report.model.as_ref().unwrap().num_classes, 10);
    let per_class = report.conditional_accuracy.as_ref().unwrap();
    assert_eq!(per_class.len(), 10);
    for (c, a) in per_class.iter().enumerate() {
        assert_eq!((a.class, a.requested), (c, 10), "{a:?}");
        assert_eq!(a.name, format!("class {c}"), "names come from the contract");
        assert!(a.correct <= a.requested);
        assert_eq!(a.accuracy, a.correct as f64 / 10.0);
    }
    let mean = report.conditional_accuracy_mean.unwrap();
    assert!((0.0..=1.0).contains(&mean));
    assert_eq!(report.class_histogram.iter().sum::<usize>(), 100);
    let md = report.to_markdown();
    assert!(
        md.contains("| Conditional accuracy (mean over classes) |"),
        "{md}"
    );
    assert!(md.contains("| class 3 |"), "{md}");

    // A model conditional on more classes than the data has is refused, naming both counts.
    let mut two = data.clone();
    for l in two.labels.as_mut().unwrap() {
        *l %= 2;
    }
    let ev = Evaluator::new(&two, &options).unwrap();
    let e = ev.evaluate_generator(&g).unwrap_err();
    assert!(matches!(e, EvalError::ClassMismatch { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("conditional on 10 classes but the data's labels have 2"),
        "{e}"
    );
}
