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
//! ```no_run
//! # #[cfg(feature = "ort")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use gan_runtime::Generator;
//!
//! let generator = Generator::load("models/fashion-mlp.onnx")?;
//! println!("{} x {} images", generator.contract().height, generator.contract().width);
//! let batch = generator.generate(7, 0, 64)?; // seed 7, samples 0..64
//! let first_pixels: Vec<u8> = batch.to_u8(0);
//! batch.save_grid("grid.png".as_ref(), 8)?;
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
pub mod generator;
pub mod images;
pub mod latent;
#[cfg(feature = "ort")]
pub mod providers;

pub use atomic::write_atomic;
pub use contract::{ContractError, ElemType, ModelContract, TensorSpec};
#[cfg(feature = "ort")]
pub use generator::{balanced_label, Generator, GeneratorBuilder, LabeledBatch, RuntimeError};
pub use images::{grid_cols, save_png, ImageBatch, ImageError};
pub use latent::{fill_latent, latent, latent_batch};
#[cfg(feature = "ort")]
pub use providers::{ExecutionProvider, ProviderPolicy};
