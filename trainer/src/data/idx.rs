//! IDX files, the MNIST / Fashion-MNIST format: a big-endian header (magic, dimension sizes)
//! followed by one unsigned byte per value. Files may be gzip-compressed.
//!
//! Parsed by hand because the format is 20 lines of spec and no maintained crate reads it
//! with the errors we want (which file, which field, what was expected). [`write_images`] and
//! [`write_labels`] write the raw (not gzipped) files these readers take.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use super::{DataError, Dataset};

/// Magic of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic of an IDX file of unsigned bytes with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Largest count a header may declare (the full MNIST training set is 60 000); protects
/// against allocating gigabytes for a corrupt header.
pub const MAX_ITEMS: usize = 10_000_000;
/// Largest image side a header may declare.
pub const MAX_SIDE: usize = 4096;

/// Reads an IDX image file (`[N, H, W]` bytes). Returns `(pixels, n, h, w)`.
pub fn read_images(path: &Path) -> Result<(Vec<u8>, usize, usize, usize), DataError> {
    let bytes = read_maybe_gz(path)?;
    let (dims, body) = parse_header(path, &bytes, IMAGES_MAGIC, 3)?;
    let (n, h, w) = (dims[0], dims[1], dims[2]);
    if n > MAX_ITEMS || h == 0 || w == 0 || h > MAX_SIDE || w > MAX_SIDE {
        return Err(DataError::Format {
            path: path.into(),
            problem: format!(
                "header declares {n} images of {h}x{w}: expected at most {MAX_ITEMS} images of 1..={MAX_SIDE} pixels a side"
            ),
        });
    }
    let need = n * h * w;
    check_body(path, body, need, &format!("{n} images of {h}x{w}"))?;
    Ok((body[..need].to_vec(), n, h, w))
}

/// Reads an IDX label file (`[N]` bytes).
pub fn read_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = read_maybe_gz(path)?;
    let (dims, body) = parse_header(path, &bytes, LABELS_MAGIC, 1)?;
    let n = dims[0];
    if n > MAX_ITEMS {
        return Err(DataError::Format {
            path: path.into(),
            problem: format!("header declares {n} labels: expected at most {MAX_ITEMS}"),
        });
    }
    check_body(path, body, n, &format!("{n} labels"))?;
    Ok(body[..n].to_vec())
}

/// Writes `n` images of `h`x`w` bytes (`pixels`, `n·h·w` long, image after image, row-major)
/// as a raw IDX image file, the layout [`read_images`] reads.
pub fn write_images(
    out: &mut impl Write,
    pixels: &[u8],
    n: usize,
    h: usize,
    w: usize,
) -> io::Result<()> {
    if pixels.len() != n * h * w {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} pixel bytes for {n} images of {h}x{w}: expected {}",
                pixels.len(),
                n * h * w
            ),
        ));
    }
    out.write_all(&IMAGES_MAGIC.to_be_bytes())?;
    for d in [n, h, w] {
        out.write_all(&header_word(d)?.to_be_bytes())?;
    }
    out.write_all(pixels)
}

/// Writes `labels` as a raw IDX label file, the layout [`read_labels`] reads.
pub fn write_labels(out: &mut impl Write, labels: &[u8]) -> io::Result<()> {
    out.write_all(&LABELS_MAGIC.to_be_bytes())?;
    out.write_all(&header_word(labels.len())?.to_be_bytes())?;
    out.write_all(labels)
}

fn header_word(d: usize) -> io::Result<u32> {
    u32::try_from(d).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("IDX dimension {d} does not fit the header's 32 bits"),
        )
    })
}

/// Loads an image file and, if given, its label file into a [`Dataset`] (1 channel), checking
/// that the counts agree.
pub fn load_pair(images: &Path, labels: Option<&Path>) -> Result<Dataset, DataError> {
    let (pixels, n, h, w) = read_images(images)?;
    let labels = match labels {
        None => None,
        Some(lp) => {
            let l = read_labels(lp)?;
            if l.len() != n {
                return Err(DataError::CountMismatch {
                    images: images.into(),
                    image_count: n,
                    labels: lp.into(),
                    label_count: l.len(),
                });
            }
            Some(l)
        }
    };
    Ok(Dataset {
        pixels,
        len: n,
        channels: 1,
        height: h,
        width: w,
        labels,
    })
}

