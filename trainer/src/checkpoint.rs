//! Checkpoints: everything a run needs to continue bit for bit where it stopped — both
//! networks, both Adam states, the step, the data order and RNG state, the noise position and
//! the loss history — in one file written atomically.
//!
//! Layout: [`crate::envelope`] with the magic `GANCKPT1`: a JSON header (step, config, data
//! order position, RNG state...), then the sections it lists (data order, loss history, both
//! networks, both optimizers, the moving average). Burn records are NamedMpk (MessagePack).
//! Reading checks every length and checksum before decoding anything, so a truncated or
//! corrupted file is an error naming the file, never a panic or a silently different run.

use std::path::Path;

use burn::module::Module;
use burn::optim::OptimizerRecord;
use burn::prelude::Device;
use burn::store::{ModuleRecord, RecordError};
use burn::tensor::Bytes;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::Batcher;
use crate::envelope;
use crate::model::ImageShape;
use crate::model::{Discriminator, Generator};
use crate::train::{GanTrainer, StepStats, TrainConfig};

const MAGIC: &[u8; 8] = b"GANCKPT1";
/// Largest header accepted; real ones are a few hundred bytes.
const MAX_HEADER: u32 = 1 << 20;
/// The file name a run keeps its checkpoint under, in its output directory.
pub const FILE_NAME: &str = "checkpoint.gan";

/// Why a checkpoint could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing failed (the message names the path).
    #[error("{0}")]
    Io(String),
    /// The file is not a valid checkpoint.
    #[error("{path}: not a usable checkpoint: {problem}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// The checkpoint does not fit the data given.
    #[error("{path} was made for {expected}, but the data is {found}")]
    Mismatch {
        /// The file.
        path: String,
        /// What the checkpoint expects.
        expected: String,
        /// What was given.
        found: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Header {
    arch: String,
    step: u64,
    config: TrainConfig,
    shape: ImageShape,
    dataset_len: usize,
    noise_index: u64,
    rng_seed: [u8; 32],
    rng_stream: u64,
    /// `u128` as a decimal string (JSON numbers cannot hold it).
    rng_word_pos: String,
    batcher_pos: usize,
    /// Real batches drawn (keys the augmentation); absent in older checkpoints.
    #[serde(default)]
    real_batches: u64,
    /// Updates of the generator's moving average (with `config.ema`; absent in older files).
    #[serde(default)]
    ema_updates: u64,
}

const SECTIONS: [&str; 6] = ["batcher_order", "history", "g", "d", "opt_g", "opt_d"];
/// The section after [`SECTIONS`] of a run that keeps a moving average of G (`--ema`).
const EMA_SECTION: &str = "g_ema";

/// The sections a checkpoint of a run with `config` holds, in order.
fn sections(config: &TrainConfig) -> Vec<&'static str> {
    let mut names = SECTIONS.to_vec();
    if config.ema.is_some() {
        names.push(EMA_SECTION);
    }
    names
}

/// Serializes `trainer` and the run's `history` into checkpoint bytes.
pub fn to_bytes(trainer: &GanTrainer, history: &[StepStats]) -> Result<Vec<u8>, CheckpointError> {
    let rec = |r: Result<Bytes, RecordError>| {
        r.map(|b| b.to_vec())
            .map_err(|e| CheckpointError::Io(format!("cannot encode checkpoint: {e}")))
    };
    let order: Vec<u8> = trainer
        .batcher
        .order
        .iter()
        .flat_map(|&i| (i as u32).to_le_bytes())
        .collect();
    let hist = serde_json::to_vec(history).map_err(|e| CheckpointError::Io(e.to_string()))?;
    let mut bodies: Vec<Vec<u8>> = vec![
        order,
        hist,
        // `valid()` first: it folds batch norm's pending running-statistics updates into the
        // values a record reads (burn keeps them per thread until then).
        rec(trainer.g.valid().into_record().into_bytes())?,
        rec(trainer.d.valid().into_record().into_bytes())?,
        rec(trainer.opt_g.to_record().into_bytes())?,
        rec(trainer.opt_d.to_record().into_bytes())?,
    ];
    if let Some(ema) = &trainer.ema {
        bodies.push(rec(ema.generator().clone().into_record().into_bytes())?);
    }
    let header = Header {
        arch: trainer.config.arch.name().into(),
        step: trainer.step,
        config: trainer.config.clone(),
        shape: trainer.shape,
        dataset_len: trainer.batcher.order.len(),
        noise_index: trainer.noise_index,
        rng_seed: trainer.rng.get_seed(),
        rng_stream: trainer.rng.get_stream(),
        rng_word_pos: trainer.rng.get_word_pos().to_string(),
        batcher_pos: trainer.batcher.pos,
        real_batches: trainer.real_batches,
        ema_updates: trainer.ema.as_ref().map_or(0, |e| e.updates()),
    };
    let sections: Vec<(&str, &[u8])> = sections(&trainer.config)
        .into_iter()
        .zip(bodies.iter().map(Vec::as_slice))
        .collect();
    envelope::encode(MAGIC, &header, &sections).map_err(|e| CheckpointError::Io(e.to_string()))
}

