//! Do synthetic images help a classifier? Three settings ([`Setting`]), each a paired
//! comparison, seed by seed, of a classifier trained without (**baseline**) and with
//! (**augmented**) images from a conditional GAN trained on the same real images.
//!
//! **fraction** (the default, and the original protocol). For each fraction of the real
//! training split (1%, 5%, 10% by default) and each seed:
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
//! **rebalance** (class imbalance). The minority classes (class 3 by default) keep
//! `ceil(5%)` of their training images ([`imbalanced_subset`]), every other class all of
//! its; the GAN trains on that imbalanced set; the augmented arm adds synthetic images of the
//! minority classes only, enough to bring each to the other classes' mean count (or
//! `synthetic_per_class`), every real and synthetic image drawn alike (no 1:1 mixing). Both
//! arms report overall test accuracy and the minority classes' recall: the share of their
//! held-out images classified right.
//!
//! **filtered** (very little data, done carefully). A 1% subset, as in `fraction`; the real
//! images get classic augmentation ([`Augment`], rotate 10° and zoom 10% by default) in BOTH
//! arms, so the comparison is with a fair baseline; a synthetic image is kept only when the
//! evaluation classifier (trained on the whole training split) gives its requested class a
//! probability of at least `min_confidence` (0.9; [`confident`]). Rejected images are
//! replaced by fresh latents, in rounds, until every class has its quota or `max_tries` times
//! the quota of it were generated; the report counts what was kept and rejected.
//!
//! In every setting both arms get the same number of optimizer steps and the same seed, so a
//! difference comes from the data, not from longer training. Each row reports the paired
//! difference (augmented − baseline) as mean ± std over seeds and a 95% t-interval of its mean
//! ([`TInterval`]: mean ± t(0.975, n − 1) · s / √n, s the sample standard deviation with
//! n − 1), saying whether the interval excludes zero. The synthetic images are also scored by
//! the evaluation classifier: its accuracy on the requested classes and the FD, which say
//! whether a poor result comes from poor samples (in `filtered`, of the first, unfiltered
//! round of images).
//!
//! ```no_run
//! use gan_trainer::experiments::augment_eval::{augment_eval, AugmentOptions, Setting};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let data = gan_trainer::data::load_dir("../shared/data/mnist".as_ref())?;
//! let options = AugmentOptions {
//!     minority_classes: vec![3, 8],
//!     ..AugmentOptions::for_setting(Setting::Rebalance)
//! };
//! let report = augment_eval(&data, &options, |run| {
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

use crate::data::augment::Augment;
use crate::data::Dataset;
use crate::eval::classifier::{Classifier, ClassifierConfig, Split};
use crate::eval::{metrics, EvalError, EvalOptions, Evaluator};
use crate::run::{run, RunOptions};
use crate::train::TrainConfig;

/// Seed salts: subsets and synthetic latents draw from streams apart from the runs' own.
const SUBSET_SALT: u64 = 0xA06_5B5E_7000_0001;
const SYNTH_SALT: u64 = 0xA06_5E7D_0000_0002;

/// Which situation the comparison models (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Setting {
    /// Class-stratified fractions of the training split (the original protocol).
    #[default]
    Fraction,
    /// Minority classes cut to a fraction; synthetic images of those classes added.
    Rebalance,
    /// A small fraction with classic augmentation in both arms; synthetic images kept only
    /// when the evaluation classifier is confident of their class.
    Filtered,
}

impl Setting {
    /// The name `--setting` takes.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Fraction => "fraction",
            Setting::Rebalance => "rebalance",
            Setting::Filtered => "filtered",
        }
    }
}

/// How to run the comparison. Start from [`AugmentOptions::for_setting`]; each field names
/// the settings that read it.
#[derive(Debug, Clone)]
pub struct AugmentOptions {
    /// Which comparison.
    pub setting: Setting,
    /// fraction, filtered: fractions of the real training split to train on, each in (0, 1].
    pub fractions: Vec<f64>,
    /// Seeds: each draws its own subset, GAN and classifier initialization.
    pub seeds: Vec<u64>,
    /// GAN hyper-parameters; `num_classes` is set from the data and `seed` per run.
    pub gan: TrainConfig,
    /// GAN training steps per run.
    pub gan_steps: u64,
    /// Synthetic images per class (rebalance: per minority class; filtered: the quota of kept
    /// ones). `None`, for rebalance only: as many as bring each minority class to the other
    /// classes' mean count.
    pub synthetic_per_class: Option<usize>,
    /// rebalance: the classes cut down.
    pub minority_classes: Vec<usize>,
    /// rebalance: the share of its training images each minority class keeps (rounded up),
    /// in (0, 1].
    pub minority_fraction: f64,
    /// filtered: a synthetic image is kept when the evaluation classifier gives its class at
    /// least this probability, in (0, 1).
    pub min_confidence: f64,
    /// filtered: at most `max_tries` times the quota of images are generated per class.
    pub max_tries: usize,
    /// Classic augmentation of the classifiers' real images, in both arms (never of the
    /// synthetic ones).
    pub real_augment: Augment,
    /// Classifier training for both arms; `seed` is set per run, and `steps` should be set so
    /// that both arms train equally long.
    pub classifier: ClassifierConfig,
    /// The evaluation classifier and held-out split (the test set).
    pub eval: EvalOptions,
    /// Each run's GAN writes its sample grid and loss log under `out_dir/<run>`.
    pub out_dir: PathBuf,
    /// Show progress bars.
    pub progress: bool,
}

impl Default for AugmentOptions {
    /// [`AugmentOptions::for_setting`] of [`Setting::Fraction`].
    fn default() -> Self {
        Self::for_setting(Setting::Fraction)
    }
}

impl AugmentOptions {
    /// The defaults of `setting`. Every setting: seeds 0, 1, 2; conditional MLP GAN, 2,000
    /// steps of batch 64; classifiers 250 steps of batch 64; minority class 3 at 5%, minimum
    /// confidence 0.9, 10 tries (read by their own settings only). fraction: 1%, 5%, 10%, 200
    /// synthetic images per class, no classic augmentation. rebalance: synthetic images bring
    /// the minority class to the others' mean count. filtered: 1%, 200 kept images per class,
    /// real images rotated by up to 10° and zoomed by up to 10%.
    pub fn for_setting(setting: Setting) -> Self {
        let (fractions, synthetic_per_class, real_augment) = match setting {
            Setting::Fraction => (vec![0.01, 0.05, 0.10], Some(200), Augment::default()),
            Setting::Rebalance => (Vec::new(), None, Augment::default()),
            Setting::Filtered => (
                vec![0.01],
                Some(200),
                Augment {
                    rotate_deg: 10.0,
                    zoom: 0.1,
                    ..Augment::default()
                },
            ),
        };
        Self {
            setting,
            fractions,
            seeds: vec![0, 1, 2],
            gan: TrainConfig {
                batch_size: 64,
                ..TrainConfig::default()
            },
            gan_steps: 2000,
            synthetic_per_class,
            minority_classes: vec![3],
            minority_fraction: 0.05,
            min_confidence: 0.9,
            max_tries: 10,
            real_augment,
            classifier: ClassifierConfig {
                steps: Some(250),
                ..ClassifierConfig::default()
            },
            eval: EvalOptions::default(),
            out_dir: PathBuf::from("out/augment"),
            progress: false,
        }
    }

