//! # gan-onnx
//!
//! The ONNX plumbing that the trainer's exporter and the `quantize` tool share, written once on
//! `onnx-protobuf`:
//! - [`graph`]: constructors for tensors, nodes, attributes and value infos;
//! - [`read`]: an initializer's floats, a node's attributes, the [`ModelContract`] out of a
//!   model's `metadata_props`;
//! - [`file`](mod@file): reading a model with errors that name the file, writing one atomically.
//!
//! ```
//! use gan_onnx::graph::{attr_int, f32_tensor, node};
//! use gan_onnx::read::{attr_int_or, floats};
//!
//! let w = f32_tensor("w", &[2], &[1.5, -2.0]);
//! assert_eq!(floats(&w), [1.5, -2.0]);
//! let n = node("Gemm", &["x", "w"], &["y"], vec![attr_int("transB", 1)]);
//! assert_eq!(attr_int_or(&n, "transB", 0), 1);
//! assert_eq!(attr_int_or(&n, "transA", 0), 0);
//! ```
//!
//! [`ModelContract`]: gan_runtime::ModelContract

pub mod file;
pub mod graph;
pub mod read;

pub use onnx_protobuf;
