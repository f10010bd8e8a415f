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

/// Exports a seeded, untrained generator of `arch` (latent 100 -> 1x28x28), conditioned on
/// `classes` named classes when `classes > 0`, to `path`: for tests that need a valid model
/// but not a good one.
pub fn untrained_generator(path: &std::path::Path, arch: gan_trainer::model::Arch, classes: usize) {
    use gan_trainer::model::{Generator, ImageShape, NetConfig};
    use rand::SeedableRng;

    let net = NetConfig {
        arch,
        latent_dim: 100,
        shape: ImageShape {
            channels: 1,
            height: 28,
            width: 28,
        },
        num_classes: classes,
        init: Default::default(),
        width: 16,
        dropout: 0.0,
        d_batch_norm: true,
        spectral_norm: false,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let g = Generator::new(&net, &mut rng, &gan_trainer::device::cpu()).expect("valid config");
    let mut c = g.contract();
    c.class_names = (0..classes).map(|i| format!("class {i}")).collect();
    let model = gan_trainer::export::to_onnx(&g, &c).expect("contract matches");
    gan_trainer::export::save(&model, path).expect("write model");
}

/// [`untrained_generator`]: the unconditional MLP.
pub fn untrained_export(path: &std::path::Path) {
    untrained_generator(path, gan_trainer::model::Arch::Mlp, 0);
}

/// [`untrained_generator`]: an MLP conditioned on 10 named classes.
pub fn conditional_export(path: &std::path::Path) {
    untrained_generator(path, gan_trainer::model::Arch::Mlp, 10);
}
