//! The two convolutions DCGAN uses — kernel 4, stride 2, padding 1, halving or doubling the
//! side — written as one matrix product each (im2col / col2im), so they run on OpenBLAS.
//!
//! Why by hand: burn-ndarray 0.21 computes `conv2d` and `conv_transpose2d` (and their
//! backward passes) with direct nested loops, which made a DCGAN step on 28x28 images take
//! about 10 s on two cores. Here each convolution is reshapes, slices, one concatenation and one
//! GEMM, all ordinary differentiable burn ops, so autodiff handles the backward pass and the
//! GEMMs dominate. `trainer/tests/gradients.rs` checks both, and their gradients, against
//! burn's own convolutions.
//!
//! The stride-2 trick: after padding, an even-sided map `[H', W']` reshaped to
//! `[H'/2, 2, W'/2, 2]` holds pixel `(2i + p, 2j + q)` at `[i, p, j, q]`. A kernel tap
//! `kh = 2a + p` at output row `o` reads padded row `2o + kh = 2(o + a) + p`, that is rows
//! `a .. a + OH` of phase `p`: a plain (unit-step) slice.

use burn::prelude::*;

/// Kernel side.
pub const K: usize = 4;

/// `conv2d(x, w, bias)` with kernel 4, stride 2, padding 1: `x` `[N, C, H, W]` with even
/// `H`, `W`; `w` `[OC, C, 4, 4]` -> `[N, OC, H/2, W/2]`.
pub fn conv2d_down<B: Backend>(
    x: Tensor<B, 4>,
    w: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, 4> {
    let [n, c, h, wd] = x.dims();
    let oc = w.dims()[0];
    let (oh, ow) = (h / 2, wd / 2);
    let xp = pad_dim(pad_dim(x, 2, 1, 1), 3, 1, 1);
    let r: Tensor<B, 6> = xp.reshape([n, c, oh + 1, 2, ow + 1, 2]);
    let mut taps = Vec::with_capacity(K * K);
    for kh in 0..K {
        let (a, p) = (kh / 2, kh % 2);
        for kw in 0..K {
            let (b, q) = (kw / 2, kw % 2);
            let tap = r
                .clone()
                .slice([0..n, 0..c, a..a + oh, p..p + 1, b..b + ow, q..q + 1]);
            taps.push(tap.reshape([n, c, 1, oh * ow]));
        }
    }
    // [N, C, 16, OH*OW] -> rows (n, oh, ow), columns (c, kh, kw): the layout of w's rows.
    let cols = Tensor::cat(taps, 2)
        .reshape([n, c * K * K, oh * ow])
        .swap_dims(1, 2)
        .reshape([n * oh * ow, c * K * K]);
    let mut y = cols.matmul(w.reshape([oc, c * K * K]).transpose());
    if let Some(b) = bias {
        y = y + b.reshape([1, oc]);
    }
    y.reshape([n, oh * ow, oc])
        .swap_dims(1, 2)
        .reshape([n, oc, oh, ow])
}

/// `conv_transpose2d(x, w, bias)` with kernel 4, stride 2, padding 1: `x` `[N, IC, H, W]`,
/// `w` `[IC, OC, 4, 4]` -> `[N, OC, 2H, 2W]`. Also the input gradient of [`conv2d_down`]
/// with the same weights.
pub fn conv_transpose2d_up<B: Backend>(
    x: Tensor<B, 4>,
    w: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, 4> {
    let [n, ic, h, wd] = x.dims();
    let oc = w.dims()[1];
    let cols = x
        .reshape([n, ic, h * wd])
        .swap_dims(1, 2)
        .reshape([n * h * wd, ic]);
    // Every input pixel's contribution to its 4x4 output window, per output channel.
    let y: Tensor<B, 6> = cols
        .matmul(w.reshape([ic, oc * K * K]))
        .reshape([n, h, wd, oc, K, K]);
    // Tap (kh = 2a + p, kw = 2b + q) of input (i, j) lands on padded output (2(i+a)+p,
    // 2(j+b)+q): block (a, b) is the phases (p, q) shifted by (a, b).
    let mut sum: Option<Tensor<B, 6>> = None;
    for a in 0..2 {
        for b in 0..2 {
            let block = y
                .clone()
                .slice([0..n, 0..h, 0..wd, 0..oc, 2 * a..2 * a + 2, 2 * b..2 * b + 2])
                .permute([0, 3, 1, 4, 2, 5]); // [N, OC, H, 2, W, 2]
            let block = pad_dim(pad_dim(block, 2, a, 1 - a), 4, b, 1 - b);
            sum = Some(match sum {
                Some(s) => s + block,
                None => block,
            });
        }
    }
    let full: Tensor<B, 4> = sum
        .expect("four blocks")
        .reshape([n, oc, 2 * h + 2, 2 * wd + 2]);
    let mut out = full.slice([0..n, 0..oc, 1..2 * h + 1, 1..2 * wd + 1]);
    if let Some(b) = bias {
        out = out + b.reshape([1, oc, 1, 1]);
    }
    out
}

/// `t` with `before` zeros prepended and `after` appended along `dim`.
fn pad_dim<B: Backend, const D: usize>(
    t: Tensor<B, D>,
    dim: usize,
    before: usize,
    after: usize,
) -> Tensor<B, D> {
    if before == 0 && after == 0 {
        return t;
    }
    let mut parts = Vec::with_capacity(3);
    let zeros = |len: usize, t: &Tensor<B, D>| {
        let mut dims = t.dims();
        dims[dim] = len;
        Tensor::<B, D>::zeros(dims, &t.device()).cast(t.dtype())
    };
    if before > 0 {
        parts.push(zeros(before, &t));
    }
    let z_after = (after > 0).then(|| zeros(after, &t));
    parts.push(t);
    parts.extend(z_after);
    Tensor::cat(parts, dim)
}
