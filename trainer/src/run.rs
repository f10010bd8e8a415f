//! A whole training run as the `trainer` binary does it: steps with a progress bar, sample
//! grids of fixed noise, a loss log, and the final export.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use gan_runtime::ModelContract;

use crate::data::Dataset;
use crate::model::ImageShape;
use crate::train::{sample_grid, GanTrainer, StepStats, TrainBackend, TrainConfig};

/// Seed of the fixed latents drawn in sample grids (samples `0..64` of it).
pub const SAMPLE_SEED: u64 = 0;
/// Images in a sample grid (8 x 8).
pub const SAMPLE_COUNT: usize = 64;

/// Everything a run needs besides the data.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Hyper-parameters.
    pub config: TrainConfig,
    /// Steps to train.
    pub steps: u64,
    /// Directory for sample grids and the loss log (created if missing).
    pub out_dir: PathBuf,
    /// Save a sample grid every this many steps (0: only at the end).
    pub sample_every: u64,
    /// Show a progress bar.
    pub progress: bool,
    /// Dataset name recorded in the exported model.
    pub dataset_name: String,
    /// Write `out_dir/checkpoint.gan` every this many steps and at the end (0: never).
    pub checkpoint_every: u64,
    /// Continue from `out_dir/checkpoint.gan` (its hyper-parameters win) up to `steps`.
    pub resume: bool,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Output could not be written (the message names the path).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A sample grid could not be written.
    #[error(transparent)]
    Image(#[from] gan_runtime::ImageError),
    /// The options are unusable.
    #[error("{0}")]
    Options(String),
    /// A checkpoint could not be written or resumed.
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
    /// The networks could not be set up for this data.
    #[error(transparent)]
    Train(#[from] crate::train::TrainError),
}

/// A finished run: the trained networks and what was measured.
pub struct RunResult {
    /// The trainer, holding both networks.
    pub trainer: GanTrainer<TrainBackend>,
    /// Stats of every step.
    pub history: Vec<StepStats>,
    /// Wall-clock seconds spent in training steps.
    pub train_seconds: f64,
    /// Steps run by this call (fewer than the total when resumed).
    pub steps_run: u64,
}

impl RunResult {
    /// The contract of the trained generator, as it goes into the ONNX file.
    pub fn contract(&self, dataset_name: &str) -> ModelContract {
        let mut c = self.trainer.generator().contract();
        c.dataset = dataset_name.to_string();
        c.train_steps = self.trainer.step_count();
        c
    }
}

/// Trains on `data` as `options` say.
pub fn run(options: &RunOptions, data: &Dataset) -> Result<RunResult, RunError> {
    if options.config.batch_size == 0 {
        return Err(RunError::Options("--batch-size must be at least 1".into()));
    }
    if options.config.latent_dim == 0 {
        return Err(RunError::Options("--latent-dim must be at least 1".into()));
    }
    std::fs::create_dir_all(&options.out_dir).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "cannot create output directory {}: {e}",
                options.out_dir.display()
            ),
        )
    })?;
    let classes = options.config.num_classes;
    if classes > 0 {
        let Some(labels) = &data.labels else {
            return Err(RunError::Options(
                "a conditional run needs labeled data, and this data has no labels".into(),
            ));
        };
        if let Some(&max) = labels.iter().max() {
            if usize::from(max) >= classes {
                return Err(RunError::Options(format!(
                    "the data has label {max}, but the run is conditioned on {classes} classes"
                )));
            }
        }
    }
    let device = Default::default();
    let shape = ImageShape {
        channels: data.channels,
        height: data.height,
        width: data.width,
    };
    let ckpt_path = options.out_dir.join(crate::checkpoint::FILE_NAME);
    let (mut trainer, mut history) = if options.resume {
        if !ckpt_path.is_file() {
            return Err(RunError::Options(format!(
                "--resume: no checkpoint at {}",
                ckpt_path.display()
            )));
        }
        crate::checkpoint::load::<TrainBackend>(&ckpt_path, data.len, shape, &device)?
    } else {
        (
            GanTrainer::<TrainBackend>::new(options.config.clone(), shape, data.len, &device)?,
            Vec::with_capacity(options.steps as usize),
        )
    };
    let first = trainer.step_count();
    if first >= options.steps {
        return Err(RunError::Options(format!(
            "the checkpoint is already at step {first}: ask for more --steps"
        )));
    }

    let bar = if options.progress {
        let bar = ProgressBar::new(options.steps);
        bar.set_position(first);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} ({per_sec}, eta {eta}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };

    let started = Instant::now();
    for _ in first..options.steps {
        let s = trainer.step(data);
        history.push(s);
        bar.inc(1);
        if s.step.is_multiple_of(10) || s.step == options.steps {
            bar.set_message(format!(
                "D {:.3} G {:.3} D(real) {:.0}% D(fake) {:.0}%",
                s.d_loss,
                s.g_loss,
                s.d_acc_real * 100.0,
                s.d_acc_fake * 100.0
            ));
        }
        if options.sample_every > 0 && s.step.is_multiple_of(options.sample_every) {
            save_samples(&trainer, &options.out_dir, s.step)?;
            write_losses(&history, &options.out_dir.join("losses.csv"))?;
        }
        if options.checkpoint_every > 0 && s.step % options.checkpoint_every == 0 {
            crate::checkpoint::save(&trainer, &history, &ckpt_path)?;
        }
        if !s.d_loss.is_finite() || !s.g_loss.is_finite() {
            bar.abandon_with_message(format!("losses became non-finite at step {}", s.step));
            return Err(RunError::Options(format!(
                "training diverged at step {}: D loss {}, G loss {} (try a lower --lr)",
                s.step, s.d_loss, s.g_loss
            )));
        }
    }
    let train_seconds = started.elapsed().as_secs_f64();
    bar.finish();
    save_samples(&trainer, &options.out_dir, trainer.step_count())?;
    write_losses(&history, &options.out_dir.join("losses.csv"))?;
    if options.checkpoint_every > 0 {
        crate::checkpoint::save(&trainer, &history, &ckpt_path)?;
    }
    Ok(RunResult {
        trainer,
        history,
        train_seconds,
        steps_run: options.steps - first,
    })
}

