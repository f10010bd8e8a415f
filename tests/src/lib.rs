//! Helpers shared by the cross-crate tests in `tests/tests/` and the benchmark.

use std::path::PathBuf;

/// The repository root (this crate lives in `<root>/tests`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// `../shared/data/<sub>` beside the repository root: the real datasets tests run on.
///
/// Panics with a message naming the path looked at when it is missing: a test that needs real
/// data fails loudly rather than skipping.
pub fn shared_data(sub: &str) -> PathBuf {
    let dir = repo_root().join("..").join("shared").join("data").join(sub);
    assert!(
        dir.is_dir(),
        "real test data not found: looked for {} (the shared/ folder must sit beside the project root; see shared/data/README.md)",
        dir.display()
    );
    dir
}

/// The ONNX Runtime library path, or a panic explaining how to get one.
pub fn require_ort() -> PathBuf {
    match std::env::var_os("ORT_DYLIB_PATH") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => panic!(
            "ORT_DYLIB_PATH is not set: run the tests with `bash scripts/test.sh` (it installs ONNX Runtime into .venv and sets it)"
        ),
    }
}

/// Exports a seeded, untrained MLP generator (latent 100 -> 1x28x28) to `path`, for tests that
/// need a valid model but not a good one.
pub fn untrained_export(path: &std::path::Path) {
    use gan_trainer::model::{mlp::MlpGenerator, ImageShape};
    use gan_trainer::train::InferBackend;
    use rand::SeedableRng;

    let shape = ImageShape {
        channels: 1,
        height: 28,
        width: 28,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let g = MlpGenerator::<InferBackend>::new(
        100,
        shape,
        Default::default(),
        &mut rng,
        &Default::default(),
    );
    let mut c = gan_runtime::ModelContract::new(100, 1, 28, 28);
    c.arch = "mlp".into();
    let model = gan_trainer::export::mlp_to_onnx(&g, &c).expect("contract matches");
    gan_trainer::export::save(&model, path).expect("write model");
}

/// A conditional model for tests of the label paths, until the trainer makes real ones: the
/// untrained MLP generator with a `label` int64 `[N]` input added (the graph ignores it) and a
/// contract of 10 named classes. Valid ONNX that ONNX Runtime runs.
pub fn conditional_export(path: &std::path::Path) {
    use onnx_protobuf::tensor_shape_proto::{dimension, Dimension};
    use onnx_protobuf::{
        type_proto, Message, ModelProto, TensorShapeProto, TypeProto, ValueInfoProto,
    };
    use protobuf::MessageField;

    let tmp = path.with_extension("uncond.onnx");
    untrained_export(&tmp);
    let bytes = std::fs::read(&tmp).expect("read export");
    let _ = std::fs::remove_file(&tmp);
    let mut m = ModelProto::parse_from_bytes(&bytes).expect("parse export");
    let g = m.graph.as_mut().expect("graph");
    g.input.push(ValueInfoProto {
        name: gan_runtime::contract::INPUT_LABEL.into(),
        type_: MessageField::some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: onnx_protobuf::tensor_proto::DataType::INT64 as i32,
                shape: MessageField::some(TensorShapeProto {
                    dim: vec![Dimension {
                        value: Some(dimension::Value::DimParam("N".into())),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            })),
            ..Default::default()
        }),
        ..Default::default()
    });
    let names: Vec<String> = (0..10).map(|i| format!("class {i}")).collect();
    for e in &mut m.metadata_props {
        match e.key.as_str() {
            "gan.num_classes" => e.value = "10".into(),
            "gan.arch" => e.value = "mlp-test-conditional".into(),
            _ => {}
        }
    }
    m.metadata_props
        .push(onnx_protobuf::StringStringEntryProto {
            key: gan_runtime::contract::keys::CLASS_NAMES.into(),
            value: names.join("\n"),
            ..Default::default()
        });
    std::fs::write(path, m.write_to_bytes().expect("encode")).expect("write model");
}
