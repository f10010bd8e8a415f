//! Hand-written f32 kernels for the layers where burn-flex is slower than onnxruntime-web in
//! the browser. `build.rs` points the burn-onnx generated model at them (see
//! `rewrite_generated`): each `x.matmul(constantN_out1) + constantM_out1.unsqueeze()` (an ONNX
//! Gemm with constant weights) becomes [`linear`].
//!
//! Why by hand: burn-flex hands every matmul to the `gemm` crate. At batch 1 (the page's
//! interpolation, every single image) a Gemm is a matrix-vector product, and `gemm` runs that
//! with its scalar "SIMD" type on wasm32: 0.164 ms of the MLP's 0.168 ms per image, against
//! onnxruntime-web's 0.085 ms for the whole model (headless Chromium, same run). Storing the
//! weights transposed (so `gemm` takes its dot-product path) was slower still (0.24 ms). At
//! batch 64 its SIMD128 micro-kernels are in use, but the bias is a second pass over the
//! output.
//!
//! [`linear`] computes `out = x · w + b` for row-major `x [m, k]`, `w [k, n]` (ONNX Gemm weights,
//! `[in, out]`): a register tile of `R` rows by `4 V` columns accumulates over all of `k`, with
//! the bias as its starting value, and is stored once. Column panels are the outer loop so a
//! panel of `w` (`k x 4V` floats) stays in cache while every row block of `x` passes over it.
//! The arithmetic is `f32x4` SIMD128 on wasm32 and the same code on plain `[f32; 4]` elsewhere
//! (native tests), so the blocking is tested natively against burn's own matmul.

use burn::nn::conv::ConvTranspose2d;
use burn::tensor::ops::ConvTransposeOptions;
use burn::tensor::Tensor;
use burn_flex::{Flex, FlexTensor};

/// `x · w + b` (an ONNX Gemm without transposes), on the hand-written kernel when all three are
/// contiguous f32 burn-flex tensors, otherwise on burn's ops.
pub fn linear(x: Tensor<2>, w: Tensor<2>, b: Tensor<1>) -> Tensor<2> {
    let [m, k] = x.dims();
    let [k2, n] = w.dims();
    if k != k2 || b.dims() != [n] {
        // Not a shape this kernel handles: let burn report it.
        return x.matmul(w) + b.unsqueeze();
    }
    let (Ok(xf), Ok(wf), Ok(bf)) = (
        x.clone().try_into_primitive::<Flex>(),
        w.clone().try_into_primitive::<Flex>(),
        b.clone().try_into_primitive::<Flex>(),
    ) else {
        return x.matmul(w) + b.unsqueeze();
    };
    let (Some(xs), Some(ws), Some(bs)) = (
        xf.as_slice::<f32>(),
        wf.as_slice::<f32>(),
        bf.as_slice::<f32>(),
    ) else {
        return x.matmul(w) + b.unsqueeze();
    };
    let mut out = vec![0f32; m * n];
    gemm_bias(xs, ws, bs, &mut out, m, k, n);
    let data = burn::tensor::TensorData::new(out, [m, n]);
    Tensor::from_primitive::<Flex>(FlexTensor::from_data(data))
}

/// A Gemm's int8 weights (`q [k, n]`, one scale per column: the weights file's form, see
/// [`crate::int8`]) packed for the integer products of [`linear_q`] and
/// [`conv_transpose2d_q`]: panels of 8 columns, each holding rows `2p` and `2p + 1`
/// interleaved per column (`[n / 8][k / 2][8][2]` bytes, `k` rounded up to even with a zero
/// row), the pairs `i32x4.dot_i16x8_s` multiplies.
pub struct Int8Gemm {
    packed: Vec<i8>,
    scales: Vec<f32>,
    k: usize,
    n: usize,
}

impl Int8Gemm {
    /// Packs `q` (`k x n`, row-major) with its per-column `scales`; `None` when the sizes
    /// disagree or `n` is not a multiple of 8.
    pub fn new(q: &[i8], scales: &[f32], k: usize, n: usize) -> Option<Self> {
        if q.len() != k * n || scales.len() != n || !n.is_multiple_of(8) || k == 0 {
            return None;
        }
        let pairs = k.div_ceil(2);
        let mut packed = vec![0i8; n / 8 * pairs * 16];
        for panel in 0..n / 8 {
            for p in 0..pairs {
                for c in 0..8 {
                    let j = panel * 8 + c;
                    let at = (panel * pairs + p) * 16 + 2 * c;
                    packed[at] = q[2 * p * n + j];
                    if 2 * p + 1 < k {
                        packed[at + 1] = q[(2 * p + 1) * n + j];
                    }
                }
            }
        }
        Some(Self {
            packed,
            scales: scales.to_vec(),
            k,
            n,
        })
    }
}