/// Writes the fixed-noise grid of step `step` to `out/samples/step_NNNNNN.png` and
/// `out/samples/latest.png`.
fn save_samples(t: &GanTrainer<TrainBackend>, out: &Path, step: u64) -> Result<(), RunError> {
    let dir = out.join("samples");
    std::fs::create_dir_all(&dir)?;
    let g = t.generator();
    // Conditional: one column per class (sample i is class i % classes), 8 rows.
    let classes = g.num_classes();
    let (count, columns) = if classes > 0 {
        (classes * 8, classes)
    } else {
        (SAMPLE_COUNT, 8)
    };
    let batch = sample_grid(&g, SAMPLE_SEED, count, &Default::default());
    let grid = batch.grid(columns, 2)?;
    gan_runtime::save_png(&grid, &dir.join(format!("step_{step:06}.png")))?;
    gan_runtime::save_png(&grid, &dir.join("latest.png"))?;
    Ok(())
}

/// Writes the loss log as CSV, atomically (rewritten whole each time).
pub fn write_losses(history: &[StepStats], path: &Path) -> std::io::Result<()> {
    gan_runtime::write_atomic(path, |w| {
        writeln!(w, "step,d_loss,g_loss,d_acc_real,d_acc_fake")?;
        for s in history {
            writeln!(
                w,
                "{},{},{},{},{}",
                s.step, s.d_loss, s.g_loss, s.d_acc_real, s.d_acc_fake
            )?;
        }
        Ok(())
    })
}
