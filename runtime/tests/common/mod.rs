//! Helpers shared by this crate's integration tests.

use std::path::PathBuf;

/// The model shipped in `models/`, which these tests run.
pub fn shipped_model() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/fashion-mlp.onnx");
    assert!(p.is_file(), "shipped model missing: {}", p.display());
    p
}

/// Fails the test, saying how to fix it, when ONNX Runtime is not configured.
pub fn require_ort() {
    assert!(
        std::env::var_os("ORT_DYLIB_PATH").is_some_and(|p| !p.is_empty()),
        "ORT_DYLIB_PATH is not set: run the tests with `bash scripts/test.sh`"
    );
}
