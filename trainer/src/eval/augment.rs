//! Do synthetic images help a classifier that has little real data?
//!
//! For each fraction of the real training split (1%, 5%, 10% by default) and each seed:
//!
//! 1. draw a class-stratified subset of the training split of that size (seeded);
//! 2. **baseline**: train the evaluation CNN ([`Classifier`]) on the subset alone;
//! 3. train a conditional GAN on the same subset only, with [`crate::run::run`];
//! 4. **augmented**: generate class-balanced images with it and train the same CNN (same seed,
//!    same step budget) on subset + synthetic, batches drawing real and synthetic about 1:1
//!    (the real images are repeated to match the synthetic count);
//! 5. test both on the held-out split of [`Evaluator`], which neither the GANs nor any of
//!    these classifiers ever see.
//!
//! Both arms get the same number of optimizer steps, so a difference comes from the data, not
//! from longer training. The synthetic images are also scored by the evaluation classifier
//! (trained on the whole training split): its accuracy on the requested classes and the FD,
//! which say whether a poor result comes from poor samples.
//!
//! ```no_run
//! use gan_trainer::eval::augment::{augment_eval, AugmentOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let data = gan_trainer::data::load_dir("../shared/data/mnist".as_ref())?;
//! let report = augment_eval(&data, &AugmentOptions::default(), |run| {
//!     eprintln!("{:.0}% seed {}: {:.3} -> {:.3}", run.fraction * 100.0, run.seed,
//!         run.baseline_accuracy, run.augmented_accuracy);
//! })?;
//! println!("{}", report.to_markdown());
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::classifier::{Classifier, ClassifierConfig, Split};
use super::{EvalError, EvalOptions, Evaluator};
use crate::data::Dataset;
use crate::run::{run, RunOptions};
use crate::train::TrainConfig;

/// Seed salts: subsets and synthetic latents draw from streams apart from the runs' own.
const SUBSET_SALT: u64 = 0xA06_5B5E_7000_0001;
const SYNTH_SALT: u64 = 0xA06_5E7D_0000_0002;

/// How to run the comparison.
#[derive(Debug, Clone)]
pub struct AugmentOptions {
    /// Fractions of the real training split to train on, each in (0, 1].
    pub fractions: Vec<f64>,
    /// Seeds: each draws its own subset, GAN and classifier initialization.
    pub seeds: Vec<u64>,
    /// GAN hyper-parameters; `num_classes` is set from the data and `seed` per run.
    pub gan: TrainConfig,
    /// GAN training steps per run.
    pub gan_steps: u64,
    /// Synthetic images generated per class.
    pub synthetic_per_class: usize,
    /// Classifier training for both arms; `seed` is set per run, and `steps` should be set so
    /// that both arms train equally long.
    pub classifier: ClassifierConfig,
    /// The evaluation classifier and held-out split (the test set).
    pub eval: EvalOptions,
    /// Each run's GAN writes its sample grid and loss log under `out_dir/<fraction>-seed<seed>`.
    pub out_dir: PathBuf,
    /// Show progress bars.
    pub progress: bool,
}

impl Default for AugmentOptions {
    /// 1%, 5%, 10%; seeds 0, 1, 2; conditional MLP GAN, 2,000 steps of batch 64; 200
    /// synthetic images per class; classifiers 250 steps of batch 64.
    fn default() -> Self {
        Self {
            fractions: vec![0.01, 0.05, 0.10],
            seeds: vec![0, 1, 2],
            gan: TrainConfig {
                batch_size: 64,
                ..TrainConfig::default()
            },
            gan_steps: 2000,
            synthetic_per_class: 200,
            classifier: ClassifierConfig {
                steps: Some(250),
                ..ClassifierConfig::default()
            },
            eval: EvalOptions::default(),
            out_dir: PathBuf::from("out/augment"),
            progress: false,
        }
    }
}

/// One (fraction, seed) run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AugmentRun {
    /// Fraction of the training split used.
    pub fraction: f64,
    /// The run's seed.
    pub seed: u64,
    /// Real images trained on.
    pub real_images: usize,
    /// Synthetic images added in the augmented arm.
    pub synthetic_images: usize,
    /// Test accuracy trained on the real subset only.
    pub baseline_accuracy: f64,
    /// Test accuracy trained on real + synthetic.
    pub augmented_accuracy: f64,
    /// The evaluation classifier's mean per-class accuracy on the synthetic images.
    pub synthetic_class_accuracy: f64,
    /// FD of the synthetic images to the held-out real ones (evaluation classifier features).
    pub synthetic_fd: f64,
    /// The GAN's output directory (sample grid, losses).
    pub gan_dir: PathBuf,
    /// Seconds of GAN training.
    pub gan_seconds: f64,
    /// Seconds for the whole run.
    pub seconds: f64,
}

