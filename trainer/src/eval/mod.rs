//! What a generator is worth: sample quality measured against held-out real data.
//!
//! A small CNN ([`classifier`]) is trained on the labeled real data with part of it held out;
//! its 128-d penultimate features and its predictions feed the [`metrics`]:
//!
//! - **Fréchet distance** between generated and held-out real features, next to its floor: the
//!   same distance between the held-out set and an equal-size sample of the training split
//!   (two real samples; no generator can be expected to do better than about that).
//! - **Inception score** with this classifier (not Inception v3: values compare only between
//!   runs using the same classifier), for the generated and the held-out real images.
//! - **Precision / recall** by k-NN manifolds (Kynkäänniemi et al. 2019, k = 3).
//! - The **class histogram** of the generated images as the classifier labels them, and for
//!   conditional models the classifier's **accuracy on each requested class**.
//!
//! [`Evaluator`] holds the classifier and the held-out statistics, so a training loop can ask
//! for [`Evaluator::fd_of_images`] every few steps cheaply; [`evaluate`] does the whole job
//! for an exported ONNX generator, as `trainer eval` does.
//!
//! ```no_run
//! use gan_trainer::eval::{self, EvalOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let options = EvalOptions::default(); // 3-epoch classifier cached in ~/.cache, seed 0, k = 3
//! let report = eval::evaluate(
//!     "models/fashion-mlp.onnx".as_ref(),
//!     "../shared/data/fashion-mnist".as_ref(),
//!     &options,
//! )?;
//! println!("{}", report.to_markdown());
//! report.write_json("eval.json".as_ref())?;
//! assert!(report.fd >= report.fd_floor);
//! # Ok(())
//! # }
//! ```
//!
//! During training (images `[n, C, H, W]` in [-1, 1], as the generator outputs them):
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let images: Vec<f32> = vec![];
//! let data = gan_trainer::data::load_dir("../shared/data/fashion-mnist".as_ref())?;
//! let evaluator = gan_trainer::eval::Evaluator::new(&data, &Default::default())?;
//! let fd = evaluator.fd_of_images(&images, images.len() / (28 * 28))?;
//! println!("FD {fd:.2} (floor {:.2})", evaluator.fd_floor());
//! # Ok(())
//! # }
//! ```

pub mod classifier;
pub mod metrics;

use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::data::{DataError, Dataset};
use crate::model::ImageShape;
use classifier::{Classifier, ClassifierConfig, Feature, Provenance, Split};
use metrics::{FeatureStats, MetricError, PrecisionRecall, SplitScore};

/// Most images one evaluation generates (precision/recall costs grow with the square).
pub const MAX_SAMPLES: usize = 10_000;
/// Fewest images an evaluation accepts.
pub const MIN_SAMPLES: usize = 10;