thread_local! {
    /// Packed int8 Gemm weights by key (`<model id>/<tensor name>`), registered when a model's
    /// weights file loads (the module is single-threaded in the browser; natively each test
    /// thread loads its own). A key always names the same weights: a weights file is checked
    /// against the build's SHA-256 before it registers anything.
    static INT8: std::cell::RefCell<std::collections::HashMap<String, std::rc::Rc<Int8Gemm>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Makes `g` the int8 form of the Gemm weights `key` (`<model id>/<tensor name>`).
pub fn register_int8(key: String, g: Int8Gemm) {
    INT8.with(|r| r.borrow_mut().insert(key, std::rc::Rc::new(g)));
}

/// Whether [`register_int8`] has registered `key` (in this thread).
pub fn has_int8(key: &str) -> bool {
    INT8.with(|r| r.borrow().contains_key(key))
}

/// [`linear`] on the int8 weights registered as `key`, when there are some, in integer
/// arithmetic.
///
/// Why: at batch 1 a Gemm reads each weight once, so it runs at the speed the weights stream
/// in; f32 weights held the MLP at 0.100 ms per image against onnxruntime-web's 0.085. int8
/// weights are a quarter of the bytes, but widening them to f32 costs SIMD128 about ten
/// instructions per 16 weights (measured slower: 0.18 ms). Integer products need no float
/// conversion: each row of `x` is scaled to 15-bit integers (`sx = max |x| / xmax`), and
/// `i32x4.dot_i16x8_s` multiplies two rows of weights by two of `x` at once, so 16 weights
/// take one load, two widenings, two dot products and two adds (for four rows of `x`, the load
/// and widenings serve all four). The result,
/// `(xq · q) * sx * scale + b`, differs from the f32 product by the rounding of `x` to
/// `xmax` steps (2^-15 of its largest value): far below the 1/255 the browser test holds the
/// page to against ONNX Runtime.
pub fn linear_q(key: &str, x: Tensor<2>, w: Tensor<2>, b: Tensor<1>) -> Tensor<2> {
    let [m, k] = x.dims();
    let g = INT8.with(|r| r.borrow().get(key).cloned());
    if let (Some(g), Some(xf), Some(bf)) = (g, flex_f32(&x), flex_f32(&b)) {
        let (xs, bs) = (
            xf.as_slice::<f32>().unwrap_or_default(),
            bf.as_slice::<f32>().unwrap_or_default(),
        );
        if g.k == k && bs.len() == g.n && xs.len() == m * k {
            let mut out = vec![0f32; m * g.n];
            gemm_int8(xs, m, &g, Some(bs), &mut out);
            let data = burn::tensor::TensorData::new(out, [m, g.n]);
            return Tensor::from_primitive::<Flex>(FlexTensor::from_data(data));
        }
    }
    linear(x, w, b)
}

/// `out[m, n] = (xq · q) * sx * scales + bias` for `m` rows of `x` (see [`linear_q`]): each
/// row scaled to integers on its own, so a row's result does not depend on the others.
fn gemm_int8(x: &[f32], m: usize, g: &Int8Gemm, bias: Option<&[f32]>, out: &mut [f32]) {
    let (k, n) = (g.k, g.n);
    let pairs = k.div_ceil(2);
    // The largest |xq| that keeps every i32 sum exact: 2 * pairs * xmax * 127 < 2^31.
    let xmax = (i32::MAX as usize / (2 * pairs * 127)).min(16383) as f32;
    let mut sx = vec![0f32; m];
    // Each row's pairs (x[2p], x[2p + 1]) as one i32: two i16 lanes, ready to splat.
    let mut xp = vec![0i32; m * pairs];
    for r in 0..m {
        let row = &x[r * k..(r + 1) * k];
        let amax = row.iter().fold(0f32, |a, v| a.max(v.abs()));
        // A zero row gives the bias; a non-finite one NaN, as f32 arithmetic would.
        sx[r] = if amax.is_finite() {
            amax / xmax
        } else {
            f32::NAN
        };
        if amax == 0.0 || !amax.is_finite() {
            continue;
        }
        let q = |i: usize| row.get(i).map_or(0, |v| (v / sx[r]).round() as i16);
        for (p, v) in xp[r * pairs..(r + 1) * pairs].iter_mut().enumerate() {
            *v = (i32::from(q(2 * p + 1)) << 16) | i32::from(q(2 * p) as u16);
        }
    }
    let write = |out: &mut [f32], r: usize, panel: usize, acc: &[i32; 8]| {
        for (c, a) in acc.iter().enumerate() {
            let j = panel * 8 + c;
            let b = bias.map_or(0.0, |b| b[j]);
            out[r * n + j] = *a as f32 * (sx[r] * g.scales[j]) + b;
        }
    };
    for panel in 0..n / 8 {
        let w = &g.packed[panel * pairs * 16..(panel + 1) * pairs * 16];
        let mut r = 0;
        while r + 4 <= m {
            let rows: [&[i32]; 4] =
                core::array::from_fn(|i| &xp[(r + i) * pairs..(r + i + 1) * pairs]);
            for (i, acc) in dot_panel4(rows, w).iter().enumerate() {
                write(out, r + i, panel, acc);
            }
            r += 4;
        }
        while r < m {
            write(
                out,
                r,
                panel,
                &dot_panel(&xp[r * pairs..(r + 1) * pairs], w),
            );
            r += 1;
        }
    }
}

/// [`dot_panel`] for four rows at once: each 16-byte load of weights serves all four.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn dot_panel4(xp: [&[i32]; 4], w: &[i8]) -> [[i32; 8]; 4] {
    use core::arch::wasm32::*;
    let pairs = xp[0].len();
    debug_assert_eq!(w.len(), pairs * 16);
    let mut acc = [[i32x4_splat(0); 2]; 4];
    for p in 0..pairs {
        // SAFETY: w holds 16 bytes per pair.
        let v = unsafe { v128_load(w.as_ptr().add(p * 16).cast()) };
        let (lo, hi) = (i16x8_extend_low_i8x16(v), i16x8_extend_high_i8x16(v));
        for (a, x) in acc.iter_mut().zip(&xp) {
            let x = i32x4_splat(x[p]);
            a[0] = i32x4_add(a[0], i32x4_dot_i16x8(lo, x));
            a[1] = i32x4_add(a[1], i32x4_dot_i16x8(hi, x));
        }
    }
    acc.map(|a| {
        let mut out = [0i32; 8];
        // SAFETY: out holds 8 i32.
        unsafe {
            v128_store(out.as_mut_ptr().cast(), a[0]);
            v128_store(out.as_mut_ptr().add(4).cast(), a[1]);
        }
        out
    })
}

