//! The int8 weight format of the page's models: symmetric, one scale per index of axis 1.
//!
//! Axis 1 is the output channel of the trainer's exports in both ONNX and burn layouts: Gemm
//! weights are `[in, out]`, ConvTranspose weights `[in, out, kh, kw]`. A value `v` becomes
//! `q = round(v / s)` in `-127..=127` with `s = max |v| / 127` over its channel, and reads back
//! as `q * s` in f32. Only tensors worth it are quantized ([`quantizable`]: rank >= 2 and at
//! least [`MIN_VALUES`] values); biases, batch-norm statistics and small embeddings stay f32.
//!
//! Written by hand because the rule has to be bit-for-bit the same in the build script (which
//! quantizes the ONNX model) and in the module (which reads the weights back): both include
//! this file, and it is a dozen lines.

/// The f32 values of a tensor's raw little-endian bytes (ONNX `raw_data`, burnpack data); a
/// trailing partial value is ignored (callers check the length).
pub fn f32s_from_le(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Smallest tensor that is stored as int8.
pub const MIN_VALUES: usize = 1024;

/// Whether a tensor of this shape is stored as int8.
pub fn quantizable(shape: &[usize]) -> bool {
    shape.len() >= 2 && shape.iter().product::<usize>() >= MIN_VALUES
}

/// The channel (index along axis 1) of each value of a row-major tensor of `shape`.
fn channel_of(shape: &[usize]) -> impl Fn(usize) -> usize {
    let channels = shape[1];
    let inner: usize = shape[2..].iter().product();
    move |i| (i / inner) % channels
}

/// One scale per channel: `max |v| / 127` (0 for an all-zero channel).
pub fn scales(values: &[f32], shape: &[usize]) -> Vec<f32> {
    let channel = channel_of(shape);
    let mut max = vec![0f32; shape[1]];
    for (i, v) in values.iter().enumerate() {
        let m = &mut max[channel(i)];
        *m = m.max(v.abs());
    }
    max.into_iter().map(|m| m / 127.0).collect()
}

/// `values` as int8 with the per-channel `scales`.
pub fn quantize(values: &[f32], shape: &[usize], scales: &[f32]) -> Vec<i8> {
    let channel = channel_of(shape);
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let s = scales[channel(i)];
            if s == 0.0 {
                0
            } else {
                (v / s).round().clamp(-127.0, 127.0) as i8
            }
        })
        .collect()
}

/// The f32 values that int8 `q` with per-channel `scales` stand for.
pub fn dequantize(q: &[i8], shape: &[usize], scales: &[f32]) -> Vec<f32> {
    let channel = channel_of(shape);
    q.iter()
        .enumerate()
        .map(|(i, &q)| f32::from(q) * scales[channel(i)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_within_half_a_step_per_channel() {
        let shape = [3, 2, 2];
        // Channel 0 is small, channel 1 large: each keeps its own precision.
        let v = [
            0.01, 0.02, 5.0, -4.0, -0.03, 0.0, 2.5, 1.0, 0.015, -0.01, -5.0, 3.0,
        ];
        let s = scales(&v, &shape);
        assert_eq!(s, vec![0.03 / 127.0, 5.0 / 127.0]);
        let q = quantize(&v, &shape, &s);
        assert_eq!(q[2], 127);
        assert_eq!(q[10], -127);
        let back = dequantize(&q, &shape, &s);
        for (i, (a, b)) in v.iter().zip(&back).enumerate() {
            let step = s[(i / 2) % 2];
            assert!((a - b).abs() <= step / 2.0 + 1e-9, "{i}: {a} vs {b}");
        }
        assert!(quantizable(&[150, 6272]) && !quantizable(&[10, 50]) && !quantizable(&[4096]));
        // An all-zero channel stays zero.
        let z = [0.0, 1.0, 0.0, -1.0];
        let s = scales(&z, &[2, 2]);
        assert_eq!(dequantize(&quantize(&z, &[2, 2], &s), &[2, 2], &s), z);
    }
}
