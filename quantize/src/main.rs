//! `quantize`: int8 versions of exported generators.
//!
//! ```text
//! quantize --in models/fashion-mlp.onnx --out models/fashion-mlp.int8.onnx --mode dynamic
//! quantize --in models/fashion-mlp.onnx --out models/fashion-mlp.qdq.onnx --mode static
//! quantize --in out/emoji64-fastgan/emoji64-fastgan.onnx --out fastgan.qdq.onnx --mode static
//! ```

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use gan_quantize::{calibrate, load, quantize, save, Mode};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ModeArg {
    /// Int8 weights, activations quantized at run time (MatMulInteger); no calibration
    Dynamic,
    /// QDQ int8, per-channel weights, activation scales calibrated on latents
    Static,
}

#[derive(Parser, Debug)]
#[command(version, about = "Quantize an exported GAN generator to int8 (ONNX)")]
struct Args {
    /// Float generator (ONNX, from `trainer --export`)
    #[arg(long = "in")]
    input: PathBuf,
    /// Output file (written atomically)
    #[arg(long)]
    out: PathBuf,
    /// Quantization mode
    #[arg(long, value_enum, default_value_t = ModeArg::Dynamic)]
    mode: ModeArg,
    /// Calibration latents (static mode)
    #[arg(long, default_value_t = 1024)]
    calib_samples: usize,
    /// Seed of the calibration latents (static mode)
    #[arg(long, default_value_t = 12345)]
    calib_seed: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.input == args.out {
        bail!("--out must differ from --in ({})", args.input.display());
    }
    if args.calib_samples == 0 {
        bail!("--calib-samples must be at least 1");
    }
    let model = load(&args.input)?;
    let (mode, ranges) = match args.mode {
        ModeArg::Dynamic => (Mode::Dynamic, None),
        ModeArg::Static => {
            gan_runtime::generator::use_project_library_if_unset();
            let r = calibrate(&model, args.calib_samples, args.calib_seed)
                .context("calibrating on latents")?;
            (Mode::Static, Some(r))
        }
    };
    let q = quantize(&model, mode, ranges.as_ref())?;
    save(&q, &args.out)?;
    let size = |p: &PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "{} -> {} ({:?}): {:.2} MB -> {:.2} MB",
        args.input.display(),
        args.out.display(),
        args.mode,
        size(&args.input) as f64 / 1e6,
        size(&args.out) as f64 / 1e6
    );
    Ok(())
}
