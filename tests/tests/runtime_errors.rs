//! Bad models given to the runtime get errors that name the file and the field, never a panic.

use gan_runtime::{ContractError, Generator, RuntimeError};
use gan_tests::{require_ort, untrained_export};
use onnx_protobuf::{Message, ModelProto};

fn load_err(path: &std::path::Path) -> RuntimeError {
    match Generator::load(path) {
        Ok(_) => panic!("{} loaded but should not", path.display()),
        Err(e) => e,
    }
}

/// Exports a valid model, lets `edit` change it, and writes it to `name`.
fn edited(
    dir: &std::path::Path,
    name: &str,
    edit: impl FnOnce(&mut ModelProto),
) -> std::path::PathBuf {
    let good = dir.join("good.onnx");
    untrained_export(&good);
    let mut m = ModelProto::parse_from_bytes(&std::fs::read(&good).unwrap()).unwrap();
    edit(&mut m);
    let path = dir.join(name);
    std::fs::write(&path, m.write_to_bytes().unwrap()).unwrap();
    path
}

fn set_meta(m: &mut ModelProto, key: &str, value: &str) {
    for e in &mut m.metadata_props {
        if e.key == key {
            e.value = value.into();
        }
    }
}

#[test]
fn missing_and_non_onnx_files() {
    require_ort();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.onnx");
    let e = load_err(&missing);
    assert!(matches!(e, RuntimeError::ModelRead { .. }), "{e}");
    assert!(e.to_string().contains("nope.onnx"), "{e}");

    let text = dir.path().join("notes.onnx");
    std::fs::write(&text, "this is not a model").unwrap();
    let e = load_err(&text);
    assert!(matches!(e, RuntimeError::ModelLoad { .. }), "{e}");
    assert!(e.to_string().contains("notes.onnx"), "{e}");

    let e = load_err(dir.path());
    assert!(e.to_string().contains("not a file"), "{e}");
}

#[test]
fn onnx_without_contract_is_refused() {
    require_ort();
    let dir = tempfile::tempdir().unwrap();
    let path = edited(dir.path(), "bare.onnx", |m| m.metadata_props.clear());
    match load_err(&path) {
        RuntimeError::Contract {
            source: ContractError::Missing { key },
            path: p,
        } => {
            assert_eq!(key, "gan.format_version");
            assert!(p.ends_with("bare.onnx"));
        }
        e => panic!("unexpected {e}"),
    }
}

#[test]
fn metadata_that_contradicts_the_graph_is_refused() {
    require_ort();
    let dir = tempfile::tempdir().unwrap();
    let path = edited(dir.path(), "latent.onnx", |m| {
        set_meta(m, "gan.latent_dim", "64")
    });
    let e = load_err(&path).to_string();
    assert!(e.contains("input `z`") && e.contains("expected 64"), "{e}");

    let path = edited(dir.path(), "height.onnx", |m| {
        set_meta(m, "gan.image_height", "32")
    });
    let e = load_err(&path).to_string();
    assert!(
        e.contains("output `image`") && e.contains("expected 32"),
        "{e}"
    );

    let path = edited(dir.path(), "cond.onnx", |m| {
        set_meta(m, "gan.num_classes", "10")
    });
    let e = load_err(&path).to_string();
    assert!(e.contains("input `label`: missing"), "{e}");

    let path = edited(dir.path(), "version.onnx", |m| {
        set_meta(m, "gan.format_version", "9")
    });
    let e = load_err(&path).to_string();
    assert!(
        e.contains("gan.format_version") && e.contains("\"9\""),
        "{e}"
    );

    let path = edited(dir.path(), "renamed.onnx", |m| {
        let g = m.graph.as_mut().unwrap();
        g.output[0].name = "pixels".into();
        g.node.last_mut().unwrap().output[0] = "pixels".into();
    });
    let e = load_err(&path).to_string();
    assert!(
        e.contains("output `image`: missing") && e.contains("pixels"),
        "{e}"
    );
}

#[test]
fn bad_requests_are_errors() {
    require_ort();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.onnx");
    untrained_export(&path);
    let g = Generator::load(&path).unwrap();
    let e = g.generate(1, 0, 0).unwrap_err().to_string();
    assert!(e.contains("count must be at least 1"), "{e}");
    let e = g.generate_labeled(1, 0, &[0]).unwrap_err().to_string();
    assert!(e.contains("unconditional"), "{e}");
    let e = g.generate(1, u64::MAX, 2).unwrap_err().to_string();
    assert!(e.contains("overflow"), "{e}");
    let e = g.run_latents(&[0.0; 99], None).unwrap_err().to_string();
    assert!(e.contains("multiple of the latent dim 100"), "{e}");
}
