//! Seeded latents: sample `index` of `seed` is one fixed vector, whatever the batch it is
//! generated in and on every platform (native and wasm32).
//!
//! Each `(seed, index)` pair gets its own ChaCha8 stream (`rand_chacha`: the seed keys the
//! cipher, the index picks the stream), so any sample can be produced without producing the
//! ones before it. Uniforms become normals with the Box-Muller transform computed in f64 with
//! `libm`, which is pure Rust and so gives the same bits everywhere, unlike the platform's
//! `ln`/`cos`.
//!
//! [`Truncation`] (the "truncation trick" of BigGAN and StyleGAN) trades variety for typical
//! images by keeping every coordinate within `[-psi, psi]`. It is a rule on top of the same
//! stream, not a second sampler: a coordinate beyond `psi` is replaced by the next value of
//! its sample's stream that lies within, so a truncated sample is also one fixed vector for
//! its `(seed, index, psi)`, natively and in the browser.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Name of this sampler, stored in model metadata (`gan.latent_sampler`). Change it if the
/// mapping from (seed, index) to latent ever changes.
pub const LATENT_SAMPLER: &str = "chacha8-stream-boxmuller-f64-v1";

/// The latent vector of sample `index` of `seed`: `dim` values from N(0, 1).
///
/// ```
/// use gan_runtime::latent;
///
/// let a = latent(42, 7, 100);
/// assert_eq!(a.len(), 100);
/// // The same sample, whatever else was generated before.
/// assert_eq!(a, gan_runtime::latent_batch(42, 5, 3, 100)[2 * 100..]);
/// ```
pub fn latent(seed: u64, index: u64, dim: usize) -> Vec<f32> {
    let mut out = vec![0.0; dim];
    fill_latent(seed, index, &mut out);
    out
}

/// Fills `out` with the latent of sample `index` of `seed` (`out.len()` is the latent dim).
pub fn fill_latent(seed: u64, index: u64, out: &mut [f32]) {
    fill_from_stream(&mut stream(seed, index), out);
}

/// The ChaCha8 stream of sample `index` of `seed`.
fn stream(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

/// Fills `out` with normals from `rng`, two per Box-Muller pair (an odd length drops the
/// last pair's second value).
fn fill_from_stream(rng: &mut ChaCha8Rng, out: &mut [f32]) {
    let mut chunks = out.chunks_exact_mut(2);
    for pair in &mut chunks {
        let (a, b) = normal_pair(rng);
        pair[0] = a;
        pair[1] = b;
    }
    if let [last] = chunks.into_remainder() {
        *last = normal_pair(rng).0;
    }
}

/// Latents of samples `start .. start + count` of `seed`, row-major `[count, dim]`.
pub fn latent_batch(seed: u64, start: u64, count: usize, dim: usize) -> Vec<f32> {
    let mut out = vec![0.0; count * dim];
    if dim > 0 {
        for (i, row) in out.chunks_exact_mut(dim).enumerate() {
            fill_latent(seed, start + i as u64, row);
        }
    }
    out
}

/// A truncation `psi` was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("truncation must be a number >= {min} (or off), got {psi}", min = Truncation::MIN_PSI)]
pub struct TruncationError {
    /// The value given.
    pub psi: f64,
}

/// How far each latent coordinate may stray from 0: `psi` (at least [`Truncation::MIN_PSI`])
/// or off ([`Truncation::OFF`], the default). Smaller `psi` gives more typical, less varied
/// images.
///
/// The rule, part of the latent contract: the sample's latent is drawn as by
/// [`fill_latent`]; then, coordinate by coordinate in order, a value with `|x| > psi` is
/// replaced by the first value with `|v| <= psi` among the normals drawn next from the same
/// stream (Box-Muller pairs, both values used), trying at most [`Truncation::MAX_DRAWS`] values
/// per coordinate and clamping to `[-psi, psi]` if none fits (probability below 1e-70 at the
/// smallest `psi`). Each coordinate thus follows the normal distribution truncated to
/// `[-psi, psi]`.
///
/// ```
/// use gan_runtime::{latent, latent_truncated, Truncation};
///
/// let t = Truncation::new(0.7)?;
/// let z = latent_truncated(42, 3, 100, t);
/// assert!(z.iter().all(|v| v.abs() <= 0.7));
/// // Coordinates already within psi are the untruncated sample's.
/// let plain = latent(42, 3, 100);
/// assert!(plain.iter().zip(&z).all(|(p, t)| p.abs() > 0.7 || p == t));
/// assert!(Truncation::new(0.0).is_err());
/// # Ok::<(), gan_runtime::TruncationError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Truncation {
    psi: Option<f32>,
}

