//! DiffAugment: differentiable augmentation of the discriminator's input (Zhao et al. 2020,
//! "Differentiable Augmentation for Data-Efficient GAN Training", arXiv:2006.10738).
//!
//! # When to use it
//!
//! On small datasets (a few thousand images or fewer) the discriminator memorizes the real
//! images, its accuracy on them saturates and the generator stops learning. DiffAugment makes
//! that harder by showing D randomly recoloured, translated and cut-out images. Unlike
//! augmenting only the real images (`--augment`), which teaches G to produce the augmented
//! distribution, DiffAugment transforms **real and fake images alike, right at D's input, in
//! both the D step and the G step**: D only ever sees augmented images, so what G is pushed
//! towards is the unaugmented data. Because every transform is built from differentiable
//! tensor ops, G's gradients flow back through it. On large datasets it rarely helps; the
//! paper's choice is `color,translation,cutout` (`translation,cutout` for some setups).
//!
//! # The transforms
//!
//! The functions are those of the reference implementation
//! (`DiffAugment_pytorch.py` in mit-han-lab/data-efficient-gans), on images in [-1, 1]; every
//! random number is drawn per sample:
//! - `color`: brightness `x + b`, `b ~ U(-0.5, 0.5)`; then saturation
//!   `(x - mean_c) * s + mean_c`, `s ~ U(0, 2)`, `mean_c` the per-pixel mean over channels (a
//!   no-op on one channel); then contrast `(x - mean) * k + mean`, `k ~ U(0.5, 1.5)`, `mean` over
//!   the whole image. No clamping.
//! - `translation`: the image moves by whole pixels, `t ~ U{-r, .., r}` rows and columns
//!   independently, `r = round(side / 8)`; what comes in from outside is 0.
//!   Output pixel `(i, j)` is input pixel `(i + ty, j + tx)`.
//! - `cutout`: a square of half the side (rounded) is set to 0 in every channel; its centre is
//!   uniform over the image, and the part of it outside the image is clipped away.
//!
//! They are applied in that order, whatever the order of the policy text. Each image of a batch
//! draws the same seven numbers from a ChaCha8 stream seeded by the `seed` argument, in the same
//! order, whichever transforms are on: image `i`'s transform depends only on `seed`, `i` and the
//! image size (not on the batch size, nor on which other transforms are on), so a training run
//! that passes a seed from its own seeded RNG repeats and resumes bit for bit.

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The transforms a policy may name, in the order they are applied.
pub const OPS: [&str; 3] = ["color", "translation", "cutout"];

/// Largest translation, as a fraction of the side (the reference's `ratio`).
const TRANSLATION_RATIO: f64 = 0.125;
/// Side of the cut-out square, as a fraction of the image side.
const CUTOUT_RATIO: f64 = 0.5;

/// A DiffAugment policy: which of `color`, `translation`, `cutout` to apply. The default is
/// none, which leaves images untouched.
///
/// Parsed from a comma-separated list (any order, each op at most once; `none` or an empty
/// string for none), displayed and serialized as the canonical list:
///
/// ```
/// use burn::prelude::*;
/// use burn::tensor::Distribution;
/// use gan_trainer::diffaugment::DiffAugment;
///
/// let policy: DiffAugment = "cutout,translation,color".parse().unwrap();
/// assert_eq!(policy.to_string(), "color,translation,cutout");
/// assert!("none".parse::<DiffAugment>().unwrap().is_empty());
/// assert!("colour".parse::<DiffAugment>().is_err());
///
/// // A batch of 2 RGB 8x8 images in [-1, 1], augmented with the seed 7: same seed, same result.
/// let device = gan_trainer::device::cpu();
/// let x = Tensor::<4>::random([2, 3, 8, 8], Distribution::Uniform(-1.0, 1.0), &device);
/// let a = policy.apply(x.clone(), 7);
/// let b = policy.apply(x, 7);
/// assert_eq!(a.dims(), [2, 3, 8, 8]);
/// assert_eq!(a.into_data(), b.into_data());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DiffAugment {
    /// Random brightness, saturation and contrast.
    pub color: bool,
    /// Random translation by up to 1/8 of the side, zero-filled.
    pub translation: bool,
    /// A zeroed square of half the side at a random position.
    pub cutout: bool,
}