/// [`dot_panel`] for four rows at once (the same integer arithmetic as the SIMD128 version).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn dot_panel4(xp: [&[i32]; 4], w: &[i8]) -> [[i32; 8]; 4] {
    xp.map(|x| dot_panel(x, w))
}

/// The 8 column sums of one panel: `sum_p x[2p] q[2p][c] + x[2p + 1] q[2p + 1][c]`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn dot_panel(xp: &[i32], w: &[i8]) -> [i32; 8] {
    use core::arch::wasm32::*;
    debug_assert_eq!(w.len(), xp.len() * 16);
    let (mut a0, mut a1) = (i32x4_splat(0), i32x4_splat(0));
    let (mut b0, mut b1) = (i32x4_splat(0), i32x4_splat(0));
    let mut chunks = xp.chunks_exact(2);
    let mut p = 0;
    // Two pairs per step, into two sets of sums: more independent work per iteration.
    for x2 in &mut chunks {
        // SAFETY: w holds 16 bytes per pair; p + 1 < xp.len().
        let (v, u) = unsafe {
            (
                v128_load(w.as_ptr().add(p * 16).cast()),
                v128_load(w.as_ptr().add(p * 16 + 16).cast()),
            )
        };
        let (x, y) = (i32x4_splat(x2[0]), i32x4_splat(x2[1]));
        a0 = i32x4_add(a0, i32x4_dot_i16x8(i16x8_extend_low_i8x16(v), x));
        a1 = i32x4_add(a1, i32x4_dot_i16x8(i16x8_extend_high_i8x16(v), x));
        b0 = i32x4_add(b0, i32x4_dot_i16x8(i16x8_extend_low_i8x16(u), y));
        b1 = i32x4_add(b1, i32x4_dot_i16x8(i16x8_extend_high_i8x16(u), y));
        p += 2;
    }
    if let [x] = chunks.remainder() {
        // SAFETY: w holds 16 bytes per pair.
        let v = unsafe { v128_load(w.as_ptr().add(p * 16).cast()) };
        let x = i32x4_splat(*x);
        a0 = i32x4_add(a0, i32x4_dot_i16x8(i16x8_extend_low_i8x16(v), x));
        a1 = i32x4_add(a1, i32x4_dot_i16x8(i16x8_extend_high_i8x16(v), x));
    }
    let (a0, a1) = (i32x4_add(a0, b0), i32x4_add(a1, b1));
    let mut out = [0i32; 8];
    // SAFETY: out holds 8 i32.
    unsafe {
        v128_store(out.as_mut_ptr().cast(), a0);
        v128_store(out.as_mut_ptr().add(4).cast(), a1);
    }
    out
}

