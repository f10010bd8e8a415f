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

/// Checks that a command the test ran failed with a message containing `want`, and without a
/// panic; returns its stderr. `what` names the case in assertion messages.
#[allow(dead_code)] // not every test file that includes this module uses it
pub fn assert_clear_error(o: &std::process::Output, what: &str, want: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "{what} succeeded");
    assert!(err.contains(want), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what} panicked: {err}");
    err
}