/// Why a DiffAugment policy could not be parsed. Both variants name the token at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffAugmentError {
    /// A token that is not one of [`OPS`] (`none` counts as one only on its own).
    #[error(
        "DiffAugment policy `{policy}`: unknown op `{token}`; expected a comma-separated list \
         of color, translation, cutout (each at most once), or `none` alone"
    )]
    Unknown {
        /// The token as written (trimmed).
        token: String,
        /// The whole policy text.
        policy: String,
    },
    /// The same op twice.
    #[error("DiffAugment policy `{policy}`: op `{token}` is given twice")]
    Repeated {
        /// The repeated op.
        token: String,
        /// The whole policy text.
        policy: String,
    },
}

impl DiffAugment {
    /// Every transform on: `color,translation,cutout`, the paper's default.
    pub const ALL: DiffAugment = DiffAugment {
        color: true,
        translation: true,
        cutout: true,
    };

    /// True when no transform is on ([`apply`](Self::apply) then returns its input).
    pub fn is_empty(&self) -> bool {
        !(self.color || self.translation || self.cutout)
    }

    /// Augments a batch `[N, C, H, W]` of images in [-1, 1] with the transforms of this policy;
    /// the random parameters of image `i` come from a ChaCha8 stream seeded by `seed` (see the
    /// [module docs](self)). Built from burn tensor ops, so under autodiff the gradient flows
    /// back to `x`: the policy's transform is affine in `x` for fixed random parameters.
    /// Returns `x` itself when the policy is empty.
    ///
    /// ```
    /// use burn::prelude::*;
    /// use gan_trainer::diffaugment::DiffAugment;
    ///
    /// // On the autodiff device, the input gets a gradient through the augmentation.
    /// let device = gan_trainer::device::cpu_train();
    /// let x = Tensor::<4>::ones([4, 1, 28, 28], &device).require_grad();
    /// let y = DiffAugment::ALL.apply(x.clone(), 42);
    /// let grads = y.sum().backward();
    /// let dx = x.grad(&grads).unwrap();
    /// assert_eq!(dx.dims(), [4, 1, 28, 28]);
    /// ```
    pub fn apply(&self, x: Tensor<4>, seed: u64) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        if self.is_empty() || n * c * h * w == 0 {
            return x;
        }
        let draws = draws(seed, n, h, w);
        let device = x.device();
        let mut x = x;
        if self.color {
            x = color(x, &draws);
        }
        if self.translation || self.cutout {
            // One mask for both: the zero fill of the translation and the cut-out square are
            // both in output coordinates.
            let mut mask = vec![1.0f32; n * h * w];
            if self.translation {
                x = translate(x, &draws, &mut mask);
            }
            if self.cutout {
                for (d, m) in draws.iter().zip(mask.chunks_exact_mut(h * w)) {
                    let (rows, cols) = d.cutout_rect(h, w);
                    for row in m.chunks_exact_mut(w).take(rows.end).skip(rows.start) {
                        row[cols.clone()].fill(0.0);
                    }
                }
            }
            let mask = Tensor::<4>::from_data(TensorData::new(mask, [n, 1, h, w]), &device);
            x = x * mask;
        }
        x
    }
}

/// The random parameters of one image. All are drawn for every image, in this order.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Draw {
    /// Added to every pixel, in [-0.5, 0.5).
    brightness: f32,
    /// Saturation factor, in [0, 2).
    saturation: f32,
    /// Contrast factor, in [0.5, 1.5).
    contrast: f32,
    /// Row shift: output row `i` is input row `i + ty`.
    ty: i64,
    /// Column shift: output column `j` is input column `j + tx`.
    tx: i64,
    /// Cut-out centre row, in `[0, h + 1 - size_h % 2)` as the reference draws it.
    cy: i64,
    /// Cut-out centre column, likewise.
    cx: i64,
}

/// The largest shift for a side: the reference's `int(side * 0.125 + 0.5)`.
fn max_shift(side: usize) -> i64 {
    (side as f64 * TRANSLATION_RATIO + 0.5) as i64
}

