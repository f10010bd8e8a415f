//! A whole training run as the `trainer` binary does it: steps with a progress bar, sample
//! grids of fixed noise, a loss log and plot, a GIF of the grids, and the final export.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use gan_runtime::ModelContract;

use crate::data::Dataset;
use crate::model::{Generator, ImageShape};
use crate::train::{sample_grid, GanTrainer, StepStats, TrainConfig};

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
    /// Measure the Fréchet distance to held-out real data every this many steps (0: never;
    /// needs `evaluator`): logged to `fd.csv` and plotted to `fd.png`; each new best is kept
    /// as `best.gan` (checkpoint) and `best.onnx`.
    pub eval_every: u64,
    /// The classifier and real statistics `eval_every` uses.
    pub evaluator: Option<std::sync::Arc<crate::eval::Evaluator>>,
    /// Reduce the learning rate and/or stop early when the FD stops improving.
    pub plateau: Option<crate::plateau::PlateauConfig>,
    /// Where to train (CPU by default; GPUs need the trainer's `cuda` / `wgpu` features).
    pub device: crate::device::DeviceKind,
    /// Class names recorded in exported models (`best.onnx`, [`RunResult::contract`]) when
    /// the run is conditional and there is one per class; empty: none.
    pub class_names: Vec<String>,
}

impl RunOptions {
    /// `steps` steps of `config` into `out_dir` on the CPU, with everything else off: no
    /// progress bar, samples only at the end, no checkpoints, evaluation, plateau schedule,
    /// dataset or class names. Set the rest with struct update syntax.
    pub fn new(config: TrainConfig, steps: u64, out_dir: PathBuf) -> Self {
        Self {
            config,
            steps,
            out_dir,
            sample_every: 0,
            progress: false,
            dataset_name: String::new(),
            checkpoint_every: 0,
            resume: false,
            eval_every: 0,
            evaluator: None,
            plateau: None,
            device: Default::default(),
            class_names: Vec::new(),
        }
    }
}

/// Latent seed of the images scored during training (fixed, so FDs compare across steps).
pub const EVAL_SEED: u64 = 0x00FD;

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
    /// The loss plot or the progress GIF could not be made.
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
}

/// A finished run: the trained networks and what was measured.
pub struct RunResult {
    /// The trainer, holding both networks.
    pub trainer: GanTrainer,
    /// Stats of every step.
    pub history: Vec<StepStats>,
    /// Wall-clock seconds spent in training steps.
    pub train_seconds: f64,
    /// Steps run by this call (fewer than the total when resumed).
    pub steps_run: u64,
    /// `(step, FD)` of every evaluation, including those before a resume.
    pub fd_history: Vec<(u64, f64)>,
    /// The best evaluation `(step, FD)`, when there was one.
    pub best: Option<(u64, f64)>,
    /// Whether the plateau rule stopped the run before `steps`.
    pub stopped_early: bool,
    /// Dataset name and class names from the options, for [`Self::contract`].
    dataset_name: String,
    class_names: Vec<String>,
}

impl RunResult {
    /// The contract of the trained generator, as it goes into the ONNX file.
    pub fn contract(&self) -> ModelContract {
        export_contract(
            &self.trainer.generator(),
            &self.dataset_name,
            &self.class_names,
            self.trainer.step_count(),
        )
    }
}

/// The contract an exported generator of a run carries: the generator's own (sizes, classes,
/// architecture) plus the dataset name, the step it was trained to and, when there is one per
/// class, the class names. The one place both `best.onnx` and the final export get it from.
pub fn export_contract(
    g: &Generator,
    dataset_name: &str,
    class_names: &[String],
    step: u64,
) -> ModelContract {
    let mut c = g.contract();
    c.dataset = dataset_name.to_string();
    c.train_steps = step;
    if c.num_classes > 0 && class_names.len() == c.num_classes {
        c.class_names = class_names.to_vec();
    }
    c
}

