//! Synthetic datasets written to disk: what `generate --dataset` and the augmentation example
//! produce, in formats a classifier's data loader reads.

use std::path::{Path, PathBuf};

use crate::error::RuntimeError;
use crate::generator::Generator;

/// Output format of [`write_dataset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetFormat {
    /// IDX files (the MNIST format): `synthetic-images-idx3-ubyte` (`[N, H, W]`, gray) or
    /// `synthetic-images-idx4-ubyte` (`[N, H, W, C]`), and `synthetic-labels-idx1-ubyte` for
    /// conditional models. The trainer's `--data` reads the gray ones back.
    Idx,
    /// One PNG per image (`00000000.png`, ...) and, for conditional models, `labels.csv`.
    Png,
}

impl std::str::FromStr for DatasetFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "idx" => Ok(Self::Idx),
            "png" => Ok(Self::Png),
            other => Err(format!(
                "unknown dataset format {other:?}: expected idx or png"
            )),
        }
    }
}

/// Why a dataset could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// Generation failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// Writing failed (the message names the path).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A PNG could not be encoded.
    #[error(transparent)]
    Image(#[from] crate::ImageError),
    /// The request is unusable.
    #[error("{0}")]
    Request(String),
}

/// Samples `0..count` of `seed` written to `dir` (created if missing) in `format`, streaming
/// batches of `batch` images, so memory stays bounded whatever `count` is. Conditional models
/// get class-balanced labels ([`crate::balanced_label`]). Every file is written atomically.
/// `progress` is called with the number of images done after each batch.
///
/// Returns the files written.
pub fn write_dataset(
    generator: &Generator,
    seed: u64,
    count: u64,
    dir: &Path,
    format: DatasetFormat,
    batch: usize,
    mut progress: impl FnMut(u64),
) -> Result<Vec<PathBuf>, DatasetError> {
    if count == 0 {
        return Err(DatasetError::Request("count must be at least 1".into()));
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))
    })?;
    let c = generator.contract().clone();
    match format {
        DatasetFormat::Idx => {
            let n = u32::try_from(count).map_err(|_| {
                DatasetError::Request(format!(
                    "IDX holds at most {} images, asked {count}",
                    u32::MAX
                ))
            })?;
            let gray = c.channels == 1;
            let name = if gray {
                "synthetic-images-idx3-ubyte"
            } else {
                "synthetic-images-idx4-ubyte"
            };
            let images_path = dir.join(name);
            let mut labels: Vec<u8> = Vec::new();
            let mut failure: Option<DatasetError> = None;
            crate::write_atomic(&images_path, |w| {
                let magic: u32 = if gray { 0x0803 } else { 0x0804 };
                w.write_all(&magic.to_be_bytes())?;
                w.write_all(&n.to_be_bytes())?;
                w.write_all(&(c.height as u32).to_be_bytes())?;
                w.write_all(&(c.width as u32).to_be_bytes())?;
                if !gray {
                    w.write_all(&(c.channels as u32).to_be_bytes())?;
                }
                let mut done = 0;
                for b in generator.batches(seed, 0..count, batch) {
                    let b = match b {
                        Ok(b) => b,
                        Err(e) => {
                            let msg = e.to_string();
                            failure = Some(e.into());
                            return Err(std::io::Error::other(msg));
                        }
                    };
                    for i in 0..b.images.len() {
                        w.write_all(&b.images.to_u8(i))?;
                    }
                    if let Some(l) = &b.labels {
                        labels.extend(l.iter().map(|&x| x as u8));
                    }
                    done += b.images.len() as u64;
                    progress(done);
                }
                Ok(())
            })
            .map_err(|e| failure.take().unwrap_or(DatasetError::Io(e)))?;
            let mut files = vec![images_path];
            if c.is_conditional() {
                if c.num_classes > 256 {
                    return Err(DatasetError::Request(format!(
                        "IDX labels are bytes: {} classes do not fit",
                        c.num_classes
                    )));
                }
                let path = dir.join("synthetic-labels-idx1-ubyte");
                crate::write_atomic(&path, |w| {
                    w.write_all(&0x0801u32.to_be_bytes())?;
                    w.write_all(&n.to_be_bytes())?;
                    w.write_all(&labels)
                })?;
                files.push(path);
            }
            Ok(files)
        }
        DatasetFormat::Png => {
            let mut files = Vec::new();
            let mut csv = String::from("file,label,class\n");
            for b in generator.batches(seed, 0..count, batch) {
                let b = b?;
                for i in 0..b.images.len() {
                    let index = b.start + i as u64;
                    let name = format!("{index:08}.png");
                    let one = crate::ImageBatch::new(
                        b.images.image(i).to_vec(),
                        1,
                        c.channels,
                        c.height,
                        c.width,
                        c.output_range,
                    )?;
                    let path = dir.join(&name);
                    crate::save_png(&one.grid(1, 0)?, &path)?;
                    if let Some(l) = &b.labels {
                        let class = c
                            .class_names
                            .get(l[i] as usize)
                            .cloned()
                            .unwrap_or_default();
                        csv.push_str(&format!("{name},{},{}\n", l[i], class.replace(',', " ")));
                    }
                    files.push(path);
                }
                progress(b.start + b.images.len() as u64);
            }
            if c.is_conditional() {
                let path = dir.join("labels.csv");
                crate::write_atomic(&path, |w| w.write_all(csv.as_bytes()))?;
                files.push(path);
            }
            Ok(files)
        }
    }
}
