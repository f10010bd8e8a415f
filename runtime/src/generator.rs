//! Running exported generators with ONNX Runtime (the `ort` crate, library loaded at run time).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};

use crate::balanced_label;
use crate::contract::{ElemType, ModelContract, TensorSpec};
use crate::images::ImageBatch;
use crate::latent::Truncation;
use crate::providers::{register_providers, ExecutionProvider, ProviderPolicy};

/// Largest number of images one inference call may produce; larger requests are split.
pub const DEFAULT_BATCH: usize = 256;

/// Default memory budget for the images of one request (1 GiB).
pub const DEFAULT_MEMORY_BUDGET: u64 = 1 << 30;

pub use crate::error::{RuntimeError, ORT_DYLIB_ENV, ORT_VERSION};

static LIBRARY_PATH: OnceLock<PathBuf> = OnceLock::new();

/// Names the ONNX Runtime library to load, instead of `ORT_DYLIB_PATH`. Must be called before
/// the first [`Generator`] is loaded; returns `false` (and changes nothing) if a path was
/// already set.
pub fn set_library_path(path: impl Into<PathBuf>) -> bool {
    LIBRARY_PATH.set(path.into()).is_ok()
}

/// `libonnxruntime` inside this checkout's `.venv` (installed by `scripts/setup.sh`), if there.
/// The checkout is the one this crate was built from; binaries use it as a fallback when
/// `ORT_DYLIB_PATH` is not set, so they run with no setup beyond the setup script.
pub fn find_project_library() -> Option<PathBuf> {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/lib");
    for py in std::fs::read_dir(lib).ok()?.flatten() {
        let capi = py.path().join("site-packages/onnxruntime/capi");
        let Ok(entries) = std::fs::read_dir(&capi) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("libonnxruntime.so") || name == "libonnxruntime.dylib" {
                return Some(e.path());
            }
        }
    }
    None
}

/// Falls back to [`find_project_library`] when `ORT_DYLIB_PATH` is not set: what the
/// project's binaries and examples do at start-up, so they run with no setup beyond
/// `scripts/setup.sh`. Does nothing when the variable is set or no library is found.
pub fn use_project_library_if_unset() {
    if std::env::var_os(ORT_DYLIB_ENV).is_none() {
        if let Some(lib) = find_project_library() {
            set_library_path(lib);
        }
    }
}

/// The process's ONNX Runtime environment, loaded on first use (from [`set_library_path`] or
/// `ORT_DYLIB_PATH`) and kept alive. Tools that build their own `ort` sessions (calibration,
/// benchmarks) use it so that the library is loaded once, with the same clear errors.
pub fn ort_environment() -> Result<&'static Environment, RuntimeError> {
    static ENV: OnceLock<Result<Environment, RuntimeError>> = OnceLock::new();
    let result = ENV.get_or_init(|| {
        let path = match (LIBRARY_PATH.get(), std::env::var_os(ORT_DYLIB_ENV)) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) if !p.is_empty() => PathBuf::from(p),
            _ => return Err(RuntimeError::LibraryNotConfigured),
        };
        if !path.is_file() {
            return Err(RuntimeError::LibraryLoad {
                path,
                reason: "no such file".into(),
            });
        }
        let load_err = |reason: String| RuntimeError::LibraryLoad {
            path: path.clone(),
            reason,
        };
        ort::init_from(&path)
            .map_err(|e| load_err(e.to_string()))?
            .with_name("gan-runtime")
            .build()
            .map_err(|e| load_err(e.to_string()))
    });
    match result {
        Ok(env) => Ok(env),
        Err(e) => Err(clone_load_error(e)),
    }
}

fn clone_load_error(e: &RuntimeError) -> RuntimeError {
    match e {
        RuntimeError::LibraryNotConfigured => RuntimeError::LibraryNotConfigured,
        RuntimeError::LibraryLoad { path, reason } => RuntimeError::LibraryLoad {
            path: path.clone(),
            reason: reason.clone(),
        },
        other => RuntimeError::Inference(other.to_string()),
    }
}

/// Options for loading a [`Generator`].
#[derive(Debug, Clone)]
pub struct GeneratorBuilder {
    path: PathBuf,
    threads: usize,
    batch: usize,
    max_sessions: usize,
    memory_budget: u64,
    providers: Vec<ExecutionProvider>,
    policy: ProviderPolicy,
    truncation: Truncation,
}