/// The cut-out square's side for an image side: the reference's `int(side * 0.5 + 0.5)`.
fn cutout_size(side: usize) -> i64 {
    (side as f64 * CUTOUT_RATIO + 0.5) as i64
}

/// The parameters of the `n` images of a batch of `h x w` images, for `seed`.
fn draws(seed: u64, n: usize, h: usize, w: usize) -> Vec<Draw> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (sy, sx) = (max_shift(h), max_shift(w));
    let (ch, cw) = (cutout_size(h), cutout_size(w));
    (0..n)
        .map(|_| Draw {
            brightness: rng.random::<f32>() - 0.5,
            saturation: rng.random::<f32>() * 2.0,
            contrast: rng.random::<f32>() + 0.5,
            ty: rng.random_range(-sy..=sy),
            tx: rng.random_range(-sx..=sx),
            cy: rng.random_range(0..h as i64 + 1 - ch % 2),
            cx: rng.random_range(0..w as i64 + 1 - cw % 2),
        })
        .collect()
}

impl Draw {
    /// The rows and columns the cut-out square covers, clipped to the image.
    fn cutout_rect(&self, h: usize, w: usize) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let clip = |centre: i64, side: usize| {
            let size = cutout_size(side);
            let start = centre - size / 2;
            let lo = start.clamp(0, side as i64) as usize;
            let hi = (start + size).clamp(0, side as i64) as usize;
            lo..hi
        };
        (clip(self.cy, h), clip(self.cx, w))
    }
}

/// A per-image factor as a `[N, 1, 1, 1]` tensor, for broadcasting.
fn per_image(values: Vec<f32>, device: &Device) -> Tensor<4> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n, 1, 1, 1]), device)
}

/// Brightness, saturation and contrast, as one affine map per image.
///
/// With `m_c` the per-pixel channel mean and `m` the image mean of the input, the reference's
/// three steps expand to `s k x + k (1 - s) m_c + (1 - k) m + b` (the brightness shift leaves
/// `x - m_c` unchanged and moves both means by `b`): two full-size ops instead of nine.
fn color(x: Tensor<4>, draws: &[Draw]) -> Tensor<4> {
    let device = x.device();
    let gain = |f: fn(&Draw) -> f32| per_image(draws.iter().map(f).collect(), &device);
    let scale = gain(|d| d.saturation * d.contrast);
    let channel_mean_gain = gain(|d| d.contrast * (1.0 - d.saturation));
    let mean_gain = gain(|d| 1.0 - d.contrast);
    let brightness = gain(|d| d.brightness);
    let channel_mean = x.clone().mean_dim(1);
    // The mean of the channel means is the image mean: every channel has H * W pixels.
    let mean = channel_mean.clone().mean_dims(&[2, 3]);
    let offset = channel_mean * channel_mean_gain + mean * mean_gain + brightness;
    x * scale + offset
}

/// Moves each image by its `(ty, tx)` with one `gather` over the flattened image, and zeroes in
/// `mask` (`[N, H, W]`) the output pixels whose source lies outside the image; their index
/// points at any valid pixel, the mask removes it.
fn translate(x: Tensor<4>, draws: &[Draw], mask: &mut [f32]) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let plane = h * w;
    let image = c * plane;
    let mut index = vec![0i64; n * image];
    for ((d, idx), m) in draws
        .iter()
        .zip(index.chunks_exact_mut(image))
        .zip(mask.chunks_exact_mut(plane))
    {
        let (first, rest) = idx.split_at_mut(plane);
        for i in 0..h {
            let src_i = i as i64 + d.ty;
            for j in 0..w {
                let src_j = j as i64 + d.tx;
                let inside = (0..h as i64).contains(&src_i) && (0..w as i64).contains(&src_j);
                first[i * w + j] = if inside {
                    src_i * w as i64 + src_j
                } else {
                    m[i * w + j] = 0.0;
                    0
                };
            }
        }
        for (ch, plane_idx) in rest.chunks_exact_mut(plane).enumerate() {
            let base = ((ch + 1) * plane) as i64;
            for (dst, &src) in plane_idx.iter_mut().zip(first.iter()) {
                *dst = src + base;
            }
        }
    }
    let index = Tensor::<2, Int>::from_data(TensorData::new(index, [n, image]), &x.device());
    x.reshape([n, image]).gather(1, index).reshape([n, c, h, w])
}

