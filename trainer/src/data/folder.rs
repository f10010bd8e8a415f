//! A folder of images (PNG or JPEG, any sizes): each is center-cropped to a square, resized to
//! `size x size` and converted to RGB. Images directly in the folder are unlabeled; with
//! subfolders instead, each subfolder is a class (sorted by name), as torchvision's
//! `ImageFolder` does.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;

use super::{DataError, Dataset};

/// Largest side accepted for the output images.
pub const MAX_SIZE: usize = 1024;

fn is_image(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::Io {
            path: dir.into(),
            source: e,
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    v.sort();
    Ok(v)
}

/// Whether `dir` holds images, directly or one level down.
pub fn has_images(dir: &Path) -> bool {
    let Ok(entries) = sorted_entries(dir) else {
        return false;
    };
    entries.iter().any(|p| is_image(p))
        || entries
            .iter()
            .filter(|p| p.is_dir())
            .any(|d| sorted_entries(d).is_ok_and(|v| v.iter().any(|p| is_image(p))))
}

/// Loads the images of `dir` at `size x size` RGB. Returns the dataset and the class names
/// (empty when unlabeled).
pub fn load(dir: &Path, size: usize) -> Result<(Dataset, Vec<String>), DataError> {
    if size == 0 || size > MAX_SIZE {
        return Err(DataError::Format {
            path: dir.into(),
            problem: format!("image size {size}: expected 1..={MAX_SIZE}"),
        });
    }
    let entries = sorted_entries(dir)?;
    let flat: Vec<PathBuf> = entries.iter().filter(|p| is_image(p)).cloned().collect();
    let (files, classes): (Vec<(PathBuf, Option<u8>)>, Vec<String>) = if !flat.is_empty() {
        (flat.into_iter().map(|p| (p, None)).collect(), Vec::new())
    } else {
        let mut files = Vec::new();
        let mut classes = Vec::new();
        for d in entries.iter().filter(|p| p.is_dir()) {
            let imgs: Vec<PathBuf> = sorted_entries(d)?
                .into_iter()
                .filter(|p| is_image(p))
                .collect();
            if imgs.is_empty() {
                continue;
            }
            if classes.len() == 256 {
                return Err(DataError::Format {
                    path: dir.into(),
                    problem: "more than 256 class folders".into(),
                });
            }
            let label = classes.len() as u8;
            classes.push(
                d.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
            files.extend(imgs.into_iter().map(|p| (p, Some(label))));
        }
        (files, classes)
    };
    if files.is_empty() {
        return Err(DataError::NotFound {
            dir: dir.into(),
            what: "PNG or JPEG images, directly or in one subfolder per class".into(),
        });
    }
    let mut pixels = Vec::with_capacity(files.len() * 3 * size * size);
    let mut labels = Vec::with_capacity(files.len());
    for (path, label) in &files {
        let img = image::ImageReader::open(path)
            .and_then(|r| r.with_guessed_format())
            .map_err(|e| DataError::Io {
                path: path.clone(),
                source: e,
            })?
            .decode()
            .map_err(|e| DataError::Format {
                path: path.clone(),
                problem: format!("cannot decode image: {e}"),
            })?;
        let (w, h) = (img.width(), img.height());
        let side = w.min(h);
        let square = img.crop_imm((w - side) / 2, (h - side) / 2, side, side);
        let rgb = square
            .resize_exact(size as u32, size as u32, FilterType::Triangle)
            .to_rgb8();
        // Interleaved HWC -> planar CHW.
        let raw = rgb.as_raw();
        for c in 0..3 {
            pixels.extend(raw.iter().skip(c).step_by(3));
        }
        if let Some(l) = label {
            labels.push(*l);
        }
    }
    let ds = Dataset {
        len: files.len(),
        pixels,
        channels: 3,
        height: size,
        width: size,
        labels: (!classes.is_empty()).then_some(labels),
    };
    Ok((ds, classes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_folders_crop_resize_and_label() {
        let dir = tempfile::tempdir().unwrap();
        for (class, color) in [("cats", [255u8, 0, 0]), ("dogs", [0, 0, 255])] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
            let img = image::RgbImage::from_pixel(40, 20, image::Rgb(color));
            img.save(dir.path().join(class).join("a.png")).unwrap();
        }
        assert!(has_images(dir.path()));
        let (ds, classes) = load(dir.path(), 8).unwrap();
        assert_eq!(classes, ["cats", "dogs"]);
        assert_eq!((ds.len, ds.channels, ds.height, ds.width), (2, 3, 8, 8));
        assert_eq!(ds.labels.as_deref(), Some(&[0u8, 1][..]));
        // Planar: image 0 is all red (R plane 255, G and B 0).
        assert!(ds.pixels[..64].iter().all(|&p| p == 255));
        assert!(ds.pixels[64..192].iter().all(|&p| p == 0));
    }

    #[test]
    fn broken_files_and_sizes_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.png"), b"not a png").unwrap();
        let e = load(dir.path(), 8).unwrap_err().to_string();
        assert!(e.contains("x.png") && e.contains("decode"), "{e}");
        assert!(load(dir.path(), 0)
            .unwrap_err()
            .to_string()
            .contains("image size 0"));
        let empty = tempfile::tempdir().unwrap();
        assert!(load(empty.path(), 8)
            .unwrap_err()
            .to_string()
            .contains("PNG or JPEG"));
    }
}