    /// The fractions the runs loop over: `fractions`, or for rebalance `minority_fraction`.
    pub fn run_fractions(&self) -> Vec<f64> {
        match self.setting {
            Setting::Rebalance => vec![self.minority_fraction],
            _ => self.fractions.clone(),
        }
    }

    /// The minority classes, for rebalance; none otherwise.
    fn minority(&self) -> &[usize] {
        match self.setting {
            Setting::Rebalance => &self.minority_classes,
            _ => &[],
        }
    }

    /// Checks the options for data with `class_counts[c]` images of class `c`. Errors are
    /// [`EvalError::Flag`], naming the command-line flag.
    pub fn validate(&self, class_counts: &[usize]) -> Result<(), EvalError> {
        let flag = |flag: &'static str, problem: String| Err(EvalError::Flag { flag, problem });
        if self.seeds.is_empty() {
            return flag("--seeds", "give at least one seed".into());
        }
        if self.gan_steps == 0 {
            return flag("--gan-steps", "must be at least 1".into());
        }
        let in_unit = |f: f64| f > 0.0 && f <= 1.0;
        match self.synthetic_per_class {
            Some(0) => return flag("--synthetic-per-class", "must be at least 1".into()),
            None if self.setting != Setting::Rebalance => {
                return flag(
                    "--synthetic-per-class",
                    format!("--setting {} needs a count", self.setting.name()),
                )
            }
            _ => {}
        }
        if self.setting != Setting::Rebalance {
            if self.fractions.is_empty() {
                return flag("--fractions", "give at least one fraction".into());
            }
            if let Some(f) = self.fractions.iter().find(|f| !in_unit(**f)) {
                return flag("--fractions", format!("{f} is outside (0, 1]"));
            }
        }
        if self.setting == Setting::Rebalance {
            let m = &self.minority_classes;
            if m.is_empty() {
                return flag("--minority-classes", "give at least one class".into());
            }
            for (i, &c) in m.iter().enumerate() {
                if class_counts.get(c).copied().unwrap_or(0) == 0 {
                    return flag(
                        "--minority-classes",
                        format!(
                            "class {c} is not in the data (its labels are 0..={})",
                            class_counts.len().saturating_sub(1)
                        ),
                    );
                }
                if m[..i].contains(&c) {
                    return flag("--minority-classes", format!("class {c} is given twice"));
                }
            }
            if class_counts
                .iter()
                .enumerate()
                .all(|(c, &n)| n == 0 || m.contains(&c))
            {
                return flag(
                    "--minority-classes",
                    "every class is a minority: leave at least one class whole".into(),
                );
            }
            if !in_unit(self.minority_fraction) {
                return flag(
                    "--minority-fraction",
                    format!("{} is outside (0, 1]", self.minority_fraction),
                );
            }
        }
        if self.setting == Setting::Filtered {
            if !(self.min_confidence > 0.0 && self.min_confidence < 1.0) {
                return flag(
                    "--min-confidence",
                    format!("{} is outside (0, 1)", self.min_confidence),
                );
            }
            if self.max_tries == 0 {
                return flag("--max-tries", "must be at least 1".into());
            }
        }
        Ok(())
    }
}

/// What the confidence filter of one run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct FilterCounts {
    /// Synthetic images generated.
    pub generated: usize,
    /// Of those, kept (`generated = kept + rejected`).
    pub kept: usize,
    /// Of those, rejected: the classifier gave their class less than the minimum confidence.
    pub rejected: usize,
    /// Rounds of generation.
    pub rounds: usize,
}

impl std::ops::AddAssign for FilterCounts {
    fn add_assign(&mut self, o: Self) {
        self.generated += o.generated;
        self.kept += o.kept;
        self.rejected += o.rejected;
        self.rounds += o.rounds;
    }
}

/// One (fraction, seed) run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AugmentRun {
    /// Fraction of the training split used (rebalance: the minority classes' fraction).
    pub fraction: f64,
    /// The run's seed.
    pub seed: u64,
    /// Real images trained on.
    pub real_images: usize,
    /// Synthetic images added in the augmented arm.
    pub synthetic_images: usize,
    /// Synthetic images added per class (they sum to `synthetic_images`).
    pub synthetic_by_class: Vec<usize>,
    /// Test accuracy trained on the real subset only.
    pub baseline_accuracy: f64,
    /// Test accuracy trained on real + synthetic.
    pub augmented_accuracy: f64,
    /// rebalance: the share of the minority classes' test images the baseline gets right.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_minority_recall: Option<f64>,
    /// rebalance: the same for the augmented arm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub augmented_minority_recall: Option<f64>,
    /// filtered: what the confidence filter kept and rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterCounts>,
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

/// A two-sided 95% confidence interval for the mean of `n` values (the paired differences of
/// the seeds): `mean ± t(0.975, n − 1) · s / √n`, with `s` the sample standard deviation
/// (divisor `n − 1`) and `t` Student's quantile ([`t_975`]). It assumes the values are
/// roughly normal; with 3 seeds `t(0.975, 2) = 4.303`, so the half-width is `2.48 s`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TInterval {
    /// Values.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// Sample standard deviation (divisor `n − 1`; 0 for one value).
    pub std: f64,
    /// Lower end; `None` for fewer than 2 values, which give no interval.
    pub low: Option<f64>,
    /// Upper end; `None` for fewer than 2 values.
    pub high: Option<f64>,
    /// Whether the interval lies wholly above or wholly below 0 (false without one).
    pub excludes_zero: bool,
}

impl TInterval {
    /// The interval of `values`.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let v: Vec<f64> = values.into_iter().collect();
        let n = v.len();
        let mean = v.iter().sum::<f64>() / n.max(1) as f64;
        if n < 2 {
            return Self {
                n,
                mean,
                std: 0.0,
                low: None,
                high: None,
                excludes_zero: false,
            };
        }
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        let half = t_975(n - 1) * std / (n as f64).sqrt();
        let (low, high) = (mean - half, mean + half);
        Self {
            n,
            mean,
            std,
            low: Some(low),
            high: Some(high),
            excludes_zero: low > 0.0 || high < 0.0,
        }
    }
}