/// The 8 column sums of one panel (the same integer arithmetic as the SIMD128 version).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn dot_panel(xp: &[i32], w: &[i8]) -> [i32; 8] {
    let mut out = [0i32; 8];
    for (p, &x) in xp.iter().enumerate() {
        let (x0, x1) = (i32::from(x as i16), x >> 16);
        for (c, o) in out.iter_mut().enumerate() {
            let q = &w[p * 16 + 2 * c..p * 16 + 2 * c + 2];
            *o += x0 * i32::from(q[0]) + x1 * i32::from(q[1]);
        }
    }
    out
}

/// A contiguous f32 view of a burn-flex tensor, or `None` (another backend, dtype or layout).
fn flex_f32<const D: usize>(t: &Tensor<D>) -> Option<FlexTensor> {
    let f = t.clone().try_into_primitive::<Flex>().ok()?;
    f.as_slice::<f32>()?;
    Some(f)
}

/// `layer.forward(x)` (ONNX ConvTranspose, no groups or dilation) as one GEMM and a scatter:
/// `cols[(b, iy, ix), (co, ky, kx)] = x[b, :, iy, ix] · w[:, co, ky, kx]` on [`gemm_bias`],
/// then each column value is added to `out[b, co, iy * s + ky - p, ix * s + kx - p]`. The
/// weights are used in their ONNX layout `[in, out, kh, kw]`, which is already `[k, n]` of that
/// GEMM; only the input is transposed (channels last, a copy the size of the input).
///
/// burn-flex does the same in the other orientation, per image: at 49 input positions
/// (7 x 7) its GEMM has 49 columns, and took 0.8 ms of the mnist-cdcgan's first
/// ConvTranspose per image, more than onnxruntime-web's whole model (0.6 ms).
pub fn conv_transpose2d(layer: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    conv_transpose2d_impl(
        x,
        layer.weight.val(),
        layer.bias.as_ref().map(|b| b.val()),
        options_of(layer),
        None,
    )
}

/// A burn ConvTranspose2d layer's stride, padding, output padding, dilation and groups.
fn options_of(layer: &ConvTranspose2d) -> ConvTransposeOptions<2> {
    ConvTransposeOptions::new(
        layer.stride,
        layer.padding,
        layer.padding_out,
        layer.dilation,
        layer.groups,
    )
}

/// [`conv_transpose2d`] with its GEMM on the int8 weights registered as `key` (`<model
/// id>/<layer>.weight`, see [`register_int8`]) when there are some, in integer arithmetic like
/// [`linear_q`]: each input position's channels are one row, scaled to integers on its own.
pub fn conv_transpose2d_q(key: &str, layer: &ConvTranspose2d, x: Tensor<4>) -> Tensor<4> {
    let int8 = INT8.with(|r| r.borrow().get(key).cloned());
    conv_transpose2d_impl(
        x,
        layer.weight.val(),
        layer.bias.as_ref().map(|b| b.val()),
        options_of(layer),
        int8.as_deref(),
    )
}

/// [`conv_transpose2d`] on its parts (ONNX ConvTranspose: weights `[in, out, kh, kw]`), for
/// the graphs read at run time (`interpret`); burn's op for what the kernel does not handle.
pub fn conv_transpose2d_with(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvTransposeOptions<2>,
) -> Tensor<4> {
    conv_transpose2d_impl(x, weight, bias, options, None)
}

/// Narrowest ConvTranspose GEMM (`out channels x kh x kw` columns) run on int8 weights.
const INT8_MIN_COLUMNS: usize = 128;