/// Why an evaluation failed.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The real data could not be loaded.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The data has no labels, which the classifier needs.
    #[error("{0} has no labels: the evaluation classifier trains on labeled images (IDX with a *labels-idx1-ubyte file beside the images, CIFAR-10 batches, or an image folder with one subfolder per class)")]
    NoLabelsIn(String),
    /// [`EvalError::NoLabelsIn`] for a dataset given in memory.
    #[error("the dataset has no labels: the evaluation classifier trains on labeled images")]
    NoLabels,
    /// The generator could not be loaded or run.
    #[error(transparent)]
    Runtime(#[from] gan_runtime::RuntimeError),
    /// The generator's images and the data's differ in shape.
    #[error("{model} makes {model_shape} images but the data in {data} is {data_shape}{hint}")]
    ShapeMismatch {
        /// The model.
        model: String,
        /// Its image shape, `CxHxW`.
        model_shape: String,
        /// The data.
        data: String,
        /// The data's image shape.
        data_shape: String,
        /// A hint at the fix, when there is one.
        hint: String,
    },
    /// A conditional model has classes the data does not.
    #[error("{model} is conditional on {model_classes} classes but the data's labels have {data_classes}")]
    ClassMismatch {
        /// The model.
        model: String,
        /// Its class count.
        model_classes: usize,
        /// The data's.
        data_classes: usize,
    },
    /// A metric could not be computed.
    #[error(transparent)]
    Metric(#[from] MetricError),
    /// A cached classifier file is unusable (the message names it).
    #[error("{path}: not a usable classifier cache file: {problem}")]
    Cache {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Reading or writing a file failed (the message names it).
    #[error("{0}")]
    Io(String),
    /// An option or argument is out of range.
    #[error("{0}")]
    Options(String),
    /// A command-line option has a bad value; `flag` names it as the command line spells it
    /// (`--minority-classes`), also for callers that set the matching field in code.
    #[error("{flag}: {problem}")]
    Flag {
        /// The option, as in `--min-confidence`.
        flag: &'static str,
        /// What is wrong with its value.
        problem: String,
    },
}

/// How to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// How the classifier is trained (its seed also fixes the train/held-out split).
    pub classifier: ClassifierConfig,
    /// Where trained classifiers are cached (`None`: always train). Default
    /// [`default_cache_dir`].
    pub cache_dir: Option<PathBuf>,
    /// Seed of the generated samples' latents and of the real sample the FD floor uses.
    pub seed: u64,
    /// Images to generate (`None`: as many as the held-out set); at most [`MAX_SAMPLES`].
    pub samples: Option<usize>,
    /// `k` of the precision/recall radii.
    pub k: usize,
    /// Side of the square images an image-folder dataset is resized to (see [`crate::data::load`]).
    pub image_size: usize,
    /// Class names to show, in label order (empty: the loader's or the model's, else numbers).
    pub class_names: Vec<String>,
    /// Show progress bars.
    pub progress: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            classifier: ClassifierConfig::default(),
            cache_dir: Some(default_cache_dir()),
            seed: 0,
            samples: None,
            k: 3,
            image_size: 32,
            class_names: Vec::new(),
            progress: false,
        }
    }
}

/// Where trained classifiers are cached by default: `$XDG_CACHE_HOME/gan-trainer/eval`, else
/// `$HOME/.cache/gan-trainer/eval`, else `target/eval-cache` under the working directory.
pub fn default_cache_dir() -> PathBuf {
    crate::cache_dir("eval", "eval-cache")
}

/// The generator evaluated, as its contract describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    /// The ONNX file.
    pub path: String,
    /// Latent length.
    pub latent_dim: usize,
    /// Image shape `[C, H, W]`.
    pub shape: [usize; 3],
    /// Classes (0: unconditional).
    pub num_classes: usize,
    /// Training dataset name recorded in the model.
    pub dataset: String,
    /// Training steps recorded in the model.
    pub train_steps: u64,
    /// Architecture recorded in the model.
    pub arch: String,
}

/// The real data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataInfo {
    /// Where it came from, when loaded from a directory.
    pub dir: Option<String>,
    /// Labeled images in all.
    pub images: usize,
    /// Image shape `[C, H, W]`.
    pub shape: [usize; 3],
    /// Classes in the labels.
    pub num_classes: usize,
    /// Images the classifier trained on.
    pub train: usize,
    /// Images held out: the real side of the metrics.
    pub heldout: usize,
    /// SHA-256 of the dataset (pixels, geometry, labels).
    pub sha256: String,
}

/// The classifier behind the metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassifierReport {
    /// [`classifier::CLASSIFIER_VERSION`].
    pub version: u32,
    /// Its training options.
    pub config: ClassifierConfig,
    /// Accuracy on the held-out images.
    pub heldout_accuracy: f64,
    /// Training steps.
    pub steps: u64,
    /// Seconds its training took (when it was trained, for a cached one).
    pub train_seconds: f64,
    /// Cache file and whether it was used.
    pub provenance: Provenance,
}

/// How well a conditional generator hits one requested class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassAccuracy {
    /// The class.
    pub class: usize,
    /// Its name.
    pub name: String,
    /// Images generated for it.
    pub requested: usize,
    /// Of those, how many the classifier puts in it.
    pub correct: usize,
    /// `correct / requested`.
    pub accuracy: f64,
}

/// Seconds spent per phase.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Timings {
    /// Training or loading the classifier and featurizing the real data.
    pub setup: f64,
    /// Generating images and featurizing them.
    pub generation: f64,
    /// Computing the metrics.
    pub metrics: f64,
}

