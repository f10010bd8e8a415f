//! The one error type of the crate.

/// Why quantization failed.
#[derive(Debug, thiserror::Error)]
pub enum QuantizeError {
    /// The file could not be read or written, or is not an ONNX model (the message names it).
    #[error(transparent)]
    File(#[from] gan_onnx::file::OnnxFileError),
    /// The graph has nothing this tool can quantize, or is already quantized.
    #[error("cannot quantize: {0}")]
    Unsupported(String),
    /// Static mode needs a calibration range for every tensor it quantizes.
    #[error("no calibration range for tensor `{0}` (run calibrate on this model first)")]
    MissingRange(String),
    /// Running the model for calibration failed.
    #[error("calibration failed: {0}")]
    Calibration(String),
    /// A constant of the graph does not have the size its dims (or its node) say.
    #[error("node `{node}`: initializer `{tensor}` has {found} values, expected {expected}")]
    BadInitializer {
        /// The node that reads the constant.
        node: String,
        /// The initializer.
        tensor: String,
        /// How many values it holds.
        found: usize,
        /// How many it should hold.
        expected: usize,
    },
}
