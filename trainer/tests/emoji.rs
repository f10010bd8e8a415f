//! `trainer data emoji`: the colour dataset built from the npm package
//! emoji-datasource-twitter. Most tests use `tests/fixtures/emoji-mini.tgz`, a few real entries
//! and images of the package in its layout (made by `tests/fixtures/make_emoji_mini.py`);
//! `real_package_via_npm` runs the real `npm pack` and builds the whole dataset.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use gan_trainer::data::{self, emoji};
use image::RgbaImage;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/emoji-mini.tgz")
}

/// The fixture's entries, by name, as the package holds them.
fn fixture_file(name: &str) -> Vec<u8> {
    let file = std::fs::File::open(fixture()).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_str() == Some(name) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            return bytes;
        }
    }
    panic!("{name} not in the fixture");
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

const FIXTURE_FOLDERS: [&str; 6] = [
    "activities",
    "animals-and-nature",
    "flags",
    "food-and-drink",
    "people-and-body",
    "smileys-and-emotion",
];

#[test]
fn fixture_builds_one_folder_per_category() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("emoji");
    let summary = emoji::build(&fixture(), &out, &emoji::BuildOptions::default()).unwrap();
    let folders: Vec<&str> = summary
        .categories
        .iter()
        .map(|c| c.folder.as_str())
        .collect();
    assert_eq!(folders, FIXTURE_FOLDERS);
    assert_eq!(summary.categories[5].name, "Smileys & Emotion");
    assert!(summary.categories.iter().all(|c| c.images == 1));
    // skin-tone-2 (Component), cat (no Twitter image), flag-hm (flag-au's image).
    assert_eq!(
        (
            summary.dropped_category,
            summary.without_image,
            summary.duplicates,
            summary.total()
        ),
        (1, 1, 1, 6)
    );
    let mut want: Vec<String> = FIXTURE_FOLDERS.iter().map(|s| s.to_string()).collect();
    want.insert(0, "LICENSE.md".into());
    assert_eq!(names(&out), want);
    assert_eq!(
        names(&out.join("smileys-and-emotion")),
        ["0001-grinning.png"]
    );
    assert_eq!(names(&out.join("people-and-body")), ["0197-+1.png"]);
    assert_eq!(names(&out.join("animals-and-nature")), ["0565-dog.png"]);
    assert_eq!(names(&out.join("flags")), ["1663-flag-au.png"]);
    // Built beside and renamed: nothing else is left in the parent.
    assert_eq!(names(dir.path()), ["emoji"]);
    let license = std::fs::read_to_string(out.join("LICENSE.md")).unwrap();
    assert!(license.starts_with(emoji::LICENSE_HEADING), "{license}");
    for want in [
        "Twemoji",
        "CC-BY",
        "https://creativecommons.org/licenses/by/4.0/",
        "emoji-datasource-twitter@16.0.0",
        "MIT",
        "Copyright (c) 2013 Cal Henderson", // the package's own LICENSE, verbatim
        "#FFFFFF",
    ] {
        assert!(license.contains(want), "LICENSE.md lacks {want}: {license}");
    }
    let printed = summary.to_string();
    assert!(
        printed.contains("| 5 | smileys-and-emotion | Smileys & Emotion | 1 |"),
        "{printed}"
    );
    assert!(printed.contains("| | | total | 6 |"), "{printed}");
}

/// Every written pixel is the source pixel over the background, `a·c + (1 - a)·bg` rounded,
/// computed here in floating point; the real image has transparent, half-transparent and
/// opaque pixels.
#[test]
fn composited_pixels_match_the_source() {
    let source: RgbaImage =
        image::load_from_memory(&fixture_file("package/img/twitter/64/1f600.png"))
            .unwrap()
            .to_rgba8();
    let alphas: Vec<u8> = source.pixels().map(|p| p.0[3]).collect();
    assert!(alphas.contains(&0) && alphas.contains(&255));
    assert!(
        alphas.iter().filter(|&&a| a > 0 && a < 255).count() > 20,
        "the test needs partly transparent pixels"
    );
    for background in [[255, 255, 255], [0, 0, 0], [30, 144, 200]] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("emoji");
        let options = emoji::BuildOptions {
            background,
            ..Default::default()
        };
        emoji::build(&fixture(), &out, &options).unwrap();
        let written = image::open(out.join("smileys-and-emotion/0001-grinning.png")).unwrap();
        assert_eq!(written.color(), image::ColorType::Rgb8);
        let written = written.to_rgb8();
        assert_eq!(written.dimensions(), (64, 64));
        for (s, w) in source.pixels().zip(written.pixels()) {
            let a = f64::from(s.0[3]) / 255.0;
            for c in 0..3 {
                let want = (a * f64::from(s.0[c]) + (1.0 - a) * f64::from(background[c])).round();
                assert!(
                    (f64::from(w.0[c]) - want).abs() <= 0.0,
                    "source {:?} on {background:?}: {:?}, want {want} in channel {c}",
                    s.0,
                    w.0
                );
            }
        }
        assert_eq!(written.get_pixel(0, 0).0, background);
    }
}