/// Everything an evaluation measured. Serialize it as JSON ([`EvalReport::write_json`]) or
/// render it as Markdown ([`EvalReport::to_markdown`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// The generator, when one was loaded from a file.
    pub model: Option<ModelInfo>,
    /// The real data.
    pub data: DataInfo,
    /// The classifier.
    pub classifier: ClassifierReport,
    /// Seed of the generated latents.
    pub seed: u64,
    /// Images generated.
    pub generated: usize,
    /// Fréchet distance, generated vs held-out real (classifier features).
    pub fd: f64,
    /// Fréchet distance, held-out real vs an equal-size sample of the training split.
    pub fd_floor: f64,
    /// Classifier inception score of the generated images.
    pub inception_score: SplitScore,
    /// The same for the held-out real images.
    pub inception_score_real: SplitScore,
    /// k-NN precision and recall, generated vs held-out real.
    pub precision_recall: PrecisionRecall,
    /// The same for the training-split sample vs held-out real.
    pub precision_recall_real: PrecisionRecall,
    /// Generated images per predicted class.
    pub class_histogram: Vec<usize>,
    /// Held-out real images per true class.
    pub real_class_histogram: Vec<usize>,
    /// Per requested class, for conditional models.
    pub conditional_accuracy: Option<Vec<ClassAccuracy>>,
    /// Mean of the per-class conditional accuracies.
    pub conditional_accuracy_mean: Option<f64>,
    /// Class names in label order.
    pub class_names: Vec<String>,
    /// Things the reader should know (sample count capped, cache retrained...).
    pub notes: Vec<String>,
    /// Where the time went.
    pub seconds: Timings,
}

/// The classifier, the split and the real-data statistics, ready to score generated images.
#[derive(Debug)]
pub struct Evaluator {
    classifier: Classifier,
    provenance: Provenance,
    split: Split,
    options: EvalOptions,
    heldout_feats: Vec<Feature>,
    heldout_stats: FeatureStats,
    heldout_accuracy: f64,
    fd_floor: f64,
    is_real: SplitScore,
    pr_real: PrecisionRecall,
    real_hist: Vec<usize>,
    data_info: DataInfo,
    class_names: Vec<String>,
    setup_seconds: f64,
}

/// Inception-score splits for `n` samples: one per 500, between 1 and 10.
pub fn is_splits(n: usize) -> usize {
    (n / 500).clamp(1, 10)
}

fn shape_str(s: ImageShape) -> String {
    format!("{}x{}x{}", s.channels, s.height, s.width)
}

/// [`EvalError::ShapeMismatch`] unless `generator` makes images of `data_shape`.
fn check_shape(
    generator: &gan_runtime::Generator,
    data_shape: ImageShape,
    data: &str,
) -> Result<(), EvalError> {
    let c = generator.contract();
    let model_shape = ImageShape {
        channels: c.channels,
        height: c.height,
        width: c.width,
    };
    if model_shape == data_shape {
        return Ok(());
    }
    let hint = if model_shape.channels == data_shape.channels && c.height == c.width {
        format!(" (for an image folder, pass --image-size {})", c.height)
    } else {
        String::new()
    };
    Err(EvalError::ShapeMismatch {
        model: generator.path().display().to_string(),
        model_shape: shape_str(model_shape),
        data: data.to_string(),
        data_shape: shape_str(data_shape),
        hint,
    })
}

