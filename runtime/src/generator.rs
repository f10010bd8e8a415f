//! Running exported generators with ONNX Runtime (the `ort` crate, library loaded at run time).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};

use crate::contract::{ContractError, ElemType, ModelContract, TensorSpec};
use crate::images::ImageBatch;
use crate::latent::latent_batch;

/// Environment variable naming the ONNX Runtime shared library to load.
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// The ONNX Runtime version this build is made for (the `onnxruntime` wheel on PyPI ships its
/// shared library under `onnxruntime/capi/`).
pub const ORT_VERSION: &str = "1.31";

/// Largest number of images one inference call may produce; larger requests are split.
pub const DEFAULT_BATCH: usize = 256;

/// Why a generator could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// `ORT_DYLIB_PATH` is not set.
    #[error(
        "ONNX Runtime library not configured: set {ORT_DYLIB_ENV} to the path of libonnxruntime \
         (version {ORT_VERSION}.x, e.g. from the PyPI wheel `onnxruntime`, file onnxruntime/capi/libonnxruntime.so.*)"
    )]
    LibraryNotConfigured,
    /// The library named by `ORT_DYLIB_PATH` could not be loaded.
    #[error("cannot load ONNX Runtime from {ORT_DYLIB_ENV}={path}: {reason}")]
    LibraryLoad {
        /// The path tried.
        path: PathBuf,
        /// The loader's message.
        reason: String,
    },
    /// The model file does not exist or cannot be read.
    #[error("cannot read model {path}: {reason}")]
    ModelRead {
        /// Model path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// ONNX Runtime refused the file (not ONNX, unsupported opset, broken graph...).
    #[error("ONNX Runtime cannot load {path}: {reason}")]
    ModelLoad {
        /// Model path.
        path: PathBuf,
        /// ONNX Runtime's message.
        reason: String,
    },
    /// The model is valid ONNX but not a generator this runtime understands.
    #[error("{path} is not a usable generator: {source}")]
    Contract {
        /// Model path.
        path: PathBuf,
        /// The contract violation.
        source: ContractError,
    },
    /// A request argument is out of range.
    #[error("invalid request: {0}")]
    Request(String),
    /// Inference failed.
    #[error("inference failed: {0}")]
    Inference(String),
    /// The model produced NaN or infinite values.
    #[error("the model produced {count} NaN/infinite values out of {total}")]
    NonFinite {
        /// Non-finite values.
        count: usize,
        /// All values.
        total: usize,
    },
}

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
}

impl GeneratorBuilder {
    /// Intra-op threads ONNX Runtime may use (0: its default, one per core).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Largest batch per inference call (default [`DEFAULT_BATCH`]); bounds memory per call.
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Loads the model and checks its contract.
    pub fn load(self) -> Result<Generator, RuntimeError> {
        let path = self.path;
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
        let env = ort_environment()?;
        let model_err = |reason: String| RuntimeError::ModelLoad {
            path: path.clone(),
            reason,
        };
        let mut builder = Session::builder(env)
            .map_err(|e| model_err(e.to_string()))?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| model_err(e.to_string()))?;
        if self.threads > 0 {
            builder = builder
                .with_intra_threads(self.threads)
                .map_err(|e| model_err(e.to_string()))?;
        }
        let session = builder
            .commit_from_file(&path)
            .map_err(|e| model_err(e.to_string()))?;

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

        Ok(Generator {
            session: Mutex::new(session),
            contract,
            path,
            batch: self.batch,
        })
    }
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
/// `Generator` is `Send + Sync`; calls from several threads are serialized on one session.
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
    session: Mutex<Session>,
    contract: ModelContract,
    path: PathBuf,
    batch: usize,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("path", &self.path)
            .field("contract", &self.contract)
            .finish()
    }
}

impl Generator {
    /// Options for loading the model at `path`.
    pub fn builder(path: impl AsRef<Path>) -> GeneratorBuilder {
        GeneratorBuilder {
            path: path.as_ref().to_path_buf(),
            threads: 0,
            batch: DEFAULT_BATCH,
        }
    }