/// The 0.975 quantile of Student's t distribution with `df` (at least 1) degrees of freedom:
/// the multiplier of a two-sided 95% interval. A table for `df <= 30`; beyond, the
/// Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5, four terms), within 1e-7 there.
pub fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157,
        2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922,
        2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831,
        2.048407, 2.045230, 2.042272,
    ];
    if (1..=TABLE.len()).contains(&df) {
        return TABLE[df - 1];
    }
    let v = df.max(1) as f64;
    let z = 1.959_963_984_540_054; // the normal's 0.975 quantile
    let z2 = z * z;
    let g1 = z * (z2 + 1.0) / 4.0;
    let g2 = z * ((5.0 * z2 + 16.0) * z2 + 3.0) / 96.0;
    let g3 = z * (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / 384.0;
    let g4 = z * ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) / 92160.0;
    z + g1 / v + g2 / v.powi(2) + g3 / v.powi(3) + g4 / v.powi(4)
}

/// The runs of one fraction, summarized over seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AugmentRow {
    /// Fraction of the training split (rebalance: the minority classes' fraction).
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
    /// 95% t-interval of the mean paired difference (its `std` is the sample one).
    pub difference_interval: TInterval,
    /// Seeds where augmented beat the baseline.
    pub augmented_better: usize,
    /// rebalance: the baseline's minority recall.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_minority_recall: Option<MeanStd>,
    /// rebalance: the augmented arm's minority recall.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub augmented_minority_recall: Option<MeanStd>,
    /// rebalance: 95% t-interval of the mean paired difference in minority recall.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minority_difference_interval: Option<TInterval>,
    /// filtered: the confidence filter's counts, summed over seeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterCounts>,
    /// Evaluation classifier's per-class accuracy on the synthetic images.
    pub synthetic_class_accuracy: MeanStd,
    /// FD of the synthetic images to the held-out real ones.
    pub synthetic_fd: MeanStd,
}

/// The rebalance setting's parameters, as run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RebalanceInfo {
    /// The classes cut down.
    pub minority_classes: Vec<usize>,
    /// The share of their training images they keep (rounded up).
    pub minority_fraction: f64,
    /// Their training-split images before the cut, per minority class.
    pub minority_train_images: Vec<usize>,
    /// The other classes' mean training-split count, which the synthetic images fill the
    /// minority classes up to (when no `synthetic_per_class` is given).
    pub fill_to: Option<usize>,
    /// Test images of the minority classes (the minority recall's denominator).
    pub minority_test_images: usize,
}

/// The filtered setting's parameters, as run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilterInfo {
    /// A synthetic image is kept when its class gets at least this probability.
    pub min_confidence: f64,
    /// At most this many times the quota is generated per class.
    pub max_tries: usize,
}

/// The comparison's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AugmentReport {
    /// Which comparison.
    pub setting: Setting,
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
    /// Synthetic images per class as asked (`None`: rebalance fills up to `fill_to`).
    pub synthetic_per_class: Option<usize>,
    /// Classifier configuration of both arms (seed per run).
    pub classifier: ClassifierConfig,
    /// Classic augmentation of the classifiers' real images, both arms (absent: none).
    #[serde(skip_serializing_if = "Augment::is_off")]
    pub real_augment: Augment,
    /// rebalance: its parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebalance: Option<RebalanceInfo>,
    /// filtered: its parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterInfo>,
    /// Every run.
    pub runs: Vec<AugmentRun>,
    /// One row per fraction.
    pub rows: Vec<AugmentRow>,
    /// Total seconds.
    pub seconds: f64,
}

/// Per class of `pool`, in label order, a seeded shuffle of its members of which the first
/// `take(class, count)` are kept. Sorted.
fn per_class_subset(
    labels: &[u8],
    pool: &[usize],
    seed: u64,
    take: impl Fn(usize, usize) -> usize,
) -> Vec<usize> {
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
    for (class, mut members) in by_class.into_iter().enumerate() {
        if members.is_empty() {
            continue;
        }
        members.shuffle(&mut rng);
        let n = take(class, members.len()).min(members.len());
        out.extend_from_slice(&members[..n]);
    }
    out.sort_unstable();
    out
}

/// A class-stratified subset of `pool`: per class, `round(fraction * count)` images (at least
/// one), drawn with `seed`. Sorted.
pub fn stratified_subset(labels: &[u8], pool: &[usize], fraction: f64, seed: u64) -> Vec<usize> {
    per_class_subset(labels, pool, seed, |_, n| {
        ((n as f64 * fraction).round() as usize).max(1)
    })
}

/// `ceil(fraction * count)`, at least 1, at most `count`; products within 1e-9 of an integer
/// count as that integer (0.05 × 200 is 10, not 11).
fn ceil_share(count: usize, fraction: f64) -> usize {
    (((count as f64 * fraction) - 1e-9).ceil() as usize).clamp(1, count.max(1))
}

/// The rebalance setting's imbalanced subset of `pool`: every image of the classes not in
/// `minority`, and of each minority class `ceil(fraction * count)` (at least one), drawn with
/// `seed`. Sorted.
pub fn imbalanced_subset(
    labels: &[u8],
    pool: &[usize],
    minority: &[usize],
    fraction: f64,
    seed: u64,
) -> Vec<usize> {
    per_class_subset(labels, pool, seed, |class, n| {
        if minority.contains(&class) {
            ceil_share(n, fraction)
        } else {
            n
        }
    })
}

/// The confidence filter: the positions `i` of the rows of `probs` (class probabilities of
/// images generated for classes `labels`) whose requested class has probability at least
/// `min_confidence`, while that class still needs images: `need[class] > 0`, counted down
/// for each image kept. Labels outside `need` are never kept.
pub fn confident(
    probs: &[Vec<f32>],
    labels: &[i64],
    min_confidence: f64,
    need: &mut [usize],
) -> Vec<usize> {
    // Compared in f32, the probabilities' own precision: 0.9 means 0.9f32.
    let min = min_confidence as f32;
    let mut kept = Vec::new();
    for (i, (p, &label)) in probs.iter().zip(labels).enumerate() {
        let Some(c) = usize::try_from(label).ok().filter(|&c| c < need.len()) else {
            continue;
        };
        if need[c] > 0 && p.get(c).is_some_and(|&q| q >= min) {
            need[c] -= 1;
            kept.push(i);
        }
    }
    kept
}