impl Default for Truncation {
    fn default() -> Self {
        Self::OFF
    }
}

impl Truncation {
    /// No truncation: latents as [`fill_latent`] draws them.
    pub const OFF: Self = Self { psi: None };
    /// The smallest `psi` accepted; below it the images barely differ and resampling grows
    /// long (about 25 draws per coordinate at 0.05).
    pub const MIN_PSI: f64 = 0.05;
    /// Values drawn at most for one coordinate before clamping.
    pub const MAX_DRAWS: usize = 4096;

    /// Truncation at `psi`: finite and at least [`Truncation::MIN_PSI`]. (`f64::INFINITY`
    /// is [`Truncation::OFF`].)
    pub fn new(psi: f64) -> Result<Self, TruncationError> {
        if psi == f64::INFINITY {
            return Ok(Self::OFF);
        }
        if !(psi.is_finite() && psi >= Self::MIN_PSI) {
            return Err(TruncationError { psi });
        }
        Ok(Self {
            psi: Some(psi as f32),
        })
    }

    /// `psi`, or `None` when off.
    pub fn psi(self) -> Option<f32> {
        self.psi
    }

    /// Whether truncation is off.
    pub fn is_off(self) -> bool {
        self.psi.is_none()
    }
}

/// Fills `out` with the latent of sample `index` of `seed`, truncated by `truncation` (see
/// [`Truncation`] for the rule; [`Truncation::OFF`] gives [`fill_latent`]'s values).
pub fn fill_latent_truncated(seed: u64, index: u64, out: &mut [f32], truncation: Truncation) {
    let mut rng = stream(seed, index);
    fill_from_stream(&mut rng, out);
    let Some(psi) = truncation.psi else {
        return;
    };
    let mut spare: Option<f32> = None;
    let mut next = move || match spare.take() {
        Some(v) => v,
        None => {
            let (a, b) = normal_pair(&mut rng);
            spare = Some(b);
            a
        }
    };
    for x in out.iter_mut().filter(|x| x.abs() > psi) {
        *x = (0..Truncation::MAX_DRAWS)
            .map(|_| next())
            .find(|v| v.abs() <= psi)
            .unwrap_or_else(|| x.clamp(-psi, psi));
    }
}

/// The latent of sample `index` of `seed`, truncated (see [`Truncation`]).
pub fn latent_truncated(seed: u64, index: u64, dim: usize, truncation: Truncation) -> Vec<f32> {
    let mut out = vec![0.0; dim];
    fill_latent_truncated(seed, index, &mut out, truncation);
    out
}

/// Latents of samples `start .. start + count` of `seed`, truncated, row-major `[count, dim]`.
pub fn latent_batch_truncated(
    seed: u64,
    start: u64,
    count: usize,
    dim: usize,
    truncation: Truncation,
) -> Vec<f32> {
    let mut out = vec![0.0; count * dim];
    if dim > 0 {
        for (i, row) in out.chunks_exact_mut(dim).enumerate() {
            fill_latent_truncated(seed, start + i as u64, row, truncation);
        }
    }
    out
}

