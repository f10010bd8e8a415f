//! The evaluation classifier: a small CNN trained on the labeled real data, whose 128-d
//! penultimate activations are the feature space of the Fréchet distance and precision/recall,
//! and whose predictions give the inception score and class histograms.
//!
//! Architecture: conv 3x3 (C -> 32, pad 1) ReLU max-pool 2 -> conv 3x3 (32 -> 64, pad 1) ReLU
//! max-pool 2 -> linear -> 128 ReLU (the features) -> linear -> classes. Weights come from a
//! seeded RNG (PyTorch's default uniform bounds), the data order from the same seed, and the
//! backend is deterministic: the same seed and data give the same classifier, to the bit.
//!
//! The labeled data is split once, by the seed, into a training part and a held-out part
//! ([`Split`]); the classifier never sees the held-out images, which serve as the "real" side
//! of every metric. A trained classifier is cached in a file keyed by a hash of the dataset
//! bytes, [`CLASSIFIER_VERSION`] and the [`ClassifierConfig`]; see [`Classifier::load_or_train`].

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{Module, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::Linear;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::store::ModuleRecord;
use burn::tensor::activation::{relu, softmax};
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::Bytes;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::EvalError;
use crate::data::augment::Augment;
use crate::data::Dataset;
use crate::model::{seeded_linear, ImageShape, Init};

/// Version of the classifier's architecture and training procedure. Part of the cache key:
/// bump it whenever either changes, so stale cached classifiers are not reused.
pub const CLASSIFIER_VERSION: u32 = 2;
/// Length of the feature vectors (the penultimate layer).
pub const FEATURE_DIM: usize = 128;
/// One feature vector.
pub type Feature = [f32; FEATURE_DIM];

const CONV1: usize = 32;
const CONV2: usize = 64;
/// Images per inference call.
const INFER_BATCH: usize = 256;
const MAGIC: &[u8; 8] = b"GANCLSF2";
/// Seed salts, so the split, the weights and the data order draw from different streams.
const SPLIT_SALT: u64 = 0x5EED_5917_0000_0001;
const ORDER_SALT: u64 = 0x5EED_0DE2_0000_0002;

/// How the classifier is trained. Every field is part of the cache key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierConfig {
    /// Seed of the train/held-out split, the weights and the data order.
    pub seed: u64,
    /// Passes over the training part.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Fraction of the labeled data held out (never trained on), in (0, 1).
    pub holdout_fraction: f64,
    /// Train exactly this many steps instead of `epochs` passes (reshuffling at each pass):
    /// a fixed budget whatever the training set's size, as comparisons across sizes need.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u64>,
}

impl Default for ClassifierConfig {
    /// Seed 0, 3 epochs of batch 64, Adam 1e-3, 20% held out.
    fn default() -> Self {
        Self {
            seed: 0,
            epochs: 3,
            batch_size: 64,
            lr: 1e-3,
            holdout_fraction: 0.2,
            steps: None,
        }
    }
}

/// A seeded train/held-out partition of a dataset's indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Indices the classifier trains on.
    pub train: Vec<usize>,
    /// Indices it never sees: the real reference set of the metrics.
    pub heldout: Vec<usize>,
}

impl Split {
    /// A random partition of `0..len` from `seed`, `round(len * holdout_fraction)` held out
    /// (at least one image on each side). Both parts are sorted.
    pub fn new(len: usize, holdout_fraction: f64, seed: u64) -> Result<Self, EvalError> {
        if !(holdout_fraction > 0.0 && holdout_fraction < 1.0) {
            return Err(EvalError::Options(format!(
                "the held-out fraction must be between 0 and 1, got {holdout_fraction}"
            )));
        }
        if len < 2 {
            return Err(EvalError::Options(format!(
                "{len} labeled images: need at least 2 to hold some out"
            )));
        }
        let mut order: Vec<usize> = (0..len).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ SPLIT_SALT));
        let n_held = ((len as f64 * holdout_fraction).round() as usize).clamp(1, len - 1);
        let mut heldout = order[..n_held].to_vec();
        let mut train = order[n_held..].to_vec();
        heldout.sort_unstable();
        train.sort_unstable();
        Ok(Self { train, heldout })
    }
}

