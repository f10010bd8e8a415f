//! Seeded augmentation of real training images: horizontal flip, small rotation, zoom and
//! contrast, all off by default.
//!
//! The transform of an image is a pure function of the run seed, the real-batch counter and the
//! image's position in its batch (a ChaCha8 stream keyed by the three), so a run resumed from a
//! checkpoint draws the same transforms as one that never stopped. Each image always draws the
//! same four numbers in the same order, whichever transforms are on, so turning one transform on
//! does not change the draws of the others.
//!
//! Images are planar `[channels, height, width]` in [-1, 1]; pixels that a rotation or a zoom
//! out brings in from outside the image take the background value -1.

use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The value of pixels brought in from outside the image.
pub const FILL: f32 = -1.0;
/// Largest accepted rotation, degrees.
pub const MAX_ROTATE_DEG: f32 = 180.0;

/// Key salt, so augmentation draws never coincide with other streams keyed by the run seed.
const SALT: u64 = 0xA5A5_0F0F_3C3C_9696;

/// Which augmentations are applied to real images, and how strongly. The default is none.
///
/// Parsed from a comma-separated list, as `--augment` takes it:
///
/// ```
/// use gan_trainer::data::augment::Augment;
/// let a: Augment = "flip,rotate=10,zoom=0.1,contrast=0.2".parse().unwrap();
/// assert!(a.flip);
/// assert_eq!(a.rotate_deg, 10.0);
/// assert_eq!(a.to_string(), "flip,rotate=10,zoom=0.1,contrast=0.2");
/// assert!("none".parse::<Augment>().unwrap().is_off());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Augment {
    /// Mirror left-right with probability 1/2.
    pub flip: bool,
    /// Rotate by an angle uniform in `[-rotate_deg, rotate_deg]` degrees (0: off).
    pub rotate_deg: f32,
    /// Scale about the centre by a factor uniform in `[1 - zoom, 1 + zoom]` (0: off).
    pub zoom: f32,
    /// Scale around the image mean by a factor uniform in `[1 - contrast, 1 + contrast]`, then
    /// clamp to [-1, 1] (0: off).
    pub contrast: f32,
}

/// Why an `--augment` list could not be parsed. Every variant names the item at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AugmentError {
    /// Not one of the known transforms.
    #[error("unknown augmentation `{0}`: expected flip, rotate=DEG, zoom=A, contrast=C or none")]
    Unknown(String),
    /// A transform that takes a value was given none, or one that takes none was given one.
    #[error("augmentation `{item}`: {problem}")]
    Value {
        /// The item as written.
        item: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The same transform twice.
    #[error("augmentation `{0}` is given twice")]
    Repeated(String),
}

/// The random choices made for one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    /// Mirror it.
    pub flip: bool,
    /// Rotation, degrees (counter-clockwise).
    pub degrees: f32,
    /// Zoom factor (> 1 enlarges).
    pub scale: f32,
    /// Contrast factor.
    pub contrast: f32,
}

impl Augment {
    /// True when no transform is on.
    pub fn is_off(&self) -> bool {
        !self.flip && self.rotate_deg == 0.0 && self.zoom == 0.0 && self.contrast == 0.0
    }

    /// The choices for the image at `position` of real batch `batch` in the run of `seed`.
    pub fn draw(&self, seed: u64, batch: u64, position: u64) -> Draw {
        let mut key = [0u8; 32];
        for (chunk, word) in key.chunks_exact_mut(8).zip([seed, batch, position, SALT]) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        let mut rng = ChaCha8Rng::from_seed(key);
        // Always four draws in this order, whatever is on.
        let flip = rng.random::<f32>() < 0.5;
        let mut symmetric = |half_width: f32| (rng.random::<f32>() * 2.0 - 1.0) * half_width;
        let degrees = symmetric(self.rotate_deg);
        let scale = 1.0 + symmetric(self.zoom);
        let contrast = 1.0 + symmetric(self.contrast);
        Draw {
            flip: self.flip && flip,
            degrees,
            scale,
            contrast,
        }
    }

    /// Transforms in place the images of real batch `batch`: `images` holds whole planar
    /// `[channels, height, width]` images back to back, position `i` at `i * c * h * w`.
    /// Does nothing when [`is_off`](Self::is_off).
    pub fn apply_batch(
        &self,
        seed: u64,
        batch: u64,
        images: &mut [f32],
        channels: usize,
        height: usize,
        width: usize,
    ) {
        self.apply_batch_where(seed, batch, images, [channels, height, width], |_| true);
    }

