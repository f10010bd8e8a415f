//! Throughput benchmark: trainer steps/s (burn), runtime images/s (ONNX Runtime through the
//! `ort` crate) and, for comparison, Python onnxruntime images/s on the same model.
//!
//! Run it with `bash scripts/bench.sh` from the repository root (`GAN_BENCH_ONLY=trainer` stops
//! after the trainer table): the script installs ONNX
//! Runtime into `.venv/` (scripts/setup.sh), exports `ORT_DYLIB_PATH`, then runs
//! `cargo bench -p gan-tests --bench throughput`. It prints plain-text tables; nothing is
//! asserted. It needs the real data in `../shared/data/fashion-mnist` (beside the repository
//! root) and exits non-zero, naming the path, when it is missing.
//!
//! Trainer table (`GanTrainer::step` on Fashion-MNIST, 5 warm-up steps, then timed steps until
//! 40 steps or 20 s, whichever comes first, at least 5):
//! - `arch`: MLP, DCGAN (default width 64), conditional DCGAN (10 classes);
//! - `batch`: images per batch (real and fake each);
//! - `ms/step`: wall time of one full step (D update on a real and a fake batch, then G update);
//! - `steps/s`: its inverse; `real img/s`: `steps/s * batch`.
//!
//! Runtime table (`gan_runtime::Generator`, one session per cell, `batch(b)` so every call is
//! one inference). Each figure is the best of 5 rounds of at least 0.3 s (0.1 s for latents)
//! after a warm-up call, the three Rust columns interleaved round by round, so that load from
//! other processes skews them less (best of rounds estimates the unloaded speed):
//! - `batch`, `threads`: images per call and ONNX Runtime intra-op threads;
//! - `generate img/s`: `generator.generate(seed, start, batch)`, the whole call: seeded latents
//!   (`latent_batch`), inference, copy into an `ImageBatch`, NaN check;
//! - `latents us`: `latent_batch(seed, start, batch, dim)` alone, microseconds per call, and
//!   `lat %`: its share of one `generate` call;
//! - `run_latents img/s`: `generator.run_latents(&z, None)` on precomputed latents (inference,
//!   copy, NaN check; no latent generation);
//! - `python img/s`: `session.run` of Python onnxruntime (scripts/bench_ort.py, same library
//!   version, same thread count, precomputed latents, best of rounds likewise);
//! - `gen/py`, `run/py`: `generate` resp. `run_latents` images/s divided by Python's; `run/py`
//!   is the apples-to-apples ratio (both on precomputed latents).
//!
//! Under each table, a line tells how many cores other processes kept busy meanwhile (from
//! `/proc/stat`, Linux only): the figures are meaningful only when that is near 0.
//!
//! Int8 tables: each shipped fp32 model against its int8 versions (`models/fashion-mlp.int8.onnx`,
//! dynamic, and `models/fashion-mlp.qdq.onnx`, static QDQ; `models/emoji64-fastgan.qdq.onnx`,
//! static QDQ with int8 convolutions): file size and its ratio to fp32, `run_latents` images/s
//! at each batch and thread count with the speed-up over fp32 (median of interleaved rounds,
//! with its spread), and the mean absolute error against fp32 on 256 samples.
//!
//! Dataset line: 100,000 images written to disk as IDX by the streaming dataset writer in a
//! child process, with that process's peak resident memory (`VmHWM`).
//!
//! The model is `models/fashion-mlp.onnx` when it exists, else an untrained MLP generator of
//! the same architecture exported to a temporary directory (weights do not change the cost).

/// The trainer binary's allocator (trainer/Cargo.toml says why), so trainer figures are the
/// binary's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use gan_runtime::{latent_batch, Generator};
use gan_trainer::data::{load_dir, Dataset};
use gan_trainer::model::Arch;
use gan_trainer::model::ImageShape;
use gan_trainer::train::{GanTrainer, TrainConfig};

/// Trainer batch sizes.
const TRAIN_BATCHES: [usize; 2] = [128, 64];
/// Untimed trainer steps before timing.
const WARMUP_STEPS: usize = 5;
/// Timed trainer steps.
const TIMED_STEPS: usize = 40;
/// Stop timing a trainer cell after this many seconds (DCGAN steps are slow on CPU).
const TIMED_SECONDS: f64 = 20.0;
/// But time at least this many steps.
const MIN_TIMED_STEPS: usize = 5;

