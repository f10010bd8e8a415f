//! Seeded latents: sample `index` of `seed` is one fixed vector, whatever the batch it is
//! generated in and on every platform (native and wasm32).
//!
//! Each `(seed, index)` pair gets its own ChaCha8 stream (`rand_chacha`: the seed keys the
//! cipher, the index picks the stream), so any sample can be produced without producing the
//! ones before it. Uniforms become normals with the Box-Muller transform computed in f64 with
//! `libm`, which is pure Rust and so gives the same bits everywhere, unlike the platform's
//! `ln`/`cos`.

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
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    let mut chunks = out.chunks_exact_mut(2);
    for pair in &mut chunks {
        let (a, b) = normal_pair(&mut rng);
        pair[0] = a;
        pair[1] = b;
    }
    if let [last] = chunks.into_remainder() {
        *last = normal_pair(&mut rng).0;
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
}