/// Writes a checkpoint of `trainer` to `path`, atomically.
pub fn save(
    trainer: &GanTrainer,
    history: &[StepStats],
    path: &Path,
) -> Result<(), CheckpointError> {
    let bytes = to_bytes(trainer, history)?;
    gan_runtime::write_atomic(path, |w| w.write_all(&bytes))
        .map_err(|e| CheckpointError::Io(e.to_string()))
}

/// The hyper-parameters a checkpoint was made with (its header only; nothing is decoded
/// beyond the checks of [`crate::envelope::decode`]), e.g. to know before loading the data
/// whether the run is conditional.
pub fn read_config(path: &Path) -> Result<TrainConfig, CheckpointError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CheckpointError::Io(format!("cannot read {}: {e}", path.display())))?;
    let file = envelope::decode::<Header>(MAGIC, &bytes, MAX_HEADER).map_err(|problem| {
        CheckpointError::Format {
            path: path.display().to_string(),
            problem,
        }
    })?;
    Ok(file.fields.config)
}

/// Reads a checkpoint written by [`save`]; `dataset_len` and `shape` must match the data the
/// run continues on. Returns the trainer, ready for its next step, and the loss history.
pub fn load(
    path: &Path,
    dataset_len: usize,
    shape: ImageShape,
    device: &Device,
) -> Result<(GanTrainer, Vec<StepStats>), CheckpointError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CheckpointError::Io(format!("cannot read {}: {e}", path.display())))?;
    from_bytes(
        &bytes,
        &path.display().to_string(),
        dataset_len,
        shape,
        device,
    )
}