/// Runtime batch sizes (images per inference call).
const RUNTIME_BATCHES: [usize; 3] = [1, 64, 1024];
/// ONNX Runtime intra-op thread counts.
const THREADS: [usize; 2] = [1, 2];
/// Timed rounds per runtime column; the best round is reported (also passed to Python).
const ROUNDS: usize = 5;
/// Minimum time of one round of a runtime column (also passed to the Python script).
const ROUND_SECONDS: f64 = 0.3;
/// Minimum time of one round of the latent-only column (cheap, so shorter).
const LATENT_ROUND_SECONDS: f64 = 0.1;
/// Minimum calls per round, however slow.
const MIN_CALLS: u64 = 3;

/// Seed of the latents requested from the runtime.
const SEED: u64 = 7;
/// Cores kept busy by other processes from which the figures are flagged as skewed.
const BUSY_CORES: f64 = 0.2;

fn main() -> Result<()> {
    if std::env::var_os("GAN_BENCH_DATASET_CHILD").is_some() {
        return dataset_child();
    }
    let ort_lib = match std::env::var_os("ORT_DYLIB_PATH") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => bail!(
            "ORT_DYLIB_PATH is not set: run the benchmark with `bash scripts/bench.sh` (it installs ONNX Runtime into .venv and sets it)"
        ),
    };
    let root = repo_root()?;
    let data_dir = root
        .join("..")
        .join("shared")
        .join("data")
        .join("fashion-mnist");
    if !data_dir.is_dir() {
        bail!(
            "benchmark data not found: looked for {} (the shared/ folder must sit beside the repository root)",
            data_dir.display()
        );
    }

    println!("GAN throughput benchmark");
    println!(
        "  cores: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("  ONNX Runtime library: {}", ort_lib.display());
    println!();

    let dataset = load_dir(&data_dir)
        .with_context(|| format!("cannot load the dataset in {}", data_dir.display()))?;
    let start = CpuTimes::now();
    bench_trainer(&dataset, &data_dir)?;
    print_interference(start);
    println!();
    if std::env::var("GAN_BENCH_ONLY").is_ok_and(|v| v == "trainer") {
        return Ok(());
    }

    // Keeps the temporary directory (and the exported model in it) alive until the end.
    let (model, _tmp) = pick_model(&root)?;
    let start = CpuTimes::now();
    let rust = bench_runtime(&model)?;
    let python = bench_python(&root, &model);
    print_runtime_table(&rust, &python);
    print_interference(start);
    println!();

    let start = CpuTimes::now();
    bench_int8(&root)?;
    print_interference(start);
    println!();
    bench_dataset_memory(&model)?;
    Ok(())
}

/// fp32 against the shipped int8 models (`fashion-mlp`: dynamic and static; `emoji64-fastgan`:
/// static QDQ with int8 Conv): images/s of `run_latents` on the same precomputed latents (and
/// class-balanced labels for conditional models), rounds interleaved across the variants (fp32,
/// int8, fp32, int8, ...) so that drift of the machine's speed hits them alike; the speed-up is
/// the median of the per-round ratios, with their spread (min-max). Also the file size and the
/// mean absolute error against fp32 on 256 samples.
fn bench_int8(root: &Path) -> Result<()> {
    let sets: [(&str, &[(&str, &str)]); 2] = [
        (
            "models/fashion-mlp.onnx",
            &[
                ("int8 dynamic", "models/fashion-mlp.int8.onnx"),
                ("int8 static QDQ", "models/fashion-mlp.qdq.onnx"),
            ],
        ),
        (
            "models/emoji64-fastgan.onnx",
            &[("int8 static QDQ", "models/emoji64-fastgan.qdq.onnx")],
        ),
    ];
    for (fp32, int8) in sets {
        let mut variants = vec![("fp32", root.join(fp32))];
        variants.extend(int8.iter().map(|(name, p)| (*name, root.join(p))));
        if let Some((_, missing)) = variants.iter().find(|(_, p)| !p.is_file()) {
            println!("int8 comparison skipped: {} not found", missing.display());
            continue;
        }
        bench_int8_set(&variants)?;
    }
    Ok(())
}

