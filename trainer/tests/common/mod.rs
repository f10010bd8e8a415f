//! What the trainer's integration tests share.

use std::path::PathBuf;

/// `../shared/data/SUB` beside the project root; fails naming the path when it is missing.
pub fn shared_data(sub: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(sub);
    assert!(
        dir.is_dir(),
        "real test data not found: looked for {} (the shared/ folder must sit beside the project root; see shared/data/README.md)",
        dir.display()
    );
    dir
}