/// `counts[c]` labels of each class `c`, interleaved (0, 1, 2, 0, 1, 2, ...; a class drops
/// out when it has its count): for equal counts, the balanced labels `i % classes`.
fn round_robin(counts: &[usize]) -> Vec<i64> {
    let most = counts.iter().copied().max().unwrap_or(0);
    (0..most)
        .flat_map(|r| (0..counts.len()).filter(move |&c| counts[c] > r))
        .map(|c| c as i64)
        .collect()
}

/// Images of the classes `labels` from a conditional generator, latents
/// `start..start + labels.len()` of `seed`, as a labeled dataset of 8-bit pixels (what a user
/// gets from `generate --dataset`), and as the generator made them, in [-1, 1].
fn synthesize(
    g: &crate::model::Generator,
    seed: u64,
    start: u64,
    labels: &[i64],
) -> (Dataset, Vec<f32>) {
    let count = labels.len();
    let batch = crate::train::sample_labeled(g, seed, start, labels, &crate::device::cpu());
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
    let data = Dataset {
        pixels,
        len: count,
        channels: c,
        height: h,
        width: w,
        labels: Some(labels.iter().map(|&l| l as u8).collect()),
    };
    // The evaluation classifier reads [-1, 1], the range sample_labeled returns.
    (data, batch.data().to_vec())
}

/// `a` followed by `b`.
fn concat(a: &Dataset, b: &Dataset) -> Dataset {
    let mut all = a.clone();
    all.pixels.extend_from_slice(&b.pixels);
    all.len += b.len;
    if let (Some(l), Some(s)) = (&mut all.labels, &b.labels) {
        l.extend_from_slice(s);
    }
    all
}

/// `real` followed by `synth`, and training indices over both. With `balance`, they draw both
/// about equally: the real images repeated `round(synth / real)` times (at least once), then
/// every synthetic image; without, every image once.
fn mix(real: &Dataset, synth: &Dataset, balance: bool) -> (Dataset, Vec<usize>) {
    let all = concat(real, synth);
    let repeat = if balance {
        ((synth.len as f64 / real.len.max(1) as f64).round() as usize).max(1)
    } else {
        1
    };
    let mut train: Vec<usize> = (0..repeat).flat_map(|_| 0..real.len).collect();
    train.extend(real.len..real.len + synth.len);
    (all, train)
}

/// The synthetic side of one run.
struct Synthetic {
    data: Dataset,
    by_class: Vec<usize>,
    class_accuracy: f64,
    fd: f64,
    filter: Option<FilterCounts>,
}

/// `counts[c]` images of each class `c` (interleaved), scored by the evaluation classifier.
fn synthetic_counts(
    g: &crate::model::Generator,
    evaluator: &Evaluator,
    seed: u64,
    counts: &[usize],
) -> Result<Synthetic, EvalError> {
    let labels = round_robin(counts);
    let (data, images) = synthesize(g, seed, 0, &labels);
    let quality = evaluator.evaluate_images(&images, labels.len(), Some(&labels))?;
    Ok(Synthetic {
        data,
        by_class: counts.to_vec(),
        class_accuracy: quality.conditional_accuracy_mean.unwrap_or(0.0),
        fd: quality.fd,
        filter: None,
    })
}

/// The filtered setting's synthetic images: rounds of generation (fresh latents each round)
/// asking each class for the images it still needs, kept by [`confident`], until every class
/// has `per_class` or `max_tries * per_class` of it were generated. The class accuracy and
/// FD are of the first round (`per_class` of each class, unfiltered).
fn filtered_synthetic(
    g: &crate::model::Generator,
    evaluator: &Evaluator,
    seed: u64,
    per_class: usize,
    options: &AugmentOptions,
) -> Result<Synthetic, EvalError> {
    let classes = g.num_classes();
    let cap = per_class.saturating_mul(options.max_tries);
    let mut need = vec![per_class; classes];
    let mut tried = vec![0usize; classes];
    let s = g.shape();
    let mut kept = Dataset {
        pixels: Vec::new(),
        len: 0,
        channels: s.channels,
        height: s.height,
        width: s.width,
        labels: Some(Vec::new()),
    };
    let mut counts = FilterCounts::default();
    let mut quality = None;
    loop {
        let ask: Vec<usize> = (0..classes).map(|c| need[c].min(cap - tried[c])).collect();
        let labels = round_robin(&ask);
        if labels.is_empty() {
            break;
        }
        let n = labels.len();
        let (data, images) = synthesize(g, seed, counts.generated as u64, &labels);
        if quality.is_none() {
            quality = Some(evaluator.evaluate_images(&images, n, Some(&labels))?);
        }
        let probs = evaluator.classifier().predict_proba(&images, n)?;
        let keep = confident(&probs, &labels, options.min_confidence, &mut need);
        kept = concat(&kept, &data.subset(&keep));
        for (t, a) in tried.iter_mut().zip(&ask) {
            *t += a;
        }
        counts.generated += n;
        counts.kept += keep.len();
        counts.rounds += 1;
    }
    counts.rejected = counts.generated - counts.kept;
    let quality = quality.ok_or_else(|| EvalError::Options("no synthetic images asked".into()))?;
    Ok(Synthetic {
        data: kept,
        by_class: need.iter().map(|&left| per_class - left).collect(),
        class_accuracy: quality.conditional_accuracy_mean.unwrap_or(0.0),
        fd: quality.fd,
        filter: Some(counts),
    })
}

/// Test accuracy of `c` on `heldout`, and when `minority` is not empty the minority recall:
/// the share of the held-out images of those classes that it classifies right.
fn test_scores(
    c: &Classifier,
    data: &Dataset,
    heldout: &[usize],
    minority: &[usize],
) -> Result<(f64, Option<f64>), EvalError> {
    let labels = data.labels.as_deref().ok_or(EvalError::NoLabels)?;
    let (_, probs) = c.dataset_features(data, heldout)?;
    let truth = || heldout.iter().map(|&i| labels[i] as usize);
    let accuracy = metrics::accuracy(&probs, truth());
    if minority.is_empty() {
        return Ok((accuracy, None));
    }
    let (mut total, mut right) = (0usize, 0usize);
    for (y, p) in truth().zip(&probs) {
        if minority.contains(&y) {
            total += 1;
            right += usize::from(metrics::argmax(p) == Some(y));
        }
    }
    Ok((accuracy, Some(right as f64 / total.max(1) as f64)))
}

/// Images per class (`0..classes`) among `indices`.
fn class_counts(
    labels: &[u8],
    indices: impl IntoIterator<Item = usize>,
    classes: usize,
) -> Vec<usize> {
    let mut n = vec![0usize; classes];
    for i in indices {
        n[labels[i] as usize] += 1;
    }
    n
}