/// [`bench_int8`] for one fp32 model (first) and its int8 versions.
fn bench_int8_set(variants: &[(&str, PathBuf)]) -> Result<()> {
    let fp32 = &variants[0].1;
    println!(
        "Int8: {}, run_latents on precomputed latents ({ROUNDS} interleaved rounds, median)",
        fp32.display()
    );
    let contract = Generator::load(fp32)?.contract().clone();
    let labels_for = |n: usize| -> Option<Vec<i64>> {
        contract.is_conditional().then(|| {
            (0..n as u64)
                .map(|i| gan_runtime::balanced_label(i, contract.num_classes))
                .collect()
        })
    };
    let sample = |g: &Generator| -> Result<gan_runtime::ImageBatch> {
        Ok(match labels_for(256) {
            Some(l) => g.generate_labeled(SEED, 0, &l)?,
            None => g.generate(SEED, 0, 256)?,
        })
    };
    let reference = sample(&Generator::load(fp32)?)?;
    let fp32_size = std::fs::metadata(fp32)?.len() as f64;
    println!(
        " {:<16} {:>8} {:>6} {:>5} {:>7} {:>11} {:>9} {:>13}",
        "model", "size MB", "x fp32", "batch", "threads", "img/s", "speed-up", "spread"
    );
    let mut errors = Vec::new();
    for (_, path) in variants {
        let out = sample(&Generator::load(path)?)?;
        let n = out.data().len() as f64;
        let err = out
            .data()
            .iter()
            .zip(reference.data())
            .map(|(a, b)| (a - b).abs() as f64)
            .sum::<f64>()
            / n;
        errors.push((std::fs::metadata(path)?.len() as f64, err));
    }
    for &threads in &THREADS {
        for &batch in &RUNTIME_BATCHES {
            let z = latent_batch(SEED, 0, batch, contract.latent_dim);
            let labels = labels_for(batch);
            let gens = variants
                .iter()
                .map(|(_, p)| {
                    let g = Generator::builder(p)
                        .threads(threads)
                        .batch(batch)
                        .max_sessions(1)
                        .load()?;
                    g.run_latents(&z, labels.as_deref())?;
                    Ok(g)
                })
                .collect::<Result<Vec<_>>>()?;
            // secs[v][r]: variant v's time per call in round r.
            let mut secs = vec![Vec::with_capacity(ROUNDS); gens.len()];
            for _ in 0..ROUNDS {
                for (v, g) in gens.iter().enumerate() {
                    secs[v].push(time_round(ROUND_SECONDS, |_| {
                        black_box(g.run_latents(&z, labels.as_deref())?);
                        Ok(())
                    })?);
                }
            }
            for (v, (name, _)) in variants.iter().enumerate() {
                let mut ratios: Vec<f64> = (0..ROUNDS).map(|r| secs[0][r] / secs[v][r]).collect();
                ratios.sort_by(f64::total_cmp);
                let mut own = secs[v].clone();
                own.sort_by(f64::total_cmp);
                println!(
                    " {:<16} {:>8.2} {:>6.2} {:>5} {:>7} {:>11.0} {:>8.2}x {:>5.2}-{:.2}x",
                    name,
                    errors[v].0 / 1e6,
                    errors[v].0 / fp32_size,
                    batch,
                    threads,
                    batch as f64 / own[ROUNDS / 2],
                    ratios[ROUNDS / 2],
                    ratios[0],
                    ratios[ROUNDS - 1]
                );
            }
        }
    }
    for ((name, _), (_, err)) in variants.iter().zip(&errors).skip(1) {
        println!(" {name:<16} mean abs error vs fp32 on 256 samples: {err:.4}");
    }
    Ok(())
}

/// Peak memory of writing 100,000 images to disk as IDX through the streaming dataset writer,
/// measured on a child process (this benchmark re-run with `GAN_BENCH_DATASET_CHILD` set) from
/// its `VmHWM` in /proc, so the parent's own allocations do not count.
fn bench_dataset_memory(model: &Path) -> Result<()> {
    const COUNT: u64 = 100_000;
    let dir = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let mut child = Command::new(exe)
        .env("GAN_BENCH_DATASET_CHILD", "1")
        .env("GAN_BENCH_MODEL", model)
        .env("GAN_BENCH_OUT", dir.path())
        .env("GAN_BENCH_COUNT", COUNT.to_string())
        .spawn()
        .context("starting the dataset child")?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            if let Some(kb) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
            {
                peak_kb = peak_kb.max(kb);
            }
        }
        if let Some(st) = child.try_wait()? {
            break st;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if !status.success() {
        bail!("the dataset child failed: {status}");
    }
    let secs = started.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(dir.path().join("synthetic-images-idx3-ubyte"))?.len();
    println!(
        "Dataset to disk: {COUNT} images (IDX, {:.1} MB) in {secs:.1} s ({:.0} img/s); peak resident memory {:.1} MB",
        bytes as f64 / 1e6,
        COUNT as f64 / secs,
        peak_kb as f64 / 1024.0
    );
    Ok(())
}

