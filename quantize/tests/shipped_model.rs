//! Quantizes the shipped generator in both modes and runs the results in the real ONNX
//! Runtime: same contract, a quarter of the size, images within 0.02 mean absolute error.

use std::path::PathBuf;

use gan_quantize::{calibrate, load, quantize, save, Mode, QuantizeError};
use gan_runtime::Generator;

fn shipped() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/fashion-mlp.onnx");
    assert!(p.is_file(), "shipped model missing: {}", p.display());
    p
}

fn require_ort() {
    assert!(
        std::env::var_os("ORT_DYLIB_PATH").is_some_and(|p| !p.is_empty()),
        "ORT_DYLIB_PATH is not set: run the tests with `bash scripts/test.sh`"
    );
}

#[test]
fn int8_models_keep_contract_size_and_quality() {
    require_ort();
    let dir = tempfile::tempdir().unwrap();
    let model = load(&shipped()).unwrap();
    let fp32 = Generator::load(shipped()).unwrap();
    let reference = fp32.generate(42, 0, 256).unwrap();
    let ranges = calibrate(&model, 512, 12345).unwrap();
    assert_eq!(ranges.len(), 4, "one range per Gemm input: {ranges:?}");

    for (mode, name) in [(Mode::Dynamic, "dyn.onnx"), (Mode::Static, "qdq.onnx")] {
        let path = dir.path().join(name);
        save(&quantize(&model, mode, Some(&ranges)).unwrap(), &path).unwrap();
        let ratio = std::fs::metadata(&path).unwrap().len() as f64
            / std::fs::metadata(shipped()).unwrap().len() as f64;
        assert!(ratio < 0.3, "{mode:?}: size ratio {ratio}");

        let int8 = Generator::load(&path).unwrap();
        assert_eq!(int8.contract(), fp32.contract());
        let out = int8.generate(42, 0, 256).unwrap();
        let n = out.data().len() as f32;
        let mae = out
            .data()
            .iter()
            .zip(reference.data())
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / n;
        assert!(mae <= 0.02, "{mode:?}: mean abs error {mae}");
        assert!(
            mae > 0.0,
            "{mode:?}: identical output, was anything quantized?"
        );

        let again = quantize(&load(&path).unwrap(), mode, Some(&ranges)).unwrap_err();
        assert!(matches!(again, QuantizeError::Unsupported(_)), "{again}");
    }
}

#[test]
fn static_mode_needs_ranges_and_bad_files_are_named() {
    let model = load(&shipped()).unwrap();
    let e = quantize(&model, Mode::Static, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("calibration range"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, [0xff, 0xff, 0xff]).unwrap();
    let e = load(&junk).unwrap_err().to_string();
    assert!(
        e.contains("junk.onnx") && e.contains("not an ONNX model"),
        "{e}"
    );
    let e = load(&dir.path().join("none.onnx")).unwrap_err().to_string();
    assert!(e.contains("none.onnx"), "{e}");
}