impl Evaluator {
    /// Trains (or loads from the cache) the classifier on `data`, which must be labeled, and
    /// computes the held-out statistics, the FD floor and the real-data reference scores.
    pub fn new(data: &Dataset, options: &EvalOptions) -> Result<Self, EvalError> {
        let started = Instant::now();
        if options.k == 0 {
            return Err(EvalError::Options("k must be at least 1".into()));
        }
        let labels = data.labels.as_deref().ok_or(EvalError::NoLabels)?;
        let (classifier, split, provenance) = Classifier::load_or_train(
            data,
            &options.classifier,
            options.cache_dir.as_deref(),
            options.progress,
        )?;
        if split.heldout.len() < MIN_SAMPLES.max(options.k + 1) {
            return Err(EvalError::Options(format!(
                "{} held-out images: need at least {} (more data or a larger held-out fraction)",
                split.heldout.len(),
                MIN_SAMPLES.max(options.k + 1)
            )));
        }
        let num_classes = classifier.num_classes();
        let (heldout_feats, heldout_probs) = classifier.dataset_features(data, &split.heldout)?;
        let heldout_accuracy = metrics::accuracy(
            &heldout_probs,
            split.heldout.iter().map(|&i| labels[i] as usize),
        );

        // The floor: a real sample from the training split, as large as the held-out set.
        let mut pool = split.train.clone();
        pool.shuffle(&mut ChaCha8Rng::seed_from_u64(options.seed));
        pool.truncate(split.heldout.len());
        pool.sort_unstable();
        let (train_feats, _) = classifier.dataset_features(data, &pool)?;
        let heldout_stats = FeatureStats::new(&heldout_feats)?;
        let fd_floor =
            metrics::frechet_distance_stats(&heldout_stats, &FeatureStats::new(&train_feats)?)?;
        let pr_real = metrics::precision_recall(&heldout_feats, &train_feats, options.k)?;
        let is_real = metrics::inception_score(&heldout_probs, is_splits(heldout_probs.len()))?;
        let mut real_hist = vec![0usize; num_classes];
        for &i in &split.heldout {
            real_hist[labels[i] as usize] += 1;
        }
        let class_names = (0..num_classes)
            .map(|c| {
                options
                    .class_names
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| c.to_string())
            })
            .collect();
        let data_info = DataInfo {
            dir: None,
            images: data.len,
            shape: [data.channels, data.height, data.width],
            num_classes,
            train: split.train.len(),
            heldout: split.heldout.len(),
            sha256: classifier.meta().dataset_sha256.clone(),
        };
        Ok(Self {
            classifier,
            provenance,
            split,
            options: options.clone(),
            heldout_feats,
            heldout_stats,
            heldout_accuracy,
            fd_floor,
            is_real,
            pr_real,
            real_hist,
            data_info,
            class_names,
            setup_seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// The classifier.
    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// Where the classifier came from.
    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    /// The train/held-out split.
    pub fn split(&self) -> &Split {
        &self.split
    }

    /// The classifier's accuracy on the held-out images.
    pub fn heldout_accuracy(&self) -> f64 {
        self.heldout_accuracy
    }

    /// FD between the held-out set and an equal-size real sample of the training split.
    pub fn fd_floor(&self) -> f64 {
        self.fd_floor
    }

    /// Images generated when no count is asked: the held-out set's size (capped).
    pub fn default_samples(&self) -> usize {
        self.split.heldout.len().min(MAX_SAMPLES)
    }

    /// Fréchet distance between `n` images (`[n, C, H, W]` in [-1, 1], at least 2) and the
    /// held-out real set, in classifier features. Cheap enough to call during training.
    pub fn fd_of_images(&self, images: &[f32], n: usize) -> Result<f64, EvalError> {
        let feats = self.classifier.features(images, n)?;
        Ok(metrics::frechet_distance_stats(
            &FeatureStats::new(&feats)?,
            &self.heldout_stats,
        )?)
    }

    /// Every metric for `n` images (`[n, C, H, W]` in [-1, 1]), with the class each was
    /// generated for when the generator is conditional.
    pub fn evaluate_images(
        &self,
        images: &[f32],
        n: usize,
        labels: Option<&[i64]>,
    ) -> Result<EvalReport, EvalError> {
        let started = Instant::now();
        let (feats, probs) = self.classifier.features_and_proba(images, n)?;
        let generation = started.elapsed().as_secs_f64();
        self.report(feats, probs, labels, &self.class_names, generation)
    }

    /// Generates `samples` images (default [`default_samples`](Self::default_samples)) of
    /// `options.seed` with `generator`, class-balanced for conditional models, and measures
    /// them.
    pub fn evaluate_generator(
        &self,
        generator: &gan_runtime::Generator,
    ) -> Result<EvalReport, EvalError> {
        let c = generator.contract();
        let path = generator.path().display().to_string();
        let data = self.data_info.dir.as_deref().unwrap_or("the dataset");
        check_shape(generator, self.classifier.shape(), data)?;
        if c.num_classes > self.classifier.num_classes() {
            return Err(EvalError::ClassMismatch {
                model: path,
                model_classes: c.num_classes,
                data_classes: self.classifier.num_classes(),
            });
        }
        let mut notes = Vec::new();
        let n = match self.options.samples {
            None => self.default_samples(),
            Some(n) if n > MAX_SAMPLES => {
                notes.push(format!(
                    "{n} samples asked, capped at {MAX_SAMPLES} (precision/recall costs grow with the square)"
                ));
                MAX_SAMPLES
            }
            Some(n) => n,
        };
        if n < MIN_SAMPLES.max(self.options.k + 1) {
            return Err(EvalError::Options(format!(
                "{n} samples: need at least {}",
                MIN_SAMPLES.max(self.options.k + 1)
            )));
        }
        let started = Instant::now();
        let bar = progress_bar(n as u64, self.options.progress, "generating");
        let (lo, hi) = c.output_range;
        let scale = 2.0 / (hi - lo);
        let mut feats = Vec::with_capacity(n);
        let mut probs = Vec::with_capacity(n);
        let mut labels: Vec<i64> = Vec::new();
        for batch in generator.batches(self.options.seed, 0..n as u64, 256) {
            let batch = batch?;
            let m = batch.images.len();
            // To the [-1, 1] the classifier was trained on, whatever the model's range.
            let x: Vec<f32> = batch
                .images
                .data()
                .iter()
                .map(|v| (v - lo) * scale - 1.0)
                .collect();
            let (f, p) = self.classifier.features_and_proba(&x, m)?;
            feats.extend(f);
            probs.extend(p);
            if let Some(l) = batch.labels {
                labels.extend(l);
            }
            bar.inc(m as u64);
        }
        bar.finish_and_clear();
        let generation = started.elapsed().as_secs_f64();
        let info = ModelInfo {
            path,
            latent_dim: c.latent_dim,
            shape: [c.channels, c.height, c.width],
            num_classes: c.num_classes,
            dataset: c.dataset.clone(),
            train_steps: c.train_steps,
            arch: c.arch.clone(),
        };
        let labels = c.is_conditional().then_some(labels.as_slice());
        // The model's class names when the caller gave none and the counts agree.
        let names = if self.options.class_names.is_empty()
            && c.class_names.len() == self.class_names.len()
        {
            &c.class_names
        } else {
            &self.class_names
        };
        let mut report = self.report(feats, probs, labels, names, generation)?;
        report.model = Some(info);
        report.notes.splice(0..0, notes);
        Ok(report)
    }

    fn report(
        &self,
        feats: Vec<Feature>,
        probs: Vec<Vec<f32>>,
        labels: Option<&[i64]>,
        class_names: &[String],
        generation: f64,
    ) -> Result<EvalReport, EvalError> {
        let mut notes = Vec::new();
        let started = Instant::now();
        let k = self.classifier.num_classes();
        let n = feats.len();
        let fd = metrics::frechet_distance_stats(&FeatureStats::new(&feats)?, &self.heldout_stats)?;
        let pr = metrics::precision_recall(&self.heldout_feats, &feats, self.options.k)?;
        let is = metrics::inception_score(&probs, is_splits(n))?;
        let hist = metrics::class_histogram(&probs, k)?;
        let conditional = match labels {
            None => None,
            Some(l) if l.len() != n => {
                return Err(EvalError::Options(format!(
                    "{} labels for {n} images",
                    l.len()
                )))
            }
            Some(l) => {
                let mut requested = vec![0usize; k];
                let mut correct = vec![0usize; k];
                for (&want, p) in l.iter().zip(&probs) {
                    let want = usize::try_from(want)
                        .ok()
                        .filter(|&w| w < k)
                        .ok_or_else(|| {
                            EvalError::Options(format!(
                                "label {want} is outside the classifier's classes 0..{k}"
                            ))
                        })?;
                    requested[want] += 1;
                    if metrics::argmax(p) == Some(want) {
                        correct[want] += 1;
                    }
                }
                Some(
                    (0..k)
                        .filter(|&c| requested[c] > 0)
                        .map(|c| ClassAccuracy {
                            class: c,
                            name: class_names[c].clone(),
                            requested: requested[c],
                            correct: correct[c],
                            accuracy: correct[c] as f64 / requested[c] as f64,
                        })
                        .collect::<Vec<_>>(),
                )
            }
        };
        let conditional_mean = conditional
            .as_ref()
            .filter(|a| !a.is_empty())
            .map(|a| a.iter().map(|c| c.accuracy).sum::<f64>() / a.len() as f64);
        if let Some(note) = &self.provenance.cache_note {
            notes.push(note.clone());
        }
        if n != self.split.heldout.len() {
            notes.push(format!(
                "{n} generated vs {} held-out real images: the FD floor is measured at the held-out size, and FD is biased upward for small samples",
                self.split.heldout.len()
            ));
        }
        let meta = self.classifier.meta();
        Ok(EvalReport {
            model: None,
            data: self.data_info.clone(),
            classifier: ClassifierReport {
                version: meta.version,
                config: meta.config.clone(),
                heldout_accuracy: self.heldout_accuracy,
                steps: meta.steps,
                train_seconds: meta.train_seconds,
                provenance: self.provenance.clone(),
            },
            seed: self.options.seed,
            generated: n,
            fd,
            fd_floor: self.fd_floor,
            inception_score: is,
            inception_score_real: self.is_real,
            precision_recall: pr,
            precision_recall_real: self.pr_real,
            class_histogram: hist,
            real_class_histogram: self.real_hist.clone(),
            conditional_accuracy: conditional,
            conditional_accuracy_mean: conditional_mean,
            class_names: class_names.to_vec(),
            notes,
            seconds: Timings {
                setup: self.setup_seconds,
                generation,
                metrics: started.elapsed().as_secs_f64(),
            },
        })
    }
}

pub(crate) fn progress_bar(len: u64, progress: bool, what: &str) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressStyle};
    if !progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{what} {{spinner}} [{{elapsed_precise}}] {{bar:30}} {{pos}}/{{len}} (eta {{eta}}) {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Evaluates the ONNX generator at `model` against the labeled data in `data_dir`: loads the
/// model (errors name it), loads and checks the data (errors name the directory), trains or
/// loads the classifier, generates and measures. Needs ONNX Runtime (see
/// [`gan_runtime::Generator`]).
pub fn evaluate(
    model: &Path,
    data_dir: &Path,
    options: &EvalOptions,
) -> Result<EvalReport, EvalError> {
    let generator = gan_runtime::Generator::load(model)?;
    let (data, names) = crate::data::load(data_dir, options.image_size)?;
    let dir = data_dir.display().to_string();
    if data.labels.is_none() {
        return Err(EvalError::NoLabelsIn(dir));
    }
    // Checked before the classifier trains, so the mistake costs nothing.
    let data_shape = ImageShape {
        channels: data.channels,
        height: data.height,
        width: data.width,
    };
    check_shape(&generator, data_shape, &dir)?;
    let mut options = options.clone();
    if options.class_names.is_empty() {
        options.class_names = names;
    }
    let mut evaluator = Evaluator::new(&data, &options)?;
    evaluator.data_info.dir = Some(dir);
    evaluator.evaluate_generator(&generator)
}

/// `value` as pretty JSON in `path`, written atomically.
pub(crate) fn write_json(value: &impl Serialize, path: &Path) -> Result<(), EvalError> {
    let json = serde_json::to_vec_pretty(value)
        .map_err(|e| EvalError::Io(format!("cannot encode the report: {e}")))?;
    gan_runtime::write_atomic(path, |w| {
        w.write_all(&json)?;
        w.write_all(b"\n")
    })
    .map_err(|e| EvalError::Io(e.to_string()))
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.1}%", v * 100.0))
}

impl EvalReport {
    /// Writes the report as pretty JSON to `path`, atomically.
    pub fn write_json(&self, path: &Path) -> Result<(), EvalError> {
        write_json(self, path)
    }