#[test]
fn built_folder_loads_as_labeled_data() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("emoji");
    emoji::build(&fixture(), &out, &emoji::BuildOptions::default()).unwrap();
    let (ds, classes) = data::load(&out, 64).unwrap();
    assert_eq!(classes, FIXTURE_FOLDERS);
    assert_eq!((ds.len, ds.channels, ds.height, ds.width), (6, 3, 64, 64));
    assert_eq!(ds.labels.as_deref(), Some(&[0u8, 1, 2, 3, 4, 5][..]));
    assert_eq!(ds.class_count(), Some(6));
    // Image 5 is the grinning face: its transparent corner is white in all three planes.
    let img = &ds.pixels[5 * ds.image_len()..6 * ds.image_len()];
    assert_eq!([img[0], img[64 * 64], img[2 * 64 * 64]], [255, 255, 255]);
}

#[test]
fn checksum_mismatch_names_what_was_expected() {
    let e = emoji::verify(&fixture(), emoji::INTEGRITY).unwrap_err();
    let actual = emoji::integrity(&fixture()).unwrap();
    assert!(
        matches!(&e, emoji::EmojiError::Checksum { expected, actual: a, .. }
            if expected == emoji::INTEGRITY && *a == actual),
        "{e:?}"
    );
    let msg = e.to_string();
    for want in [
        "emoji-mini.tgz",
        emoji::INTEGRITY,
        actual.as_str(),
        "emoji-datasource-twitter@16.0.0",
    ] {
        assert!(msg.contains(want), "{msg} lacks {want}");
    }
    emoji::verify(&fixture(), &actual).unwrap();
    assert!(
        actual.starts_with("sha512-") && actual.len() == 7 + 88,
        "{actual}"
    );
    // The CLI checks --package the same way, before writing anything.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("emoji");
    let o = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["data", "emoji", "--quiet", "--package"])
        .arg(fixture())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains(emoji::INTEGRITY) && err.contains("--package") && !err.contains("panicked"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn bad_tarballs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("emoji");
    let check = |path: &Path, want: &str| {
        let e = emoji::build(path, &out, &emoji::BuildOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&path.display().to_string()) && e.contains(want),
            "{}: {e}",
            path.display()
        );
        assert!(!out.exists(), "{} left an output", path.display());
        assert_eq!(
            names(dir.path())
                .iter()
                .filter(|n| n.starts_with('.'))
                .count(),
            0
        );
    };
    check(&dir.path().join("missing.tgz"), "No such file");
    let garbage = dir.path().join("garbage.tgz");
    std::fs::write(&garbage, b"this is not a gzipped tar archive").unwrap();
    check(&garbage, "not a readable npm package");
    let real = std::fs::read(fixture()).unwrap();
    let truncated = dir.path().join("truncated.tgz");
    std::fs::write(&truncated, &real[..real.len() / 2]).unwrap();
    check(&truncated, "not a readable npm package");

    // Well-formed archives with the wrong content.
    let tgz = |name: &str, files: &[(&str, &[u8])]| {
        let path = dir.path().join(name);
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        let mut b = tar::Builder::new(gz);
        for (name, bytes) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *bytes).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap();
        path
    };
    let json = fixture_file("package/emoji.json");
    let png = fixture_file("package/img/twitter/64/1f600.png");
    check(
        &tgz("no-json.tgz", &[("package/img/twitter/64/1f600.png", &png)]),
        "no package/emoji.json in the package",
    );
    check(
        &tgz(
            "bad-json.tgz",
            &[("package/emoji.json", b"{\"not\": \"a list\"}")],
        ),
        "package/emoji.json: invalid type",
    );
    check(
        &tgz("no-images.tgz", &[("package/emoji.json", &json)]),
        "no package/img/twitter/64/1f600.png (the image of `grinning`",
    );
    let entry = br#"[{"image":"1f600.png","short_name":"grinning","category":"Smileys & Emotion","sort_order":1,"has_img_twitter":true}]"#;
    check(
        &tgz(
            "bad-png.tgz",
            &[
                ("package/emoji.json", entry),
                ("package/img/twitter/64/1f600.png", b"not a png"),
            ],
        ),
        "package/img/twitter/64/1f600.png: cannot decode PNG",
    );
    let mut small = Vec::new();
    image::RgbaImage::new(32, 32)
        .write_to(
            &mut std::io::Cursor::new(&mut small),
            image::ImageFormat::Png,
        )
        .unwrap();
    check(
        &tgz(
            "small-png.tgz",
            &[
                ("package/emoji.json", entry),
                ("package/img/twitter/64/1f600.png", &small),
            ],
        ),
        "32x32 image, expected 64x64",
    );
}