    /// [`apply_batch`](Self::apply_batch) for the positions where `chosen(position)` holds
    /// only; the others are left as they are. Each chosen image gets the draw of its position,
    /// exactly as `apply_batch` would give it.
    pub fn apply_batch_where(
        &self,
        seed: u64,
        batch: u64,
        images: &mut [f32],
        [channels, height, width]: [usize; 3],
        chosen: impl Fn(usize) -> bool,
    ) {
        let n = channels * height * width;
        if self.is_off() || n == 0 {
            return;
        }
        let mut scratch = vec![0.0f32; n];
        for (pos, img) in images.chunks_exact_mut(n).enumerate() {
            if !chosen(pos) {
                continue;
            }
            let d = self.draw(seed, batch, pos as u64);
            if d.flip {
                flip_horizontal(img, channels, height, width);
            }
            if d.degrees != 0.0 || d.scale != 1.0 {
                rotate_zoom(
                    img,
                    channels,
                    height,
                    width,
                    d.degrees,
                    d.scale,
                    &mut scratch,
                );
                img.copy_from_slice(&scratch);
            }
            if d.contrast != 1.0 {
                adjust_contrast(img, d.contrast);
            }
        }
    }
}

impl FromStr for Augment {
    type Err = AugmentError;

    /// `flip`, `rotate=DEG` (0..=180), `zoom=A` (0..1), `contrast=C` (0..=1), comma-separated;
    /// `none`, `off` or an empty string for no augmentation.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut a = Augment::default();
        let mut seen: Vec<&str> = Vec::new();
        for raw in s.split(',') {
            let item = raw.trim();
            if item.is_empty() || item == "none" || item == "off" {
                continue;
            }
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (item, None),
            };
            if seen.contains(&name) {
                return Err(AugmentError::Repeated(name.to_string()));
            }
            let bad = |problem: String| AugmentError::Value {
                item: item.to_string(),
                problem,
            };
            let number = |lo: f32, hi: f32, hi_open: bool| -> Result<f32, AugmentError> {
                let v = value.ok_or_else(|| bad(format!("needs a value, as in {name}=0.1")))?;
                let x: f32 = v
                    .parse()
                    .map_err(|_| bad(format!("`{v}` is not a number")))?;
                let above = if hi_open { x >= hi } else { x > hi };
                if !x.is_finite() || x < lo || above {
                    let close = if hi_open { ")" } else { "]" };
                    return Err(bad(format!("{x} is outside [{lo}, {hi}{close}")));
                }
                Ok(x)
            };
            match name {
                "flip" => {
                    if value.is_some() {
                        return Err(bad("takes no value".into()));
                    }
                    a.flip = true;
                }
                "rotate" => a.rotate_deg = number(0.0, MAX_ROTATE_DEG, false)?,
                "zoom" => a.zoom = number(0.0, 1.0, true)?,
                "contrast" => a.contrast = number(0.0, 1.0, false)?,
                _ => return Err(AugmentError::Unknown(item.to_string())),
            }
            seen.push(name);
        }
        Ok(a)
    }
}

impl fmt::Display for Augment {
    /// The list [`FromStr`] reads back (`none` when off).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items = Vec::new();
        if self.flip {
            items.push("flip".to_string());
        }
        if self.rotate_deg != 0.0 {
            items.push(format!("rotate={}", self.rotate_deg));
        }
        if self.zoom != 0.0 {
            items.push(format!("zoom={}", self.zoom));
        }
        if self.contrast != 0.0 {
            items.push(format!("contrast={}", self.contrast));
        }
        if items.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&items.join(","))
        }
    }
}

/// Mirrors a planar image left-right, in place.
pub fn flip_horizontal(img: &mut [f32], channels: usize, height: usize, width: usize) {
    if width == 0 {
        return;
    }
    for row in img[..channels * height * width].chunks_exact_mut(width) {
        row.reverse();
    }
}