/// A 3x3 convolution with zero padding 1 on `[N, C, H, W]` images: the project's one
/// convolution ([`crate::kernels::conv2d`]).
#[derive(Module, Debug)]
pub struct Conv3x3 {
    /// `[C_out, C_in, 3, 3]`.
    pub weight: Param<Tensor<4>>,
    /// `[C_out]`.
    pub bias: Param<Tensor<1>>,
}

impl Conv3x3 {
    /// PyTorch's `Conv2d` default: weights and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    /// drawn from `rng`.
    pub fn new(c_in: usize, c_out: usize, rng: &mut impl Rng, device: &Device) -> Self {
        let k = 1.0 / ((c_in * 9) as f32).sqrt();
        let w: Vec<f32> = (0..9 * c_in * c_out)
            .map(|_| rng.random_range(-k..k))
            .collect();
        let b: Vec<f32> = (0..c_out).map(|_| rng.random_range(-k..k)).collect();
        Self {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(w, [c_out, c_in, 3, 3]),
                device,
            )),
            bias: Param::from_tensor(Tensor::from_data(TensorData::new(b, [c_out]), device)),
        }
    }

    /// `[N, C_in, H, W]` -> `[N, C_out, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        crate::kernels::conv2d(
            x,
            self.weight.val(),
            Some(self.bias.val()),
            crate::kernels::Conv { stride: 1, pad: 1 },
        )
    }
}

/// 2x2 max pooling, stride 2, on `[N, C, H, W]` (an odd last row or column is dropped).
fn max_pool_2x2(x: Tensor<4>) -> Tensor<4> {
    burn::tensor::module::max_pool2d(x, MaxPoolOptions::new([2, 2]))
}

/// The network.
#[derive(Module, Debug)]
pub struct ClassifierNet {
    /// C -> 32 channels, 3x3.
    pub conv1: Conv3x3,
    /// 32 -> 64 channels, 3x3.
    pub conv2: Conv3x3,
    /// Flattened maps -> the 128 features.
    pub fc: Linear,
    /// Features -> class logits.
    pub head: Linear,
}

/// Values the fully connected layer reads for images of `shape` (two 2x2 poolings).
fn flat_len(shape: ImageShape) -> usize {
    CONV2 * (shape.height / 2 / 2) * (shape.width / 2 / 2)
}

impl ClassifierNet {
    /// A network for images of `shape` and `num_classes` classes, weights drawn from `rng`.
    pub fn new(shape: ImageShape, num_classes: usize, rng: &mut impl Rng, device: &Device) -> Self {
        Self {
            conv1: Conv3x3::new(shape.channels, CONV1, rng, device),
            conv2: Conv3x3::new(CONV1, CONV2, rng, device),
            fc: seeded_linear(flat_len(shape), FEATURE_DIM, Init::Pytorch, rng, device),
            head: seeded_linear(FEATURE_DIM, num_classes, Init::Pytorch, rng, device),
        }
    }

    /// Features `[N, 128]` (after ReLU) of images `[N, C, H, W]` in [-1, 1].
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = max_pool_2x2(relu(self.conv1.forward(x)));
        let x = max_pool_2x2(relu(self.conv2.forward(x)));
        relu(self.fc.forward(x.flatten(1, 3)))
    }

    /// Class logits `[N, classes]` of images `[N, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head.forward(self.features(x))
    }
}

/// What a classifier knows about how it was made (stored in its cache file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierMeta {
    /// [`CLASSIFIER_VERSION`] when it was made.
    pub version: u32,
    /// Its training options.
    pub config: ClassifierConfig,
    /// Image geometry it reads.
    pub shape: ImageShape,
    /// Classes it predicts.
    pub num_classes: usize,
    /// Hex SHA-256 of the dataset it was trained on (pixels, geometry and labels).
    pub dataset_sha256: String,
    /// Training steps taken.
    pub steps: u64,
    /// Seconds its training took.
    pub train_seconds: f64,
}

/// Where a classifier came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance {
    /// The cache file used or written (`None` when caching is off).
    pub cache_file: Option<PathBuf>,
    /// Whether it was loaded from the cache rather than trained now.
    pub from_cache: bool,
    /// Why a cache file present was not used, when it was not (corrupt, unreadable...).
    pub cache_note: Option<String>,
}

