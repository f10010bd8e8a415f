//! The `trainer` binary given bad arguments: a clear message naming the flag or path, a
//! non-zero exit, no panic, and nothing trained for nothing.

use std::process::Command;

mod common;

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
        (
            vec!["--data", "/no/such/dir"],
            "cannot read /no/such/dir: no such folder",
        ),
        (
            vec!["--data", blocker.to_str().unwrap()],
            "a-file: not a directory (--data takes a folder)",
        ),
        (
            vec!["--data", data, "--steps", "0"],
            "--steps must be at least 1",
        ),
        // Built without the GPU features (as in CI): the error names the feature to enable.
        (
            vec!["--data", data, "--steps", "1", "--device", "cuda"],
            "--device cuda needs the trainer built with the `cuda` cargo feature",
        ),
        (
            vec!["--data", data, "--steps", "1", "--device", "wgpu"],
            "--device wgpu needs the trainer built with the `wgpu` cargo feature",
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
        common::assert_clear_error(&o, &format!("{args:?}"), want);
    }
}

/// `trainer eval` refuses bad input before training anything, naming what is wrong.
#[test]
fn eval_bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let model = root.join("models/fashion-mlp.onnx");
    let model = model.to_str().unwrap();
    let data = root.join("../shared/data/fashion-mnist");
    assert!(
        data.is_dir(),
        "real test data not found: looked for {}",
        data.display()
    );
    let data = data.to_str().unwrap();
    // IDX images without a label file.
    let unlabeled = dir.path().join("unlabeled");
    std::fs::create_dir(&unlabeled).unwrap();
    let mut idx = vec![0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 28, 0, 0, 0, 28];
    idx.extend(std::iter::repeat_n(7u8, 4 * 28 * 28));
    std::fs::write(unlabeled.join("x-images-idx3-ubyte"), idx).unwrap();
    // A labeled image folder of 32x32 RGB images (two classes).
    let folder = dir.path().join("folder");
    for class in ["a", "b"] {
        std::fs::create_dir_all(folder.join(class)).unwrap();
        for i in 0..3 {
            image::RgbImage::new(32, 32)
                .save(folder.join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--model", "/no/such/g.onnx", "--data", data],
            "--model /no/such/g.onnx: no such file",
        ),
        (
            vec!["--model", model, "--data", "/no/such/dir"],
            "/no/such/dir",
        ),
        (
            vec!["--model", model, "--data", unlabeled.to_str().unwrap()],
            "has no labels",
        ),
        (
            vec!["--model", model, "--data", folder.to_str().unwrap()],
            "makes 1x28x28 images but the data in",
        ),
        (
            vec!["--model", data, "--data", data],
            "a directory; expected an .onnx file",
        ),
        (
            vec!["--model", model, "--data", data, "--classifier-epochs", "0"],
            "--classifier-epochs must be at least 1",
        ),
    ];
    for (args, want) in cases {
        let o = Command::new(env!("CARGO_BIN_EXE_trainer"))
            .arg("eval")
            .args(&args)
            .args(["--quiet", "--no-cache"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        common::assert_clear_error(&o, &format!("{args:?}"), want);
    }
    // The flat invocation and `train` stay what they were.
    let o = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["train", "--data", "/no/such/dir", "--quiet"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("/no/such/dir"));
    let o = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["eval", "--data", data, "--steps", "5"])
        .output()
        .unwrap();
    assert!(!o.status.success(), "eval took a training flag");
}

/// The flags' defaults are `TrainConfig::default()`'s, the one place they are written.
#[test]
fn flag_defaults_are_the_config_defaults() {
    let o = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    let d = gan_trainer::train::TrainConfig::default();
    let shown = |flag: &str| -> String {
        let at = help
            .find(&format!("--{flag} <"))
            .unwrap_or_else(|| panic!("--{flag} not in --help"));
        let rest = &help[at..];
        let start = rest.find("[default: ").expect("a default") + "[default: ".len();
        rest[start..start + rest[start..].find(']').unwrap()].to_string()
    };
    for (flag, want) in [
        ("batch-size", d.batch_size.to_string()),
        ("lr", d.lr.to_string()),
        ("beta1", d.beta1.to_string()),
        ("latent-dim", d.latent_dim.to_string()),
        ("width", d.width.to_string()),
        ("dropout", d.dropout.to_string()),
        ("gp-weight", d.gp_weight.to_string()),
        ("d-steps", d.d_steps.to_string()),
        ("seed", d.seed.to_string()),
        ("arch", "mlp".to_string()),
        ("loss", "ns".to_string()),
        ("init", "pytorch".to_string()),
    ] {
        assert_eq!(shown(flag), want, "--{flag}");
    }
    assert_eq!(d.arch, gan_trainer::model::Arch::Mlp);
    assert_eq!(d.loss, gan_trainer::loss::Loss::Ns);
    assert_eq!(d.init, gan_trainer::model::Init::Pytorch);
}

/// `trainer augment-eval` refuses bad setting options before training anything, naming the
/// flag.
#[test]
fn augment_eval_bad_options_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let data = common::shared_data("mnist");
    let data = data.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--setting", "rebalance", "--minority-classes", "3,12"],
            "--minority-classes: class 12 is not in the data (its labels are 0..=9)",
        ),
        (
            vec!["--setting", "rebalance", "--minority-fraction", "0"],
            "--minority-fraction: 0 is outside (0, 1]",
        ),
        (
            vec!["--setting", "filtered", "--min-confidence", "1"],
            "--min-confidence: 1 is outside (0, 1)",
        ),
        (
            vec!["--fractions", "0.1,1.5"],
            "--fractions: 1.5 is outside (0, 1]",
        ),
        (
            vec!["--setting", "rebalance", "--fractions", "0.1"],
            "--fractions is not read by --setting rebalance",
        ),
        (
            vec!["--min-confidence", "0.5"],
            "--min-confidence is not read by --setting fraction",
        ),
        (
            vec!["--setting", "filtered", "--real-augment", "blur"],
            "unknown augmentation `blur`",
        ),
    ];
    for (args, want) in cases {
        let o = Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args(["augment-eval", "--data", data, "--quiet", "--out"])
            .arg(dir.path().join("out"))
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .args(&args)
            .output()
            .unwrap();
        common::assert_clear_error(&o, &format!("{args:?}"), want);
        assert!(
            !dir.path().join("cache").exists(),
            "{args:?} trained a classifier"
        );
    }
}
