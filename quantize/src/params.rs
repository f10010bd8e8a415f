//! Quantization parameters: symmetric int8 weights, asymmetric uint8 activations, int32 bias.

/// Symmetric per-column int8 quantization of `w [k, n]` (row-major): returns the int8
/// values and one scale per column. A zero column gets scale 1 (all its values are 0).
///
/// ```
/// let (q, s) = gan_quantize::quantize_weights_per_column(&[0.5, -2.0, 0.25, 1.0], 2, 2);
/// assert_eq!(s, [0.5 / 127.0, 2.0 / 127.0]);
/// assert_eq!(q, [127, -127, 64, 64]);
/// ```
pub fn quantize_weights_per_column(w: &[f32], k: usize, n: usize) -> (Vec<i8>, Vec<f32>) {
    let mut scales = vec![0f32; n];
    for row in w.chunks_exact(n) {
        for (s, &v) in scales.iter_mut().zip(row) {
            *s = s.max(v.abs());
        }
    }
    let scales: Vec<f32> = scales.into_iter().map(scale_of_max).collect();
    let mut q = Vec::with_capacity(k * n);
    for row in w.chunks_exact(n) {
        q.extend(row.iter().zip(&scales).map(|(&v, &s)| to_int8(v, s)));
    }
    (q, scales)
}

/// Symmetric per-output-channel int8 quantization of a convolution weight
/// `[channels, ...]` (row-major, each channel's values contiguous): returns the int8 values
/// and one scale per channel. A zero channel gets scale 1.
///
/// ```
/// let (q, s) = gan_quantize::quantize_weights_per_channel(&[0.5, -0.25, 0.0, 2.0], 2);
/// assert_eq!(s, [0.5 / 127.0, 2.0 / 127.0]);
/// assert_eq!(q, [127, -64, 0, 127]);
/// ```
pub fn quantize_weights_per_channel(w: &[f32], channels: usize) -> (Vec<i8>, Vec<f32>) {
    let per = w.len() / channels.max(1);
    let mut q = Vec::with_capacity(w.len());
    let mut scales = Vec::with_capacity(channels);
    for c in w.chunks_exact(per.max(1)).take(channels) {
        let s = scale_of_max(c.iter().fold(0f32, |m, v| m.max(v.abs())));
        q.extend(c.iter().map(|&v| to_int8(v, s)));
        scales.push(s);
    }
    (q, scales)
}

/// Asymmetric uint8 parameters `(scale, zero_point)` covering `[lo, hi]` (widened to hold 0,
/// so that zero is exact). An empty or non-finite range gets `(1, 0)`.
///
/// ```
/// let (s, zp) = gan_quantize::uint8_params(-1.0, 3.0);
/// assert!((s - 4.0 / 255.0).abs() < 1e-7);
/// assert_eq!(zp, 64);
/// ```
pub fn uint8_params(lo: f32, hi: f32) -> (f32, u8) {
    let lo = lo.min(0.0);
    let hi = hi.max(0.0);
    if hi - lo <= f32::EPSILON || !(hi - lo).is_finite() {
        return (1.0, 0);
    }
    let scale = (hi - lo) / 255.0;
    let zp = (-lo / scale).round().clamp(0.0, 255.0) as u8;
    (scale, zp)
}

/// A bias in int32 at scale `input_scale * weight_scales[c]` (what QGemm / QLinearConv add
/// to their int32 accumulators), as little-endian bytes, with those scales.
pub(crate) fn bias_int32(
    bias: &[f32],
    input_scale: f32,
    weight_scales: &[f32],
) -> (Vec<u8>, Vec<f32>) {
    let scales: Vec<f32> = weight_scales.iter().map(|s| s * input_scale).collect();
    let raw = bias
        .iter()
        .zip(&scales)
        // `as` saturates (and maps NaN to 0): a huge bias stays the largest int32.
        .flat_map(|(b, s)| ((b / s).round() as i32).to_le_bytes())
        .collect();
    (raw, scales)
}

fn scale_of_max(max_abs: f32) -> f32 {
    if max_abs > 0.0 && max_abs.is_finite() {
        max_abs / 127.0
    } else {
        1.0
    }
}

fn to_int8(v: f32, scale: f32) -> i8 {
    (v / scale).round().clamp(-127.0, 127.0) as i8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_column_weights_round_trip_within_half_a_step() {
        let (k, n) = (3, 2);
        let w = [0.5, -2.0, -0.25, 1.0, 0.0, 0.1];
        let (q, s) = quantize_weights_per_column(&w, k, n);
        assert_eq!(s, vec![0.5 / 127.0, 2.0 / 127.0]);
        for (i, (&qv, &wv)) in q.iter().zip(&w).enumerate() {
            let back = qv as f32 * s[i % n];
            assert!(
                (back - wv).abs() <= s[i % n] / 2.0 + 1e-7,
                "{i}: {back} vs {wv}"
            );
        }
        assert_eq!(q[0], 127);
        assert_eq!(q[1], -127);
        let (_, s0) = quantize_weights_per_column(&[0.0, 0.0], 1, 2);
        assert_eq!(s0, vec![1.0, 1.0]);
    }

    #[test]
    fn per_channel_weights_round_trip_within_half_a_step() {
        // Two output channels of a [2, 1, 2, 2] kernel.
        let w = [0.3, -0.1, 0.05, 0.2, -4.0, 1.0, 2.0, 0.5];
        let (q, s) = quantize_weights_per_channel(&w, 2);
        assert_eq!(s, vec![0.3 / 127.0, 4.0 / 127.0]);
        for (i, (&qv, &wv)) in q.iter().zip(&w).enumerate() {
            let back = qv as f32 * s[i / 4];
            assert!((back - wv).abs() <= s[i / 4] / 2.0 + 1e-7, "{i}");
        }
        assert_eq!(quantize_weights_per_channel(&[0.0; 4], 2).1, vec![1.0, 1.0]);
    }

    #[test]
    fn uint8_params_make_zero_exact() {
        let (s, zp) = uint8_params(-1.0, 3.0);
        assert!((s - 4.0 / 255.0).abs() < 1e-7);
        assert_eq!(zp, 64);
        assert_eq!(uint8_params(0.5, 2.0).1, 0); // widened to include 0
        assert_eq!(uint8_params(0.0, 0.0), (1.0, 0));
        assert_eq!(uint8_params(f32::NAN, 1.0), (1.0 / 255.0, 0));
        assert_eq!(uint8_params(f32::NEG_INFINITY, 1.0), (1.0, 0));
    }

    #[test]
    fn bias_scale_is_input_times_weight_scale() {
        let (raw, s) = bias_int32(&[1.0, -0.5], 0.5, &[0.01, 0.1]);
        assert_eq!(s, vec![0.005, 0.05]);
        let q: Vec<i32> = raw
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(q, vec![200, -10]);
    }
}
