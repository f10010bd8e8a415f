//! # gan-trainer
//!
//! Trains GAN generators with [burn](https://burn.dev) (burn-flex on the CPU with our own
//! kernels, autodiff) and exports them to ONNX with their contract in the metadata, ready for
//! `gan-runtime`.
//!
//! ```no_run
//! use gan_trainer::{data, export, run};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dataset = data::load_dir("../shared/data/fashion-mnist".as_ref())?;
//! let options = run::RunOptions {
//!     progress: true,
//!     sample_every: 100,
//!     dataset_name: "fashion-mnist".into(),
//!     // batch 128, Adam(2e-4, beta1 0.5), latent 100, seed 0; 500 steps into out/
//!     ..run::RunOptions::new(Default::default(), 500, "out".into())
//! };
//! let result = run::run(&options, &dataset)?;
//! let model = export::to_onnx(&result.trainer.generator(), &result.contract())?;
//! export::save(&model, "generator.onnx".as_ref())?;
//! # Ok(())
//! # }
//! ```

pub mod checkpoint;
pub mod data;
pub mod device;
pub mod diffaugment;
pub mod envelope;
pub mod eval;
pub mod experiments;
pub mod export;
pub mod kernels;
pub mod loss;
pub mod model;
pub mod plateau;
pub mod plot;
pub mod run;
pub mod train;

/// The trainer's cache folder `name`: `$XDG_CACHE_HOME/gan-trainer/NAME`, else
/// `$HOME/.cache/gan-trainer/NAME`, else `target/FALLBACK` under the working directory.
pub(crate) fn cache_dir(name: &str, fallback: &str) -> std::path::PathBuf {
    use std::path::PathBuf;
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("XDG_CACHE_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".cache")))
        .map(|c| c.join("gan-trainer").join(name))
        .unwrap_or_else(|| PathBuf::from("target").join(fallback))
}