/// Rotates a planar image by `degrees` counter-clockwise and scales it by `scale` (> 1
/// enlarges), both about the image centre, with bilinear sampling; outside pixels count as
/// [`FILL`]. Writes into `out` (same length as `src`). Angle 0 and scale 1 copy `src` exactly.
pub fn rotate_zoom(
    src: &[f32],
    channels: usize,
    height: usize,
    width: usize,
    degrees: f32,
    scale: f32,
    out: &mut [f32],
) {
    let plane = height * width;
    let (sin, cos) = (degrees.to_radians() as f64).sin_cos();
    let inv = 1.0 / scale as f64;
    let cx = (width as f64 - 1.0) / 2.0;
    let cy = (height as f64 - 1.0) / 2.0;
    for y in 0..height {
        for x in 0..width {
            // Inverse map: where in the source this output pixel comes from.
            let dx = x as f64 - cx;
            let dy = y as f64 - cy;
            let sx = cx + (cos * dx - sin * dy) * inv;
            let sy = cy + (sin * dx + cos * dy) * inv;
            let x0 = sx.floor();
            let y0 = sy.floor();
            let fx = (sx - x0) as f32;
            let fy = (sy - y0) as f32;
            let (x0, y0) = (x0 as i64, y0 as i64);
            for c in 0..channels {
                let p = &src[c * plane..(c + 1) * plane];
                let at = |xx: i64, yy: i64| -> f32 {
                    if xx >= 0 && yy >= 0 && (xx as usize) < width && (yy as usize) < height {
                        p[yy as usize * width + xx as usize]
                    } else {
                        FILL
                    }
                };
                // Weights of zero skip their neighbour, so exact grid points copy exactly.
                let mut top = at(x0, y0);
                if fx != 0.0 {
                    top = top * (1.0 - fx) + at(x0 + 1, y0) * fx;
                }
                let mut v = top;
                if fy != 0.0 {
                    let mut bottom = at(x0, y0 + 1);
                    if fx != 0.0 {
                        bottom = bottom * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
                    }
                    v = top * (1.0 - fy) + bottom * fy;
                }
                out[c * plane + y * width + x] = v.clamp(-1.0, 1.0);
            }
        }
    }
}

