//! CIFAR-10 binary batches (`data_batch_1.bin` ... `data_batch_5.bin`, `test_batch.bin`): records
//! of one label byte followed by 3072 pixel bytes, 32x32 planar RGB (1024 R, 1024 G, 1024 B).
//!
//! Parsed by hand: the format is one line of spec, and this gives errors naming the file.

use std::path::{Path, PathBuf};

use super::{DataError, Dataset};

/// Bytes per record: a label and a 3x32x32 image.
pub const RECORD: usize = 1 + 3 * 32 * 32;
/// CIFAR-10 class names, by label.
pub const CLASS_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// The CIFAR batch files in `dir`: the `data_batch_*.bin` files when there are any (sorted),
/// otherwise `test_batch.bin`. Empty when the directory holds neither.
pub fn find_batches(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::Io {
        path: dir.into(),
        source: e,
    })?;
    let mut train = Vec::new();
    let mut test = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("data_batch_") && name.ends_with(".bin") {
            train.push(e.path());
        } else if name == "test_batch.bin" {
            test.push(e.path());
        }
    }
    train.sort();
    Ok(if train.is_empty() { test } else { train })
}

/// Reads CIFAR-10 batch files into one dataset (3x32x32, labels 0..10).
pub fn load_batches(files: &[PathBuf]) -> Result<Dataset, DataError> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for path in files {
        let bytes = std::fs::read(path).map_err(|e| DataError::Io {
            path: path.clone(),
            source: e,
        })?;
        if bytes.is_empty() || bytes.len() % RECORD != 0 {
            return Err(DataError::Format {
                path: path.clone(),
                problem: format!(
                    "{} bytes is not a whole number of {RECORD}-byte CIFAR-10 records (label + 3x32x32)",
                    bytes.len()
                ),
            });
        }
        for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
            if rec[0] >= 10 {
                return Err(DataError::Format {
                    path: path.clone(),
                    problem: format!("record {i} has label {}: expected 0..10", rec[0]),
                });
            }
            labels.push(rec[0]);
            pixels.extend_from_slice(&rec[1..]);
        }
    }
    Ok(Dataset {
        len: labels.len(),
        pixels,
        channels: 3,
        height: 32,
        width: 32,
        labels: Some(labels),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(label: u8, fill: u8) -> Vec<u8> {
        let mut r = vec![label];
        r.extend(std::iter::repeat_n(fill, RECORD - 1));
        r
    }

    #[test]
    fn reads_batches_in_order_and_prefers_training_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("data_batch_2.bin"), record(3, 30)).unwrap();
        std::fs::write(
            dir.path().join("data_batch_1.bin"),
            [record(1, 10), record(2, 20)].concat(),
        )
        .unwrap();
        std::fs::write(dir.path().join("test_batch.bin"), record(9, 90)).unwrap();
        let files = find_batches(dir.path()).unwrap();
        assert_eq!(files.len(), 2);
        let ds = load_batches(&files).unwrap();
        assert_eq!((ds.len, ds.channels, ds.height, ds.width), (3, 3, 32, 32));
        assert_eq!(ds.labels.as_deref(), Some(&[1u8, 2, 3][..]));
        assert_eq!(ds.pixels[3072], 20);
    }

    #[test]
    fn bad_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("data_batch_1.bin");
        std::fs::write(&p, vec![0u8; RECORD + 5]).unwrap();
        let e = load_batches(std::slice::from_ref(&p))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("data_batch_1.bin") && e.contains("whole number"),
            "{e}"
        );
        std::fs::write(&p, record(12, 0)).unwrap();
        let e = load_batches(&[p]).unwrap_err().to_string();
        assert!(e.contains("label 12"), "{e}");
    }
}
