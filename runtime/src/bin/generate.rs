//! `generate`: images from an exported generator, as a PNG grid.
//!
//! ```text
//! generate --model models/fashion-mlp.onnx --seed 42 --count 64 --out grid.png
//! generate --dataset synthetic/ --count 60000 --format idx      # a dataset to train on
//! generate --provider cuda --provider cpu                         # GPU if it works, else CPU (warned)
//! generate --model models/mnist-cdcgan.onnx --truncation 0.7       # more typical, less varied
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Parser;
use gan_runtime::dataset::{write_dataset, DatasetFormat};
use gan_runtime::{grid_cols, ExecutionProvider, Generator, ProviderPolicy, Truncation};

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
    /// Write a dataset of --count images to this directory instead of a grid
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// Dataset format: idx (MNIST format, readable by `trainer --data`) or png
    #[arg(long, default_value = "idx")]
    format: DatasetFormat,
    /// Execution provider to try, in order (repeatable): cpu, cuda, tensorrt, directml, coreml
    #[arg(long = "provider", default_value = "cpu")]
    providers: Vec<ExecutionProvider>,
    /// Fail if a requested provider cannot be used, instead of falling back with a warning
    #[arg(long)]
    strict: bool,
    /// Truncation psi (>= 0.05) or `off`: keep every latent coordinate within [-psi, psi],
    /// resampled from the sample's own stream, for more typical, less varied images (e.g. 0.7)
    #[arg(long, default_value = "off", value_parser = parse_truncation)]
    truncation: Truncation,
}

fn parse_truncation(text: &str) -> Result<Truncation, String> {
    if text == "off" {
        return Ok(Truncation::OFF);
    }
    let psi: f64 = text
        .parse()
        .map_err(|_| format!("expected a number >= {} or `off`", Truncation::MIN_PSI))?;
    Truncation::new(psi).map_err(|e| e.to_string())
}

/// Limit for one grid: 65536 images of 28x28 is already a 7000x7000 PNG.
const MAX_COUNT: usize = 65_536;

fn main() -> Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    let max = if args.dataset.is_some() {
        u32::MAX as usize
    } else {
        MAX_COUNT
    };
    if args.count == 0 || args.count > max {
        bail!("--count must be in 1..={max}, got {}", args.count);
    }
    gan_runtime::generator::use_project_library_if_unset();
    let model = match args.model {
        Some(m) => m,
        None => shipped_model().with_context(|| {
            format!("no --model given and the shipped model {SHIPPED_MODEL} was not found")
        })?,
    };
    let policy = if args.strict {
        ProviderPolicy::Strict
    } else {
        ProviderPolicy::Lenient
    };
    let generator = Generator::builder(&model)
        .threads(args.threads)
        .execution_providers(args.providers.clone())
        .provider_policy(policy)
        .truncation(args.truncation)
        .load()?;
    let c = generator.contract();
    if let Some(dir) = &args.dataset {
        let bar = indicatif::ProgressBar::new(args.count as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} images ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let started = std::time::Instant::now();
        let files = write_dataset(
            &generator,
            args.seed,
            args.count as u64,
            dir,
            args.format,
            512,
            |n| bar.set_position(n),
        )?;
        bar.finish_and_clear();
        eprintln!(
            "{} images of seed {} from {} on {} in {:.1} s -> {} ({} files{})",
            args.count,
            args.seed,
            model.display(),
            generator.execution_provider(),
            started.elapsed().as_secs_f64(),
            dir.display(),
            files.len(),
            if c.is_conditional() {
                ", class-balanced labels"
            } else {
                ""
            }
        );
        return Ok(());
    }
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
        "{} images {}x{}x{} from {} on {} (seed {}, samples {}..{}{}) in {:.1} ms -> {}",
        batch.len(),
        c.channels,
        c.height,
        c.width,
        model.display(),
        generator.execution_provider(),
        args.seed,
        args.start,
        args.start + args.count as u64,
        match args.truncation.psi() {
            Some(psi) => format!(", truncation {psi}"),
            None => String::new(),
        },
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