/// Scales an image's values around their mean by `factor`, then clamps to [-1, 1].
pub fn adjust_contrast(img: &mut [f32], factor: f32) {
    if img.is_empty() {
        return;
    }
    let mean = (img.iter().map(|&v| v as f64).sum::<f64>() / img.len() as f64) as f32;
    for v in img {
        *v = ((*v - mean) * factor + mean).clamp(-1.0, 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: usize = 3;
    const H: usize = 7;
    const W: usize = 6;

    /// A batch of `n` distinct images in [-1, 1].
    fn batch(n: usize) -> Vec<f32> {
        (0..n * C * H * W)
            .map(|i| ((i * 37 + 11) % 255) as f32 / 127.5 - 1.0)
            .collect()
    }

    fn all_on() -> Augment {
        "flip,rotate=15,zoom=0.2,contrast=0.3".parse().unwrap()
    }

    #[test]
    fn off_is_identity() {
        let before = batch(4);
        let mut after = before.clone();
        Augment::default().apply_batch(1, 2, &mut after, C, H, W);
        assert_eq!(before, after);
        let parsed: Augment = "none".parse().unwrap();
        assert_eq!(parsed, Augment::default());
        assert_eq!("".parse::<Augment>().unwrap(), Augment::default());
    }

    #[test]
    fn flip_twice_is_identity() {
        let before = batch(1);
        let mut img = before.clone();
        flip_horizontal(&mut img, C, H, W);
        assert_ne!(img, before);
        assert_eq!(img[0], before[W - 1]);
        flip_horizontal(&mut img, C, H, W);
        assert_eq!(img, before);
    }

    #[test]
    fn zero_rotation_and_unit_zoom_are_identity() {
        let src = batch(1);
        let mut out = vec![0.0; src.len()];
        rotate_zoom(&src, C, H, W, 0.0, 1.0, &mut out);
        assert_eq!(out, src);
        // Also on an odd-by-odd image, whose centre is a pixel.
        let src: Vec<f32> = (0..25).map(|i| i as f32 / 12.5 - 1.0).collect();
        let mut out = vec![0.0; 25];
        rotate_zoom(&src, 1, 5, 5, 0.0, 1.0, &mut out);
        assert_eq!(out, src);
        let mut img = src.clone();
        adjust_contrast(&mut img, 1.0);
        for (a, b) in img.iter().zip(&src) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    #[test]
    fn quarter_turn_and_zoom_move_pixels_where_expected() {
        // A single bright pixel right of the centre of a 5x5 image.
        let mut src = vec![-1.0f32; 25];
        src[2 * 5 + 4] = 1.0;
        let mut out = vec![0.0; 25];
        rotate_zoom(&src, 1, 5, 5, 90.0, 1.0, &mut out);
        // Counter-clockwise on screen (y down): right of centre goes to above the centre.
        let bright: Vec<usize> = (0..25).filter(|&i| out[i] > 0.99).collect();
        assert_eq!(bright, vec![2], "{out:?}");
        // Zoom 2 on a 5x5 plus: the centre pixel stays, the corners fill from inside.
        let src: Vec<f32> = (0..25).map(|i| if i == 12 { 1.0 } else { -1.0 }).collect();
        rotate_zoom(&src, 1, 5, 5, 0.0, 2.0, &mut out);
        assert_eq!(out[12], 1.0);
        assert!(
            out[11] > -1.0 && out[11] < 1.0,
            "bilinear spread: {}",
            out[11]
        );
        // Zooming out brings in the background at the border.
        let src = vec![1.0f32; 25];
        rotate_zoom(&src, 1, 5, 5, 0.0, 0.5, &mut out);
        assert_eq!(out[0], FILL);
        assert_eq!(out[12], 1.0);
    }

    #[test]
    fn same_seed_same_output_and_positions_differ() {
        let a = all_on();
        let mut x = batch(1).repeat(4); // four copies of one image
        let mut y = x.clone();
        a.apply_batch(9, 3, &mut x, C, H, W);
        a.apply_batch(9, 3, &mut y, C, H, W);
        assert_eq!(x, y, "same seed, batch and positions");
        let n = C * H * W;
        for i in 1..4 {
            assert_ne!(
                x[..n],
                x[i * n..(i + 1) * n],
                "position {i} equals position 0"
            );
        }
        let mut z = batch(1).repeat(4);
        a.apply_batch(9, 4, &mut z, C, H, W);
        assert_ne!(x, z, "another batch draws the same");
        let mut z = batch(1).repeat(4);
        a.apply_batch(10, 3, &mut z, C, H, W);
        assert_ne!(x, z, "another seed draws the same");
    }

    #[test]
    fn apply_where_touches_the_chosen_positions_only() {
        let a = all_on();
        let n = C * H * W;
        let mut all = batch(4);
        a.apply_batch(9, 3, &mut all, C, H, W);
        let mut some = batch(4);
        a.apply_batch_where(9, 3, &mut some, [C, H, W], |pos| pos % 2 == 1);
        let original = batch(4);
        for pos in 0..4 {
            let r = pos * n..(pos + 1) * n;
            let want = if pos % 2 == 1 {
                &all[r.clone()]
            } else {
                &original[r.clone()]
            };
            assert_eq!(&some[r], want, "position {pos}");
        }
    }

    #[test]
    fn draws_are_in_range_and_independent_of_other_options() {
        let a = all_on();
        let only_rotate = Augment {
            rotate_deg: 15.0,
            ..Augment::default()
        };
        let mut flips = 0;
        for pos in 0..400 {
            let d = a.draw(5, 6, pos);
            assert!(d.degrees.abs() <= 15.0);
            assert!((0.8..=1.2).contains(&d.scale));
            assert!((0.7..=1.3).contains(&d.contrast));
            flips += d.flip as u32;
            assert_eq!(only_rotate.draw(5, 6, pos).degrees, d.degrees);
            let off = only_rotate.draw(5, 6, pos);
            assert!(!off.flip && off.scale == 1.0 && off.contrast == 1.0);
        }
        assert!((150..250).contains(&flips), "{flips} flips of 400");
    }

    #[test]
    fn output_stays_in_range() {
        let strong: Augment = "flip,rotate=180,zoom=0.9,contrast=1".parse().unwrap();
        let mut x = batch(32);
        // Include the extremes.
        x[0] = -1.0;
        x[1] = 1.0;
        for b in 0..8 {
            strong.apply_batch(b, b, &mut x, C, H, W);
            assert!(x.iter().all(|v| (-1.0..=1.0).contains(v)), "batch {b}");
        }
    }

    #[test]
    fn parses_and_names_the_bad_item() {
        let a: Augment = " flip , zoom=0.1 ".parse().unwrap();
        assert!(a.flip && a.zoom == 0.1 && a.rotate_deg == 0.0);
        let a = all_on();
        assert_eq!(a.to_string().parse::<Augment>().unwrap(), a);
        for (input, needle) in [
            ("flip,blur=2", "`blur=2`"),
            ("rotate", "needs a value"),
            ("rotate=abc", "`abc` is not a number"),
            ("rotate=200", "outside [0, 180]"),
            ("zoom=1", "outside [0, 1)"),
            ("contrast=-0.1", "outside"),
            ("flip=1", "takes no value"),
            ("zoom=0.1,zoom=0.2", "given twice"),
            ("zoom=NaN", "outside"),
        ] {
            let e = input.parse::<Augment>().unwrap_err().to_string();
            assert!(e.contains(needle), "{input}: {e}");
        }
    }

    #[test]
    fn old_configs_without_augment_fields_deserialize() {
        let a: Augment = serde_json::from_str("{}").unwrap();
        assert!(a.is_off());
        let a: Augment = serde_json::from_str(r#"{"flip":true}"#).unwrap();
        assert!(a.flip && a.zoom == 0.0);
    }
}