fn conv_transpose2d_impl(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvTransposeOptions<2>,
    int8: Option<&Int8Gemm>,
) -> Tensor<4> {
    let fallback =
        |x, weight, bias, options| burn::tensor::module::conv_transpose2d(x, weight, bias, options);
    let [batch, cin, h, w] = x.dims();
    let [wcin, cout, kh, kw] = weight.dims();
    let (Some(xf), Some(wf)) = (flex_f32(&x), flex_f32(&weight)) else {
        return fallback(x, weight, bias, options);
    };
    let bf = match &bias {
        Some(b) => match flex_f32(b) {
            Some(f) => Some(f),
            None => return fallback(x, weight, bias, options),
        },
        None => None,
    };
    let [sy, sx] = options.stride;
    let [py, px] = options.padding;
    let [qy, qx] = options.padding_out;
    let (oh, ow) = ((h - 1) * sy + kh + qy, (w - 1) * sx + kw + qx);
    if options.groups != 1
        || options.dilation != [1, 1]
        || wcin != cin
        || oh < 2 * py
        || ow < 2 * px
    {
        return fallback(x, weight, bias, options);
    }
    let (oh, ow) = (oh - 2 * py, ow - 2 * px);
    let (xs, ws) = (
        xf.as_slice::<f32>().unwrap_or_default(),
        wf.as_slice::<f32>().unwrap_or_default(),
    );
    let hw = h * w;
    // Channels last: xt[(b, p), c].
    let mut xt = vec![0f32; batch * hw * cin];
    for b in 0..batch {
        for c in 0..cin {
            let src = &xs[(b * cin + c) * hw..(b * cin + c + 1) * hw];
            for (p, &v) in src.iter().enumerate() {
                xt[(b * hw + p) * cin + c] = v;
            }
        }
    }
    let n = cout * kh * kw;
    let mut cols = vec![0f32; batch * hw * n];
    // Integer products pay per row (scaling it to integers, then per output a conversion and
    // two multiplies): with few columns that costs more than it saves, so narrow outputs (the
    // last layer: 16 or 48 columns) stay on the f32 kernel.
    match int8.filter(|g| g.k == cin && g.n == n && n >= INT8_MIN_COLUMNS) {
        Some(g) => gemm_int8(&xt, batch * hw, g, None, &mut cols),
        None => gemm_bias(&xt, ws, &vec![0f32; n], &mut cols, batch * hw, cin, n),
    }
    let mut out = vec![0f32; batch * cout * oh * ow];
    if let Some(bf) = &bf {
        let bs = bf.as_slice::<f32>().unwrap_or_default();
        for (i, plane) in out.chunks_exact_mut(oh * ow).enumerate() {
            plane.fill(bs[i % cout]);
        }
    }
    for b in 0..batch {
        let img = &mut out[b * cout * oh * ow..(b + 1) * cout * oh * ow];
        for iy in 0..h {
            for ix in 0..w {
                let row = &cols[(b * hw + iy * w + ix) * n..][..n];
                for ky in 0..kh {
                    // oy = iy * sy + ky - py, when inside the output.
                    let Some(oy) = (iy * sy + ky).checked_sub(py).filter(|&o| o < oh) else {
                        continue;
                    };
                    for kx in 0..kw {
                        let Some(ox) = (ix * sx + kx).checked_sub(px).filter(|&o| o < ow) else {
                            continue;
                        };
                        let at = oy * ow + ox;
                        for c in 0..cout {
                            img[c * oh * ow + at] += row[(c * kh + ky) * kw + kx];
                        }
                    }
                }
            }
        }
    }
    let data = burn::tensor::TensorData::new(out, [batch, cout, oh, ow]);
    Tensor::from_primitive::<Flex>(FlexTensor::from_data(data))
}

/// `x.tanh()` with a rational approximation, vectorized by LLVM: burn-flex's tanh (scalar
/// `tanhf`) took 8 ns per value, 0.007 ms of the MLP's image at batch 1. The coefficients are
/// Eigen's `ptanh_float` (a 13/6 rational function on `[-7.9053, 7.9053]`, within a few ulp
/// of tanh), which is also what onnxruntime's MLAS uses.
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let Some(f) = flex_f32(&x) else {
        return x.tanh();
    };
    let shape = x.shape();
    let values: Vec<f32> = f
        .as_slice::<f32>()
        .unwrap_or_default()
        .iter()
        .map(|&v| tanh_f32(v))
        .collect();
    let data = burn::tensor::TensorData::new(values, shape);
    Tensor::from_primitive::<Flex>(FlexTensor::from_data(data))
}

/// Eigen's `ptanh_float` for one value (see [`tanh`]).
#[inline(always)]
fn tanh_f32(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    const A: [f32; 7] = [
        4.893_524_6e-3,
        6.372_619_3e-4,
        1.485_722_4e-5,
        5.122_297e-8,
        -8.604_672e-11,
        2.000_188e-13,
        -2.760_768_5e-16,
    ];
    const B: [f32; 4] = [4.893_525e-3, 2.268_434_6e-3, 1.185_347e-4, 1.198_258_4e-6];
    let c = x.clamp(-CLAMP, CLAMP);
    let c2 = c * c;
    let p = c2 * (c2 * (c2 * (c2 * (c2 * (c2 * A[6] + A[5]) + A[4]) + A[3]) + A[2]) + A[1]) + A[0];
    let q = c2 * (c2 * (c2 * B[3] + B[2]) + B[1]) + B[0];
    // Below 4e-4, tanh(x) = x to f32 precision (Eigen's cut-off too).
    if x.abs() < 4e-4 {
        x
    } else {
        c * p / q
    }
}