/// Trains on `data` as `options` say.
pub fn run(options: &RunOptions, data: &Dataset) -> Result<RunResult, RunError> {
    let device = options
        .device
        .train_device()
        .map_err(|e| RunError::Options(e.to_string()))?;
    options
        .config
        .validate()
        .map_err(|e| RunError::Options(e.to_string()))?;
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
        crate::checkpoint::load(&ckpt_path, data.len, shape, &device)?
    } else {
        (
            GanTrainer::new(options.config.clone(), shape, data.len, &device)?,
            Vec::with_capacity(options.steps as usize),
        )
    };
    let first = trainer.step_count();
    // A checkpoint exactly at --steps trains nothing but still writes the outputs (grid,
    // plots, --export): how a run stopped at a checkpoint is exported.
    if first > options.steps {
        return Err(RunError::Options(format!(
            "the checkpoint is already at step {first}, past --steps {}: ask for at least {first}",
            options.steps
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

    if options.eval_every > 0 && options.evaluator.is_none() {
        return Err(RunError::Options(
            "evaluating during training needs an evaluator".into(),
        ));
    }
    let fd_path = options.out_dir.join("fd.csv");
    let mut fd_history = if options.resume {
        read_fd_log(&fd_path, first)
    } else {
        Vec::new()
    };
    let mut best = fd_history
        .iter()
        .copied()
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let mut plateau = match options.plateau {
        Some(cfg) => Some(
            crate::plateau::Plateau::new(cfg, trainer.lr())
                .map_err(|e| RunError::Options(e.to_string()))?,
        ),
        None => None,
    };
    let mut stopped_early = false;

    // Grids of an earlier run in the same --out (another model, or past this checkpoint) would
    // end up in this run's progress.gif. Removed once every option has been checked, so a
    // refused run leaves the folder as it was.
    let stale = crate::plot::remove_stale_grids(&options.out_dir, options.resume.then_some(first))?;
    if stale > 0 {
        say(
            &bar,
            format!(
                "{}: removed {stale} sample grid(s) an earlier run left there",
                options.out_dir.join("samples").display()
            ),
        );
    }

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
            crate::plot::plot_losses(&history, &options.out_dir.join("losses.png"))?;
        }
        if options.checkpoint_every > 0 && s.step % options.checkpoint_every == 0 {
            crate::checkpoint::save(&trainer, &history, &ckpt_path)?;
        }
        if let (Some(ev), true) = (
            &options.evaluator,
            options.eval_every > 0 && s.step.is_multiple_of(options.eval_every),
        ) {
            let g = trainer.generator();
            let n = ev.default_samples();
            let images = sample_grid(&g, EVAL_SEED, n, &trainer.infer_device());
            let fd = ev
                .fd_of_images(images.data(), n)
                .map_err(|e| RunError::Options(format!("evaluation at step {}: {e}", s.step)))?;
            fd_history.push((s.step, fd));
            write_fd_log(&fd_history, &fd_path)?;
            crate::plot::plot_series(
                "Fréchet distance to held-out real images (classifier features)",
                "step",
                "FD",
                &[(
                    "FD",
                    fd_history.iter().map(|&(x, y)| (x as f64, y)).collect(),
                )],
                &options.out_dir.join("fd.png"),
            )?;
            if best.is_none_or(|(_, b)| fd < b) {
                best = Some((s.step, fd));
                crate::checkpoint::save(&trainer, &history, &options.out_dir.join("best.gan"))?;
                let contract =
                    export_contract(&g, &options.dataset_name, &options.class_names, s.step);
                let model = crate::export::to_onnx(&g, &contract)
                    .map_err(|e| RunError::Options(e.to_string()))?;
                crate::export::save(&model, &options.out_dir.join("best.onnx"))
                    .map_err(|e| RunError::Options(e.to_string()))?;
            }
            say(
                &bar,
                format!(
                    "step {}: FD {fd:.2} (best {:.2} at step {}, floor {:.2})",
                    s.step,
                    best.map_or(fd, |b| b.1),
                    best.map_or(s.step, |b| b.0),
                    ev.fd_floor()
                ),
            );
            if let Some(p) = plateau.as_mut() {
                match p.observe(fd) {
                    crate::plateau::PlateauAction::None => {}
                    crate::plateau::PlateauAction::ReduceLr { lr } => {
                        say(
                            &bar,
                            format!("step {}: FD plateau, learning rate -> {lr:e}", s.step),
                        );
                        trainer.set_lr(lr);
                    }
                    crate::plateau::PlateauAction::Stop => {
                        say(&bar, format!("step {}: FD plateau, stopping early", s.step));
                        stopped_early = true;
                        break;
                    }
                }
            }
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
    crate::plot::plot_losses(&history, &options.out_dir.join("losses.png"))?;
    crate::plot::write_progress_gif(&options.out_dir)?;
    if options.checkpoint_every > 0 {
        crate::checkpoint::save(&trainer, &history, &ckpt_path)?;
    }
    let steps_run = trainer.step_count() - first;
    Ok(RunResult {
        trainer,
        history,
        train_seconds,
        steps_run,
        fd_history,
        best,
        stopped_early,
        dataset_name: options.dataset_name.clone(),
        class_names: options.class_names.clone(),
    })
}

/// Writes the fixed-noise grid of step `step` to `out/samples/step_NNNNNN.png` and
/// `out/samples/latest.png`.
fn save_samples(t: &GanTrainer, out: &Path, step: u64) -> Result<(), RunError> {
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
    let batch = sample_grid(&g, SAMPLE_SEED, count, &t.infer_device());
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

/// Prints a line above the progress bar, or to stderr when there is no bar (`--quiet`).
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// Writes the FD log as CSV, atomically.
fn write_fd_log(rows: &[(u64, f64)], path: &Path) -> std::io::Result<()> {
    gan_runtime::write_atomic(path, |w| {
        writeln!(w, "step,fd")?;
        for (step, fd) in rows {
            writeln!(w, "{step},{fd}")?;
        }
        Ok(())
    })
}

/// The FD log a resumed run continues (rows up to the checkpoint's step; a missing or
/// unreadable log starts empty: it is a record, not state the training depends on).
fn read_fd_log(path: &Path, up_to: u64) -> Vec<(u64, f64)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let (a, b) = line.split_once(',')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .filter(|&(step, fd): &(u64, f64)| step <= up_to && fd.is_finite())
        .collect()
}
