//! The `trainer` binary given bad arguments: a clear message naming the flag or path, a
//! non-zero exit, no panic, and nothing trained for nothing.

use std::process::Command;

#[test]
fn bad_arguments_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/fashion-mnist");
    assert!(
        data.is_dir(),
        "real test data not found: looked for {}",
        data.display()
    );
    let data = data.to_str().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let out_under_file = blocker.join("out");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--data", "/no/such/dir"], "/no/such/dir"),
        (
            vec!["--data", data, "--steps", "0"],
            "--steps must be at least 1",
        ),
        (
            vec!["--data", data, "--lr=-1"],
            "--lr must be a positive number",
        ),
        (
            vec!["--data", data, "--lr", "0"],
            "--lr must be a positive number",
        ),
        (
            vec!["--data", data, "--export", "model.txt"],
            "expected a file name ending in .onnx",
        ),
        (
            vec![
                "--data",
                data,
                "--steps",
                "1",
                "--out",
                out_under_file.to_str().unwrap(),
            ],
            "a-file/out",
        ),
        (
            vec!["--data", data, "--batch-size", "0"],
            "--batch-size must be at least 1",
        ),
        (
            vec!["--data", dir.path().to_str().unwrap()],
            "images-idx3-ubyte",
        ),
        (
            vec!["--data", data, "--augment", "flip,blur=2"],
            "unknown augmentation `blur=2`",
        ),
        (
            vec!["--data", data, "--augment", "zoom=1.5"],
            "`zoom=1.5`: 1.5 is outside [0, 1)",
        ),
    ];
    for (args, want) in cases {
        let o = Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args(&args)
            .arg("--quiet")
            .current_dir(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    }
}
