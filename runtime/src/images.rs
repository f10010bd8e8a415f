//! Generator output as images: float tensors `[N, C, H, W]` in the model's output range become
//! 8-bit pixels, grids and PNG files.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, Rgb, Rgba};

/// Why images could not be made or saved.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The data length does not match the declared shape.
    #[error("image data has {len} values, expected {count} x {channels} x {height} x {width} = {expected}")]
    Shape {
        /// Values given.
        len: usize,
        /// Images declared.
        count: usize,
        /// Channels declared.
        channels: usize,
        /// Height declared.
        height: usize,
        /// Width declared.
        width: usize,
        /// `count * channels * height * width`.
        expected: usize,
    },
    /// Only gray (1), RGB (3) and RGBA (4) images can be drawn.
    #[error("cannot draw images with {0} channels: expected 1, 3 or 4")]
    Channels(usize),
    /// A grid needs at least one image and one column.
    #[error("cannot draw a grid of {count} images in {cols} columns")]
    EmptyGrid {
        /// Images in the batch.
        count: usize,
        /// Columns asked for.
        cols: usize,
    },
    /// PNG encoding failed.
    #[error("cannot encode PNG: {0}")]
    Encode(#[from] image::ImageError),
    /// Writing the file failed (the message names the path).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A batch of generated images, planar `[count, channels, height, width]` as the model
/// produced them, with the value range the model declared.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageBatch {
    data: Vec<f32>,
    count: usize,
    channels: usize,
    height: usize,
    width: usize,
    range: (f32, f32),
}