/// Mean and (population) standard deviation over seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanStd {
    /// Mean.
    pub mean: f64,
    /// Standard deviation (0 for one value).
    pub std: f64,
}

impl MeanStd {
    fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let v: Vec<f64> = values.into_iter().collect();
        let n = v.len().max(1) as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        Self { mean, std }
    }
}

/// The runs of one fraction, summarized over seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AugmentRow {
    /// Fraction of the training split.
    pub fraction: f64,
    /// Real images per run (the same for every seed).
    pub real_images: usize,
    /// Seeds run.
    pub seeds: usize,
    /// Baseline test accuracy.
    pub baseline: MeanStd,
    /// Augmented test accuracy.
    pub augmented: MeanStd,
    /// Augmented minus baseline, paired by seed.
    pub difference: MeanStd,
    /// Seeds where augmented beat the baseline.
    pub augmented_better: usize,
    /// Evaluation classifier's per-class accuracy on the synthetic images.
    pub synthetic_class_accuracy: MeanStd,
    /// FD of the synthetic images to the held-out real ones.
    pub synthetic_fd: MeanStd,
}

/// The comparison's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AugmentReport {
    /// Labeled images in the data.
    pub images: usize,
    /// Real training split size (the fractions are of this).
    pub train_split: usize,
    /// Test images (the evaluation held-out split).
    pub test_images: usize,
    /// The evaluation classifier's test accuracy (trained on the whole training split): what
    /// all the data gives.
    pub full_data_accuracy: f64,
    /// FD floor of the held-out split (real vs real).
    pub fd_floor: f64,
    /// GAN configuration (seed and classes are per run).
    pub gan: TrainConfig,
    /// GAN steps per run.
    pub gan_steps: u64,
    /// Synthetic images per class.
    pub synthetic_per_class: usize,
    /// Classifier configuration of both arms (seed per run).
    pub classifier: ClassifierConfig,
    /// Every run.
    pub runs: Vec<AugmentRun>,
    /// One row per fraction.
    pub rows: Vec<AugmentRow>,
    /// Total seconds.
    pub seconds: f64,
}

/// A class-stratified subset of `pool`: per class, `round(fraction * count)` images (at least
/// one), drawn with `seed`. Sorted.
pub fn stratified_subset(labels: &[u8], pool: &[usize], fraction: f64, seed: u64) -> Vec<usize> {
    let classes = pool
        .iter()
        .map(|&i| labels[i] as usize + 1)
        .max()
        .unwrap_or(0);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for &i in pool {
        by_class[labels[i] as usize].push(i);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SUBSET_SALT);
    let mut out = Vec::new();
    for mut members in by_class.into_iter().filter(|m| !m.is_empty()) {
        members.shuffle(&mut rng);
        let take = ((members.len() as f64 * fraction).round() as usize).clamp(1, members.len());
        out.extend_from_slice(&members[..take]);
    }
    out.sort_unstable();
    out
}

/// `count` class-balanced images (sample `i` of class `i % classes`) from a conditional
/// generator, as a labeled dataset of 8-bit pixels: what a user gets from `generate --dataset`.
fn synthesize(
    g: &crate::model::Generator,
    seed: u64,
    count: usize,
) -> (Dataset, Vec<f32>, Vec<i64>) {
    let classes = g.num_classes();
    let batch = crate::train::sample_grid(g, seed, count, &crate::device::cpu());
    let (c, h, w) = batch.shape();
    let plane = h * w;
    let mut pixels = Vec::with_capacity(count * c * plane);
    for i in 0..count {
        // to_u8 is interleaved (H x W x C); the dataset is planar.
        let hwc = batch.to_u8(i);
        for ch in 0..c {
            pixels.extend((0..plane).map(|p| hwc[p * c + ch]));
        }
    }
    let labels: Vec<i64> = (0..count)
        .map(|i| gan_runtime::balanced_label(i as u64, classes))
        .collect();
    let data = Dataset {
        pixels,
        len: count,
        channels: c,
        height: h,
        width: w,
        labels: Some(labels.iter().map(|&l| l as u8).collect()),
    };
    // The evaluation classifier reads [-1, 1], the range sample_grid returns.
    (data, batch.data().to_vec(), labels)
}

/// `real` followed by `synth`, and training indices that draw both about equally: the real
/// images repeated `round(synth / real)` times (at least once), then every synthetic image.
fn mix(real: &Dataset, synth: &Dataset) -> (Dataset, Vec<usize>) {
    let mut all = real.clone();
    all.pixels.extend_from_slice(&synth.pixels);
    all.len += synth.len;
    if let (Some(l), Some(s)) = (&mut all.labels, &synth.labels) {
        l.extend_from_slice(s);
    }
    let repeat = ((synth.len as f64 / real.len.max(1) as f64).round() as usize).max(1);
    let mut train: Vec<usize> = (0..repeat).flat_map(|_| 0..real.len).collect();
    train.extend(real.len..real.len + synth.len);
    (all, train)
}