/// `out[m, n] = x[m, k] · w[k, n] + bias[n]`, all row-major and contiguous.
pub fn gemm_bias(
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    out: &mut [f32],
    m: usize,
    k: usize,
    n: usize,
) {
    assert!(x.len() >= m * k && w.len() >= k * n && bias.len() >= n && out.len() >= m * n);
    if m < 4 {
        for r in 0..m {
            gemv_rows(
                &x[r * k..(r + 1) * k],
                w,
                bias,
                &mut out[r * n..(r + 1) * n],
                k,
                n,
            );
        }
        return;
    }
    // Column panels of 8, copied into a contiguous `k x 8` buffer first: walking a panel in
    // place strides by a whole row of `w`, 4 KiB for n = 1024, and such strides all land in
    // the same cache set. The copy is read by every block of 4 rows.
    let mut panel = vec![0f32; k * 8];
    let mut col = 0;
    while col + 8 <= n {
        for i in 0..k {
            panel[i * 8..i * 8 + 8].copy_from_slice(&w[i * n + col..i * n + col + 8]);
        }
        let mut row = 0;
        while row + 4 <= m {
            // SAFETY: row + 4 <= m, col + 8 <= n.
            unsafe { tile::<4>(x, &panel, bias, out, row, col, k, n) };
            row += 4;
        }
        while row < m {
            // SAFETY: row + 1 <= m, col + 8 <= n.
            unsafe { tile::<1>(x, &panel, bias, out, row, col, k, n) };
            row += 1;
        }
        col += 8;
    }
    // The last n % 8 columns.
    for r in 0..m {
        for c in col..n {
            let mut acc = bias[c];
            for i in 0..k {
                acc += x[r * k + i] * w[i * n + c];
            }
            out[r * n + c] = acc;
        }
    }
}

/// One row: `out[n] = x[k] · w[k, n] + bias[n]`, a matrix-vector product. Bound by reading
/// `w`, so it reads it in order, 8 rows at a time (8 sequential streams), and adds their 8
/// products to `out` (which stays in L1) in one load and one store per 4 columns.
fn gemv_rows(x: &[f32], w: &[f32], bias: &[f32], out: &mut [f32], k: usize, n: usize) {
    out.copy_from_slice(&bias[..n]);
    let n4 = n / 4 * 4;
    let mut i = 0;
    while i < k {
        let rows = (k - i).min(8);
        if rows == 8 {
            let xs: [F4; 8] = core::array::from_fn(|r| F4::splat(x[i + r]));
            let wr: [&[f32]; 8] = core::array::from_fn(|r| &w[(i + r) * n..(i + r + 1) * n]);
            let mut j = 0;
            while j < n4 {
                // SAFETY: j + 4 <= n4 <= n, the length of `out` and of each row `wr[r]`.
                unsafe {
                    let p = |r: usize| xs[r].mul(F4::load(wr[r].as_ptr().add(j)));
                    let s = (p(0).add(p(1))).add(p(2).add(p(3)));
                    let t = (p(4).add(p(5))).add(p(6).add(p(7)));
                    let o = out.as_mut_ptr().add(j);
                    F4::load(o).add(s.add(t)).store(o);
                }
                j += 4;
            }
        } else {
            for r in 0..rows {
                let (xr, wr) = (x[i + r], &w[(i + r) * n..(i + r + 1) * n]);
                for (o, &wv) in out[..n4].iter_mut().zip(wr) {
                    *o += xr * wv;
                }
            }
        }
        for c in n4..n {
            for r in 0..rows {
                out[c] += x[i + r] * w[(i + r) * n + c];
            }
        }
        i += rows;
    }
}

