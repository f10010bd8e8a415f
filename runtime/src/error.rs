//! Why a generator could not be loaded or run: [`RuntimeError`], the one error type of the
//! ONNX Runtime side of this crate.

use std::path::PathBuf;

use crate::contract::ContractError;
use crate::providers::ProviderError;

/// Environment variable naming the ONNX Runtime shared library to load.
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// The ONNX Runtime version this build is made for (the `onnxruntime` wheel on PyPI ships its
/// shared library under `onnxruntime/capi/`).
pub const ORT_VERSION: &str = "1.31";

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
    /// A requested execution provider could not be used and the policy is strict.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// A request would need more memory than the generator's budget allows.
    #[error("{what} needs {needed} bytes, over the memory budget of {budget} bytes (see GeneratorBuilder::memory_budget)")]
    Budget {
        /// What needed the memory.
        what: String,
        /// Bytes needed.
        needed: u64,
        /// The budget.
        budget: u64,
    },
    /// The model produced NaN or infinite values.
    #[error("the model produced {count} NaN/infinite values out of {total}")]
    NonFinite {
        /// Non-finite values.
        count: usize,
        /// All values.
        total: usize,
    },
}