fn fraction_dir(out: &Path, fraction: f64, seed: u64) -> PathBuf {
    out.join(format!("{}pct-seed{seed}", fraction * 100.0))
}

/// Runs the comparison on labeled `data`, calling `on_run` after each (fraction, seed) run.
pub fn augment_eval(
    data: &Dataset,
    options: &AugmentOptions,
    mut on_run: impl FnMut(&AugmentRun),
) -> Result<AugmentReport, EvalError> {
    let started = Instant::now();
    if options.fractions.is_empty() || options.seeds.is_empty() {
        return Err(EvalError::Options(
            "give at least one fraction and one seed".into(),
        ));
    }
    if let Some(f) = options
        .fractions
        .iter()
        .find(|f| !(**f > 0.0 && **f <= 1.0))
    {
        return Err(EvalError::Options(format!(
            "fraction {f} is outside (0, 1]"
        )));
    }
    if options.synthetic_per_class == 0 || options.gan_steps == 0 {
        return Err(EvalError::Options(
            "synthetic images per class and GAN steps must be at least 1".into(),
        ));
    }
    let labels = data.labels.as_deref().ok_or(EvalError::NoLabels)?;
    let classes = data.class_count().ok_or(EvalError::NoLabels)?;
    let evaluator = Evaluator::new(data, &options.eval)?;
    let split = evaluator.split().clone();
    let mut runs = Vec::new();
    for &fraction in &options.fractions {
        for &seed in &options.seeds {
            let run_started = Instant::now();
            let subset = stratified_subset(labels, &split.train, fraction, seed);
            let real = data.subset(&subset);
            let classifier = ClassifierConfig {
                seed,
                ..options.classifier.clone()
            };
            let all_real = Split {
                train: (0..real.len).collect(),
                heldout: Vec::new(),
            };
            let baseline = Classifier::train(&real, &all_real, &classifier, options.progress)?
                .accuracy(data, &split.heldout)?;

            let gan_dir = fraction_dir(&options.out_dir, fraction, seed);
            let gan_started = Instant::now();
            let result = run(
                &RunOptions {
                    progress: options.progress,
                    dataset_name: format!("{}% subset, seed {seed}", fraction * 100.0),
                    ..RunOptions::new(
                        TrainConfig {
                            num_classes: classes,
                            seed,
                            ..options.gan.clone()
                        },
                        options.gan_steps,
                        gan_dir.clone(),
                    )
                },
                &real,
            )
            .map_err(|e| {
                EvalError::Options(format!("training the GAN in {}: {e}", gan_dir.display()))
            })?;
            let gan_seconds = gan_started.elapsed().as_secs_f64();
            let count = options.synthetic_per_class * classes;
            let (synth, synth_images, synth_labels) =
                synthesize(&result.trainer.generator(), seed ^ SYNTH_SALT, count);
            let quality = evaluator.evaluate_images(&synth_images, count, Some(&synth_labels))?;

            let (mixed, train) = mix(&real, &synth);
            let augmented = Classifier::train(
                &mixed,
                &Split {
                    train,
                    heldout: Vec::new(),
                },
                &classifier,
                options.progress,
            )?
            .accuracy(data, &split.heldout)?;

            let r = AugmentRun {
                fraction,
                seed,
                real_images: real.len,
                synthetic_images: count,
                baseline_accuracy: baseline,
                augmented_accuracy: augmented,
                synthetic_class_accuracy: quality.conditional_accuracy_mean.unwrap_or(0.0),
                synthetic_fd: quality.fd,
                gan_dir,
                gan_seconds,
                seconds: run_started.elapsed().as_secs_f64(),
            };
            on_run(&r);
            runs.push(r);
        }
    }
    let rows = options
        .fractions
        .iter()
        .map(|&fraction| {
            let rs: Vec<&AugmentRun> = runs.iter().filter(|r| r.fraction == fraction).collect();
            AugmentRow {
                fraction,
                real_images: rs.first().map_or(0, |r| r.real_images),
                seeds: rs.len(),
                baseline: MeanStd::of(rs.iter().map(|r| r.baseline_accuracy)),
                augmented: MeanStd::of(rs.iter().map(|r| r.augmented_accuracy)),
                difference: MeanStd::of(
                    rs.iter()
                        .map(|r| r.augmented_accuracy - r.baseline_accuracy),
                ),
                augmented_better: rs
                    .iter()
                    .filter(|r| r.augmented_accuracy > r.baseline_accuracy)
                    .count(),
                synthetic_class_accuracy: MeanStd::of(
                    rs.iter().map(|r| r.synthetic_class_accuracy),
                ),
                synthetic_fd: MeanStd::of(rs.iter().map(|r| r.synthetic_fd)),
            }
        })
        .collect();
    Ok(AugmentReport {
        images: data.len,
        train_split: split.train.len(),
        test_images: split.heldout.len(),
        full_data_accuracy: evaluator.heldout_accuracy(),
        fd_floor: evaluator.fd_floor(),
        gan: options.gan.clone(),
        gan_steps: options.gan_steps,
        synthetic_per_class: options.synthetic_per_class,
        classifier: options.classifier.clone(),
        runs,
        rows,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn pct(m: MeanStd) -> String {
    format!("{:.1}% ± {:.1}", m.mean * 100.0, m.std * 100.0)
}

impl AugmentReport {
    /// Writes the report as pretty JSON to `path`, atomically.
    pub fn write_json(&self, path: &Path) -> Result<(), EvalError> {
        super::write_json(self, path)
    }

    /// The results as a Markdown table (mean ± standard deviation over seeds) with the
    /// protocol underneath.
    pub fn to_markdown(&self) -> String {
        let seeds = self.rows.first().map_or(0, |r| r.seeds);
        let mut s = format!(
            "## Real data + synthetic: test accuracy ({} test images, mean ± std over {seeds} seeds)\n\n",
            self.test_images
        );
        s += "| real fraction | real images | real only | real + synthetic | difference (paired) | synthetic better | synthetic: class accuracy | synthetic: FD |\n";
        s += "|---|---|---|---|---|---|---|---|\n";
        for r in &self.rows {
            s += &format!(
                "| {}% | {} | {} | {} | {:+.1} ± {:.1} points | {}/{} | {} | {:.1} ± {:.1} |\n",
                r.fraction * 100.0,
                r.real_images,
                pct(r.baseline),
                pct(r.augmented),
                r.difference.mean * 100.0,
                r.difference.std * 100.0,
                r.augmented_better,
                r.seeds,
                pct(r.synthetic_class_accuracy),
                r.synthetic_fd.mean,
                r.synthetic_fd.std
            );
        }
        s += &format!(
            "\nAll {} training-split images give {:.1}% (the evaluation classifier); the real-vs-real FD floor is {:.1}.\n",
            self.train_split,
            self.full_data_accuracy * 100.0,
            self.fd_floor
        );
        s += &format!(
            "Per run: a class-stratified subset of the training split; a conditional {} GAN trained {} steps (batch {}) on that subset only; {} synthetic images per class; both classifiers {} with the run's seed, real and synthetic drawn about 1:1 in the augmented arm. Test images are never trained on. {:.0} s in all.\n",
            self.gan.arch.name(),
            self.gan_steps,
            self.gan.batch_size,
            self.synthetic_per_class,
            match self.classifier.steps {
                Some(n) => format!("{n} steps of batch {}", self.classifier.batch_size),
                None => format!("{} epochs of batch {}", self.classifier.epochs, self.classifier.batch_size),
            },
            self.seconds
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_are_stratified_seeded_and_inside_the_pool() {
        let labels: Vec<u8> = (0..1000).map(|i| (i % 10) as u8).collect();
        let pool: Vec<usize> = (0..800).collect();
        let a = stratified_subset(&labels, &pool, 0.05, 1);
        assert_eq!(a.len(), 40);
        assert_eq!(a, stratified_subset(&labels, &pool, 0.05, 1));
        assert_ne!(a, stratified_subset(&labels, &pool, 0.05, 2));
        assert!(a.iter().all(|&i| i < 800));
        for c in 0..10u8 {
            assert_eq!(a.iter().filter(|&&i| labels[i] == c).count(), 4);
        }
        // At least one per class, however small the fraction.
        assert_eq!(stratified_subset(&labels, &pool, 0.0001, 0).len(), 10);
    }

    #[test]
    fn mixing_draws_real_and_synthetic_about_equally() {
        let ds = |n: usize, label: u8| Dataset {
            pixels: vec![label; n * 4],
            len: n,
            channels: 1,
            height: 2,
            width: 2,
            labels: Some(vec![label; n]),
        };
        let (all, train) = mix(&ds(10, 1), &ds(45, 2));
        assert_eq!(all.len, 55);
        assert_eq!(all.pixels.len(), 55 * 4);
        let labels = all.labels.unwrap();
        let real = train.iter().filter(|&&i| labels[i] == 1).count();
        assert_eq!((real, train.len() - real), (50, 45)); // 45 / 10 rounds to 5 repeats
    }

    #[test]
    fn mean_std() {
        let m = MeanStd::of([1.0, 3.0]);
        assert_eq!((m.mean, m.std), (2.0, 1.0));
        assert_eq!(MeanStd::of([5.0]).std, 0.0);
    }
}