/// The child side of [`bench_dataset_memory`].
fn dataset_child() -> Result<()> {
    let var = |k: &str| std::env::var(k).with_context(|| format!("{k} not set"));
    let g = Generator::builder(var("GAN_BENCH_MODEL")?).load()?;
    let count: u64 = var("GAN_BENCH_COUNT")?.parse()?;
    gan_runtime::dataset::write_dataset(
        &g,
        SEED,
        count,
        Path::new(&var("GAN_BENCH_OUT")?),
        gan_runtime::dataset::DatasetFormat::Idx,
        512,
        |_| {},
    )?;
    Ok(())
}

/// The repository root: the parent of this crate's directory.
fn repo_root() -> Result<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .with_context(|| format!("{} has no parent directory", manifest.display()))
}

/// CPU time, in clock ticks, of the whole machine and of this process (waited-for children
/// included), read from Linux's `/proc`: other work on the machine skews every figure, and
/// this tells how much of it there was.
#[derive(Debug, Clone, Copy)]
struct CpuTimes {
    /// Busy time of all CPUs.
    busy: u64,
    /// Busy and idle time of all CPUs.
    total: u64,
    /// CPUs counted.
    cpus: usize,
    /// This process's user and system time, and its children's.
    own: u64,
}

impl CpuTimes {
    /// The counters now; `None` where `/proc` does not have them (not Linux).
    fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        // "cpu  user nice system idle iowait irq softirq steal guest guest_nice": guest time is
        // already in user and nice.
        let all: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .take(8)
            .map(|v| v.parse().ok())
            .collect::<Option<_>>()?;
        let idle = all.get(3)? + all.get(4)?;
        let total: u64 = all.iter().sum();
        let cpus = stat
            .lines()
            .filter(|l| {
                l.strip_prefix("cpu")
                    .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
            })
            .count();
        // Fields 14-17 of /proc/self/stat (utime stime cutime cstime), counted after the
        // command name, which may hold spaces but ends at the last ')'.
        let own: u64 = std::fs::read_to_string("/proc/self/stat")
            .ok()?
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .skip(11)
            .take(4)
            .map(|v| v.parse::<u64>().ok())
            .sum::<Option<u64>>()?;
        Some(Self {
            busy: total - idle,
            total,
            cpus,
            own,
        })
    }
}

/// Prints how many cores other processes kept busy on average since `start`.
fn print_interference(start: Option<CpuTimes>) {
    let Some((a, b)) = start
        .zip(CpuTimes::now())
        .filter(|(a, b)| b.total > a.total)
    else {
        println!("  other processes' CPU use meanwhile: unknown (no /proc/stat)");
        return;
    };
    let others = (b.busy - a.busy).saturating_sub(b.own - a.own);
    let cores = others as f64 / (b.total - a.total) as f64 * b.cpus as f64;
    println!(
        "  other processes kept {cores:.2} of {} cores busy on average meanwhile{}",
        b.cpus,
        if cores >= BUSY_CORES {
            ": figures are low and noisy (2-thread figures most)"
        } else {
            ""
        }
    );
}

/// Calls `f(i)` for `i = 0, 1, ...` until at least `min_seconds` and [`MIN_CALLS`] calls have
/// passed; returns the mean seconds per call.
fn time_round(min_seconds: f64, mut f: impl FnMut(u64) -> Result<()>) -> Result<f64> {
    let min = Duration::from_secs_f64(min_seconds);
    let start = Instant::now();
    let mut calls = 0;
    loop {
        f(calls)?;
        calls += 1;
        let elapsed = start.elapsed();
        if calls >= MIN_CALLS && elapsed >= min {
            return Ok(elapsed.as_secs_f64() / calls as f64);
        }
    }
}