/// Finds the image and label files in `dir`: names containing `images-idx3-ubyte` and
/// `labels-idx1-ubyte` (gzipped or not). With several image files, the one whose name starts
/// with `train` wins; otherwise more than one is ambiguous and an error lists them.
pub fn find_pair(dir: &Path) -> Result<(PathBuf, Option<PathBuf>), DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::Io {
        path: dir.into(),
        source: e,
    })?;
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // hidden, e.g. a temporary file of an unfinished atomic write
        }
        if name.contains("images-idx3-ubyte") {
            images.push(e.path());
        } else if name.contains("labels-idx1-ubyte") {
            labels.push(e.path());
        }
    }
    images.sort();
    labels.sort();
    let pick = |files: &[PathBuf]| -> Option<PathBuf> {
        match files {
            [one] => Some(one.clone()),
            _ => files
                .iter()
                .find(|p| file_name(p).starts_with("train"))
                .cloned(),
        }
    };
    let image = match (images.len(), pick(&images)) {
        (0, _) => {
            return Err(DataError::NotFound {
                dir: dir.into(),
                what: "an IDX image file (*images-idx3-ubyte or *images-idx3-ubyte.gz)".into(),
            })
        }
        (_, Some(p)) => p,
        (_, None) => {
            return Err(DataError::Ambiguous {
                dir: dir.into(),
                files: images,
            })
        }
    };
    // The label file that goes with the image file: same name with images-idx3 -> labels-idx1.
    let stem = file_name(&image).replace("images-idx3-ubyte", "labels-idx1-ubyte");
    let label = labels
        .iter()
        .find(|p| file_name(p) == stem)
        .cloned()
        .or_else(|| {
            let prefix = stem
                .split("labels-idx1")
                .next()
                .unwrap_or_default()
                .to_string();
            labels
                .iter()
                .find(|p| file_name(p).starts_with(&prefix))
                .cloned()
        });
    Ok((image, label))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads a whole file, inflating it if it starts with the gzip magic.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let io = |source| DataError::Io {
        path: path.into(),
        source,
    };
    let mut file = BufReader::new(File::open(path).map_err(io)?);
    let mut head = [0u8; 2];
    let mut raw = Vec::new();
    let n = file.read(&mut head).map_err(io)?;
    raw.extend_from_slice(&head[..n]);
    if n == 2 && head == [0x1f, 0x8b] {
        let mut out = Vec::new();
        GzDecoder::new(std::io::Cursor::new(head).chain(file))
            .read_to_end(&mut out)
            .map_err(|e| DataError::Format {
                path: path.into(),
                problem: format!("gzip stream is corrupt or truncated: {e}"),
            })?;
        return Ok(out);
    }
    file.read_to_end(&mut raw).map_err(io)?;
    Ok(raw)
}

fn parse_header<'a>(
    path: &Path,
    bytes: &'a [u8],
    magic: u32,
    rank: usize,
) -> Result<(Vec<usize>, &'a [u8]), DataError> {
    let header_len = 4 + 4 * rank;
    let word = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    // The magic first: a file of the wrong kind is named as such, however short it is.
    if bytes.len() >= 4 && word(0) != magic {
        let kind = if magic == IMAGES_MAGIC {
            "images, unsigned bytes, 3 dimensions"
        } else {
            "labels, unsigned bytes, 1 dimension"
        };
        return Err(DataError::Format {
            path: path.into(),
            problem: format!(
                "bad magic 0x{:08x}: expected 0x{magic:08x} ({kind})",
                word(0)
            ),
        });
    }
    if bytes.len() < header_len {
        return Err(DataError::Format {
            path: path.into(),
            problem: format!(
                "file is {} bytes, shorter than the {header_len}-byte IDX header",
                bytes.len()
            ),
        });
    }
    let dims = (0..rank).map(|d| word(4 + 4 * d) as usize).collect();
    Ok((dims, &bytes[header_len..]))
}