/// [`load`] from bytes already read; `name` is used in error messages.
pub fn from_bytes(
    bytes: &[u8],
    name: &str,
    dataset_len: usize,
    shape: ImageShape,
    device: &Device,
) -> Result<(GanTrainer, Vec<StepStats>), CheckpointError> {
    let bad = |problem: String| CheckpointError::Format {
        path: name.to_string(),
        problem,
    };
    let file = envelope::decode::<Header>(MAGIC, bytes, MAX_HEADER).map_err(bad)?;
    let header = file.fields;
    let names: Vec<&str> = file.sections.iter().map(|(n, _)| n.as_str()).collect();
    if names != sections(&header.config) || header.arch != header.config.arch.name() {
        return Err(bad(format!(
            "unexpected sections {names:?} / arch {:?}",
            header.arch
        )));
    }
    let bodies: Vec<&[u8]> = file.sections.iter().map(|&(_, b)| b).collect();
    if header.dataset_len != dataset_len || header.shape != shape {
        return Err(CheckpointError::Mismatch {
            path: name.to_string(),
            expected: format!(
                "{} images of {}x{}x{}",
                header.dataset_len, header.shape.channels, header.shape.height, header.shape.width
            ),
            found: format!(
                "{dataset_len} images of {}x{}x{}",
                shape.channels, shape.height, shape.width
            ),
        });
    }
    let order: Vec<usize> = bodies[0]
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    if sorted != (0..dataset_len).collect::<Vec<_>>() || header.batcher_pos > dataset_len {
        return Err(bad(
            "the saved data order is not a permutation of the dataset".into(),
        ));
    }
    let history: Vec<StepStats> =
        serde_json::from_slice(bodies[1]).map_err(|e| bad(format!("history: {e}")))?;
    let word_pos: u128 = header
        .rng_word_pos
        .parse()
        .map_err(|_| bad("rng_word_pos is not a number".into()))?;
    let dec = |what: &str, e: RecordError| bad(format!("{what}: {e}"));
    let bytes_of = |body: &[u8]| Bytes::from_bytes_vec(body.to_vec());

    let mut t = GanTrainer::new(header.config.clone(), shape, dataset_len, device)
        .map_err(|e| bad(format!("config: {e}")))?;
    let g_rec = ModuleRecord::from_bytes(bytes_of(bodies[2])).map_err(|e| dec("generator", e))?;
    let d_rec =
        ModuleRecord::from_bytes(bytes_of(bodies[3])).map_err(|e| dec("discriminator", e))?;
    let og = OptimizerRecord::from_bytes(bytes_of(bodies[4]))
        .map_err(|e| dec("generator optimizer", e))?;
    let od = OptimizerRecord::from_bytes(bytes_of(bodies[5]))
        .map_err(|e| dec("discriminator optimizer", e))?;
    let g: Generator =
        t.g.clone()
            .try_load_record(g_rec)
            .map_err(|e| dec("generator", e))?;
    let d: Discriminator =
        t.d.clone()
            .try_load_record(d_rec)
            .map_err(|e| dec("discriminator", e))?;
    if let (Some(ema), Some(body)) = (&t.ema, bodies.get(SECTIONS.len())) {
        let rec =
            ModuleRecord::from_bytes(bytes_of(body)).map_err(|e| dec("generator average", e))?;
        let average: Generator = ema
            .generator()
            .clone()
            .try_load_record(rec)
            .map_err(|e| dec("generator average", e))?;
        t.ema = Some(crate::model::ema::Ema::restore(
            ema.decay(),
            header.ema_updates,
            average,
        ));
    }
    t.g = g;
    t.d = d;
    t.opt_g = t.opt_g.clone().load_record(og);
    t.opt_d = t.opt_d.clone().load_record(od);
    let mut rng = ChaCha8Rng::from_seed(header.rng_seed);
    rng.set_stream(header.rng_stream);
    rng.set_word_pos(word_pos);
    t.rng = rng;
    t.batcher = Batcher {
        order,
        pos: header.batcher_pos,
    };
    t.noise_index = header.noise_index;
    t.real_batches = header.real_batches;
    t.step = header.step;
    Ok((t, history))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;

    #[test]
    fn round_trip_continues_identically() {
        round_trip(TrainConfig::default(), 4);
    }

    #[test]
    fn round_trip_continues_identically_with_ema_and_two_learning_rates() {
        round_trip(
            TrainConfig {
                ema: Some(0.9),
                lr_g: Some(1e-4),
                lr_d: Some(4e-4),
                ..TrainConfig::default()
            },
            4,
        );
        round_trip(
            TrainConfig {
                arch: crate::model::Arch::Dcgan,
                num_classes: 3,
                width: 4,
                ema: Some(0.99),
                ..TrainConfig::default()
            },
            8,
        );
    }

    /// Spectral norm's power-iteration vectors and DiffAugment's draws must survive too.
    #[test]
    fn round_trip_continues_identically_with_spectral_norm_and_diffaugment() {
        round_trip(
            TrainConfig {
                arch: crate::model::Arch::Dcgan,
                num_classes: 3,
                width: 4,
                spectral_norm: true,
                diffaugment: "color,translation,cutout".parse().unwrap(),
                ..TrainConfig::default()
            },
            8,
        );
    }

    #[test]
    fn round_trip_continues_identically_with_augmentation() {
        round_trip(
            TrainConfig {
                augment: "flip,rotate=10,zoom=0.1,contrast=0.2".parse().unwrap(),
                ..TrainConfig::default()
            },
            4,
        );
    }

    /// DCGAN brings batch-norm running statistics and dropout; conditioning brings label
    /// draws; WGAN-GP brings interpolation draws. All must survive a checkpoint.
    #[test]
    fn round_trip_continues_identically_for_conditional_dcgan() {
        for loss in [crate::loss::Loss::Ns, crate::loss::Loss::WganGp] {
            round_trip(
                TrainConfig {
                    arch: crate::model::Arch::Dcgan,
                    num_classes: 3,
                    width: 4,
                    loss,
                    ..TrainConfig::default()
                },
                8,
            );
        }
    }

    fn round_trip(base: TrainConfig, side: usize) {
        let n = 16;
        let data = Dataset {
            pixels: (0..n * side * side).map(|i| (i * 37 % 256) as u8).collect(),
            len: n,
            channels: 1,
            height: side,
            width: side,
            labels: Some((0..n).map(|i| (i % 3) as u8).collect()),
        };
        let cfg = TrainConfig {
            latent_dim: 8,
            batch_size: 4,
            seed: 2,
            ..base
        };
        let shape = ImageShape {
            channels: 1,
            height: side,
            width: side,
        };
        let dev = crate::device::cpu_train();
        let mut a = GanTrainer::new(cfg, shape, n, &dev).unwrap();
        for _ in 0..3 {
            a.step(&data);
        }
        let bytes = to_bytes(&a, &[]).unwrap();
        let (mut b, _) = from_bytes(&bytes, "mem", n, shape, &dev).unwrap();
        let images = |t: &GanTrainer| -> Vec<f32> {
            crate::train::sample_grid(&t.generator(), 5, 6, &dev)
                .data()
                .to_vec()
        };
        assert_eq!(images(&a), images(&b), "generator after load");
        let sa = a.step(&data);
        let sb = b.step(&data);
        assert_eq!(sa, sb, "stats of the next step");
        assert_eq!(images(&a), images(&b), "generator after one more step");
    }
}
