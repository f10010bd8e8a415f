//! `generate`: images from an exported generator, as a PNG grid.
//!
//! ```text
//! generate --model models/fashion-mlp.onnx --seed 42 --count 64 --out grid.png
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Parser;
use gan_runtime::generator::{set_library_path, ORT_DYLIB_ENV};
use gan_runtime::{grid_cols, Generator};

/// The model shipped with the project, used when `--model` is not given.
const SHIPPED_MODEL: &str = "models/fashion-mlp.onnx";

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Generate images with an exported GAN generator (ONNX Runtime)"
)]
struct Args {
    /// Generator ONNX file [default: models/fashion-mlp.onnx, the shipped model]
    #[arg(long)]
    model: Option<PathBuf>,
    /// Seed: sample i of seed s is always the same image
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Index of the first sample
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Number of images (1..=65536)
    #[arg(long, default_value_t = 64)]
    count: usize,
    /// Class of every image (conditional models); default: cycle through the classes
    #[arg(long)]
    label: Option<i64>,
    /// Output PNG grid
    #[arg(long, default_value = "grid.png")]
    out: PathBuf,
    /// Grid columns [default: about sqrt(count)]
    #[arg(long)]
    cols: Option<usize>,
    /// ONNX Runtime intra-op threads (0: one per core)
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

/// Limit for one grid: 65536 images of 28x28 is already a 7000x7000 PNG.
const MAX_COUNT: usize = 65_536;

fn main() -> Result<()> {
    let args = Args::parse();
    if args.count == 0 || args.count > MAX_COUNT {
        bail!("--count must be in 1..={MAX_COUNT}, got {}", args.count);
    }
    if std::env::var_os(ORT_DYLIB_ENV).is_none() {
        if let Some(lib) = gan_runtime::generator::find_project_library() {
            set_library_path(lib);
        }
    }
    let model = match args.model {
        Some(m) => m,
        None => shipped_model().with_context(|| {
            format!("no --model given and the shipped model {SHIPPED_MODEL} was not found")
        })?,
    };
    let generator = Generator::builder(&model).threads(args.threads).load()?;
    let c = generator.contract();
    let started = std::time::Instant::now();
    let batch = if c.is_conditional() {
        let n = c.num_classes as i64;
        let labels: Vec<i64> = match args.label {
            Some(l) => vec![l; args.count],
            None => (0..args.count as i64).map(|i| i % n).collect(),
        };
        generator.generate_labeled(args.seed, args.start, &labels)?
    } else {
        if args.label.is_some() {
            bail!("--label given but {} is unconditional", model.display());
        }
        generator.generate(args.seed, args.start, args.count)?
    };
    let elapsed = started.elapsed();
    let cols = args.cols.unwrap_or_else(|| grid_cols(args.count));
    batch
        .save_grid(&args.out, cols)
        .with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "{} images {}x{}x{} from {} (seed {}, samples {}..{}) in {:.1} ms -> {}",
        batch.len(),
        c.channels,
        c.height,
        c.width,
        model.display(),
        args.seed,
        args.start,
        args.start + args.count as u64,
        elapsed.as_secs_f64() * 1e3,
        args.out.display()
    );
    Ok(())
}

/// The project's checkout, known at build time; lets `generate` with no arguments find the
/// shipped model and the ONNX Runtime installed by `scripts/setup.sh`.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn shipped_model() -> Option<PathBuf> {
    [
        PathBuf::from(SHIPPED_MODEL),
        project_root().join(SHIPPED_MODEL),
    ]
    .into_iter()
    .find(|p| p.is_file())
}
