//! The IDX loader on the real files in ../shared/data: counts, shapes, labels, value range.

use gan_tests::shared_data;
use gan_trainer::data::load_dir;

#[test]
fn loads_mnist_and_fashion_mnist() {
    for (sub, count) in [("mnist", 10_000), ("fashion-mnist", 4_443)] {
        let ds = load_dir(&shared_data(sub)).unwrap_or_else(|e| panic!("{sub}: {e}"));
        assert_eq!(
            (ds.len, ds.channels, ds.height, ds.width),
            (count, 1, 28, 28),
            "{sub}"
        );
        let labels = ds.labels.as_ref().expect("labels found beside the images");
        assert_eq!(labels.len(), count);
        let mut per_class = [0usize; 10];
        for &l in labels {
            per_class[l as usize] += 1;
        }
        assert!(per_class.iter().all(|&n| n > 400), "{sub}: {per_class:?}");
        // Real images use the whole byte range, and normalize into [-1, 1].
        assert_eq!(ds.pixels.iter().max(), Some(&255));
        let mut batch = Vec::new();
        ds.fill_batch(&[0, count - 1], &mut batch);
        assert!(batch.iter().all(|v| (-1.0..=1.0).contains(v)));
    }
}