/// Two independent N(0, 1) values from the Box-Muller transform.
fn normal_pair(rng: &mut ChaCha8Rng) -> (f32, f32) {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    // u1 in (0, 1] so ln(u1) is finite; u2 in [0, 1).
    let u1 = ((rng.next_u64() >> 11) + 1) as f64 * SCALE;
    let u2 = (rng.next_u64() >> 11) as f64 * SCALE;
    let r = libm::sqrt(-2.0 * libm::log(u1));
    let theta = 2.0 * std::f64::consts::PI * u2;
    ((r * libm::cos(theta)) as f32, (r * libm::sin(theta)) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_size_does_not_change_a_sample() {
        let dim = 101; // odd, to cover the remainder path
        let whole = latent_batch(9, 0, 64, dim);
        for (start, count) in [(0, 1), (3, 5), (63, 1), (10, 54)] {
            let part = latent_batch(9, start, count, dim);
            let s = start as usize * dim;
            assert_eq!(part, whole[s..s + count * dim]);
        }
        assert_eq!(latent(9, 17, dim), whole[17 * dim..18 * dim]);
    }

    #[test]
    fn seeds_and_indices_differ() {
        assert_ne!(latent(1, 0, 8), latent(2, 0, 8));
        assert_ne!(latent(1, 0, 8), latent(1, 1, 8));
    }

    #[test]
    fn values_are_standard_normal() {
        let v = latent_batch(123, 0, 2000, 100);
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "var {var}");
        assert!(v.iter().all(|x| x.is_finite()));
    }

    /// Pins the exact bits, so a dependency upgrade or a platform that computes differently
    /// (wasm32 included) is caught rather than silently changing every seed's images.
    #[test]
    fn values_are_pinned() {
        let v = latent(42, 0, 4);
        let bits: Vec<u32> = v.iter().map(|x| x.to_bits()).collect();
        assert_eq!(bits, PINNED, "values {v:?}");
    }
    const PINNED: [u32; 4] = [1062546592, 3196696256, 3211294244, 3211752988];

    #[test]
    fn truncation_off_is_the_plain_sampler() {
        let off = latent_batch_truncated(5, 3, 7, 101, Truncation::OFF);
        assert_eq!(off, latent_batch(5, 3, 7, 101));
        assert_eq!(Truncation::new(f64::INFINITY), Ok(Truncation::OFF));
        assert_eq!(Truncation::default(), Truncation::OFF);
    }

    #[test]
    fn bad_psi_is_refused() {
        for psi in [0.0, 0.049, -1.0, f64::NAN, f64::NEG_INFINITY] {
            let e = Truncation::new(psi).unwrap_err();
            assert!(e.to_string().contains(">= 0.05"), "{e}");
        }
        assert_eq!(Truncation::new(0.05).unwrap().psi(), Some(0.05));
    }

    #[test]
    fn truncated_batch_size_does_not_change_a_sample() {
        let t = Truncation::new(0.5).unwrap();
        let whole = latent_batch_truncated(9, 0, 32, 101, t);
        for (start, count) in [(0, 1), (3, 5), (31, 1)] {
            let part = latent_batch_truncated(9, start, count, 101, t);
            let s = start as usize * 101;
            assert_eq!(part, whole[s..s + count * 101]);
        }
        assert_eq!(latent_truncated(9, 17, 101, t), whole[17 * 101..18 * 101]);
    }

    /// Each coordinate follows N(0, 1) truncated to [-psi, psi]: its variance is
    /// 1 - 2 psi phi(psi) / (Phi(psi) - Phi(-psi)), 0.2911 at psi = 1 and 0.0008 at 0.05.
    #[test]
    fn truncated_values_follow_the_truncated_normal() {
        for (psi, var_expected) in [(1.0, 0.291_14), (2.0, 0.773_71), (0.05, 0.000_833)] {
            let t = Truncation::new(psi).unwrap();
            let v = latent_batch_truncated(123, 0, 2000, 100, t);
            assert!(v.iter().all(|x| x.abs() <= psi as f32), "psi {psi}");
            let n = v.len() as f64;
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
            let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
            assert!(mean.abs() < 0.01 * psi, "psi {psi}: mean {mean}");
            assert!(
                (var / var_expected - 1.0).abs() < 0.02,
                "psi {psi}: var {var}, expected {var_expected}"
            );
        }
    }

    /// Pins the truncated bits too: the rule is part of the contract the browser shares.
    #[test]
    fn truncated_values_are_pinned() {
        let v = latent_truncated(42, 0, 6, Truncation::new(0.5).unwrap());
        let bits: Vec<u32> = v.iter().map(|x| x.to_bits()).collect();
        assert_eq!(bits, TRUNCATED_PINNED, "values {v:?}");
    }
    const TRUNCATED_PINNED: [u32; 6] = [
        1028885972, 3196696256, 3195881337, 3190257465, 1051682465, 1056839598,
    ];
}