/// One `R x 8` tile of `out`, at (`row`, `col`), from the packed panel `w[k, 8]`.
///
/// # Safety
/// `row + R <= m` and `col + 8 <= n`, with `x`, `bias` and `out` as in [`gemm_bias`] and
/// `panel` holding `k x 8` floats.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const R: usize>(
    x: &[f32],
    panel: &[f32],
    bias: &[f32],
    out: &mut [f32],
    row: usize,
    col: usize,
    k: usize,
    n: usize,
) {
    let x = x.as_ptr().add(row * k);
    let wp = panel.as_ptr();
    let b = [
        F4::load(bias.as_ptr().add(col)),
        F4::load(bias.as_ptr().add(col + 4)),
    ];
    let mut acc = [b; R];
    for i in 0..k {
        let w0 = F4::load(wp.add(i * 8));
        let w1 = F4::load(wp.add(i * 8 + 4));
        for (r, acc) in acc.iter_mut().enumerate() {
            let xs = F4::splat(*x.add(r * k + i));
            acc[0] = xs.mul_add(w0, acc[0]);
            acc[1] = xs.mul_add(w1, acc[1]);
        }
    }
    let o = out.as_mut_ptr().add(row * n + col);
    for (r, acc) in acc.iter().enumerate() {
        acc[0].store(o.add(r * n));
        acc[1].store(o.add(r * n + 4));
    }
}