impl ImageBatch {
    /// Wraps raw model output. Fails when `data.len()` is not `count * channels * height * width`.
    ///
    /// ```
    /// use gan_runtime::ImageBatch;
    /// let batch = ImageBatch::new(vec![-1.0, 0.0, 1.0, 1.0], 1, 1, 2, 2, (-1.0, 1.0)).unwrap();
    /// assert_eq!(batch.to_u8(0), vec![0, 128, 255, 255]);
    /// ```
    pub fn new(
        data: Vec<f32>,
        count: usize,
        channels: usize,
        height: usize,
        width: usize,
        range: (f32, f32),
    ) -> Result<Self, ImageError> {
        let expected = count * channels * height * width;
        if data.len() != expected {
            return Err(ImageError::Shape {
                len: data.len(),
                count,
                channels,
                height,
                width,
                expected,
            });
        }
        Ok(Self {
            data,
            count,
            channels,
            height,
            width,
            range,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.count
    }
    /// Whether the batch holds no image.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// `(channels, height, width)` of each image.
    pub fn shape(&self) -> (usize, usize, usize) {
        (self.channels, self.height, self.width)
    }
    /// The declared output range.
    pub fn range(&self) -> (f32, f32) {
        self.range
    }
    /// All values, planar `[count, C, H, W]`.
    pub fn data(&self) -> &[f32] {
        &self.data
    }
    /// The raw values of image `i`, planar `[C, H, W]`. Panics if `i >= len()`.
    pub fn image(&self, i: usize) -> &[f32] {
        let n = self.channels * self.height * self.width;
        &self.data[i * n..(i + 1) * n]
    }
    /// How many values are NaN or infinite (a broken model or numeric overflow).
    pub fn non_finite_count(&self) -> usize {
        self.data.iter().filter(|v| !v.is_finite()).count()
    }
    /// Appends another batch of the same image shape.
    pub fn extend(&mut self, other: ImageBatch) {
        assert_eq!(self.shape(), other.shape(), "image shapes differ");
        self.data.extend_from_slice(&other.data);
        self.count += other.count;
    }

    /// Image `i` as interleaved 8-bit pixels (`H x W x C`): the range maps linearly onto
    /// 0..=255 with rounding, values outside it clamp, NaN becomes 0.
    pub fn to_u8(&self, i: usize) -> Vec<u8> {
        let img = self.image(i);
        let plane = self.height * self.width;
        let mut out = vec![0u8; img.len()];
        for c in 0..self.channels {
            for p in 0..plane {
                out[p * self.channels + c] = to_byte(img[c * plane + p], self.range);
            }
        }
        out
    }

    /// Image `i` as RGBA bytes (`H x W x 4`), the layout of an HTML canvas `ImageData`.
    pub fn to_rgba(&self, i: usize) -> Vec<u8> {
        let px = self.to_u8(i);
        let mut out = Vec::with_capacity(self.height * self.width * 4);
        for p in px.chunks_exact(self.channels) {
            match *p {
                [g] => out.extend_from_slice(&[g, g, g, 255]),
                [r, g, b] => out.extend_from_slice(&[r, g, b, 255]),
                [r, g, b, a] => out.extend_from_slice(&[r, g, b, a]),
                _ => out.extend_from_slice(&[p[0], p[0], p[0], 255]),
            }
        }
        out
    }

    /// All images tiled row by row in `cols` columns, with `pad` black pixels between them.
    pub fn grid(&self, cols: usize, pad: usize) -> Result<DynamicImage, ImageError> {
        if self.count == 0 || cols == 0 {
            return Err(ImageError::EmptyGrid {
                count: self.count,
                cols,
            });
        }
        let (c, h, w) = self.shape();
        if !matches!(c, 1 | 3 | 4) {
            return Err(ImageError::Channels(c));
        }
        let cols = cols.min(self.count);
        let rows = self.count.div_ceil(cols);
        let gw = cols * w + (cols + 1) * pad;
        let gh = rows * h + (rows + 1) * pad;
        let mut buf = vec![0u8; gw * gh * c];
        for i in 0..self.count {
            let (gx, gy) = (i % cols, i / cols);
            let x0 = pad + gx * (w + pad);
            let y0 = pad + gy * (h + pad);
            let px = self.to_u8(i);
            for y in 0..h {
                let dst = ((y0 + y) * gw + x0) * c;
                buf[dst..dst + w * c].copy_from_slice(&px[y * w * c..(y + 1) * w * c]);
            }
        }
        let (gw, gh) = (gw as u32, gh as u32);
        // `from_raw` only fails on a short buffer, which the sizes above rule out.
        Ok(match c {
            1 => DynamicImage::ImageLuma8(
                ImageBuffer::<Luma<u8>, _>::from_raw(gw, gh, buf).expect("grid buffer size"),
            ),
            3 => DynamicImage::ImageRgb8(
                ImageBuffer::<Rgb<u8>, _>::from_raw(gw, gh, buf).expect("grid buffer size"),
            ),
            _ => DynamicImage::ImageRgba8(
                ImageBuffer::<Rgba<u8>, _>::from_raw(gw, gh, buf).expect("grid buffer size"),
            ),
        })
    }

    /// Saves [`grid`](Self::grid) as a PNG file, atomically.
    pub fn save_grid(&self, path: &Path, cols: usize) -> Result<(), ImageError> {
        save_png(&self.grid(cols, 2)?, path)
    }
}

/// Encodes `image` as PNG and writes it atomically to `path`.
pub fn save_png(image: &DynamicImage, path: &Path) -> Result<(), ImageError> {
    let mut bytes = Vec::new();
    image.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)?;
    crate::write_atomic(path, |w| w.write_all(&bytes))?;
    Ok(())
}

/// Columns for a roughly square grid of `count` images.
pub fn grid_cols(count: usize) -> usize {
    (count as f64).sqrt().ceil().max(1.0) as usize
}

fn to_byte(v: f32, (lo, hi): (f32, f32)) -> u8 {
    if v.is_nan() {
        return 0;
    }
    let t = (v - lo) / (hi - lo) * 255.0;
    t.round().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_map_the_range_and_clamp() {
        let b = ImageBatch::new(vec![-1.0, 1.0, 5.0, f32::NAN], 1, 1, 2, 2, (-1.0, 1.0)).unwrap();
        assert_eq!(b.to_u8(0), vec![0, 255, 255, 0]);
        assert_eq!(b.non_finite_count(), 1);
    }

    #[test]
    fn planar_rgb_is_interleaved() {
        // 1 image, 3 channels, 1x2 pixels: R plane, G plane, B plane.
        let b = ImageBatch::new(vec![0., 1., 0., 0., 1., 1.], 1, 3, 1, 2, (0.0, 1.0)).unwrap();
        assert_eq!(b.to_u8(0), vec![0, 0, 255, 255, 0, 255]);
        assert_eq!(b.to_rgba(0), vec![0, 0, 255, 255, 255, 0, 255, 255]);
    }

    #[test]
    fn wrong_length_is_refused() {
        let e = ImageBatch::new(vec![0.0; 5], 2, 1, 2, 2, (0.0, 1.0)).unwrap_err();
        assert!(e.to_string().contains("expected 2 x 1 x 2 x 2 = 8"), "{e}");
    }

    #[test]
    fn grid_places_images_and_saves_png() {
        let mut data = vec![0.0; 3 * 4];
        data[4..8].fill(1.0); // image 1 white
        let b = ImageBatch::new(data, 3, 1, 2, 2, (0.0, 1.0)).unwrap();
        let g = b.grid(2, 1).unwrap().to_luma8();
        assert_eq!((g.width(), g.height()), (2 * 2 + 3, 2 * 2 + 3));
        assert_eq!(g.get_pixel(1, 1)[0], 0); // image 0
        assert_eq!(g.get_pixel(4, 1)[0], 255); // image 1
        assert_eq!(g.get_pixel(1, 4)[0], 0); // image 2

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.png");
        b.save_grid(&path, 2).unwrap();
        let back = image::open(&path).unwrap();
        assert_eq!(back.width(), 2 * 2 + 3 * 2);
        assert!(b.grid(0, 1).is_err());
    }
}