/// A trained evaluation classifier, ready for inference (no autodiff).
#[derive(Debug)]
pub struct Classifier {
    net: ClassifierNet,
    meta: ClassifierMeta,
}

/// Hex SHA-256 over the dataset's geometry, pixels and labels: the classifier cache key's data
/// part.
pub fn dataset_sha256(data: &Dataset) -> String {
    let mut h = Sha256::new();
    for v in [data.len, data.channels, data.height, data.width] {
        h.update((v as u64).to_le_bytes());
    }
    h.update(&data.pixels);
    match &data.labels {
        Some(l) => {
            h.update([1u8]);
            h.update(l);
        }
        None => h.update([0u8]),
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The labels of `data`, or [`EvalError::NoLabels`].
pub(crate) fn labels_of(data: &Dataset) -> Result<&[u8], EvalError> {
    data.labels.as_deref().ok_or(EvalError::NoLabels)
}

fn shape_of(data: &Dataset) -> ImageShape {
    ImageShape {
        channels: data.channels,
        height: data.height,
        width: data.width,
    }
}

impl Classifier {
    /// Trains a classifier on the `split.train` images of `data` (which must be labeled), as
    /// `config` says. Deterministic: same data, split and config give the same weights.
    pub fn train(
        data: &Dataset,
        split: &Split,
        config: &ClassifierConfig,
        progress: bool,
    ) -> Result<Self, EvalError> {
        Self::train_augmented(data, split, config, &Augment::default(), 0..0, progress)
    }

    /// [`train`](Self::train), with `augment` applied to the training images whose index in
    /// `data` lies in `augmented` (say, the real images of a real + synthetic set), each time
    /// one is drawn into a batch: image `p` of step `s` gets `augment.draw(config.seed, s, p)`.
    /// Seeded and deterministic like `train`; with `augment` off it is `train`.
    pub fn train_augmented(
        data: &Dataset,
        split: &Split,
        config: &ClassifierConfig,
        augment: &Augment,
        augmented: Range<usize>,
        progress: bool,
    ) -> Result<Self, EvalError> {
        let labels = labels_of(data)?;
        let shape = shape_of(data);
        if shape.height < 4 || shape.width < 4 {
            return Err(EvalError::Options(format!(
                "images of {}x{} are too small for the classifier (at least 4x4)",
                shape.height, shape.width
            )));
        }
        if config.epochs == 0 || config.batch_size == 0 || config.steps == Some(0) {
            return Err(EvalError::Options(
                "classifier epochs, steps and batch size must be at least 1".into(),
            ));
        }
        if split.train.is_empty() {
            return Err(EvalError::Options(
                "no images to train the classifier on".into(),
            ));
        }
        if !(config.lr > 0.0 && config.lr.is_finite()) {
            return Err(EvalError::Options(format!(
                "classifier learning rate must be positive, got {}",
                config.lr
            )));
        }
        let num_classes = data.class_count().ok_or(EvalError::NoLabels)?;
        if num_classes < 2 {
            return Err(EvalError::Options(format!(
                "the labels hold {num_classes} class: a classifier needs at least 2"
            )));
        }
        let device = crate::device::cpu_train();
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut net = ClassifierNet::new(shape, num_classes, &mut rng, &device);
        let mut opt = AdamConfig::new().init();
        let loss_fn = CrossEntropyLossConfig::new().init(&device);
        let mut order_rng = ChaCha8Rng::seed_from_u64(config.seed ^ ORDER_SALT);
        let steps_per_epoch = split.train.len().div_ceil(config.batch_size) as u64;
        let total = config
            .steps
            .unwrap_or(steps_per_epoch * config.epochs as u64);
        let bar = super::progress_bar(total, progress, "classifier");
        let started = Instant::now();
        let mut order = split.train.clone();
        let mut buf = Vec::new();
        let mut steps = 0u64;
        let mut epoch = 0;
        while steps < total {
            order.shuffle(&mut order_rng);
            epoch += 1;
            for idx in order.chunks(config.batch_size) {
                if steps == total {
                    break;
                }
                data.fill_batch(idx, &mut buf);
                augment.apply_batch_where(
                    config.seed,
                    steps,
                    &mut buf,
                    [shape.channels, shape.height, shape.width],
                    |pos| augmented.contains(&idx[pos]),
                );
                let x = Tensor::<4>::from_data(
                    TensorData::new(
                        buf.clone(),
                        [idx.len(), shape.channels, shape.height, shape.width],
                    ),
                    &device,
                );
                let y: Vec<i64> = idx.iter().map(|&i| labels[i] as i64).collect();
                let y = Tensor::<1, Int>::from_data(TensorData::new(y, [idx.len()]), &device);
                let loss = loss_fn.forward(net.forward(x), y);
                steps += 1;
                if steps.is_multiple_of(20) {
                    let l: f32 = loss.clone().into_scalar::<f32>();
                    bar.set_message(format!("epoch {epoch} loss {l:.3}"));
                }
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                net = opt.step(config.lr, net, grads);
                bar.inc(1);
            }
        }
        bar.finish_and_clear();
        Ok(Self {
            net: net.valid(),
            meta: ClassifierMeta {
                version: CLASSIFIER_VERSION,
                config: config.clone(),
                shape,
                num_classes,
                dataset_sha256: dataset_sha256(data),
                steps,
                train_seconds: started.elapsed().as_secs_f64(),
            },
        })
    }

    /// The cache file name for a classifier of `data` trained with `config`:
    /// `classifier-v<version>-<16 hex digits>.bin`, the digits hashing the dataset bytes, the
    /// version and the config.
    pub fn cache_name(data: &Dataset, config: &ClassifierConfig) -> String {
        let mut h = Sha256::new();
        h.update(dataset_sha256(data).as_bytes());
        h.update(CLASSIFIER_VERSION.to_le_bytes());
        // Serializing a plain struct of numbers cannot fail.
        h.update(serde_json::to_vec(config).unwrap_or_default());
        let hex: String = h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("classifier-v{CLASSIFIER_VERSION}-{hex}.bin")
    }

    /// The split of `data` by `config`, and a classifier trained on its training part: loaded
    /// from `cache_dir` when a matching file is there, else trained and written there
    /// atomically (the directory is created). `cache_dir: None` always trains. A cache file
    /// that cannot be used (corrupt, other version) is retrained over, and the reason kept in
    /// [`Provenance::cache_note`].
    pub fn load_or_train(
        data: &Dataset,
        config: &ClassifierConfig,
        cache_dir: Option<&Path>,
        progress: bool,
    ) -> Result<(Self, Split, Provenance), EvalError> {
        labels_of(data)?;
        let split = Split::new(data.len, config.holdout_fraction, config.seed)?;
        let Some(dir) = cache_dir else {
            let c = Self::train(data, &split, config, progress)?;
            let p = Provenance {
                cache_file: None,
                from_cache: false,
                cache_note: None,
            };
            return Ok((c, split, p));
        };
        let path = dir.join(Self::cache_name(data, config));
        let mut note = None;
        if path.is_file() {
            match Self::load(&path) {
                Ok(c)
                    if c.meta.dataset_sha256 == dataset_sha256(data)
                        && c.meta.config == *config =>
                {
                    let p = Provenance {
                        cache_file: Some(path),
                        from_cache: true,
                        cache_note: None,
                    };
                    return Ok((c, split, p));
                }
                Ok(_) => {
                    note = Some(format!(
                        "{} was made for other data or options: retrained",
                        path.display()
                    ))
                }
                Err(e) => note = Some(format!("{e}: retrained")),
            }
        }
        let c = Self::train(data, &split, config, progress)?;
        std::fs::create_dir_all(dir).map_err(|e| {
            EvalError::Io(format!(
                "cannot create the classifier cache directory {}: {e}",
                dir.display()
            ))
        })?;
        c.save(&path)?;
        let p = Provenance {
            cache_file: Some(path),
            from_cache: false,
            cache_note: note,
        };
        Ok((c, split, p))
    }

    /// Writes the classifier to `path`, atomically, in the trainer's file layout
    /// ([`crate::envelope`], magic `GANCLSF2`): a JSON header holding the [`ClassifierMeta`],
    /// then one section, the weights as a burn module record (burnpack).
    pub fn save(&self, path: &Path) -> Result<(), EvalError> {
        let record = self
            .net
            .clone()
            .into_record()
            .into_bytes()
            .map(|b| b.to_vec())
            .map_err(|e| EvalError::Io(format!("cannot encode the classifier: {e}")))?;
        let header = FileHeader {
            meta: self.meta.clone(),
        };
        let bytes = crate::envelope::encode(MAGIC, &header, &[(WEIGHTS_SECTION, &record)])
            .map_err(|e| EvalError::Io(format!("cannot encode the classifier: {e}")))?;
        gan_runtime::write_atomic(path, |w| w.write_all(&bytes))
            .map_err(|e| EvalError::Io(e.to_string()))
    }

    /// Reads a classifier written by [`save`](Self::save), checking magic, version, lengths
    /// and checksum before decoding.
    pub fn load(path: &Path) -> Result<Self, EvalError> {
        let bad = |problem: String| EvalError::Cache {
            path: path.to_path_buf(),
            problem,
        };
        let bytes = std::fs::read(path)
            .map_err(|e| EvalError::Io(format!("cannot read {}: {e}", path.display())))?;
        let file = crate::envelope::decode::<FileHeader>(MAGIC, &bytes, 1 << 20).map_err(bad)?;
        let meta = file.fields.meta;
        if meta.version != CLASSIFIER_VERSION {
            return Err(bad(format!(
                "classifier version {} (this build makes version {CLASSIFIER_VERSION})",
                meta.version
            )));
        }
        let record = match file.sections.as_slice() {
            [(name, record)] if name == WEIGHTS_SECTION => *record,
            _ => return Err(bad(format!("expected one `{WEIGHTS_SECTION}` section"))),
        };
        if meta.num_classes < 2 || meta.shape.height < 4 || meta.shape.width < 4 {
            return Err(bad("implausible shape or class count".into()));
        }
        let device = crate::device::cpu();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let net = ClassifierNet::new(meta.shape, meta.num_classes, &mut rng, &device);
        let rec = ModuleRecord::from_bytes(Bytes::from_bytes_vec(record.to_vec()))
            .map_err(|e| bad(format!("weights: {e}")))?;
        Ok(Self {
            net: net
                .try_load_record(rec)
                .map_err(|e| bad(format!("weights: {e}")))?,
            meta,
        })
    }

    /// How it was made.
    pub fn meta(&self) -> &ClassifierMeta {
        &self.meta
    }

    /// Classes it predicts.
    pub fn num_classes(&self) -> usize {
        self.meta.num_classes
    }

    /// Image geometry it reads.
    pub fn shape(&self) -> ImageShape {
        self.meta.shape
    }

    /// The network (inference backend).
    pub fn net(&self) -> &ClassifierNet {
        &self.net
    }

    fn check_images(&self, images: &[f32], n: usize) -> Result<(), EvalError> {
        let len = self.meta.shape.len();
        if n == 0 || images.len() != n * len {
            return Err(EvalError::Options(format!(
                "{} values for {n} images of {}x{}x{} ({} values each)",
                images.len(),
                self.meta.shape.channels,
                self.meta.shape.height,
                self.meta.shape.width,
                len
            )));
        }
        Ok(())
    }

    /// Features and class probabilities of `n` images (planar `[n, C, H, W]`, values in
    /// [-1, 1]), in batches.
    pub fn features_and_proba(
        &self,
        images: &[f32],
        n: usize,
    ) -> Result<(Vec<Feature>, Vec<Vec<f32>>), EvalError> {
        self.check_images(images, n)?;
        let s = self.meta.shape;
        let device = crate::device::cpu();
        let mut feats = Vec::with_capacity(n);
        let mut probs = Vec::with_capacity(n);
        for chunk in images.chunks(INFER_BATCH * s.len()) {
            let m = chunk.len() / s.len();
            let x = Tensor::<4>::from_data(
                TensorData::new(chunk.to_vec(), [m, s.channels, s.height, s.width]),
                &device,
            );
            let f = self.net.features(x);
            let p = softmax(self.net.head.forward(f.clone()), 1);
            let f: Vec<f32> = f
                .into_data()
                .convert::<f32>()
                .try_into_vec()
                .unwrap_or_default();
            let p: Vec<f32> = p
                .into_data()
                .convert::<f32>()
                .try_into_vec()
                .unwrap_or_default();
            feats.extend(f.chunks_exact(FEATURE_DIM).map(|r| {
                let mut a = [0f32; FEATURE_DIM];
                a.copy_from_slice(r);
                a
            }));
            probs.extend(p.chunks_exact(self.meta.num_classes).map(<[f32]>::to_vec));
        }
        if feats.len() != n || probs.len() != n {
            return Err(EvalError::Options(format!(
                "the classifier returned {} rows for {n} images",
                feats.len()
            )));
        }
        Ok((feats, probs))
    }

    /// The 128-d penultimate features of `n` images (`[n, C, H, W]` in [-1, 1]).
    pub fn features(&self, images: &[f32], n: usize) -> Result<Vec<Feature>, EvalError> {
        Ok(self.features_and_proba(images, n)?.0)
    }

    /// Class probabilities (softmax) of `n` images (`[n, C, H, W]` in [-1, 1]).
    pub fn predict_proba(&self, images: &[f32], n: usize) -> Result<Vec<Vec<f32>>, EvalError> {
        Ok(self.features_and_proba(images, n)?.1)
    }

    /// Top-1 accuracy on images `indices` of `data` (labeled).
    pub fn accuracy(&self, data: &Dataset, indices: &[usize]) -> Result<f64, EvalError> {
        let labels = labels_of(data)?;
        let (_, probs) = self.dataset_features(data, indices)?;
        Ok(super::metrics::accuracy(
            &probs,
            indices.iter().map(|&i| labels[i] as usize),
        ))
    }

    /// Features and probabilities of images `indices` of `data`.
    pub fn dataset_features(
        &self,
        data: &Dataset,
        indices: &[usize],
    ) -> Result<(Vec<Feature>, Vec<Vec<f32>>), EvalError> {
        if shape_of(data) != self.meta.shape {
            return Err(EvalError::Options(format!(
                "the data's images are {}x{}x{}, the classifier reads {}x{}x{}",
                data.channels,
                data.height,
                data.width,
                self.meta.shape.channels,
                self.meta.shape.height,
                self.meta.shape.width
            )));
        }
        let mut feats = Vec::with_capacity(indices.len());
        let mut probs = Vec::with_capacity(indices.len());
        let mut buf = Vec::new();
        for idx in indices.chunks(INFER_BATCH) {
            data.fill_batch(idx, &mut buf);
            let (f, p) = self.features_and_proba(&buf, idx.len())?;
            feats.extend(f);
            probs.extend(p);
        }
        Ok((feats, probs))
    }
}

#[derive(Serialize, Deserialize)]
struct FileHeader {
    meta: ClassifierMeta,
}

/// The one section of a classifier file.
const WEIGHTS_SECTION: &str = "weights";

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny labeled dataset with an easy rule: class 0 images are dark, class 1 bright.
    fn toy(n: usize) -> Dataset {
        let px = 8 * 8;
        let mut pixels = Vec::with_capacity(n * px);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let class = (i % 2) as u8;
            labels.push(class);
            let base = if class == 0 { 20 } else { 200 };
            pixels.extend((0..px).map(|j| base + ((i * 7 + j * 13) % 40) as u8));
        }
        Dataset {
            pixels,
            len: n,
            channels: 1,
            height: 8,
            width: 8,
            labels: Some(labels),
        }
    }

    fn small() -> ClassifierConfig {
        ClassifierConfig {
            epochs: 2,
            batch_size: 16,
            ..ClassifierConfig::default()
        }
    }

    fn weights(c: &Classifier) -> Vec<f32> {
        c.net.fc.weight.val().into_data().try_into_vec().unwrap()
    }

    #[test]
    fn conv_matches_burns_reference_op() {
        use burn::tensor::module::conv2d;
        use burn::tensor::ops::ConvOptions;
        let dev = crate::device::cpu();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let conv = Conv3x3::new(3, 5, &mut rng, &dev);
        let values: Vec<f32> = (0..2 * 3 * 6 * 7)
            .map(|i| ((i * 37) % 17) as f32 / 8.0 - 1.0)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(values, [2, 3, 6, 7]), &dev);
        let ours = conv.forward(x.clone());
        let opts = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let theirs = conv2d(x, conv.weight.val(), Some(conv.bias.val()), opts);
        let diff: f32 = (ours - theirs).abs().max().into_scalar();
        assert!(diff < 1e-5, "conv differs by {diff}");
    }

    #[test]
    fn split_is_seeded_disjoint_and_complete() {
        let a = Split::new(100, 0.2, 1).unwrap();
        assert_eq!(a, Split::new(100, 0.2, 1).unwrap());
        assert_ne!(a, Split::new(100, 0.2, 2).unwrap());
        assert_eq!(a.heldout.len(), 20);
        let mut all: Vec<usize> = a.train.iter().chain(&a.heldout).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert!(Split::new(100, 1.0, 1).is_err());
        assert!(Split::new(1, 0.5, 1).is_err());
    }

    #[test]
    fn training_is_deterministic_and_learns_a_trivial_rule() {
        let data = toy(96);
        let split = Split::new(data.len, 0.25, 0).unwrap();
        let a = Classifier::train(&data, &split, &small(), false).unwrap();
        let b = Classifier::train(&data, &split, &small(), false).unwrap();
        assert_eq!(weights(&a), weights(&b));
        let (f, p) = a.dataset_features(&data, &split.heldout).unwrap();
        assert_eq!(f.len(), split.heldout.len());
        let labels = data.labels.as_ref().unwrap();
        let correct = split
            .heldout
            .iter()
            .zip(&p)
            .filter(|(&i, p)| super::super::metrics::argmax(p) == Some(labels[i] as usize))
            .count();
        assert_eq!(correct, split.heldout.len());
        for row in &p {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn augmentation_touches_only_the_chosen_images() {
        let data = toy(64);
        let split = Split::new(data.len, 0.25, 0).unwrap();
        let plain = weights(&Classifier::train(&data, &split, &small(), false).unwrap());
        let rotate: Augment = "rotate=30".parse().unwrap();
        let train = |range: Range<usize>| {
            weights(
                &Classifier::train_augmented(&data, &split, &small(), &rotate, range, false)
                    .unwrap(),
            )
        };
        // No image in the range: exactly `train`.
        assert_eq!(train(0..0), plain);
        assert_eq!(train(64..100), plain);
        let some = train(0..32);
        assert_ne!(some, plain);
        assert_eq!(some, train(0..32), "seeded");
        assert_ne!(some, train(0..64));
    }

    #[test]
    fn cache_round_trip_and_corruption() {
        let data = toy(64);
        let dir = tempfile::tempdir().unwrap();
        let (a, split, pa) =
            Classifier::load_or_train(&data, &small(), Some(dir.path()), false).unwrap();
        assert!(!pa.from_cache);
        let path = pa.cache_file.clone().unwrap();
        assert!(path.is_file());
        let (b, split_b, pb) =
            Classifier::load_or_train(&data, &small(), Some(dir.path()), false).unwrap();
        assert!(pb.from_cache);
        assert_eq!(split, split_b);
        assert_eq!(weights(&a), weights(&b));
        // Another seed is another file.
        let other = ClassifierConfig { seed: 9, ..small() };
        assert_ne!(
            Classifier::cache_name(&data, &other),
            Classifier::cache_name(&data, &small())
        );
        // A corrupted file is retrained over, with a note.
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xFF;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            Classifier::load(&path),
            Err(EvalError::Cache { .. })
        ));
        let (c, _, pc) =
            Classifier::load_or_train(&data, &small(), Some(dir.path()), false).unwrap();
        assert!(!pc.from_cache);
        assert!(pc.cache_note.unwrap().contains("checksum"));
        assert_eq!(weights(&a), weights(&c));
        assert!(Classifier::load(&path).is_ok());
    }

    #[test]
    fn unlabeled_data_is_refused() {
        let mut data = toy(8);
        data.labels = None;
        let err = Classifier::load_or_train(&data, &small(), None, false).unwrap_err();
        assert!(matches!(err, EvalError::NoLabels), "{err}");
    }
}