impl FromStr for DiffAugment {
    type Err = DiffAugmentError;

    /// `color`, `translation`, `cutout`, comma-separated in any order, each at most once
    /// (spaces around a token are ignored); `none` or an empty string for none.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut policy = DiffAugment::default();
        if matches!(s.trim(), "" | "none") {
            return Ok(policy);
        }
        for raw in s.split(',') {
            let token = raw.trim();
            let flag = match token {
                "color" => &mut policy.color,
                "translation" => &mut policy.translation,
                "cutout" => &mut policy.cutout,
                _ => {
                    return Err(DiffAugmentError::Unknown {
                        token: token.to_string(),
                        policy: s.to_string(),
                    });
                }
            };
            if *flag {
                return Err(DiffAugmentError::Repeated {
                    token: token.to_string(),
                    policy: s.to_string(),
                });
            }
            *flag = true;
        }
        Ok(policy)
    }
}

impl fmt::Display for DiffAugment {
    /// The canonical text: the ops on, in [`OPS`] order, comma-separated; `none` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let on = [self.color, self.translation, self.cutout];
        let names: Vec<&str> = OPS
            .iter()
            .zip(on)
            .filter_map(|(name, on)| on.then_some(*name))
            .collect();
        f.write_str(&names.join(","))
    }
}

impl serde::Serialize for DiffAugment {
    /// As the canonical text, e.g. `"color,translation,cutout"` or `"none"`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DiffAugment {
    /// From policy text, as [`FromStr`] takes it.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic batch with distinct values in [-1, 1].
    fn batch(n: usize, c: usize, h: usize, w: usize) -> Vec<f32> {
        (0..n * c * h * w)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
            .collect()
    }