impl GeneratorBuilder {
    /// Truncation of the seeded latents (default [`Truncation::OFF`]): every coordinate kept
    /// within `[-psi, psi]` by the contract's rule, so sample `i` of seed `s` at a given `psi`
    /// is one fixed image here and in the browser. [`Generator::run_latents`] takes latents as
    /// given.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use gan_runtime::{Generator, Truncation};
    ///
    /// let generator = Generator::builder("models/mnist-cdcgan.onnx")
    ///     .truncation(Truncation::new(0.7)?)
    ///     .load()?;
    /// let typical_threes = generator.generate_labeled(42, 0, &[3; 16])?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn truncation(mut self, truncation: Truncation) -> Self {
        self.truncation = truncation;
        self
    }

    /// Intra-op threads each ONNX Runtime session may use (0: its default, one per core).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Largest batch per inference call (default [`DEFAULT_BATCH`]); bounds memory per call.
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// How many sessions the pool may hold, i.e. how many calls run at once (default: the
    /// number of cores). Sessions are created on demand.
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.max_sessions = n.max(1);
        self
    }

    /// Bytes the float images of one request may take (default [`DEFAULT_MEMORY_BUDGET`]).
    /// Larger requests are refused with [`RuntimeError::Budget`] before anything runs; use
    /// [`Generator::batches`] to stream large counts.
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// Execution providers to try, in order of preference; the CPU is always the last resort
    /// in [`ProviderPolicy::Lenient`] mode. Providers other than the CPU need the cargo feature
    /// of the same name (`cuda`, `tensorrt`, `directml`, `coreml`).
    pub fn execution_providers(
        mut self,
        providers: impl IntoIterator<Item = ExecutionProvider>,
    ) -> Self {
        self.providers = providers.into_iter().collect();
        self
    }

    /// What to do when a requested provider cannot be used (default: lenient, with a warning).
    pub fn provider_policy(mut self, policy: ProviderPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Loads the model, checks its contract and creates the first session.
    pub fn load(self) -> Result<Generator, RuntimeError> {
        let path = self.path.clone();
        let meta = std::fs::metadata(&path).map_err(|e| RuntimeError::ModelRead {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if !meta.is_file() {
            return Err(RuntimeError::ModelRead {
                path,
                reason: "not a file".into(),
            });
        }
        let bytes: Arc<[u8]> = std::fs::read(&path)
            .map_err(|e| RuntimeError::ModelRead {
                path: path.clone(),
                reason: e.to_string(),
            })?
            .into();
        let (session, active, warnings) = new_session(&self, &bytes, &self.providers)?;
        let model_err = |reason: String| RuntimeError::ModelLoad {
            path: path.clone(),
            reason,
        };

        let contract = {
            let metadata = session.metadata().map_err(|e| model_err(e.to_string()))?;
            ModelContract::from_metadata(|k| metadata.custom(k))
        }
        .and_then(|c| {
            let inputs: Vec<TensorSpec> = session.inputs().iter().map(spec).collect();
            let outputs: Vec<TensorSpec> = session.outputs().iter().map(spec).collect();
            c.validate_io(&inputs, &outputs).map(|()| c)
        })
        .map_err(|source| RuntimeError::Contract {
            path: path.clone(),
            source,
        })?;

        // Refuse before running a model whose single image already exceeds the budget, and
        // shrink the batch so that one call stays within it.
        let image_bytes = contract.image_len() as u64 * 4;
        if image_bytes > self.memory_budget {
            return Err(RuntimeError::Budget {
                what: format!(
                    "one {}x{}x{} image of {}",
                    contract.channels,
                    contract.height,
                    contract.width,
                    path.display()
                ),
                needed: image_bytes,
                budget: self.memory_budget,
            });
        }
        let batch = self
            .batch
            .min((self.memory_budget / image_bytes).max(1) as usize);

        Ok(Generator {
            pool: Mutex::new(Pool {
                free: vec![session],
                created: 1,
            }),
            returned: Condvar::new(),
            bytes,
            contract,
            batch,
            active,
            warnings,
            options: GeneratorBuilder {
                // Later sessions use the provider that worked, without new warnings.
                providers: vec![active],
                ..self
            },
        })
    }
}

/// A session for `bytes` with the first usable provider of `providers`.
fn new_session(
    options: &GeneratorBuilder,
    bytes: &[u8],
    providers: &[ExecutionProvider],
) -> Result<(Session, ExecutionProvider, Vec<String>), RuntimeError> {
    let path = &options.path;
    let env = ort_environment()?;
    let model_err = |reason: String| RuntimeError::ModelLoad {
        path: path.clone(),
        reason,
    };
    let mut builder = Session::builder(env)
        .map_err(|e| model_err(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| model_err(e.to_string()))?;
    if options.threads > 0 {
        builder = builder
            .with_intra_threads(options.threads)
            .map_err(|e| model_err(e.to_string()))?;
    }
    let (active, warnings) = register_providers(&mut builder, providers, options.policy)?;
    let session = builder
        .commit_from_memory(bytes)
        .map_err(|e| model_err(e.to_string()))?;
    Ok((session, active, warnings))
}

fn spec(outlet: &ort::value::Outlet) -> TensorSpec {
    let (elem, shape) = match outlet.dtype() {
        ValueType::Tensor { ty, shape, .. } => (
            match ty {
                TensorElementType::Float32 => ElemType::F32,
                TensorElementType::Int64 => ElemType::I64,
                _ => ElemType::Other,
            },
            shape
                .iter()
                .map(|&d| usize::try_from(d).ok())
                .collect::<Vec<_>>(),
        ),
        _ => (ElemType::Other, Vec::new()),
    };
    TensorSpec {
        name: outlet.name().to_string(),
        elem,
        shape,
    }
}

/// An exported GAN generator loaded into ONNX Runtime.
///
/// `Generator` is `Send + Sync`: share it across threads (`Arc<Generator>`). Each call takes
/// a session from a pool (creating one, up to [`GeneratorBuilder::max_sessions`], when all are
/// busy), so concurrent calls run in parallel; the pool's lock is held only to take and return
/// a session, never during inference.
///
/// Sample `i` of seed `s` is always the same image (see [`latent`](crate::latent())), whatever
/// the batch, thread or machine, so seed ranges can be split across workers.
///
/// ```no_run
/// use gan_runtime::Generator;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let generator = Generator::load("models/fashion-mlp.onnx")?;
/// let images = generator.generate(42, 0, 16)?; // samples 0..16 of seed 42
/// images.save_grid("grid.png".as_ref(), 4)?;
/// # Ok(())
/// # }
/// ```
pub struct Generator {
    pool: Mutex<Pool>,
    returned: Condvar,
    bytes: Arc<[u8]>,
    contract: ModelContract,
    batch: usize,
    active: ExecutionProvider,
    warnings: Vec<String>,
    options: GeneratorBuilder,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("path", &self.options.path)
            .field("contract", &self.contract)
            .field("provider", &self.active)
            .finish()
    }
}

/// Sessions not in use, and how many exist in all.
struct Pool {
    free: Vec<Session>,
    created: usize,
}

/// Images with the class each was generated for (`None` for unconditional models).
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledBatch {
    /// Index of the first sample.
    pub start: u64,
    /// The images.
    pub images: ImageBatch,
    /// One label per image, for conditional models.
    pub labels: Option<Vec<i64>>,
}

impl Generator {
    /// Options for loading the model at `path`.
    pub fn builder(path: impl AsRef<Path>) -> GeneratorBuilder {
        GeneratorBuilder {
            path: path.as_ref().to_path_buf(),
            threads: 0,
            batch: DEFAULT_BATCH,
            max_sessions: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_budget: DEFAULT_MEMORY_BUDGET,
            providers: vec![ExecutionProvider::Cpu],
            policy: ProviderPolicy::Lenient,
            truncation: Truncation::OFF,
        }
    }

    /// Loads the model at `path` with default options (CPU).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, RuntimeError> {
        Self::builder(path).load()
    }

    /// The model's contract (latent size, image shape, classes...).
    pub fn contract(&self) -> &ModelContract {
        &self.contract
    }

    /// The file the model was loaded from.
    pub fn path(&self) -> &Path {
        &self.options.path
    }

    /// The execution provider the sessions run on.
    pub fn execution_provider(&self) -> ExecutionProvider {
        self.active
    }

    /// Warnings from loading (requested providers that could not be used, in lenient mode).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Largest batch of one inference call.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// The truncation of the seeded latents ([`GeneratorBuilder::truncation`]).
    pub fn truncation(&self) -> Truncation {
        self.options.truncation
    }

    /// Samples `start .. start + count` of `seed`. Unconditional models only; see
    /// [`generate_labeled`](Self::generate_labeled).
    pub fn generate(
        &self,
        seed: u64,
        start: u64,
        count: usize,
    ) -> Result<ImageBatch, RuntimeError> {
        if self.contract.is_conditional() {
            return Err(RuntimeError::Request(format!(
                "the model is conditional ({} classes): give labels",
                self.contract.num_classes
            )));
        }
        let indices = self.range(start, count)?;
        self.generate_indices(seed, &indices, None)
    }

    /// Samples `start .. start + labels.len()` of `seed`, sample `i` of class `labels[i]`.
    pub fn generate_labeled(
        &self,
        seed: u64,
        start: u64,
        labels: &[i64],
    ) -> Result<ImageBatch, RuntimeError> {
        if self.contract.num_classes == 0 {
            return Err(RuntimeError::Request(
                "the model is unconditional: it takes no labels".into(),
            ));
        }
        let indices = self.range(start, labels.len())?;
        self.generate_indices(seed, &indices, Some(labels))
    }

    fn range(&self, start: u64, count: usize) -> Result<Vec<u64>, RuntimeError> {
        if count == 0 {
            return Err(RuntimeError::Request("count must be at least 1".into()));
        }
        let end = start.checked_add(count as u64).ok_or_else(|| {
            RuntimeError::Request(format!(
                "sample indices {start}..{start}+{count} overflow u64"
            ))
        })?;
        self.check_budget(count)?;
        Ok((start..end).collect())
    }

    fn check_budget(&self, count: usize) -> Result<(), RuntimeError> {
        let needed = count as u64 * self.contract.image_len() as u64 * 4;
        if needed > self.options.memory_budget {
            return Err(RuntimeError::Budget {
                what: format!("{count} images (use batches() to stream them)"),
                needed,
                budget: self.options.memory_budget,
            });
        }
        Ok(())
    }

    /// Any samples of `seed`, by index, with labels for conditional models (one per index).
    pub fn generate_indices(
        &self,
        seed: u64,
        indices: &[u64],
        labels: Option<&[i64]>,
    ) -> Result<ImageBatch, RuntimeError> {
        let c = &self.contract;
        if indices.is_empty() {
            return Err(RuntimeError::Request("count must be at least 1".into()));
        }
        self.check_budget(indices.len())?;
        match labels {
            Some(l) if l.len() != indices.len() => {
                return Err(RuntimeError::Request(format!(
                    "{} labels for {} samples",
                    l.len(),
                    indices.len()
                )))
            }
            Some(l) => {
                let n = c.num_classes as i64;
                if let Some(bad) = l.iter().find(|&&x| x < 0 || x >= n) {
                    return Err(RuntimeError::Request(format!(
                        "label {bad} is out of range: the model has classes 0..{n}"
                    )));
                }
            }
            None => {}
        }
        let mut out: Option<ImageBatch> = None;
        for (chunk_no, chunk) in indices.chunks(self.batch).enumerate() {
            let mut z = vec![0f32; chunk.len() * c.latent_dim];
            for (row, &i) in z.chunks_exact_mut(c.latent_dim).zip(chunk) {
                crate::latent::fill_latent_truncated(seed, i, row, self.options.truncation);
            }
            let from = chunk_no * self.batch;
            let l = labels.map(|l| &l[from..from + chunk.len()]);
            let batch = self.run_latents(&z, l)?;
            match &mut out {
                None => out = Some(batch),
                Some(all) => all.extend(batch),
            }
        }
        out.ok_or_else(|| RuntimeError::Request("count must be at least 1".into()))
    }

    /// Streams samples `range` of `seed` in batches of at most `batch` images, with
    /// class-balanced labels ([`balanced_label`]) for conditional models. Memory stays bounded
    /// by one batch, whatever the range.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let generator = gan_runtime::Generator::load("models/fashion-mlp.onnx")?;
    /// for batch in generator.batches(7, 0..100_000, 512) {
    ///     let batch = batch?;
    ///     // feed batch.images / batch.labels to a classifier
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn batches(
        &self,
        seed: u64,
        range: std::ops::Range<u64>,
        batch: usize,
    ) -> impl Iterator<Item = Result<LabeledBatch, RuntimeError>> + '_ {
        let batch = batch.clamp(1, self.batch) as u64;
        let classes = self.contract.num_classes;
        let mut next = range.start;
        std::iter::from_fn(move || {
            if next >= range.end {
                return None;
            }
            let start = next;
            let end = (start + batch).min(range.end);
            next = end;
            let labels: Option<Vec<i64>> =
                (classes > 0).then(|| (start..end).map(|i| balanced_label(i, classes)).collect());
            let indices: Vec<u64> = (start..end).collect();
            Some(
                self.generate_indices(seed, &indices, labels.as_deref())
                    .map(|images| LabeledBatch {
                        start,
                        images,
                        labels,
                    }),
            )
        })
    }

    /// Takes a free session from the pool, makes one if all are busy and the pool may grow,
    /// or waits for one to come back. The lock is held only for that, not during `f`.
    fn with_session<T>(
        &self,
        f: impl FnOnce(&mut Session) -> Result<T, RuntimeError>,
    ) -> Result<T, RuntimeError> {
        let poisoned = || RuntimeError::Inference("session pool poisoned by a panic".into());
        let mut session = {
            let mut pool = self.pool.lock().map_err(|_| poisoned())?;
            loop {
                if let Some(s) = pool.free.pop() {
                    break s;
                }
                if pool.created < self.options.max_sessions {
                    pool.created += 1;
                    drop(pool);
                    match new_session(&self.options, &self.bytes, &self.options.providers) {
                        Ok((s, _, _)) => break s,
                        Err(e) => {
                            if let Ok(mut p) = self.pool.lock() {
                                p.created -= 1;
                            }
                            return Err(e);
                        }
                    }
                }
                pool = self.returned.wait(pool).map_err(|_| poisoned())?;
            }
        }; // the pool's lock is released here, before inference
        let result = f(&mut session);
        if let Ok(mut pool) = self.pool.lock() {
            pool.free.push(session);
        }
        self.returned.notify_one();
        result
    }

    /// Runs the model on explicit latents (row-major `[N, latent_dim]`) and labels (one per
    /// latent, conditional models only). Errors on NaN/infinite output.
    pub fn run_latents(
        &self,
        z: &[f32],
        labels: Option<&[i64]>,
    ) -> Result<ImageBatch, RuntimeError> {
        let c = &self.contract;
        if z.is_empty() || !z.len().is_multiple_of(c.latent_dim) {
            return Err(RuntimeError::Request(format!(
                "latents have {} values: expected a positive multiple of the latent dim {}",
                z.len(),
                c.latent_dim
            )));
        }
        let n = z.len() / c.latent_dim;
        match (c.is_conditional(), labels) {
            (true, Some(l)) if l.len() != n => {
                return Err(RuntimeError::Request(format!(
                    "{} labels for {n} latents",
                    l.len()
                )))
            }
            (true, None) => return Err(RuntimeError::Request("the model needs labels".into())),
            (false, Some(_)) => {
                return Err(RuntimeError::Request("the model takes no labels".into()))
            }
            _ => {}
        }
        let infer = |e: ort::Error| RuntimeError::Inference(e.to_string());
        let data = self.with_session(|session| {
            let z_t = TensorRef::from_array_view(([n, c.latent_dim], z)).map_err(infer)?;
            let outputs = match labels {
                None => session.run(ort::inputs![crate::contract::INPUT_LATENT => z_t]),
                Some(l) => {
                    let l_t = TensorRef::from_array_view(([n], l)).map_err(infer)?;
                    session.run(ort::inputs![
                        crate::contract::INPUT_LATENT => z_t,
                        crate::contract::INPUT_LABEL => l_t
                    ])
                }
            }
            .map_err(infer)?;
            let (shape, data) = outputs[crate::contract::OUTPUT_IMAGE]
                .try_extract_tensor::<f32>()
                .map_err(infer)?;
            let want = [n as i64, c.channels as i64, c.height as i64, c.width as i64];
            if **shape != want {
                return Err(RuntimeError::Inference(format!(
                    "output `image` has shape {:?}, the contract says {want:?}",
                    &**shape
                )));
            }
            Ok(data.to_vec())
        })?;
        let batch = ImageBatch::new(data, n, c.channels, c.height, c.width, c.output_range)
            .map_err(|e| RuntimeError::Inference(e.to_string()))?;
        let bad = batch.non_finite_count();
        if bad > 0 {
            return Err(RuntimeError::NonFinite {
                count: bad,
                total: batch.data().len(),
            });
        }
        Ok(batch)
    }
}