    /// Loads the model at `path` with default options.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, RuntimeError> {
        Self::builder(path).load()
    }

    /// The model's contract (latent size, image shape, classes...).
    pub fn contract(&self) -> &ModelContract {
        &self.contract
    }

    /// The file the model was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Samples `start .. start + count` of `seed` (see [`latent`](crate::latent())).
    /// Unconditional models only; see [`generate_labeled`](Self::generate_labeled).
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
        self.generate_inner(seed, start, count, None)
    }

    /// Samples `start .. start + labels.len()` of `seed`, sample `i` of class `labels[i]`.
    pub fn generate_labeled(
        &self,
        seed: u64,
        start: u64,
        labels: &[i64],
    ) -> Result<ImageBatch, RuntimeError> {
        let n = self.contract.num_classes as i64;
        if n == 0 {
            return Err(RuntimeError::Request(
                "the model is unconditional: it takes no labels".into(),
            ));
        }
        if let Some(bad) = labels.iter().find(|&&l| l < 0 || l >= n) {
            return Err(RuntimeError::Request(format!(
                "label {bad} is out of range: the model has classes 0..{n}"
            )));
        }
        self.generate_inner(seed, start, labels.len(), Some(labels))
    }

    fn generate_inner(
        &self,
        seed: u64,
        start: u64,
        count: usize,
        labels: Option<&[i64]>,
    ) -> Result<ImageBatch, RuntimeError> {
        if count == 0 {
            return Err(RuntimeError::Request("count must be at least 1".into()));
        }
        if start.checked_add(count as u64).is_none() {
            return Err(RuntimeError::Request(format!(
                "sample indices {start}..{start}+{count} overflow u64"
            )));
        }
        let c = &self.contract;
        let mut out: Option<ImageBatch> = None;
        let mut done = 0;
        while done < count {
            let n = (count - done).min(self.batch);
            let z = latent_batch(seed, start + done as u64, n, c.latent_dim);
            let batch = self.run_latents(&z, labels.map(|l| &l[done..done + n]))?;
            match &mut out {
                None => out = Some(batch),
                Some(all) => all.extend(batch),
            }
            done += n;
        }
        // `count >= 1`, so the loop ran at least once.
        out.ok_or_else(|| RuntimeError::Request("count must be at least 1".into()))
    }

    /// Runs the model on explicit latents (row-major `[N, latent_dim]`) and labels.
    /// Errors on NaN/infinite output.
    pub fn run_latents(
        &self,
        z: &[f32],
        labels: Option<&[i64]>,
    ) -> Result<ImageBatch, RuntimeError> {
        let c = &self.contract;
        if z.is_empty() || z.len() % c.latent_dim != 0 {
            return Err(RuntimeError::Request(format!(
                "latents have {} values: expected a positive multiple of the latent dim {}",
                z.len(),
                c.latent_dim
            )));
        }
        let n = z.len() / c.latent_dim;
        let infer = |e: ort::Error| RuntimeError::Inference(e.to_string());
        let z_t = TensorRef::from_array_view(([n, c.latent_dim], z)).map_err(infer)?;
        let mut session = self
            .session
            .lock()
            .map_err(|_| RuntimeError::Inference("a previous inference panicked".into()))?;
        let outputs = match (c.is_conditional(), labels) {
            (false, None) => session.run(ort::inputs![crate::contract::INPUT_LATENT => z_t]),
            (true, Some(l)) if l.len() == n => {
                let l_t = TensorRef::from_array_view(([n], l)).map_err(infer)?;
                session.run(ort::inputs![
                    crate::contract::INPUT_LATENT => z_t,
                    crate::contract::INPUT_LABEL => l_t
                ])
            }
            (true, Some(l)) => {
                return Err(RuntimeError::Request(format!(
                    "{} labels for {n} latents",
                    l.len()
                )))
            }
            (true, None) => return Err(RuntimeError::Request("the model needs labels".into())),
            (false, Some(_)) => {
                return Err(RuntimeError::Request("the model takes no labels".into()))
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
        let batch = ImageBatch::new(
            data.to_vec(),
            n,
            c.channels,
            c.height,
            c.width,
            c.output_range,
        )
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