    /// The report as Markdown: a metrics table (generated next to the real reference), the
    /// classifier and sample counts, and a per-class table.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let title = self.model.as_ref().map_or_else(
            || "generated images".to_string(),
            |m| format!("`{}`", m.path),
        );
        let data = self.data.dir.as_deref().unwrap_or("the dataset");
        s += &format!("## Evaluation of {title} against `{data}`\n\n");
        if let Some(m) = &self.model {
            s += &format!(
                "Model: {} `{}`, latent {}, images {}x{}x{}, {}, dataset `{}`, {} training steps.\n\n",
                if m.num_classes > 0 { "conditional" } else { "unconditional" },
                m.arch,
                m.latent_dim,
                m.shape[0],
                m.shape[1],
                m.shape[2],
                if m.num_classes > 0 { format!("{} classes", m.num_classes) } else { "no classes".into() },
                m.dataset,
                m.train_steps
            );
        }
        let pr = &self.precision_recall;
        let prr = &self.precision_recall_real;
        let is = &self.inception_score;
        let isr = &self.inception_score_real;
        let pm = |sc: &SplitScore| {
            if sc.splits > 1 {
                format!("{:.2} ± {:.2} ({} splits)", sc.mean, sc.std, sc.splits)
            } else {
                format!("{:.2}", sc.mean)
            }
        };
        s += "| metric | generated | real reference |\n|---|---|---|\n";
        s += &format!(
            "| Fréchet distance, classifier features (lower is better) | {:.3} | {:.3} (floor: held-out vs training-split sample) |\n",
            self.fd, self.fd_floor
        );
        s += &format!(
            "| Inception score, classifier (max {}) | {} | {} (held-out) |\n",
            self.data.num_classes,
            pm(is),
            pm(isr)
        );
        s += &format!(
            "| Precision (k={}) | {:.3} | {:.3} |\n",
            pr.k, pr.precision, prr.precision
        );
        s += &format!(
            "| Recall (k={}) | {:.3} | {:.3} |\n",
            pr.k, pr.recall, prr.recall
        );
        if let Some(m) = self.conditional_accuracy_mean {
            s += &format!(
                "| Conditional accuracy (mean over classes) | {} | {:.1}% (classifier on held-out) |\n",
                fmt_opt(Some(m)),
                self.classifier.heldout_accuracy * 100.0
            );
        }
        let cfg = &self.classifier.config;
        let prov = &self.classifier.provenance;
        s += &format!(
            "\nClassifier: held-out accuracy **{:.2}%** on {} images ({} train / {} held out, split seed {}); v{}, {} epochs, {} steps, trained in {:.1} s{}.\n",
            self.classifier.heldout_accuracy * 100.0,
            self.data.images,
            self.data.train,
            self.data.heldout,
            cfg.seed,
            self.classifier.version,
            cfg.epochs,
            self.classifier.steps,
            self.classifier.train_seconds,
            match (&prov.cache_file, prov.from_cache) {
                (Some(f), true) => format!(", loaded from `{}`", f.display()),
                (Some(f), false) => format!(", cached to `{}`", f.display()),
                (None, _) => String::new(),
            }
        );
        s += &format!(
            "Samples: {} generated (latent seed {}) vs {} held-out real. Time: setup {:.1} s, generation {:.1} s, metrics {:.2} s.\n\n",
            self.generated,
            self.seed,
            self.data.heldout,
            self.seconds.setup,
            self.seconds.generation,
            self.seconds.metrics
        );
        let cond = self.conditional_accuracy.as_deref();
        s += "| class | name | generated (predicted) | held-out real |";
        s += if cond.is_some() {
            " requested | conditional accuracy |\n|---|---|---|---|---|---|\n"
        } else {
            "\n|---|---|---|---|\n"
        };
        let n_gen = self.generated.max(1) as f64;
        let n_real = self.data.heldout.max(1) as f64;
        for (c, name) in self.class_names.iter().enumerate() {
            let g = self.class_histogram.get(c).copied().unwrap_or(0);
            let r = self.real_class_histogram.get(c).copied().unwrap_or(0);
            s += &format!(
                "| {c} | {name} | {g} ({:.1}%) | {r} ({:.1}%) |",
                g as f64 / n_gen * 100.0,
                r as f64 / n_real * 100.0
            );
            if let Some(acc) = cond {
                match acc.iter().find(|a| a.class == c) {
                    Some(a) => s += &format!(" {} | {:.1}% |", a.requested, a.accuracy * 100.0),
                    None => s += " 0 | - |",
                }
            }
            s += "\n";
        }
        for n in &self.notes {
            s += &format!("\nNote: {n}\n");
        }
        s
    }
}
