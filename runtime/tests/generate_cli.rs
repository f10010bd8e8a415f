//! The `generate` binary, run as a user would: with no arguments it draws the shipped model;
//! bad arguments and a missing ONNX Runtime give clear errors.

mod common;
use common::{require_ort, shipped_model};

use std::process::Command;

fn generate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_generate"))
}

#[test]
fn no_arguments_draws_the_shipped_model() {
    require_ort();
    shipped_model();
    let dir = tempfile::tempdir().unwrap();
    let out = generate().current_dir(dir.path()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let grid = image::open(dir.path().join("grid.png")).unwrap();
    // 64 images of 28x28 in 8 columns with 2-pixel padding.
    assert_eq!(
        (grid.width(), grid.height()),
        (8 * 28 + 9 * 2, 8 * 28 + 9 * 2)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 images"));
}

#[test]
fn same_seed_same_file_other_seed_other_file() {
    require_ort();
    let dir = tempfile::tempdir().unwrap();
    let run = |seed: &str, name: &str| {
        let out = generate()
            .args([
                "--model",
                shipped_model().to_str().unwrap(),
                "--seed",
                seed,
                "--count",
                "9",
                "--out",
                name,
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read(dir.path().join(name)).unwrap()
    };
    assert_eq!(run("5", "a.png"), run("5", "b.png"));
    assert_ne!(run("5", "a.png"), run("6", "c.png"));
}

#[test]
fn bad_arguments_are_clear_errors() {
    require_ort();
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["--count", "0"], "--count must be in 1..=65536"),
        (
            &["--truncation", "0.01"],
            "truncation must be a number >= 0.05",
        ),
        (
            &["--truncation", "tiny"],
            "expected a number >= 0.05 or `off`",
        ),
        (&["--model", "missing.onnx"], "missing.onnx"),
        (&["--seed", "abc"], "--seed"),
        (
            &["--out", "no/such/dir/g.png", "--count", "1"],
            "no/such/dir/g.png",
        ),
    ];
    for (args, want) in cases {
        let out = generate()
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    }
}

/// `--truncation` draws the library's truncated samples (one rule, shared with the browser):
/// the grid's first image is sample 0 of the seed at that psi, and differs from the untruncated
/// one.
#[test]
fn truncation_draws_the_contract_s_truncated_latents() {
    require_ort();
    let dir = tempfile::tempdir().unwrap();
    let model = shipped_model();
    let run = |truncation: &str, name: &str| {
        let out = generate()
            .args(["--model", model.to_str().unwrap(), "--seed", "11"])
            .args(["--count", "1", "--truncation", truncation, "--out", name])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        (
            image::open(dir.path().join(name)).unwrap().to_luma8(),
            err.to_string(),
        )
    };
    let (truncated, log) = run("0.5", "t.png");
    assert!(log.contains("truncation 0.5"), "{log}");
    let (plain, _) = run("off", "p.png");
    assert_ne!(truncated, plain);

    let t = gan_runtime::Truncation::new(0.5).unwrap();
    let generator = gan_runtime::Generator::builder(&model)
        .threads(1)
        .truncation(t)
        .load()
        .unwrap();
    assert_eq!(generator.truncation(), t);
    let dim = generator.contract().latent_dim;
    let z = gan_runtime::latent_truncated(11, 0, dim, t);
    let expected = generator.run_latents(&z, None).unwrap().to_u8(0);
    // A 1-image grid is the image inside a 2-pixel frame.
    let inner: Vec<u8> = (2..30)
        .flat_map(|y| (2..30).map(move |x| (x, y)))
        .map(|(x, y)| truncated.get_pixel(x, y)[0])
        .collect();
    assert_eq!(inner, expected);
    assert_eq!(generator.generate(11, 0, 1).unwrap().to_u8(0), expected);
}

#[test]
fn missing_onnx_runtime_library_is_named() {
    let out = generate()
        .args(["--model", shipped_model().to_str().unwrap()])
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("ORT_DYLIB_PATH=/nonexistent/libonnxruntime.so"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