fn bench_trainer(dataset: &Dataset, data_dir: &Path) -> Result<()> {
    println!(
        "Trainer: GAN train steps on {} ({} images {}x{}x{}), burn-flex + our kernels",
        data_dir.display(),
        dataset.len,
        dataset.channels,
        dataset.height,
        dataset.width
    );
    println!(
        "  ({WARMUP_STEPS} warm-up steps, then {TIMED_STEPS} timed or {TIMED_SECONDS} s, at least {MIN_TIMED_STEPS})"
    );
    println!(
        "{:>18} {:>7} {:>10} {:>9} {:>12}",
        "arch", "batch", "ms/step", "steps/s", "real img/s"
    );
    let shape = ImageShape {
        channels: dataset.channels,
        height: dataset.height,
        width: dataset.width,
    };
    let archs = [
        ("MLP", Arch::Mlp, 0),
        ("DCGAN", Arch::Dcgan, 0),
        ("conditional DCGAN", Arch::Dcgan, 10),
    ];
    for (name, arch, num_classes) in archs {
        for batch in TRAIN_BATCHES {
            let config = TrainConfig {
                batch_size: batch,
                arch,
                num_classes,
                ..TrainConfig::default()
            };
            let mut trainer = GanTrainer::new(
                config,
                shape,
                dataset.len,
                &gan_trainer::device::cpu_train(),
            )
            .context("cannot build the networks")?;
            for _ in 0..WARMUP_STEPS {
                black_box(trainer.step(dataset));
            }
            let start = Instant::now();
            let mut steps = 0;
            while steps < TIMED_STEPS
                && (steps < MIN_TIMED_STEPS || start.elapsed().as_secs_f64() < TIMED_SECONDS)
            {
                black_box(trainer.step(dataset));
                steps += 1;
            }
            let seconds = start.elapsed().as_secs_f64();
            let steps_per_s = steps as f64 / seconds;
            println!(
                "{:>18} {:>7} {:>10.1} {:>9.2} {:>12.0}",
                name,
                batch,
                1e3 * seconds / steps as f64,
                steps_per_s,
                steps_per_s * batch as f64
            );
        }
    }
    Ok(())
}

/// The trained model if the repository has one, else an untrained generator exported to a
/// temporary directory (returned so that it outlives the benchmark).
fn pick_model(root: &Path) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    let trained = root.join("models").join("fashion-mlp.onnx");
    if trained.is_file() {
        println!("Model: {}", trained.display());
        return Ok((trained, None));
    }
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let path = tmp.path().join("untrained-mlp.onnx");
    gan_tests::untrained_generator(&path, Arch::Mlp, 0);
    println!(
        "Model: {} not found; using an untrained MLP generator (same architecture) exported to {}",
        trained.display(),
        path.display()
    );
    Ok((path, Some(tmp)))
}

/// One runtime cell's measurements.
struct RuntimeCell {
    batch: usize,
    threads: usize,
    generate_img_s: f64,
    generate_call_s: f64,
    latents_call_s: f64,
    run_latents_img_s: f64,
}

fn bench_runtime(model: &Path) -> Result<Vec<RuntimeCell>> {
    eprintln!(
        "timing the runtime ({} cells)...",
        THREADS.len() * RUNTIME_BATCHES.len()
    );
    let mut cells = Vec::new();
    for threads in THREADS {
        for batch in RUNTIME_BATCHES {
            let generator = Generator::builder(model)
                .threads(threads)
                .batch(batch)
                .load()
                .with_context(|| format!("cannot load {}", model.display()))?;
            let dim = generator.contract().latent_dim;
            let count = batch as u64;

            let z = latent_batch(SEED, 0, batch, dim);
            black_box(generator.generate(SEED, 0, batch)?);
            black_box(generator.run_latents(&z, None)?);
            // Best seconds per call of generate, latent_batch and run_latents.
            let mut best = [f64::INFINITY; 3];
            for _ in 0..ROUNDS {
                let generate = time_round(ROUND_SECONDS, |i| {
                    black_box(generator.generate(SEED, i * count, batch)?);
                    Ok(())
                })?;
                let latents = time_round(LATENT_ROUND_SECONDS, |i| {
                    black_box(latent_batch(SEED, i * count, batch, dim));
                    Ok(())
                })?;
                let run = time_round(ROUND_SECONDS, |_| {
                    black_box(generator.run_latents(&z, None)?);
                    Ok(())
                })?;
                for (b, t) in best.iter_mut().zip([generate, latents, run]) {
                    *b = b.min(t);
                }
            }
            let [generate_call_s, latents_call_s, run_call_s] = best;

            cells.push(RuntimeCell {
                batch,
                threads,
                generate_img_s: batch as f64 / generate_call_s,
                generate_call_s,
                latents_call_s,
                run_latents_img_s: batch as f64 / run_call_s,
            });
        }
    }
    Ok(cells)
}