/// The rebalance setting's parameters, and the synthetic images it adds per class: for each
/// minority class `synthetic_per_class`, or as many as bring its `ceil(fraction)` share to the
/// other classes' mean count; none for the others. Refuses minority classes without training
/// or test images, and a plan that adds nothing.
fn rebalance_plan(
    options: &AugmentOptions,
    train_counts: &[usize],
    test_counts: &[usize],
) -> Result<(RebalanceInfo, Vec<usize>), EvalError> {
    let minority = &options.minority_classes;
    let flag = |flag, problem| Err(EvalError::Flag { flag, problem });
    for &c in minority {
        if train_counts[c] == 0 || test_counts[c] == 0 {
            return flag(
                "--minority-classes",
                format!(
                    "class {c} has {} training and {} test images: it needs both",
                    train_counts[c], test_counts[c]
                ),
            );
        }
    }
    let others: Vec<usize> = (0..train_counts.len())
        .filter(|c| !minority.contains(c) && train_counts[*c] > 0)
        .map(|c| train_counts[c])
        .collect();
    let mean = others.iter().sum::<usize>() as f64 / others.len().max(1) as f64;
    let fill = mean.round() as usize;
    // What imbalanced_subset keeps of a minority class.
    let kept = |c: usize| ceil_share(train_counts[c], options.minority_fraction);
    let counts: Vec<usize> = (0..train_counts.len())
        .map(
            |c| match (minority.contains(&c), options.synthetic_per_class) {
                (false, _) => 0,
                (true, Some(n)) => n,
                (true, None) => fill.saturating_sub(kept(c)),
            },
        )
        .collect();
    if counts.iter().all(|&n| n == 0) {
        return flag(
            "--minority-fraction",
            format!(
                "{} leaves the minority classes as large as the others: nothing to fill up (lower it, or give --synthetic-per-class)",
                options.minority_fraction
            ),
        );
    }
    let info = RebalanceInfo {
        minority_classes: minority.clone(),
        minority_fraction: options.minority_fraction,
        minority_train_images: minority.iter().map(|&c| train_counts[c]).collect(),
        fill_to: options.synthetic_per_class.is_none().then_some(fill),
        minority_test_images: minority.iter().map(|&c| test_counts[c]).sum(),
    };
    Ok((info, counts))
}

/// Where a run's GAN writes, and the name its samples carry.
fn run_names(options: &AugmentOptions, fraction: f64, seed: u64) -> (PathBuf, String) {
    let pct = fraction * 100.0;
    let (dir, name) = match options.setting {
        Setting::Fraction => (
            format!("{pct}pct-seed{seed}"),
            format!("{pct}% subset, seed {seed}"),
        ),
        Setting::Rebalance => {
            let m: Vec<String> = options
                .minority_classes
                .iter()
                .map(|c| c.to_string())
                .collect();
            (
                format!("rebalance-{}-{pct}pct-seed{seed}", m.join("-")),
                format!("classes {} at {pct}%, seed {seed}", m.join(",")),
            )
        }
        Setting::Filtered => (
            format!("filtered-{pct}pct-seed{seed}"),
            format!("{pct}% subset, seed {seed}"),
        ),
    };
    (options.out_dir.join(dir), name)
}