    fn tensor(values: Vec<f32>, shape: [usize; 4], device: &Device) -> Tensor<4> {
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    fn policy(s: &str) -> DiffAugment {
        s.parse().unwrap()
    }

    /// `apply` on the non-autodiff CPU device, as plain values.
    fn run(p: &str, x: &[f32], shape: [usize; 4], seed: u64) -> Vec<f32> {
        let device = crate::device::cpu();
        values(policy(p).apply(tensor(x.to_vec(), shape, &device), seed))
    }

    fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= tol * (1.0 + w.abs()),
                "{what}: element {i}: got {g}, want {w}"
            );
        }
    }

    /// The reference's three colour steps, literally, per image.
    fn color_reference(x: &[f32], shape: [usize; 4], draws: &[Draw]) -> Vec<f32> {
        let [_, c, h, w] = shape;
        let plane = h * w;
        let mut out = x.to_vec();
        for (img, d) in out.chunks_exact_mut(c * plane).zip(draws) {
            for v in img.iter_mut() {
                *v += d.brightness;
            }
            let channel_mean: Vec<f32> = (0..plane)
                .map(|p| (0..c).map(|ch| img[ch * plane + p]).sum::<f32>() / c as f32)
                .collect();
            for (i, v) in img.iter_mut().enumerate() {
                let m = channel_mean[i % plane];
                *v = (*v - m) * d.saturation + m;
            }
            let mean = img.iter().sum::<f32>() / img.len() as f32;
            for v in img.iter_mut() {
                *v = (*v - mean) * d.contrast + mean;
            }
        }
        out
    }

    /// The reference's translation, literally: pad by one zero, clamp the shifted index into
    /// the padded image.
    fn translation_reference(x: &[f32], shape: [usize; 4], draws: &[Draw]) -> Vec<f32> {
        let [n, c, h, w] = shape;
        let padded = |img: usize, ch: usize, i: i64, j: i64| -> f32 {
            if i == 0 || j == 0 || i == h as i64 + 1 || j == w as i64 + 1 {
                0.0
            } else {
                x[((img * c + ch) * h + (i - 1) as usize) * w + (j - 1) as usize]
            }
        };
        let mut out = vec![0.0; x.len()];
        for img in 0..n {
            let d = draws[img];
            for ch in 0..c {
                for i in 0..h {
                    for j in 0..w {
                        let gi = (i as i64 + d.ty + 1).clamp(0, h as i64 + 1);
                        let gj = (j as i64 + d.tx + 1).clamp(0, w as i64 + 1);
                        out[((img * c + ch) * h + i) * w + j] = padded(img, ch, gi, gj);
                    }
                }
            }
        }
        out
    }

    /// The reference's cut-out mask `[N, H, W]`, literally: zero the clamped grid.
    fn cutout_mask_reference(shape: [usize; 4], draws: &[Draw]) -> Vec<f32> {
        let [n, _, h, w] = shape;
        let (sh, sw) = (cutout_size(h), cutout_size(w));
        let mut mask = vec![1.0; n * h * w];
        for (img, d) in draws.iter().enumerate() {
            for gi in 0..sh {
                for gj in 0..sw {
                    let i = (gi + d.cy - sh / 2).clamp(0, h as i64 - 1) as usize;
                    let j = (gj + d.cx - sw / 2).clamp(0, w as i64 - 1) as usize;
                    mask[(img * h + i) * w + j] = 0.0;
                }
            }
        }
        mask
    }

    fn apply_mask(x: &[f32], shape: [usize; 4], mask: &[f32]) -> Vec<f32> {
        let [_, c, h, w] = shape;
        let plane = h * w;
        x.iter()
            .enumerate()
            .map(|(i, v)| v * mask[(i / (c * plane)) * plane + i % plane])
            .collect()
    }

    #[test]
    fn parse_display_round_trip() {
        for bits in 0..8u8 {
            let p = DiffAugment {
                color: bits & 1 != 0,
                translation: bits & 2 != 0,
                cutout: bits & 4 != 0,
            };
            let text = p.to_string();
            assert_eq!(text.parse::<DiffAugment>(), Ok(p), "{text}");
        }
        assert_eq!(DiffAugment::default().to_string(), "none");
        assert_eq!(DiffAugment::ALL.to_string(), "color,translation,cutout");
        assert_eq!(policy("cutout, color ,translation"), DiffAugment::ALL);
        assert_eq!(policy("cutout,color").to_string(), "color,cutout");
        assert!(policy("none").is_empty());
        assert!(policy("").is_empty());
        assert!(!policy("translation").is_empty());
    }

    #[test]
    fn parse_errors_name_the_token() {
        let err = "color,colour".parse::<DiffAugment>().unwrap_err();
        assert_eq!(
            err,
            DiffAugmentError::Unknown {
                token: "colour".into(),
                policy: "color,colour".into()
            }
        );
        let message = err.to_string();
        assert!(message.contains("`colour`"), "{message}");
        assert!(message.contains("color, translation, cutout"), "{message}");

        let err = "cutout,translation,cutout"
            .parse::<DiffAugment>()
            .unwrap_err();
        assert_eq!(
            err,
            DiffAugmentError::Repeated {
                token: "cutout".into(),
                policy: "cutout,translation,cutout".into()
            }
        );
        assert!(err.to_string().contains("`cutout` is given twice"), "{err}");

        // `none` only alone; no empty items; names are lower case.
        for (text, token) in [("none,color", "none"), ("color,", ""), ("Color", "Color")] {
            match text.parse::<DiffAugment>() {
                Err(DiffAugmentError::Unknown { token: t, .. }) => assert_eq!(t, token, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn serde_as_canonical_text() {
        let json = serde_json::to_string(&policy("cutout,color")).unwrap();
        assert_eq!(json, "\"color,cutout\"");
        let back: DiffAugment = serde_json::from_str(&json).unwrap();
        assert_eq!(back, policy("color,cutout"));
        assert_eq!(
            serde_json::to_string(&DiffAugment::default()).unwrap(),
            "\"none\""
        );
        let err = serde_json::from_str::<DiffAugment>("\"color,flip\"").unwrap_err();
        assert!(err.to_string().contains("unknown op `flip`"), "{err}");
    }

    #[test]
    fn empty_policy_is_identity() {
        let shape = [3, 2, 5, 5];
        let x = batch(3, 2, 5, 5);
        assert_eq!(run("none", &x, shape, 11), x);
    }

    #[test]
    fn same_seed_same_output_other_seed_other_output() {
        let shape = [4, 3, 16, 16];
        let x = batch(4, 3, 16, 16);
        for p in ["color", "translation", "cutout", "color,translation,cutout"] {
            let a = run(p, &x, shape, 5);
            let b = run(p, &x, shape, 5);
            let c = run(p, &x, shape, 6);
            assert_eq!(a, b, "{p}: same seed");
            assert_ne!(a, c, "{p}: different seed");
            assert_ne!(a, x, "{p}: changes the images");
        }
    }

    #[test]
    fn draws_follow_the_reference_ranges() {
        // 28: shifts up to round(3.5) = 4, cut-out 14 (even: centre in 0..=28).
        // 7: shifts up to round(0.875) = 1, cut-out 4 (centre in 0..=7); 5: 1, 3 (odd: 0..5).
        for (side, shift, centres) in [(28, 4, 29), (7, 1, 8), (5, 1, 5)] {
            let d = draws(3, 2000, side, side);
            let mut seen_shift = std::collections::BTreeSet::new();
            let mut seen_centre = std::collections::BTreeSet::new();
            for d in &d {
                assert!((-0.5..0.5).contains(&d.brightness));
                assert!((0.0..2.0).contains(&d.saturation));
                assert!((0.5..1.5).contains(&d.contrast));
                seen_shift.extend([d.ty, d.tx]);
                seen_centre.extend([d.cy, d.cx]);
            }
            assert_eq!(
                seen_shift,
                (-shift..=shift).collect(),
                "side {side}: shifts"
            );
            assert_eq!(seen_centre, (0..centres).collect(), "side {side}: centres");
        }
        // Image i's draws do not depend on the batch size.
        assert_eq!(draws(9, 3, 28, 28)[..], draws(9, 10, 28, 28)[..3]);
    }

    #[test]
    fn brightness_adds_one_offset_per_image() {
        // On a constant image saturation and contrast do nothing: only brightness is left.
        let shape = [6, 3, 4, 4];
        let x = vec![0.25; 6 * 3 * 16];
        let out = run("color", &x, shape, 21);
        let d = draws(21, 6, 4, 4);
        let mut offsets = Vec::new();
        for (img, d) in out.chunks_exact(3 * 16).zip(&d) {
            for &v in img {
                assert!((v - (0.25 + d.brightness)).abs() < 1e-6, "{v} vs {d:?}");
            }
            offsets.push(img[0] - 0.25);
        }
        assert!(offsets.iter().all(|o| (-0.5..0.5).contains(o)));
        assert!(offsets.windows(2).any(|p| p[0] != p[1]), "{offsets:?}");
    }

    #[test]
    fn color_matches_the_reference_steps() {
        // Saturation on a hand-checkable image: one RGB pixel (1, 0, -1) has channel mean 0 and
        // image mean 0, so it becomes (b + s k, b, b - s k).
        let d = draws(4, 1, 1, 1)[0];
        let out = run("color", &[1.0, 0.0, -1.0], [1, 3, 1, 1], 4);
        let sk = d.saturation * d.contrast;
        let want = [d.brightness + sk, d.brightness, d.brightness - sk];
        assert_close(&out, &want, 1e-6, "one pixel");

        for shape in [[3, 3, 5, 4], [2, 1, 6, 6]] {
            let [n, c, h, w] = shape;
            let x = batch(n, c, h, w);
            let want = color_reference(&x, shape, &draws(8, n, h, w));
            assert_close(&run("color", &x, shape, 8), &want, 1e-5, "color");
        }
    }

    #[test]
    fn translation_moves_a_known_pixel() {
        // One lit pixel per channel at (3, 4) of an 8x8 image (shifts up to 1): it lands at
        // (3 - ty, 4 - tx) in both channels; everything else, incl. what came in, is 0.
        let (n, c, h, w) = (16, 2, 8, 8);
        let mut x = vec![0.0; n * c * h * w];
        for img in 0..n * c {
            x[(img * h + 3) * w + 4] = 1.0;
        }
        let out = run("translation", &x, [n, c, h, w], 77);
        let d = draws(77, n, h, w);
        assert!(d.iter().any(|d| d.ty != 0) && d.iter().any(|d| d.tx != 0));
        for (img, plane) in out.chunks_exact(h * w).enumerate() {
            let d = d[img / c];
            let at = ((3 - d.ty) as usize) * w + (4 - d.tx) as usize;
            for (p, &v) in plane.iter().enumerate() {
                assert_eq!(v, if p == at { 1.0 } else { 0.0 }, "image {img} pixel {p}");
            }
        }
        // And on any image, the same as the reference's pad-and-clamp indexing.
        let shape = [5, 3, 28, 28];
        let x = batch(5, 3, 28, 28);
        let want = translation_reference(&x, shape, &draws(13, 5, 28, 28));
        assert_eq!(run("translation", &x, shape, 13), want);
    }

    #[test]
    fn cutout_zeroes_one_half_side_square() {
        let (n, c, h, w) = (64, 2, 8, 8);
        let x = vec![1.0; n * c * h * w];
        let out = run("cutout", &x, [n, c, h, w], 3);
        let d = draws(3, n, h, w);
        let mut whole = 0;
        for (img, plane) in out.chunks_exact(h * w).enumerate() {
            let d = d[img / c];
            // The square's rows and columns: 4 from centre - 2, clipped to the image.
            let span = |centre: i64| (centre - 2).max(0)..(centre + 2).min(8);
            let (rows, cols) = (span(d.cy), span(d.cx));
            for (p, &v) in plane.iter().enumerate() {
                let inside = rows.contains(&((p / w) as i64)) && cols.contains(&((p % w) as i64));
                assert_eq!(v, if inside { 0.0 } else { 1.0 }, "image {img} pixel {p}");
            }
            let zeros = plane.iter().filter(|&&v| v == 0.0).count();
            assert!((4..=16).contains(&zeros), "{zeros}");
            whole += usize::from(zeros == 16);
        }
        assert!(whole > 0, "some square lies wholly inside");
        // Odd sides too (a 7x7 image: a 4x4 square), as the reference's clamped grid.
        let shape = [20, 1, 7, 7];
        let x = batch(20, 1, 7, 7);
        let mask = cutout_mask_reference(shape, &draws(1, 20, 7, 7));
        assert_eq!(run("cutout", &x, shape, 1), apply_mask(&x, shape, &mask));
    }

    #[test]
    fn full_policy_composes_the_ops_in_order() {
        let shape = [4, 3, 12, 12];
        let x = batch(4, 3, 12, 12);
        let seed = 99;
        let d = draws(seed, 4, 12, 12);
        let colored = color_reference(&x, shape, &d);
        let moved = translation_reference(&colored, shape, &d);
        let want = apply_mask(&moved, shape, &cutout_mask_reference(shape, &d));
        assert_close(
            &run("color,translation,cutout", &x, shape, seed),
            &want,
            1e-5,
            "all",
        );
        // Turning one op on does not change another's draws.
        let device = crate::device::cpu();
        let step = |p: &str, t: Tensor<4>| policy(p).apply(t, seed);
        let chained = step(
            "cutout",
            step(
                "translation",
                step("color", tensor(x.clone(), shape, &device)),
            ),
        );
        assert_eq!(
            values(chained),
            run("color,translation,cutout", &x, shape, seed)
        );
    }

    /// d(sum(apply(x) * w))/dx on the autodiff device.
    fn input_grad(p: &str, x: &[f32], wt: &[f32], shape: [usize; 4], seed: u64) -> Vec<f32> {
        let device = crate::device::cpu_train();
        let xt = tensor(x.to_vec(), shape, &device).require_grad();
        let weights = tensor(wt.to_vec(), shape, &device);
        let grads = (policy(p).apply(xt.clone(), seed) * weights)
            .sum()
            .backward();
        values(xt.grad(&grads).expect("x has a gradient"))
    }

    /// The transpose of the colour map applied to `g`: per image,
    /// `s k g + k (1 - s) mean_c(g) + (1 - k) mean(g)` (the map is symmetric in that form:
    /// the channel mean and image mean are self-adjoint averages).
    fn color_vjp(g: &[f32], shape: [usize; 4], draws: &[Draw]) -> Vec<f32> {
        let [_, c, h, w] = shape;
        let plane = h * w;
        let mut out = vec![0.0; g.len()];
        for ((gi, oi), d) in g
            .chunks_exact(c * plane)
            .zip(out.chunks_exact_mut(c * plane))
            .zip(draws)
        {
            let (s, k) = (d.saturation, d.contrast);
            let mean = gi.iter().sum::<f32>() / gi.len() as f32;
            for p in 0..plane {
                let mc = (0..c).map(|ch| gi[ch * plane + p]).sum::<f32>() / c as f32;
                for ch in 0..c {
                    let i = ch * plane + p;
                    oi[i] = s * k * gi[i] + k * (1.0 - s) * mc + (1.0 - k) * mean;
                }
            }
        }
        out
    }

    /// The transpose of the translation applied to `g`: `g` shifted back, 0 where nothing
    /// reads.
    fn translation_vjp(g: &[f32], shape: [usize; 4], draws: &[Draw]) -> Vec<f32> {
        let [n, c, h, w] = shape;
        let mut out = vec![0.0; g.len()];
        for (img, d) in draws.iter().enumerate().take(n) {
            for ch in 0..c {
                for si in 0..h as i64 {
                    for sj in 0..w as i64 {
                        let (i, j) = (si - d.ty, sj - d.tx);
                        if (0..h as i64).contains(&i) && (0..w as i64).contains(&j) {
                            let base = (img * c + ch) * h;
                            out[(base + si as usize) * w + sj as usize] =
                                g[(base + i as usize) * w + j as usize];
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn gradients_are_the_transposed_ops() {
        let shape = [3, 3, 10, 10];
        let [n, c, h, w] = shape;
        let x = batch(n, c, h, w);
        let wt: Vec<f32> = batch(n, c, h, w)
            .iter()
            .rev()
            .map(|v| v * 0.5 + 0.1)
            .collect();
        let seed = 2024;
        let d = draws(seed, n, h, w);
        assert!(d.iter().any(|d| d.ty != 0 || d.tx != 0));

        let grad = input_grad("translation", &x, &wt, shape, seed);
        assert_eq!(
            grad,
            translation_vjp(&wt, shape, &d),
            "translation: w shifted back"
        );

        let mask = cutout_mask_reference(shape, &d);
        let grad = input_grad("cutout", &x, &wt, shape, seed);
        assert_eq!(grad, apply_mask(&wt, shape, &mask), "cutout: w masked");

        let grad = input_grad("color", &x, &wt, shape, seed);
        assert_close(&grad, &color_vjp(&wt, shape, &d), 1e-5, "color");

        let grad = input_grad("color,translation,cutout", &x, &wt, shape, seed);
        let want = color_vjp(
            &translation_vjp(&apply_mask(&wt, shape, &mask), shape, &d),
            shape,
            &d,
        );
        assert_close(&grad, &want, 1e-5, "all");
        assert!(grad.iter().all(|g| g.is_finite()));
        assert!(grad.iter().filter(|&&g| g != 0.0).count() > grad.len() / 2);
    }

    #[test]
    fn gradients_match_finite_differences() {
        // The whole policy is affine in x for fixed draws, so a difference quotient is exact up
        // to rounding: an independent check of the autodiff graph.
        let shape = [2, 3, 8, 8];
        let [n, c, h, w] = shape;
        let x = batch(n, c, h, w);
        let wt: Vec<f32> = (0..x.len())
            .map(|i| ((i % 13) as f32 - 6.0) / 6.0)
            .collect();
        let seed = 5;
        let grad = input_grad("color,translation,cutout", &x, &wt, shape, seed);
        let f = |x: &[f32]| -> f64 {
            run("color,translation,cutout", x, shape, seed)
                .iter()
                .zip(&wt)
                .map(|(a, b)| f64::from(a * b))
                .sum()
        };
        let base = f(&x);
        for i in (0..x.len()).step_by(37) {
            let mut xp = x.clone();
            xp[i] += 0.5;
            let fd = (f(&xp) - base) / 0.5;
            assert!(
                (fd - f64::from(grad[i])).abs() < 2e-3,
                "element {i}: finite difference {fd}, autodiff {}",
                grad[i]
            );
        }
    }
}
