//! Training data: readers for the supported formats and the in-memory [`Dataset`] they fill.

pub mod augment;
pub mod cifar;
pub mod emoji;
pub mod fashion_mnist;
pub mod folder;
pub mod idx;
pub mod npm;

use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::Rng;

/// Why a dataset could not be loaded. Every variant names the file or directory.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not in the expected format.
    #[error("{path}: {problem}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The directory holds no file of the expected kind.
    #[error("no data in {dir}: expected {what}")]
    NotFound {
        /// The directory searched.
        dir: PathBuf,
        /// What was looked for.
        what: String,
    },
    /// Several candidate files and no rule to pick one.
    #[error("several image files in {dir} ({files:?}): keep one set per directory, or name one `train-*`")]
    Ambiguous {
        /// The directory.
        dir: PathBuf,
        /// The candidates.
        files: Vec<PathBuf>,
    },
    /// Image and label files disagree on the number of items.
    #[error("{images} has {image_count} images but {labels} has {label_count} labels")]
    CountMismatch {
        /// Image file.
        images: PathBuf,
        /// Its count.
        image_count: usize,
        /// Label file.
        labels: PathBuf,
        /// Its count.
        label_count: usize,
    },
    /// The dataset holds no image.
    #[error("{0} holds no images")]
    Empty(PathBuf),
}

/// Images held in memory as bytes, planar `[len, channels, height, width]`, with optional labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Pixel bytes, planar per image.
    pub pixels: Vec<u8>,
    /// Number of images.
    pub len: usize,
    /// Channels per image.
    pub channels: usize,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// One label per image, when known.
    pub labels: Option<Vec<u8>>,
}

impl Dataset {
    /// Values per image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Classes the labels name (largest label + 1); `None` when the images are unlabeled.
    pub fn class_count(&self) -> Option<usize> {
        self.labels
            .as_ref()
            .map(|l| l.iter().copied().max().map_or(0, |m| usize::from(m) + 1))
    }

    /// A new dataset of images `indices` (in that order), with their labels.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let n = self.image_len();
        Dataset {
            pixels: indices
                .iter()
                .flat_map(|&i| &self.pixels[i * n..(i + 1) * n])
                .copied()
                .collect(),
            len: indices.len(),
            channels: self.channels,
            height: self.height,
            width: self.width,
            labels: self
                .labels
                .as_ref()
                .map(|l| indices.iter().map(|&i| l[i]).collect()),
        }
    }

    /// Copies images `indices` into `out` scaled from 0..=255 to [-1, 1].
    pub fn fill_batch(&self, indices: &[usize], out: &mut Vec<f32>) {
        let n = self.image_len();
        out.clear();
        out.reserve(indices.len() * n);
        for &i in indices {
            out.extend(
                self.pixels[i * n..(i + 1) * n]
                    .iter()
                    .map(|&p| p as f32 / 127.5 - 1.0),
            );
        }
    }
}

/// Loads the dataset found in `dir` (see [`load`]), resizing image folders to 32x32.
pub fn load_dir(dir: &Path) -> Result<Dataset, DataError> {
    load(dir, 32).map(|(ds, _)| ds)
}

/// Loads the dataset found in `dir`, with its class names when the format has them: CIFAR-10
/// binary batches ([`cifar`]), else IDX files ([`idx`]), else a folder of PNG/JPEG images
/// ([`folder`], resized to `image_size`).
pub fn load(dir: &Path, image_size: usize) -> Result<(Dataset, Vec<String>), DataError> {
    if dir.is_dir()
        && !has_idx(dir)
        && cifar::find_batches(dir)?.is_empty()
        && folder::has_images(dir)
    {
        return folder::load(dir, image_size);
    }
    let ds = load_binary(dir)?;
    let names = if ds.channels == 3 && ds.labels.is_some() {
        cifar::CLASS_NAMES.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    };
    Ok((ds, names))
}

fn has_idx(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut it| {
        it.any(|e| {
            e.is_ok_and(|e| {
                e.file_name()
                    .to_string_lossy()
                    .contains("images-idx3-ubyte")
            })
        })
    })
}

fn load_binary(dir: &Path) -> Result<Dataset, DataError> {
    if !dir.is_dir() {
        return Err(DataError::Io {
            path: dir.into(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                if dir.exists() {
                    "not a directory (--data takes a folder)"
                } else {
                    "no such folder"
                },
            ),
        });
    }
    let batches = cifar::find_batches(dir)?;
    if !batches.is_empty() {
        return cifar::load_batches(&batches);
    }
    let (images, labels) = idx::find_pair(dir)?;
    let ds = idx::load_pair(&images, labels.as_deref())?;
    if ds.len == 0 {
        return Err(DataError::Empty(images));
    }
    Ok(ds)
}

/// Endless shuffled epochs over `0..len`, drawn in batches: every index once per epoch.
#[derive(Debug, Clone)]
pub struct Batcher {
    pub(crate) order: Vec<usize>,
    pub(crate) pos: usize,
}

impl Batcher {
    /// A batcher over `len` items (`len > 0`).
    pub fn new(len: usize) -> Self {
        Self {
            order: (0..len).collect(),
            pos: len, // shuffle on first use
        }
    }

    /// The next `size` indices. An epoch boundary reshuffles; a batch never repeats an index
    /// unless `size > len`.
    pub fn next_batch(&mut self, size: usize, rng: &mut impl Rng) -> Vec<usize> {
        let mut out = Vec::with_capacity(size);
        while out.len() < size {
            if self.pos >= self.order.len() {
                self.order.shuffle(rng);
                self.pos = 0;
            }
            let take = (size - out.len()).min(self.order.len() - self.pos);
            out.extend_from_slice(&self.order[self.pos..self.pos + take]);
            self.pos += take;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn batches_cover_each_epoch() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut b = Batcher::new(10);
        let mut seen: Vec<usize> = (0..5).flat_map(|_| b.next_batch(2, &mut rng)).collect();
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn normalizes_to_minus_one_one() {
        let ds = Dataset {
            pixels: vec![0, 255, 128, 0],
            len: 2,
            channels: 1,
            height: 1,
            width: 2,
            labels: None,
        };
        let mut out = Vec::new();
        ds.fill_batch(&[1, 0], &mut out);
        assert_eq!(out[0], 128.0 / 127.5 - 1.0);
        assert_eq!(&out[1..], &[-1.0, -1.0, 1.0]);
    }
}
