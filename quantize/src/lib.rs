//! # gan-quantize
//!
//! Int8 versions of exported generators, for CPU devices: a quarter of the size, faster
//! matrix products and convolutions, the same contract.
//!
//! Two modes:
//! - [`Mode::Dynamic`]: every `Gemm` whose weight and bias are constants (the MLP's layers)
//!   gets int8 weights (symmetric, per output column); its input is quantized to uint8 at run
//!   time by `DynamicQuantizeLinear`, then `MatMulInteger`, rescaled to float. Needs no
//!   calibration. ONNX Runtime fuses the pattern into `MatMulIntegerToFloat`. Other nodes
//!   stay float.
//! - [`Mode::Static`]: QDQ format, with activation scales from the ranges seen on
//!   calibration latents ([`calibrate`]). First each `BatchNormalization` that follows a
//!   `Conv` is folded into it ([`fold_batch_norms`]). Then:
//!   - `Conv` (2-D, constant weight): weight int8, symmetric, per output channel, behind
//!     `DequantizeLinear` (axis 0); bias int32 at scale `s_input * s_weight`; input and output
//!     behind `QuantizeLinear`/`DequantizeLinear` pairs (uint8). ONNX Runtime's CPU provider
//!     fuses each into `QLinearConv` (and runs a chain of them in NHWC).
//!   - `Gemm` (constant weight): the same with per-column weights; fused into `QGemm`.
//!   - `Sigmoid`, `Mul` (of two activations), `Resize`, `Split`: inputs and outputs behind
//!     Q/DQ pairs, so that a GLU (`Split`, `Sigmoid`, `Mul`), the skip-layer excitation's
//!     `Mul` and the nearest-neighbour `Resize` between two convolutions run on uint8
//!     (`QLinearSigmoid`, `QLinearMul` from the `com.microsoft` domain, uint8 `Resize` and
//!     `Split`: their outputs keep their input's parameters) instead of converting to float and
//!     back around every convolution.
//!
//!   Every other node (BatchNormalization not after a Conv, LeakyRelu, AveragePool, Tanh,
//!   Reshape, ...) stays float. On a 64x64 conditional fastgan generator (ONNX Runtime 1.31,
//!   CPU provider, one intra-op thread, AMD EPYC with AVX-512 VNNI) the int8 file runs about
//!   2.3x (batch 1) and 2.8x (batch 64) faster than fp32, its images within 0.01 mean absolute
//!   difference on the [-1, 1] scale. Of that, the Convs alone give about 2.1x / 2.3x; int8
//!   Gemms add about 10% at batch 1, the uint8 GLU (Split, Sigmoid, Mul) about 20% at batch 64.
//!   What is left is mostly QLinearConv; the next largest is ONNX Runtime's uint8 `Resize`,
//!   which in NHWC takes a generic path (about 17% of the time at batch 64).
//!
//! The model's metadata (its [`ModelContract`](gan_runtime::ModelContract)) is kept, and
//! `gan.quantization` records the mode.
//!
//! ```no_run
//! use gan_quantize::{calibrate, quantize, Mode};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let model = gan_quantize::load("models/fashion-mlp.onnx".as_ref())?;
//! let ranges = calibrate(&model, 512, 12345)?;
//! let int8 = quantize(&model, Mode::Static, Some(&ranges))?;
//! gan_quantize::save(&int8, "models/fashion-mlp.qdq.onnx".as_ref())?;
//! # Ok(())
//! # }
//! ```

use std::path::Path;

use gan_onnx::graph::metadata;
use gan_onnx::read::metadata_value;
use onnx_protobuf::ModelProto;

mod calibrate;
mod conv;
mod edits;
mod error;
mod fold;
mod gemm;
mod graph;
mod params;
mod plan;
mod qdq;

pub use calibrate::{calibrate, Ranges};
pub use error::QuantizeError;
pub use fold::fold_batch_norms;
pub use params::{quantize_weights_per_channel, quantize_weights_per_column, uint8_params};

/// Metadata key recording how a model was quantized (`dynamic-int8` or `qdq-int8`).
pub const QUANTIZATION_KEY: &str = "gan.quantization";

/// How to quantize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Int8 weights, activations quantized at run time (no calibration).
    Dynamic,
    /// QDQ int8 with activation scales from calibration.
    Static,
}

impl Mode {
    fn tag(self) -> &'static str {
        match self {
            Mode::Dynamic => "dynamic-int8",
            Mode::Static => "qdq-int8",
        }
    }
}

/// Reads an ONNX model.
pub fn load(path: &Path) -> Result<ModelProto, QuantizeError> {
    Ok(gan_onnx::file::load(path)?)
}

/// Writes an ONNX model atomically.
pub fn save(model: &ModelProto, path: &Path) -> Result<(), QuantizeError> {
    Ok(gan_onnx::file::save(model, path)?)
}

/// Quantizes `model` (see the [crate docs](crate) for what each mode rewrites). `ranges`,
/// from [`calibrate`] on the same model, is required for [`Mode::Static`] and ignored for
/// [`Mode::Dynamic`].
///
/// ```no_run
/// # fn main() -> Result<(), gan_quantize::QuantizeError> {
/// let model = gan_quantize::load("models/fashion-mlp.onnx".as_ref())?;
/// let int8 = gan_quantize::quantize(&model, gan_quantize::Mode::Dynamic, None)?;
/// gan_quantize::save(&int8, "models/fashion-mlp.int8.onnx".as_ref())?;
/// # Ok(())
/// # }
/// ```
pub fn quantize(
    model: &ModelProto,
    mode: Mode,
    ranges: Option<&Ranges>,
) -> Result<ModelProto, QuantizeError> {
    if metadata_value(model, QUANTIZATION_KEY).is_some() {
        return Err(QuantizeError::Unsupported(
            "the model is already quantized (gan.quantization is set)".into(),
        ));
    }
    let mut out = match mode {
        Mode::Dynamic => model.clone(),
        Mode::Static => fold_batch_norms(model)?,
    };
    let graph = out
        .graph
        .as_mut()
        .ok_or_else(|| QuantizeError::Unsupported("the model has no graph".into()))?;
    let edits = match mode {
        Mode::Dynamic => gemm::dynamic_edits(graph)?,
        Mode::Static => qdq::static_edits(graph, ranges)?,
    };
    edits.apply(graph);
    out.metadata_props.extend(metadata([(
        QUANTIZATION_KEY.to_string(),
        mode.tag().to_string(),
    )]));
    Ok(out)
}