#[test]
fn refuses_to_overwrite_a_non_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("emoji");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let opts = |force| emoji::BuildOptions {
        force,
        ..Default::default()
    };
    let e = emoji::build(&fixture(), &out, &opts(false)).unwrap_err();
    assert!(matches!(e, emoji::EmojiError::NotEmpty { .. }), "{e:?}");
    assert!(e.to_string().contains("--force"), "{e}");
    // --force replaces only an earlier emoji dataset.
    let e = emoji::build(&fixture(), &out, &opts(true)).unwrap_err();
    assert!(matches!(e, emoji::EmojiError::NotOurs { .. }), "{e:?}");
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
    // A file where the directory should be.
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let e = emoji::build(&fixture(), &file, &opts(true)).unwrap_err();
    assert!(
        e.to_string().contains("a file, expected a directory"),
        "{e}"
    );
    // An empty directory is fine; a second build needs --force and replaces the first.
    let out = dir.path().join("fresh");
    std::fs::create_dir(&out).unwrap();
    emoji::build(&fixture(), &out, &opts(false)).unwrap();
    let e = emoji::build(&fixture(), &out, &opts(false)).unwrap_err();
    assert!(matches!(e, emoji::EmojiError::NotEmpty { .. }), "{e:?}");
    let black = emoji::BuildOptions {
        background: [0, 0, 0],
        force: true,
        progress: false,
    };
    emoji::build(&fixture(), &out, &black).unwrap();
    let img = image::open(out.join("smileys-and-emotion/0001-grinning.png"))
        .unwrap()
        .to_rgb8();
    assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0]);
    assert_eq!(names(dir.path()), ["emoji", "file", "fresh"]);
}

#[test]
fn missing_npm_is_a_clear_error() {
    let cache = tempfile::tempdir().unwrap();
    // A cached tarball with the wrong checksum is not used: npm is asked for the real one.
    std::fs::copy(
        fixture(),
        cache.path().join("emoji-datasource-twitter-16.0.0.tgz"),
    )
    .unwrap();
    let options = emoji::FetchOptions {
        cache_dir: cache.path().into(),
        npm: "/no/such/npm".into(),
    };
    let e = emoji::fetch(&options).unwrap_err();
    assert!(matches!(e, emoji::EmojiError::NpmMissing { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("/no/such/npm") && msg.contains("npm is needed") && msg.contains("--package"),
        "{msg}"
    );
    // No leftover work directories in the cache.
    assert_eq!(names(cache.path()), ["emoji-datasource-twitter-16.0.0.tgz"]);
    let o = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args([
            "data",
            "emoji",
            "--quiet",
            "--npm",
            "/no/such/npm",
            "--cache-dir",
        ])
        .arg(cache.path())
        .arg("--out")
        .arg(cache.path().join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("/no/such/npm"), "{err}");
    let o = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["data", "emoji", "--background", "255,255", "--out", "x"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("expected a colour R,G,B"),
        "{err}"
    );
}

/// The real package: `npm pack` into a fresh cache, checked, built, loaded by the trainer.
/// Needs npm (scripts/setup.sh installs it) and the npm registry; without npm it fails.
#[test]
fn real_package_via_npm() {
    let npm = Command::new("npm").arg("--version").output();
    assert!(
        npm.as_ref().is_ok_and(|o| o.status.success()),
        "this test runs `npm pack {}@{}` and needs npm on PATH (scripts/setup.sh installs Debian's npm): {npm:?}",
        emoji::PACKAGE,
        emoji::VERSION
    );
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = dir.path().join("emoji");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args(["data", "emoji", "--quiet", "--cache-dir"])
            .arg(&cache)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&[]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{stdout}\n{stderr}");
    let tarball = cache.join("emoji-datasource-twitter-16.0.0.tgz");
    emoji::verify(&tarball, emoji::INTEGRITY).unwrap();
    assert!(
        stdout.contains("| 0 | activities | Activities |"),
        "{stdout}"
    );
    // Again: refused without --force; with it, the cached tarball is used (npm is not run).
    let o = run(&[]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not empty"));
    let o = run(&["--force", "--npm", "/no/such/npm"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), stdout);

    let (ds, classes) = data::load(&out, 64).unwrap();
    assert_eq!(
        classes,
        [
            "activities",
            "animals-and-nature",
            "flags",
            "food-and-drink",
            "objects",
            "people-and-body",
            "smileys-and-emotion",
            "symbols",
            "travel-and-places",
        ]
    );
    assert_eq!((ds.channels, ds.height, ds.width), (3, 64, 64));
    let labels = ds.labels.as_deref().unwrap();
    let mut counts = [0usize; 9];
    for &l in labels {
        counts[usize::from(l)] += 1;
    }
    assert_eq!(counts, REAL_COUNTS, "{stdout}");
    assert_eq!(ds.len, REAL_COUNTS.iter().sum::<usize>());
}

/// Images per class of emoji-datasource-twitter@16.0.0, in label order.
const REAL_COUNTS: [usize; 9] = [85, 159, 263, 131, 264, 360, 169, 224, 218];