fn check_body(path: &Path, body: &[u8], need: usize, what: &str) -> Result<(), DataError> {
    if body.len() < need {
        return Err(DataError::Format {
            path: path.into(),
            problem: format!(
                "truncated: header declares {what} ({need} bytes) but only {} bytes follow",
                body.len()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(body);
        v
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn reads_raw_and_gzipped_any_count() {
        let dir = tempfile::tempdir().unwrap();
        let body: Vec<u8> = (0..3 * 2 * 2).map(|i| i as u8).collect();
        let raw = write(
            dir.path(),
            "a-images-idx3-ubyte",
            &idx(IMAGES_MAGIC, &[3, 2, 2], &body),
        );
        let z = write(
            dir.path(),
            "b.gz",
            &gz(&idx(IMAGES_MAGIC, &[3, 2, 2], &body)),
        );
        for p in [raw, z] {
            let (px, n, h, w) = read_images(&p).unwrap();
            assert_eq!((n, h, w), (3, 2, 2));
            assert_eq!(px, body);
        }
    }

    #[test]
    fn errors_name_the_file_and_problem() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.gz");
        let e = read_images(&missing).unwrap_err().to_string();
        assert!(e.contains("nope.gz"), "{e}");

        let bad_magic = write(dir.path(), "m", &idx(LABELS_MAGIC, &[1], &[0]));
        let e = read_images(&bad_magic).unwrap_err().to_string();
        assert!(
            e.contains("bad magic 0x00000801") && e.contains("/m"),
            "{e}"
        );

        let short = write(dir.path(), "t", &idx(IMAGES_MAGIC, &[2, 28, 28], &[0; 100]));
        let e = read_images(&short).unwrap_err().to_string();
        assert!(e.contains("truncated") && e.contains("1568 bytes"), "{e}");

        let tiny = write(dir.path(), "h", &[0, 0, 8, 3, 0]);
        let e = read_images(&tiny).unwrap_err().to_string();
        assert!(e.contains("shorter than the 16-byte IDX header"), "{e}");

        let huge = write(
            dir.path(),
            "x",
            &idx(IMAGES_MAGIC, &[u32::MAX, 28, 28], &[]),
        );
        assert!(read_images(&huge)
            .unwrap_err()
            .to_string()
            .contains("at most"));

        let mut broken_gz = gz(&idx(IMAGES_MAGIC, &[1, 2, 2], &[1, 2, 3, 4]));
        broken_gz.truncate(broken_gz.len() / 2);
        let bg = write(dir.path(), "g.gz", &broken_gz);
        let e = read_images(&bg).unwrap_err().to_string();
        assert!(e.contains("gzip"), "{e}");
    }

    #[test]
    fn written_files_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let body: Vec<u8> = (0..3 * 2 * 4).map(|i| (i * 11) as u8).collect();
        let mut bytes = Vec::new();
        write_images(&mut bytes, &body, 3, 2, 4).unwrap();
        assert_eq!(bytes, idx(IMAGES_MAGIC, &[3, 2, 4], &body));
        let images = write(dir.path(), "x-images-idx3-ubyte", &bytes);
        let mut bytes = Vec::new();
        write_labels(&mut bytes, &[7, 0, 9]).unwrap();
        assert_eq!(bytes, idx(LABELS_MAGIC, &[3], &[7, 0, 9]));
        let labels = write(dir.path(), "x-labels-idx1-ubyte", &bytes);
        let ds = load_pair(&images, Some(&labels)).unwrap();
        assert_eq!((ds.len, ds.channels, ds.height, ds.width), (3, 1, 2, 4));
        assert_eq!(ds.pixels, body);
        assert_eq!(ds.labels.as_deref(), Some(&[7u8, 0, 9][..]));
        let e = write_images(&mut Vec::new(), &body, 3, 2, 5).unwrap_err();
        assert!(
            e.to_string()
                .contains("24 pixel bytes for 3 images of 2x5: expected 30"),
            "{e}"
        );
    }

    #[test]
    fn label_count_must_match() {
        let dir = tempfile::tempdir().unwrap();
        let i = write(dir.path(), "i", &idx(IMAGES_MAGIC, &[2, 1, 1], &[0, 1]));
        let l = write(dir.path(), "l", &idx(LABELS_MAGIC, &[3], &[0, 1, 2]));
        let e = load_pair(&i, Some(&l)).unwrap_err().to_string();
        assert!(e.contains("2 images") && e.contains("3 labels"), "{e}");
    }

    #[test]
    fn finds_train_pair_among_several() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
        ] {
            write(dir.path(), n, b"");
        }
        let (i, l) = find_pair(dir.path()).unwrap();
        assert!(i.ends_with("train-images-idx3-ubyte.gz"));
        assert!(l.unwrap().ends_with("train-labels-idx1-ubyte.gz"));

        let empty = tempfile::tempdir().unwrap();
        let e = find_pair(empty.path()).unwrap_err().to_string();
        assert!(e.contains("images-idx3-ubyte"), "{e}");
    }

    #[test]
    fn finds_subset_pair_names() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "t10k-4443-images-idx3-ubyte.gz", b"");
        write(dir.path(), "t10k-4443-labels-idx1-ubyte.gz", b"");
        let (_, l) = find_pair(dir.path()).unwrap();
        assert!(l.unwrap().ends_with("t10k-4443-labels-idx1-ubyte.gz"));
    }
}