/// Python onnxruntime images/s by `(batch, threads)`, or why there are none.
type PythonResult = std::result::Result<HashMap<(usize, usize), f64>, String>;

fn bench_python(root: &Path, model: &Path) -> PythonResult {
    let python = root.join(".venv").join("bin").join("python");
    if !python.is_file() {
        return Err(format!(
            "{} not found (scripts/setup.sh creates it)",
            python.display()
        ));
    }
    let script = root.join("scripts").join("bench_ort.py");
    eprintln!("timing Python onnxruntime ({})...", script.display());
    let join = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    let output = Command::new(&python)
        .arg(&script)
        .arg(model)
        .args(["--batches", &join(&RUNTIME_BATCHES)])
        .args(["--threads", &join(&THREADS)])
        .args(["--rounds", &ROUNDS.to_string()])
        .args(["--seconds", &ROUND_SECONDS.to_string()])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "{} failed ({}): {}",
            script.display(),
            output.status,
            stderr.trim()
        ));
    }
    let mut rates = HashMap::new();
    for line in stdout.lines() {
        if let Some(note) = line.strip_prefix('#') {
            println!("Python:{note}");
        } else if let Some(cell) = parse_python_line(line) {
            rates.insert((cell.0, cell.1), cell.2);
        }
    }
    if rates.is_empty() {
        return Err(format!(
            "{} printed no result line: {}",
            script.display(),
            stdout.trim()
        ));
    }
    Ok(rates)
}

/// `batch=64 threads=1 images_per_s=12345.6 ...` to `(64, 1, 12345.6)`.
fn parse_python_line(line: &str) -> Option<(usize, usize, f64)> {
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    };
    Some((
        field("batch")?.parse().ok()?,
        field("threads")?.parse().ok()?,
        field("images_per_s")?.parse().ok()?,
    ))
}

fn print_runtime_table(cells: &[RuntimeCell], python: &PythonResult) {
    println!();
    println!(
        "Runtime: gan_runtime::Generator (ONNX Runtime via the ort crate) vs Python onnxruntime"
    );
    println!(
        "{:>6} {:>7} {:>15} {:>11} {:>6} {:>18} {:>13} {:>7} {:>7}",
        "batch",
        "threads",
        "generate img/s",
        "latents us",
        "lat %",
        "run_latents img/s",
        "python img/s",
        "gen/py",
        "run/py"
    );
    for c in cells {
        let py = python
            .as_ref()
            .ok()
            .and_then(|rates| rates.get(&(c.batch, c.threads)).copied());
        let (py_col, gen_ratio, run_ratio) = match py {
            Some(p) => (
                format!("{p:.0}"),
                format!("{:.2}", c.generate_img_s / p),
                format!("{:.2}", c.run_latents_img_s / p),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "{:>6} {:>7} {:>15.0} {:>11.1} {:>5.1}% {:>18.0} {:>13} {:>7} {:>7}",
            c.batch,
            c.threads,
            c.generate_img_s,
            1e6 * c.latents_call_s,
            100.0 * c.latents_call_s / c.generate_call_s,
            c.run_latents_img_s,
            py_col,
            gen_ratio,
            run_ratio
        );
    }
    println!();
    println!("Notes:");
    println!("  - generate computes the seeded latents on every call (lat % is their share of the call);");
    println!(
        "    Python feeds precomputed random latents, so gen/py is not like for like: run/py is"
    );
    println!("    (run_latents and Python both run on precomputed latents).");
    println!(
        "  - Rust calls also copy the output into an ImageBatch and check it for NaN; the Python"
    );
    println!("    figure is session.run alone.");
    println!("  - each runtime figure is the best of {ROUNDS} rounds of at least {ROUND_SECONDS} s (latents: {LATENT_ROUND_SECONDS} s)");
    println!("    after a warm-up call.");
    if let Err(reason) = python {
        println!("  - python comparison skipped: {reason}");
    }
}
