//! A 64x64 colour, conditional FastGAN export (no ConvTranspose: Resize + Conv + GLU) through
//! every path a model takes after the trainer: the `generate` binary (class-column grids,
//! labels, truncation, PNG and IDX datasets), `quantize --mode static` with int8 convolutions
//! in the real ONNX Runtime, and its images against fp32. Nothing here is new runtime code:
//! these run the paths every model takes, on the new architecture.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gan_runtime::Generator;
use gan_tests::require_ort;
use gan_trainer::model::{Arch, Generator as BurnGenerator, ImageShape, Init, NetConfig};
use rand::SeedableRng;

const CLASSES: usize = 9;

/// Exports a seeded conditional 64x64 RGB FastGAN (width 8; 4x4 gates 32x32, 8x8 gates 64x64)
/// to `path`.
fn export_fastgan(path: &Path) {
    let net = NetConfig {
        arch: Arch::Fastgan,
        latent_dim: 100,
        shape: ImageShape {
            channels: 3,
            height: 64,
            width: 64,
        },
        num_classes: CLASSES,
        init: Init::Pytorch,
        width: 8,
        dropout: 0.0,
        d_batch_norm: true,
        spectral_norm: false,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let g = BurnGenerator::new(&net, &mut rng, &gan_trainer::device::cpu()).unwrap();
    let mut c = g.contract();
    c.class_names = (0..CLASSES).map(|i| format!("category {i}")).collect();
    let model = gan_trainer::export::to_onnx(&g, &c).unwrap();
    gan_trainer::export::save(&model, path).unwrap();
}

/// The workspace's `generate` binary (built by `cargo test --workspace` for the runtime's own
/// tests), beside this test's `deps/` folder.
fn generate_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join(format!("generate{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} missing: build it with `cargo build --release -p gan-runtime` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

fn generate(args: &[&str], dir: &Path) -> Output {
    Command::new(generate_bin())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn ok(out: Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn generate_draws_grids_labels_truncation_and_datasets() {
    require_ort();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("fg.onnx");
    export_fastgan(&model);
    let m = model.to_str().unwrap();

    // One column per class, two rows: 9 * 64 + 10 * 2 pixels wide.
    ok(generate(
        &[
            "--model", m, "--count", "18", "--cols", "9", "--out", "grid.png",
        ],
        dir.path(),
    ));
    let grid = image::open(dir.path().join("grid.png")).unwrap();
    assert_eq!(
        (grid.width(), grid.height()),
        (9 * 64 + 10 * 2, 2 * 64 + 3 * 2)
    );
    assert_eq!(grid.color().channel_count(), 3, "colour grid");

    ok(generate(
        &[
            "--model", m, "--count", "4", "--label", "2", "--out", "two.png",
        ],
        dir.path(),
    ));
    let out = generate(&["--model", m, "--count", "4", "--label", "9"], dir.path());
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("label 9 is out of range"), "{err}");

    // Truncation changes the images; the same seed and psi give the same file.
    let file = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    for name in ["t1.png", "t2.png"] {
        ok(generate(
            &[
                "--model",
                m,
                "--count",
                "9",
                "--truncation",
                "0.5",
                "--out",
                name,
            ],
            dir.path(),
        ));
    }
    ok(generate(
        &["--model", m, "--count", "9", "--out", "plain.png"],
        dir.path(),
    ));
    assert_eq!(file("t1.png"), file("t2.png"));
    assert_ne!(file("t1.png"), file("plain.png"));

    for format in ["png", "idx"] {
        let ds = dir.path().join(format);
        ok(generate(
            &[
                "--model",
                m,
                "--count",
                "27",
                "--dataset",
                ds.to_str().unwrap(),
                "--format",
                format,
            ],
            dir.path(),
        ));
        let files = std::fs::read_dir(&ds).unwrap().count();
        assert!(files >= 2, "{format}: {files} files");
    }
    let pngs = std::fs::read_dir(dir.path().join("png"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("png".as_ref()))
        .count();
    assert_eq!(pngs, 27);
}

/// `quantize --mode static` (the library it runs): every Conv behind Q/DQ, ONNX Runtime loads
/// the file, keeps the contract, and its images stay close to fp32's for the same latents and
/// labels.
#[test]
fn static_int8_runs_in_onnx_runtime_close_to_fp32() {
    require_ort();
    let dir = tempfile::tempdir().unwrap();
    let fp32 = dir.path().join("fg.onnx");
    export_fastgan(&fp32);
    let model = gan_quantize::load(&fp32).unwrap();
    let ranges = gan_quantize::calibrate(&model, 128, 12345).unwrap();
    let int8 = gan_quantize::quantize(&model, gan_quantize::Mode::Static, Some(&ranges)).unwrap();
    let graph = int8.graph.as_ref().unwrap();
    let convs: Vec<_> = graph.node.iter().filter(|n| n.op_type == "Conv").collect();
    assert_eq!(convs.len(), 5, "four up-blocks and the output convolution");
    for conv in &convs {
        for input in conv.input.iter().take(2) {
            let producer = graph.node.iter().find(|n| n.output.contains(input));
            assert_eq!(
                producer.map(|n| n.op_type.as_str()),
                Some("DequantizeLinear"),
                "Conv `{}` input `{input}` is not behind DequantizeLinear",
                conv.name
            );
        }
    }
    let path = dir.path().join("fg.qdq.onnx");
    gan_quantize::save(&int8, &path).unwrap();

    let a = Generator::builder(&fp32).threads(1).load().unwrap();
    let b = Generator::builder(&path).threads(1).load().unwrap();
    assert_eq!(b.contract().num_classes, CLASSES);
    assert_eq!(b.contract().class_names, a.contract().class_names);
    let labels: Vec<i64> = (0..36).map(|i| i % CLASSES as i64).collect();
    let x = a.generate_labeled(3, 0, &labels).unwrap();
    let y = b.generate_labeled(3, 0, &labels).unwrap();
    let mean_abs = x
        .data()
        .iter()
        .zip(y.data())
        .map(|(p, q)| f64::from((p - q).abs()))
        .sum::<f64>()
        / x.data().len() as f64;
    assert!(
        mean_abs < 0.05,
        "int8 differs from fp32 by {mean_abs} on average"
    );
    assert!(mean_abs > 0.0, "int8 computes exactly fp32: not quantized?");
}
