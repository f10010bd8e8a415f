//! # gan-runtime
//!
//! Synthesize images with GAN generators exported by the `trainer` (ONNX files that carry
//! their contract in `metadata_props`).
//!
//! This crate owns the contract shared by every consumer, defined once:
//! - [`ModelContract`]: the metadata keys and the input/output shapes a generator promises;
//! - [`latent()`]: the latent vector of sample `index` of `seed`, the same in any batch and on
//!   every platform (wasm included);
//! - [`ImageBatch`]: model output to 8-bit pixels, grids and PNG files.
//!
//! With the default `ort` feature, [`Generator`] runs models through ONNX Runtime, loaded at
//! run time from the library named by `ORT_DYLIB_PATH`.
//!
//! This example runs as a doc test, on the shipped model, with `ORT_DYLIB_PATH` set by
//! `scripts/env.sh`:
//!
//! ```
//! # #[cfg(feature = "ort")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use gan_runtime::Generator;
//!
//! let generator = Generator::builder("../models/fashion-mlp.onnx").threads(1).load()?;
//! let c = generator.contract();
//! assert_eq!((c.channels, c.height, c.width), (1, 28, 28));
//!
//! let batch = generator.generate(7, 0, 16)?; // seed 7, samples 0..16
//! let pixels: Vec<u8> = batch.to_u8(0); // first image, 28 x 28 gray bytes
//! assert_eq!(pixels.len(), 28 * 28);
//! // Sample 3 of seed 7 is the same image on its own as inside the batch.
//! let alone = generator.generate(7, 3, 1)?;
//! assert!(alone.image(0).iter().zip(batch.image(3)).all(|(a, b)| (a - b).abs() < 1e-5));
//!
//! let dir = tempfile::tempdir()?;
//! batch.save_grid(&dir.path().join("grid.png"), 4)?;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "ort"))]
//! # fn main() {}
//! ```

pub mod atomic;
pub mod contract;
#[cfg(feature = "ort")]
pub mod dataset;
#[cfg(feature = "ort")]
pub mod error;
#[cfg(feature = "ort")]
pub mod generator;
pub mod images;
pub mod latent;
#[cfg(feature = "ort")]
pub mod providers;

pub use atomic::write_atomic;
pub use contract::{balanced_label, ContractError, ElemType, ModelContract, TensorSpec};
#[cfg(feature = "ort")]
pub use error::RuntimeError;
#[cfg(feature = "ort")]
pub use generator::{Generator, GeneratorBuilder, LabeledBatch};
pub use images::{grid_cols, save_png, ImageBatch, ImageError};
pub use latent::{
    fill_latent, fill_latent_truncated, latent, latent_batch, latent_batch_truncated,
    latent_truncated, Truncation, TruncationError,
};
#[cfg(feature = "ort")]
pub use providers::{ExecutionProvider, ProviderError, ProviderPolicy};