/// Four f32 lanes: a wasm SIMD128 `v128` in the browser, an array elsewhere.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[derive(Clone, Copy)]
struct F4(core::arch::wasm32::v128);

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl F4 {
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        F4(core::arch::wasm32::v128_load(p.cast()))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        core::arch::wasm32::v128_store(p.cast(), self.0)
    }
    #[inline(always)]
    fn splat(v: f32) -> Self {
        F4(core::arch::wasm32::f32x4_splat(v))
    }
    #[inline(always)]
    fn mul(self, a: Self) -> Self {
        F4(core::arch::wasm32::f32x4_mul(self.0, a.0))
    }
    #[inline(always)]
    fn add(self, a: Self) -> Self {
        F4(core::arch::wasm32::f32x4_add(self.0, a.0))
    }
    /// `self * a + c`, rounded twice (SIMD128 has no fused multiply-add).
    #[inline(always)]
    fn mul_add(self, a: Self, c: Self) -> Self {
        c.add(self.mul(a))
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[derive(Clone, Copy)]
struct F4([f32; 4]);

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
impl F4 {
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        F4(p.cast::<[f32; 4]>().read_unaligned())
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        p.cast::<[f32; 4]>().write_unaligned(self.0)
    }
    #[inline(always)]
    fn splat(v: f32) -> Self {
        F4([v; 4])
    }
    #[inline(always)]
    fn mul(self, a: Self) -> Self {
        F4(core::array::from_fn(|i| self.0[i] * a.0[i]))
    }
    #[inline(always)]
    fn add(self, a: Self) -> Self {
        F4(core::array::from_fn(|i| self.0[i] + a.0[i]))
    }
    #[inline(always)]
    fn mul_add(self, a: Self, c: Self) -> Self {
        c.add(self.mul(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution, TensorData};

    /// The largest difference between two f32 tensors' values.
    fn max_diff(got: &TensorData, want: &TensorData) -> f32 {
        let (g, e) = (
            got.try_to_vec::<f32>().expect("f32"),
            want.try_to_vec::<f32>().expect("f32"),
        );
        g.iter()
            .zip(&e)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    }

    /// The integer kernel against f32 products on the same int8 weights, over row counts that
    /// hit the 4-row blocks and their tail, odd and even depths, zero and non-finite rows.
    #[test]
    fn int8_products_match_f32_on_the_same_weights() {
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        for (m, k, n) in [
            (1, 100, 256),
            (3, 7, 8),
            (4, 150, 64),
            (9, 129, 24),
            (64, 64, 16),
        ] {
            let w: Vec<f32> = (0..k * n).map(|_| next()).collect();
            let scales = crate::int8::scales(&w, &[k, n]);
            let q = crate::int8::quantize(&w, &[k, n], &scales);
            let deq = crate::int8::dequantize(&q, &[k, n], &scales);
            let g = Int8Gemm::new(&q, &scales, k, n).expect("valid sizes");
            let mut x: Vec<f32> = (0..m * k).map(|_| next() * 4.0).collect();
            x[..k].fill(0.0); // row 0 is zero: the bias
            let bias: Vec<f32> = (0..n).map(|_| next()).collect();
            let mut got = vec![0f32; m * n];
            gemm_int8(&x, m, &g, Some(&bias), &mut got);
            let mut want = vec![0f32; m * n];
            gemm_bias(&x, &deq, &bias, &mut want, m, k, n);
            for r in 0..m {
                // The rounding of x to 15 bits, relative to the row's size.
                let scale: f32 = x[r * k..(r + 1) * k].iter().map(|v| v.abs()).sum::<f32>() + 1.0;
                for j in 0..n {
                    let (a, b) = (got[r * n + j], want[r * n + j]);
                    assert!(
                        (a - b).abs() <= 1e-4 * scale,
                        "{m}x{k}x{n} row {r} col {j}: {a} vs {b}"
                    );
                }
            }
            assert_eq!(&got[..n], &bias[..], "a zero row gives the bias");
        }
        // A non-finite row gives NaN, like f32 arithmetic.
        let g = Int8Gemm::new(&[1; 16], &[1.0; 8], 2, 8).expect("valid sizes");
        let mut out = [0f32; 8];
        gemm_int8(&[f32::INFINITY, 1.0], 1, &g, None, &mut out);
        assert!(out.iter().all(|v| v.is_nan()), "{out:?}");
        assert!(
            Int8Gemm::new(&[0; 12], &[1.0; 6], 2, 6).is_none(),
            "n must be a multiple of 8"
        );
    }

    /// The kernel against burn's matmul, over shapes that hit every tile and the column tail.
    #[test]
    fn linear_matches_burn_matmul() {
        let device = Device::flex();
        for (m, k, n) in [
            (1, 100, 256),
            (1, 7, 45),
            (3, 33, 37),
            (4, 16, 8),
            (9, 150, 70),
            (64, 64, 36),
            (5, 19, 6),
        ] {
            let x = Tensor::<2>::random([m, k], Distribution::Normal(0.0, 1.0), &device);
            let w = Tensor::<2>::random([k, n], Distribution::Normal(0.0, 1.0), &device);
            let b = Tensor::<1>::random([n], Distribution::Normal(0.0, 1.0), &device);
            let want = (x.clone().matmul(w.clone()) + b.clone().unsqueeze()).into_data();
            let got = linear(x, w, b).into_data();
            assert_eq!(got.shape(), want.shape());
            let worst = max_diff(&got, &want);
            assert!(
                worst < 1e-4 * (k as f32).sqrt(),
                "{m}x{k}x{n}: off by {worst}"
            );
        }
        // A transposed (non-contiguous) weight goes through burn's matmul, with the same result.
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0], [1, 2]), &device);
        let wt = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0], [3, 2]),
            &device,
        );
        let b = Tensor::<1>::from_data(TensorData::new(vec![0.5f32; 3], [3]), &device);
        let y = linear(x, wt.transpose(), b)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(y, vec![1.5, 2.5, 3.5]);
    }

    #[test]
    fn tanh_is_tanh() {
        let worst = (-100_000..=100_000)
            .map(|i| i as f32 * 1e-4)
            .chain([-1e4, -9.0, 9.0, 1e4, 1e-9, -1e-9, 0.0])
            .map(|x| (tanh_f32(x) - x.tanh()).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-6, "off by {worst}");
        assert!(tanh_f32(f32::NAN).is_nan());
        let device = Device::flex();
        let x = Tensor::<2>::from_data(
            TensorData::new(vec![-2.0f32, 0.0, 0.5, 3.0], [2, 2]),
            &device,
        );
        let y = tanh(x).into_data().try_to_vec::<f32>().unwrap();
        let want = [-2.0f32, 0.0, 0.5, 3.0].map(f32::tanh);
        assert!(
            y.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{y:?}"
        );
    }

    /// The ConvTranspose kernel against burn-flex's, for the DCGAN's layer shapes and others.
    #[test]
    fn conv_transpose_matches_burn() {
        use burn::nn::conv::ConvTranspose2dConfig;
        let device = Device::flex();
        for (batch, cin, cout, k, s, p, po, hw, bias) in [
            (2, 16, 8, 4, 2, 1, 0, 7, false),
            (3, 8, 1, 4, 2, 1, 0, 14, true),
            (1, 5, 3, 3, 1, 0, 0, 6, true),
            (2, 4, 6, 3, 2, 1, 1, 5, true),
        ] {
            let layer = ConvTranspose2dConfig::new([cin, cout], [k, k])
                .with_stride([s, s])
                .with_padding([p, p])
                .with_padding_out([po, po])
                .with_bias(bias)
                .init(&device);
            let x = Tensor::<4>::random(
                [batch, cin, hw, hw],
                Distribution::Normal(0.0, 1.0),
                &device,
            );
            let want = layer.forward(x.clone()).into_data();
            let got = conv_transpose2d(&layer, x).into_data();
            assert_eq!(got.shape(), want.shape());
            let worst = max_diff(&got, &want);
            assert!(
                worst < 1e-4,
                "{batch}x{cin}x{hw}x{hw} -> {cout}: off by {worst}"
            );
        }
    }
}