/// Runs the comparison of `options.setting` on labeled `data`, calling `on_run` after each
/// (fraction, seed) run.
pub fn augment_eval(
    data: &Dataset,
    options: &AugmentOptions,
    mut on_run: impl FnMut(&AugmentRun),
) -> Result<AugmentReport, EvalError> {
    let started = Instant::now();
    let labels = data.labels.as_deref().ok_or(EvalError::NoLabels)?;
    let classes = data.class_count().ok_or(EvalError::NoLabels)?;
    let count = |indices: &[usize]| class_counts(labels, indices.iter().copied(), classes);
    options.validate(&class_counts(labels, 0..data.len, classes))?;
    let evaluator = Evaluator::new(data, &options.eval)?;
    let split = evaluator.split().clone();
    let train_counts = count(&split.train);
    let test_counts = count(&split.heldout);
    let minority = options.minority();
    let per_class = options.synthetic_per_class.unwrap_or(0);
    // Synthetic images per class, the same for every seed (filtered: the quota of kept ones).
    let (rebalance, synth_counts) = match options.setting {
        Setting::Rebalance => {
            let (info, counts) = rebalance_plan(options, &train_counts, &test_counts)?;
            (Some(info), counts)
        }
        _ => (None, vec![per_class; classes]),
    };
    let mut runs = Vec::new();
    for fraction in options.run_fractions() {
        for &seed in &options.seeds {
            let run_started = Instant::now();
            let subset = match options.setting {
                Setting::Rebalance => {
                    imbalanced_subset(labels, &split.train, minority, fraction, seed)
                }
                _ => stratified_subset(labels, &split.train, fraction, seed),
            };
            let real = data.subset(&subset);
            let classifier = ClassifierConfig {
                seed,
                ..options.classifier.clone()
            };
            let all_real = Split {
                train: (0..real.len).collect(),
                heldout: Vec::new(),
            };
            let baseline = Classifier::train_augmented(
                &real,
                &all_real,
                &classifier,
                &options.real_augment,
                0..real.len,
                options.progress,
            )?;
            let (baseline, baseline_minority) =
                test_scores(&baseline, data, &split.heldout, minority)?;

            let (gan_dir, dataset_name) = run_names(options, fraction, seed);
            let gan_started = Instant::now();
            let result = run(
                &RunOptions {
                    progress: options.progress,
                    dataset_name,
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
            let g = result.trainer.generator();
            let synth_seed = seed ^ SYNTH_SALT;
            let synth = match options.setting {
                Setting::Filtered => {
                    filtered_synthetic(&g, &evaluator, synth_seed, per_class, options)?
                }
                _ => synthetic_counts(&g, &evaluator, synth_seed, &synth_counts)?,
            };

            let balance = options.setting != Setting::Rebalance;
            let (mixed, train) = mix(&real, &synth.data, balance);
            let augmented = Classifier::train_augmented(
                &mixed,
                &Split {
                    train,
                    heldout: Vec::new(),
                },
                &classifier,
                &options.real_augment,
                0..real.len,
                options.progress,
            )?;
            let (augmented, augmented_minority) =
                test_scores(&augmented, data, &split.heldout, minority)?;

            let r = AugmentRun {
                fraction,
                seed,
                real_images: real.len,
                synthetic_images: synth.data.len,
                synthetic_by_class: synth.by_class,
                baseline_accuracy: baseline,
                augmented_accuracy: augmented,
                baseline_minority_recall: baseline_minority,
                augmented_minority_recall: augmented_minority,
                filter: synth.filter,
                synthetic_class_accuracy: synth.class_accuracy,
                synthetic_fd: synth.fd,
                gan_dir,
                gan_seconds,
                seconds: run_started.elapsed().as_secs_f64(),
            };
            on_run(&r);
            runs.push(r);
        }
    }
    let rows = options
        .run_fractions()
        .into_iter()
        .map(|fraction| summarize(fraction, &runs))
        .collect();
    Ok(AugmentReport {
        setting: options.setting,
        images: data.len,
        train_split: split.train.len(),
        test_images: split.heldout.len(),
        full_data_accuracy: evaluator.heldout_accuracy(),
        fd_floor: evaluator.fd_floor(),
        gan: options.gan.clone(),
        gan_steps: options.gan_steps,
        synthetic_per_class: options.synthetic_per_class,
        classifier: options.classifier.clone(),
        real_augment: options.real_augment,
        rebalance,
        filter: (options.setting == Setting::Filtered).then_some(FilterInfo {
            min_confidence: options.min_confidence,
            max_tries: options.max_tries,
        }),
        runs,
        rows,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The row of the runs of `fraction`.
fn summarize(fraction: f64, runs: &[AugmentRun]) -> AugmentRow {
    let rs: Vec<&AugmentRun> = runs.iter().filter(|r| r.fraction == fraction).collect();
    let diffs = || {
        rs.iter()
            .map(|r| r.augmented_accuracy - r.baseline_accuracy)
    };
    let minority = |f: fn(&AugmentRun) -> Option<f64>| -> Option<Vec<f64>> {
        rs.iter().map(|r| f(r)).collect()
    };
    let base_min = minority(|r| r.baseline_minority_recall);
    let aug_min = minority(|r| r.augmented_minority_recall);
    AugmentRow {
        fraction,
        real_images: rs.first().map_or(0, |r| r.real_images),
        seeds: rs.len(),
        baseline: MeanStd::of(rs.iter().map(|r| r.baseline_accuracy)),
        augmented: MeanStd::of(rs.iter().map(|r| r.augmented_accuracy)),
        difference: MeanStd::of(diffs()),
        difference_interval: TInterval::of(diffs()),
        augmented_better: rs
            .iter()
            .filter(|r| r.augmented_accuracy > r.baseline_accuracy)
            .count(),
        minority_difference_interval: base_min
            .as_ref()
            .zip(aug_min.as_ref())
            .map(|(b, a)| TInterval::of(a.iter().zip(b).map(|(a, b)| a - b))),
        baseline_minority_recall: base_min.map(MeanStd::of),
        augmented_minority_recall: aug_min.map(MeanStd::of),
        filter: rs
            .iter()
            .map(|r| r.filter)
            .collect::<Option<Vec<_>>>()
            .map(|f| {
                f.into_iter().fold(FilterCounts::default(), |mut sum, c| {
                    sum += c;
                    sum
                })
            }),
        synthetic_class_accuracy: MeanStd::of(rs.iter().map(|r| r.synthetic_class_accuracy)),
        synthetic_fd: MeanStd::of(rs.iter().map(|r| r.synthetic_fd)),
    }
}

fn pct(m: MeanStd) -> String {
    format!("{:.1}% ± {:.1}", m.mean * 100.0, m.std * 100.0)
}

/// `[low, high] points, excludes 0` (or `includes 0`), or a dash without an interval.
fn interval_cell(t: &TInterval) -> String {
    match (t.low, t.high) {
        (Some(lo), Some(hi)) => format!(
            "[{:+.1}, {:+.1}] points, {}",
            lo * 100.0,
            hi * 100.0,
            if t.excludes_zero {
                "excludes 0"
            } else {
                "includes 0"
            }
        ),
        _ => "– (one seed)".into(),
    }
}

impl AugmentReport {
    /// Writes the report as pretty JSON to `path`, atomically.
    pub fn write_json(&self, path: &Path) -> Result<(), EvalError> {
        crate::eval::write_json(self, path)
    }

    /// The results as a Markdown table (mean ± standard deviation over seeds, and the 95%
    /// t-interval of the paired difference) with the protocol underneath.
    pub fn to_markdown(&self) -> String {
        let seeds = self.rows.first().map_or(0, |r| r.seeds);
        let setting = match self.setting {
            Setting::Fraction => String::new(),
            s => format!(", {}", s.name()),
        };
        let mut s = format!(
            "## Real data + synthetic{setting}: test accuracy ({} test images, mean ± std over {seeds} seeds)\n\n",
            self.test_images
        );
        let rebalance = self.setting == Setting::Rebalance;
        let mut head = vec![
            if rebalance {
                "minority fraction"
            } else {
                "real fraction"
            },
            "real images",
            "real only",
            "real + synthetic",
            "difference (paired)",
            "95% interval of the difference",
        ];
        if rebalance {
            head.extend([
                "minority recall: real only",
                "minority recall: real + synthetic",
                "minority recall: 95% interval of the difference",
            ]);
        }
        head.push("synthetic better");
        if self.setting == Setting::Filtered {
            head.push("synthetic kept / generated");
        }
        head.extend(["synthetic: class accuracy", "synthetic: FD"]);
        s += &format!("| {} |\n", head.join(" | "));
        s += &format!("|{}\n", "---|".repeat(head.len()));
        for r in &self.rows {
            let mut cells = vec![
                format!("{}%", r.fraction * 100.0),
                r.real_images.to_string(),
                pct(r.baseline),
                pct(r.augmented),
                format!(
                    "{:+.1} ± {:.1} points",
                    r.difference.mean * 100.0,
                    r.difference.std * 100.0
                ),
                interval_cell(&r.difference_interval),
            ];
            if let (Some(b), Some(a), Some(t)) = (
                r.baseline_minority_recall,
                r.augmented_minority_recall,
                &r.minority_difference_interval,
            ) {
                cells.extend([
                    pct(b),
                    pct(a),
                    format!("{:+.1} points; {}", t.mean * 100.0, interval_cell(t)),
                ]);
            }
            cells.push(format!("{}/{}", r.augmented_better, r.seeds));
            if let Some(f) = r.filter {
                cells.push(format!("{} / {}", f.kept, f.generated));
            }
            cells.extend([
                pct(r.synthetic_class_accuracy),
                format!("{:.1} ± {:.1}", r.synthetic_fd.mean, r.synthetic_fd.std),
            ]);
            s += &format!("| {} |\n", cells.join(" | "));
        }
        s += &format!(
            "\nAll {} training-split images give {:.1}% (the evaluation classifier); the real-vs-real FD floor is {:.1}.\n",
            self.train_split,
            self.full_data_accuracy * 100.0,
            self.fd_floor
        );
        let classifier = match self.classifier.steps {
            Some(n) => format!("{n} steps of batch {}", self.classifier.batch_size),
            None => format!(
                "{} epochs of batch {}",
                self.classifier.epochs, self.classifier.batch_size
            ),
        };
        let gan = format!(
            "a conditional {} GAN trained {} steps (batch {})",
            self.gan.arch.name(),
            self.gan_steps,
            self.gan.batch_size
        );
        let per_class = self.synthetic_per_class.unwrap_or(0);
        s += &match (&self.rebalance, &self.filter) {
            (Some(rb), _) => {
                let classes: Vec<String> =
                    rb.minority_classes.iter().map(|c| c.to_string()).collect();
                let synthetic = match rb.fill_to {
                    Some(n) => format!("synthetic images of each minority class up to the other classes' mean count, {n}"),
                    None => format!("{per_class} synthetic images of each minority class"),
                };
                format!(
                    "Per run: class {} cut to {}% of its training images (rounded up, from {}), the other classes whole; {gan} on that imbalanced set; {synthetic}; both classifiers {classifier} with the run's seed, every real and synthetic image drawn alike. Minority recall: the share of the {} test images of class {} classified right.",
                    classes.join(", "),
                    rb.minority_fraction * 100.0,
                    rb.minority_train_images
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    rb.minority_test_images,
                    classes.join(", ")
                )
            }
            (None, Some(f)) => format!(
                "Per run: a class-stratified subset of the training split; {gan} on that subset only; {per_class} synthetic images per class, each kept when the evaluation classifier gives its class a probability of at least {} (at most {} × {per_class} generated per class; the class accuracy and FD are of the first, unfiltered {per_class} per class); both classifiers {classifier} with the run's seed, real and synthetic drawn about 1:1 in the augmented arm.",
                f.min_confidence, f.max_tries
            ),
            (None, None) => format!(
                "Per run: a class-stratified subset of the training split; {gan} on that subset only; {per_class} synthetic images per class; both classifiers {classifier} with the run's seed, real and synthetic drawn about 1:1 in the augmented arm."
            ),
        };
        if !self.real_augment.is_off() {
            s += &format!(
                " Real images augmented ({}) in both arms, synthetic ones not.",
                self.real_augment
            );
        }
        s += &format!(
            " Test images are never trained on. 95% interval: mean ± t(0.975, n − 1) · s / √n over the seeds' paired differences, s their sample standard deviation. {:.0} s in all.\n",
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
        let (all, train) = mix(&ds(10, 1), &ds(45, 2), true);
        assert_eq!(all.len, 55);
        assert_eq!(all.pixels.len(), 55 * 4);
        let labels = all.labels.unwrap();
        let real = train.iter().filter(|&&i| labels[i] == 1).count();
        assert_eq!((real, train.len() - real), (50, 45)); // 45 / 10 rounds to 5 repeats
                                                          // Rebalancing draws every image once.
        let (_, train) = mix(&ds(10, 1), &ds(45, 2), false);
        assert_eq!(train, (0..55).collect::<Vec<_>>());
    }

    /// Class `c` has `60 + 2c` images, interleaved.
    fn uneven_labels() -> Vec<u8> {
        let mut left: Vec<usize> = (0..10).map(|c| 60 + 2 * c).collect();
        let mut labels = Vec::new();
        while left.iter().any(|&n| n > 0) {
            for (c, n) in left.iter_mut().enumerate().filter(|(_, n)| **n > 0) {
                labels.push(c as u8);
                *n -= 1;
            }
        }
        labels
    }

    #[test]
    fn imbalanced_subsets_cut_the_minority_to_its_ceiling_share_only() {
        let labels = uneven_labels();
        let pool: Vec<usize> = (0..labels.len()).collect();
        let a = imbalanced_subset(&labels, &pool, &[3, 8], 0.05, 1);
        let count = |c: u8| a.iter().filter(|&&i| labels[i] == c).count();
        // Class 3 has 66 images: 5% is 3.3, rounded up to 4; class 8 has 76: 3.8 -> 4.
        assert_eq!((count(3), count(8)), (4, 4));
        for c in [0u8, 1, 2, 4, 5, 6, 7, 9] {
            assert_eq!(count(c), 60 + 2 * c as usize, "class {c} is kept whole");
        }
        assert!(a.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
        assert_eq!(a, imbalanced_subset(&labels, &pool, &[3, 8], 0.05, 1));
        assert_ne!(a, imbalanced_subset(&labels, &pool, &[3, 8], 0.05, 2));
        // A fraction that multiplies to a whole number is not rounded up past it.
        assert_eq!(ceil_share(200, 0.05), 10);
        assert_eq!(ceil_share(201, 0.05), 11);
        assert_eq!(ceil_share(5, 0.01), 1);
        assert_eq!(ceil_share(7, 1.0), 7);
    }

    #[test]
    fn rebalancing_fills_the_minority_up_to_the_others_mean() {
        let mut train = vec![100; 10];
        train[0] = 90; // the others' mean: (90 + 8 * 100) / 9 = 98.9 -> 99
        let test = vec![20; 10];
        let options = AugmentOptions {
            minority_classes: vec![3, 7],
            ..AugmentOptions::for_setting(Setting::Rebalance)
        };
        let (info, counts) = rebalance_plan(&options, &train, &test).unwrap();
        assert_eq!(info.fill_to, Some(99));
        assert_eq!(info.minority_test_images, 40);
        assert_eq!(info.minority_train_images, vec![100, 100]);
        // Each minority class keeps ceil(5% of 100) = 5 and gets 94 more.
        let want: Vec<usize> = (0..10)
            .map(|c| if c == 3 || c == 7 { 94 } else { 0 })
            .collect();
        assert_eq!(counts, want);
        let fixed = AugmentOptions {
            synthetic_per_class: Some(7),
            ..options.clone()
        };
        let (info, counts) = rebalance_plan(&fixed, &train, &test).unwrap();
        assert_eq!(
            (info.fill_to, counts[3], counts[7], counts[0]),
            (None, 7, 7, 0)
        );
        let whole = AugmentOptions {
            minority_fraction: 1.0,
            ..options.clone()
        };
        assert!(matches!(
            rebalance_plan(&whole, &train, &test),
            Err(EvalError::Flag {
                flag: "--minority-fraction",
                ..
            })
        ));
        let mut no_test = test.clone();
        no_test[7] = 0;
        assert!(matches!(
            rebalance_plan(&options, &train, &no_test),
            Err(EvalError::Flag {
                flag: "--minority-classes",
                ..
            })
        ));
    }

    #[test]
    fn the_filter_keeps_confident_images_up_to_each_class_quota() {
        let probs: Vec<Vec<f32>> = vec![
            vec![0.95, 0.05, 0.00], // class 0, confident
            vec![0.50, 0.50, 0.00], // class 1, not
            vec![0.00, 0.10, 0.90], // class 2, exactly at the threshold: kept
            vec![0.97, 0.02, 0.01], // class 0 again, confident, quota left
            vec![0.99, 0.01, 0.00], // class 0, confident but its quota is full
            vec![0.05, 0.92, 0.03], // class 1, confident
            vec![0.05, 0.92, 0.03], // asked for class 2 but confident of 1: rejected
            vec![0.00, 0.00, 1.00], // a label outside the classes: never kept
        ];
        let labels = [0, 1, 2, 0, 0, 1, 2, 7];
        let mut need = vec![2, 5, 3];
        let kept = confident(&probs, &labels, 0.9, &mut need);
        assert_eq!(kept, vec![0, 2, 3, 5]);
        assert_eq!(need, vec![0, 4, 2]);
        // A stricter threshold keeps fewer, and leaves room for the later class-0 image.
        let mut need = vec![2, 5, 3];
        assert_eq!(confident(&probs, &labels, 0.96, &mut need), vec![3, 4]);
        assert_eq!(need, vec![0, 5, 3]);
    }

    #[test]
    fn round_robin_interleaves_the_classes() {
        assert_eq!(round_robin(&[2, 0, 3]), vec![0, 2, 0, 2, 2]);
        let balanced: Vec<i64> = (0..12).map(|i| i % 3).collect();
        assert_eq!(round_robin(&[4, 4, 4]), balanced);
        assert!(round_robin(&[0, 0]).is_empty());
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        // Student's t, 0.975 quantile (e.g. R's qt(0.975, df)).
        for (df, t) in [
            (1, 12.7062),
            (2, 4.3027),
            (3, 3.1824),
            (9, 2.2622),
            (30, 2.0423),
            (31, 2.0395),
            (40, 2.0211),
            (60, 2.0003),
            (120, 1.9799),
        ] {
            assert!((t_975(df) - t).abs() < 1e-4, "df {df}: {}", t_975(df));
        }
        // The expansion takes over smoothly after the table.
        assert!(t_975(30) > t_975(31) && t_975(31) > t_975(32));
        assert!((t_975(100_000) - 1.959_964).abs() < 1e-4);
    }

    #[test]
    fn t_intervals() {
        // Mean 2, sample std 1: half-width 4.303 / sqrt(3) = 2.484.
        let t = TInterval::of([1.0, 2.0, 3.0]);
        assert_eq!((t.n, t.mean, t.std), (3, 2.0, 1.0));
        assert!((t.low.unwrap() - (2.0 - 2.48414)).abs() < 1e-4, "{t:?}");
        assert!((t.high.unwrap() - (2.0 + 2.48414)).abs() < 1e-4, "{t:?}");
        assert!(!t.excludes_zero);
        let t = TInterval::of([1.0, 1.1, 0.9]);
        assert!(t.excludes_zero && t.low.unwrap() > 0.7, "{t:?}");
        let t = TInterval::of([-1.0, -1.1, -0.9]);
        assert!(t.excludes_zero && t.high.unwrap() < -0.7, "{t:?}");
        // One value: no interval.
        let t = TInterval::of([0.5]);
        assert_eq!(
            (t.low, t.high, t.excludes_zero, t.std),
            (None, None, false, 0.0)
        );
    }

    #[test]
    fn bad_options_name_their_flag() {
        let counts = vec![100; 10];
        let flag = |o: AugmentOptions| match o.validate(&counts) {
            Err(EvalError::Flag { flag, problem }) => format!("{flag}: {problem}"),
            other => panic!("{other:?}"),
        };
        let rebalance = AugmentOptions::for_setting(Setting::Rebalance);
        let filtered = AugmentOptions::for_setting(Setting::Filtered);
        for o in [
            AugmentOptions::default(),
            rebalance.clone(),
            filtered.clone(),
        ] {
            o.validate(&counts).unwrap();
        }
        let e = flag(AugmentOptions {
            minority_classes: vec![3, 12],
            ..rebalance.clone()
        });
        assert_eq!(
            e,
            "--minority-classes: class 12 is not in the data (its labels are 0..=9)"
        );
        let mut holes = counts.clone();
        holes[4] = 0;
        let o = AugmentOptions {
            minority_classes: vec![4],
            ..rebalance.clone()
        };
        assert!(matches!(
            o.validate(&holes),
            Err(EvalError::Flag {
                flag: "--minority-classes",
                ..
            })
        ));
        assert!(flag(AugmentOptions {
            minority_classes: (0..10).collect(),
            ..rebalance.clone()
        })
        .contains("leave at least one class whole"));
        assert!(flag(AugmentOptions {
            minority_classes: vec![3, 3],
            ..rebalance.clone()
        })
        .contains("twice"));
        for f in [0.0, 1.5, f64::NAN] {
            let e = flag(AugmentOptions {
                minority_fraction: f,
                ..rebalance.clone()
            });
            assert!(e.starts_with("--minority-fraction: "), "{e}");
            let e = flag(AugmentOptions {
                fractions: vec![0.1, f],
                ..AugmentOptions::default()
            });
            assert!(e.starts_with("--fractions: "), "{e}");
        }
        for c in [0.0, 1.0, -0.5, 2.0] {
            let e = flag(AugmentOptions {
                min_confidence: c,
                ..filtered.clone()
            });
            assert_eq!(e, format!("--min-confidence: {c} is outside (0, 1)"));
        }
        let e = flag(AugmentOptions {
            max_tries: 0,
            ..filtered.clone()
        });
        assert!(e.starts_with("--max-tries"), "{e}");
        let e = flag(AugmentOptions {
            synthetic_per_class: None,
            ..filtered
        });
        assert!(e.starts_with("--synthetic-per-class"), "{e}");
        // Options of another setting are not checked.
        AugmentOptions {
            min_confidence: 5.0,
            minority_classes: vec![99],
            ..AugmentOptions::default()
        }
        .validate(&counts)
        .unwrap();
    }

    #[test]
    fn mean_std() {
        let m = MeanStd::of([1.0, 3.0]);
        assert_eq!((m.mean, m.std), (2.0, 1.0));
        assert_eq!(MeanStd::of([5.0]).std, 0.0);
    }
}
