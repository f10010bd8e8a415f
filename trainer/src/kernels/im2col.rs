//! The one im2col / col2im of the project, and the GEMM that follows it, on plain contiguous
//! slices (f32 for training, f64 for the gradient tests).
//!
//! Why by hand: burn 0.22's CPU backend (burn-flex) runs the forward convolution as im2col +
//! GEMM, but no CPU backend overrides the convolution *backward*: burn's default decomposition
//! runs it as further convolutions with `swap_dims`, strided copies and a weight gradient
//! computed as a convolution, about 2x the time PyTorch needs for the same layer. Here every
//! pass is one im2col or col2im over contiguous buffers and one GEMM (the `gemm` crate, the one
//! burn-flex uses, AVX-512 where the CPU has it).
//!
//! Layouts: tensors are `[N, C, H, W]`; inside, images are transposed to `[C, H, W, N]` (batch
//! innermost), so im2col and col2im move runs of `N` values instead of single pixels. A column
//! matrix is `[C * KH * KW, OH * OW * N]`, row `(c, kh, kw)`, column `(oh, ow, n)`, so a weight
//! `[OC, C, KH, KW]` read as `[OC, C*KH*KW]` multiplies it from the left.

use std::ops::AddAssign;

use rayon::prelude::*;

/// Geometry of a 2-D convolution (dilation 1, one group): the large map is the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeom {
    /// Batch size.
    pub n: usize,
    /// Channels of the input map.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride (both axes).
    pub stride: usize,
    /// Zero padding (both sides, both axes).
    pub pad: usize,
}

impl ConvGeom {
    /// Output height.
    pub fn oh(&self) -> usize {
        (self.h + 2 * self.pad - self.kh) / self.stride + 1
    }
    /// Output width.
    pub fn ow(&self) -> usize {
        (self.w + 2 * self.pad - self.kw) / self.stride + 1
    }
    /// Rows of the column matrix: `C * KH * KW`.
    pub fn rows(&self) -> usize {
        self.c * self.kh * self.kw
    }
    /// Columns of the column matrix: `N * OH * OW`.
    pub fn cols(&self) -> usize {
        self.n * self.oh() * self.ow()
    }
    /// Whether the kernel fits the padded input.
    pub fn is_valid(&self) -> bool {
        self.stride > 0
            && self.kh > 0
            && self.kw > 0
            && self.h + 2 * self.pad >= self.kh
            && self.w + 2 * self.pad >= self.kw
    }
}

/// Values one parallel task should cover at least: rayon's per-task cost is a few
/// microseconds, so tasks over a 7x7 plane each would cost more than the work.
const TASK_VALUES: usize = 1 << 14;

/// The least number of items of `item_len` values to give one parallel task.
pub(crate) fn items_per_task(item_len: usize) -> usize {
    (TASK_VALUES / item_len.max(1)).max(1)
}

/// Element types the kernels run on.
pub trait Elem: Copy + Default + AddAssign + Send + Sync + 'static {
    /// 1.
    const ONE: Self;
}
impl Elem for f32 {
    const ONE: Self = 1.0;
}
impl Elem for f64 {
    const ONE: Self = 1.0;
}

/// The input range `[lo, hi)` of output positions `o` that read input `o * stride + k - pad`
/// inside `0..len`, for tap `k`.
fn valid_range(out: usize, len: usize, k: usize, stride: usize, pad: usize) -> (usize, usize) {
    // o * stride + k >= pad  and  o * stride + k - pad < len
    let lo = if k >= pad {
        0
    } else {
        (pad - k).div_ceil(stride)
    };
    let hi = if len + pad > k {
        ((len + pad - k - 1) / stride + 1).min(out)
    } else {
        0
    };
    (lo, hi.max(lo))
}

/// Image `[C, H, W, N]` (batch innermost) -> columns `[C*KH*KW, OH*OW*N]`, zeros where the
/// kernel reads padding. With the batch innermost every copy is a run of `N` values.
pub fn im2col<T: Elem>(x: &[T], g: &ConvGeom) -> Vec<T> {
    let (oh, ow, n) = (g.oh(), g.ow(), g.n);
    let row_len = oh * ow * n;
    let mut cols = vec![T::default(); g.rows() * row_len];
    cols.par_chunks_mut(row_len)
        .enumerate()
        .with_min_len(items_per_task(row_len))
        .for_each(|(r, row)| {
            let (c, ki, kj) = (r / (g.kh * g.kw), r / g.kw % g.kh, r % g.kw);
            let (ylo, yhi) = valid_range(oh, g.h, ki, g.stride, g.pad);
            let (xlo, xhi) = valid_range(ow, g.w, kj, g.stride, g.pad);
            for oy in ylo..yhi {
                let iy = oy * g.stride + ki - g.pad;
                for ox in xlo..xhi {
                    let ix = ox * g.stride + kj - g.pad;
                    let src = &x[((c * g.h + iy) * g.w + ix) * n..][..n];
                    row[(oy * ow + ox) * n..][..n].copy_from_slice(src);
                }
            }
        });
    cols
}

/// The adjoint of [`im2col`]: columns `[C*KH*KW, OH*OW*N]` summed back into `[C, H, W, N]`.
pub fn col2im<T: Elem>(cols: &[T], g: &ConvGeom) -> Vec<T> {
    let (oh, ow, n) = (g.oh(), g.ow(), g.n);
    let row_len = oh * ow * n;
    let plane = g.h * g.w * n;
    let mut x = vec![T::default(); g.c * plane];
    // Parallel over channels: each writes its own [H, W, N] block only.
    x.par_chunks_mut(plane).enumerate().for_each(|(c, dst)| {
        for ki in 0..g.kh {
            let (ylo, yhi) = valid_range(oh, g.h, ki, g.stride, g.pad);
            for kj in 0..g.kw {
                let (xlo, xhi) = valid_range(ow, g.w, kj, g.stride, g.pad);
                let row = &cols[((c * g.kh + ki) * g.kw + kj) * row_len..][..row_len];
                for oy in ylo..yhi {
                    let iy = oy * g.stride + ki - g.pad;
                    for ox in xlo..xhi {
                        let ix = ox * g.stride + kj - g.pad;
                        let d = &mut dst[(iy * g.w + ix) * n..][..n];
                        for (d, &v) in d.iter_mut().zip(&row[(oy * ow + ox) * n..][..n]) {
                            *d += v;
                        }
                    }
                }
            }
        }
    });
    x
}

/// `[R, C]` -> `[C, R]`, in cache-sized tiles.
pub fn transpose<T: Elem>(x: &[T], rows: usize, cols: usize) -> Vec<T> {
    const TILE: usize = 32;
    let mut out = vec![T::default(); x.len()];
    if x.is_empty() {
        return out;
    }
    // Output rows in groups of TILE (= input columns j0..j0+TILE), one task each.
    out.par_chunks_mut(TILE * rows)
        .enumerate()
        .for_each(|(bj, dst)| {
            let j0 = bj * TILE;
            let jn = (cols - j0).min(TILE);
            for i0 in (0..rows).step_by(TILE) {
                for i in i0..(i0 + TILE).min(rows) {
                    for (jj, &v) in x[i * cols + j0..][..jn].iter().enumerate() {
                        dst[jj * rows + i] = v;
                    }
                }
            }
        });
    out
}

/// A row-major matrix operand: `rows x cols` over `data`, or its transpose.
#[derive(Clone, Copy)]
pub struct Mat<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    transposed: bool,
}

impl<'a, T> Mat<'a, T> {
    /// `data` read as a row-major `rows x cols` matrix.
    pub fn new(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "matrix of {rows}x{cols}");
        Self {
            data,
            rows,
            cols,
            transposed: false,
        }
    }
    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Self {
            transposed: !self.transposed,
            ..self
        }
    }
    fn shape(&self) -> (usize, usize) {
        if self.transposed {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }
    /// (column stride, row stride) of the logical matrix.
    fn strides(&self) -> (isize, isize) {
        if self.transposed {
            (self.cols as isize, 1)
        } else {
            (1, self.cols as isize)
        }
    }
}

/// `a x b`, row-major `[a.rows, b.cols]`.
pub fn matmul<T: Elem>(a: Mat<T>, b: Mat<T>) -> Vec<T> {
    let (m, k) = a.shape();
    let (k2, n) = b.shape();
    assert_eq!(k, k2, "inner dimensions");
    let mut out = vec![T::default(); m * n];
    let (a_cs, a_rs) = a.strides();
    let (b_cs, b_rs) = b.strides();
    let ops = m.saturating_mul(n).saturating_mul(k);
    // Same rule as burn-flex: below ~2M multiply-adds, threads cost more than they save.
    let par = if ops >= 128 * 128 * 128 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the pointers cover `m x k`, `k x n` and `m x n` elements with the strides given
    // (checked by the shapes above and `Mat::new`), and `out` does not alias the inputs.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            T::default(),
            T::ONE,
            false,
            false,
            false,
            par,
        );
    }
    out
}

/// Sum over `[N, C, S]` of everything but `C`: the bias gradient.
pub fn sum_channels<T: Elem>(x: &[T], n: usize, c: usize, s: usize) -> Vec<T> {
    let mut out = vec![T::default(); c];
    for i in 0..n {
        for (ch, o) in out.iter_mut().enumerate() {
            for v in &x[(i * c + ch) * s..][..s] {
                *o += *v;
            }
        }
    }
    out
}

/// Adds `bias[c]` to every value of channel `c` of `[N, C, S]`.
pub fn add_bias<T: Elem>(x: &mut [T], bias: &[T], s: usize) {
    let c = bias.len();
    x.par_chunks_mut(s)
        .enumerate()
        .with_min_len(items_per_task(s))
        .for_each(|(i, plane)| {
            let b = bias[i % c];
            for v in plane {
                *v += b;
            }
        });
}

/// Column-matrix values one chunk of the batch may fill (16 MB of f32): large maps (64x64 RGB)
/// then neither allocate hundreds of megabytes per layer nor stream them through memory
/// between im2col and the GEMM; the 28x28 layers stay one chunk.
const CHUNK_COLS: usize = 1 << 22;

/// The batch split into chunks: `(first sample, samples)`.
fn batch_chunks(g: &ConvGeom) -> impl Iterator<Item = (usize, usize)> {
    let per_sample = g.rows() * g.oh() * g.ow();
    let size = (CHUNK_COLS / per_sample.max(1)).clamp(1, g.n.max(1));
    let n = g.n;
    (0..n)
        .step_by(size)
        .map(move |start| (start, size.min(n - start)))
}

fn with_batch(g: &ConvGeom, n: usize) -> ConvGeom {
    ConvGeom { n, ..*g }
}

/// `forward` over the batch in chunks (`x_len` / `y_len`: values per sample in and out), the
/// outputs concatenated.
fn chunked_forward<T: Elem>(
    x: &[T],
    g: &ConvGeom,
    (x_len, y_len): (usize, usize),
    forward: impl Fn(&[T], &ConvGeom) -> Vec<T>,
) -> Vec<T> {
    let mut y = Vec::with_capacity(g.n * y_len);
    for (start, n) in batch_chunks(g) {
        y.extend(forward(
            &x[start * x_len..(start + n) * x_len],
            &with_batch(g, n),
        ));
    }
    y
}

/// `backward` over the batch in chunks: the input gradients concatenated, the weight
/// gradients summed in chunk order (so the sum does not depend on threads).
fn chunked_backward<T: Elem>(
    x: &[T],
    dy: &[T],
    g: &ConvGeom,
    (x_len, y_len): (usize, usize),
    need_dx: bool,
    backward: impl Fn(&[T], &[T], &ConvGeom) -> (Option<Vec<T>>, Option<Vec<T>>),
) -> (Option<Vec<T>>, Option<Vec<T>>) {
    let mut dx = need_dx.then(|| Vec::with_capacity(g.n * x_len));
    let mut dw: Option<Vec<T>> = None;
    for (start, n) in batch_chunks(g) {
        let (dxc, dwc) = backward(
            &x[start * x_len..(start + n) * x_len],
            &dy[start * y_len..(start + n) * y_len],
            &with_batch(g, n),
        );
        if let (Some(dx), Some(dxc)) = (dx.as_mut(), dxc) {
            dx.extend(dxc);
        }
        match (dw.as_mut(), dwc) {
            (Some(acc), Some(part)) => acc.iter_mut().zip(part).for_each(|(a, p)| *a += p),
            (None, part) => dw = part,
            _ => {}
        }
    }
    (dx, dw)
}

/// Convolution forward: `x` `[N, C, H, W]`, `w` `[OC, C, KH, KW]` -> `[N, OC, OH, OW]`.
pub fn conv_forward<T: Elem>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &ConvGeom,
    oc: usize,
) -> Vec<T> {
    let lens = (g.c * g.h * g.w, oc * g.oh() * g.ow());
    chunked_forward(x, g, lens, |x, g| conv_forward_chunk(x, w, bias, g, oc))
}

/// Convolution backward: `(dx, dw, dbias)` for the output gradient `dy` `[N, OC, OH, OW]`.
/// `need_dx` / `need_dw` skip the GEMMs nobody asked for.
pub fn conv_backward<T: Elem>(
    x: &[T],
    w: &[T],
    dy: &[T],
    g: &ConvGeom,
    oc: usize,
    need_dx: bool,
    need_dw: bool,
) -> (Option<Vec<T>>, Option<Vec<T>>, Vec<T>) {
    let lens = (g.c * g.h * g.w, oc * g.oh() * g.ow());
    let (dx, dw) = chunked_backward(x, dy, g, lens, need_dx, |x, dy, g| {
        conv_backward_chunk(x, w, dy, g, oc, need_dx, need_dw)
    });
    (dx, dw, sum_channels(dy, g.n, oc, g.oh() * g.ow()))
}

/// Transposed convolution forward: `x` `[N, IC, H, W]`, `w` `[IC, OC, KH, KW]` ->
/// `[N, OC, OH, OW]`, where `g` is the geometry of the *matching convolution* (its input is
/// the transposed convolution's `[N, OC, OH, OW]` output).
pub fn conv_transpose_forward<T: Elem>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &ConvGeom,
    ic: usize,
) -> Vec<T> {
    let lens = (ic * g.oh() * g.ow(), g.c * g.h * g.w);
    chunked_forward(x, g, lens, |x, g| {
        conv_transpose_forward_chunk(x, w, bias, g, ic)
    })
}

/// Transposed convolution backward: `(dx, dw, dbias)` for `dy` `[N, OC, OH', OW']` (the
/// matching convolution's input shape).
pub fn conv_transpose_backward<T: Elem>(
    x: &[T],
    w: &[T],
    dy: &[T],
    g: &ConvGeom,
    ic: usize,
    need_dx: bool,
    need_dw: bool,
) -> (Option<Vec<T>>, Option<Vec<T>>, Vec<T>) {
    let lens = (ic * g.oh() * g.ow(), g.c * g.h * g.w);
    let (dx, dw) = chunked_backward(x, dy, g, lens, need_dx, |x, dy, g| {
        conv_transpose_backward_chunk(x, w, dy, g, ic, need_dx, need_dw)
    });
    (dx, dw, sum_channels(dy, g.n, g.c, g.h * g.w))
}

/// [`conv_forward`] on one chunk of the batch.
fn conv_forward_chunk<T: Elem>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &ConvGeom,
    oc: usize,
) -> Vec<T> {
    let s = g.oh() * g.ow();
    let cols = im2col(&transpose(x, g.n, g.c * g.h * g.w), g);
    // [OC, OH*OW*N] = [OC*OH*OW, N] -> [N, OC*OH*OW]
    let y = matmul(
        Mat::new(w, oc, g.rows()),
        Mat::new(&cols, g.rows(), g.cols()),
    );
    let mut y = transpose(&y, oc * s, g.n);
    if let Some(b) = bias {
        add_bias(&mut y, b, s);
    }
    y
}

/// [`conv_backward`] on one chunk of the batch.
fn conv_backward_chunk<T: Elem>(
    x: &[T],
    w: &[T],
    dy: &[T],
    g: &ConvGeom,
    oc: usize,
    need_dx: bool,
    need_dw: bool,
) -> (Option<Vec<T>>, Option<Vec<T>>) {
    let s = g.oh() * g.ow();
    // dy as [OC, OH*OW*N]: the layout the column matrix multiplies.
    let dy_t = transpose(dy, g.n, oc * s);
    let dy_m = Mat::new(&dy_t, oc, g.cols());
    let dw = need_dw.then(|| {
        let cols = im2col(&transpose(x, g.n, g.c * g.h * g.w), g);
        // dW^T = cols dy^T, then transposed: the GEMM reads the long `OH*OW*N` axis
        // contiguously in both operands, about 2x faster here than `dy cols^T`.
        let dw_t = matmul(Mat::new(&cols, g.rows(), g.cols()), dy_m.t());
        transpose(&dw_t, g.rows(), oc)
    });
    let dx = need_dx.then(|| {
        let dcols = matmul(Mat::new(w, oc, g.rows()).t(), dy_m);
        transpose(&col2im(&dcols, g), g.c * g.h * g.w, g.n)
    });
    (dx, dw)
}

/// [`conv_transpose_forward`] on one chunk of the batch.
fn conv_transpose_forward_chunk<T: Elem>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &ConvGeom,
    ic: usize,
) -> Vec<T> {
    let s = g.oh() * g.ow();
    let x_t = transpose(x, g.n, ic * s);
    let cols = matmul(Mat::new(w, ic, g.rows()).t(), Mat::new(&x_t, ic, g.cols()));
    let mut y = transpose(&col2im(&cols, g), g.c * g.h * g.w, g.n);
    if let Some(b) = bias {
        add_bias(&mut y, b, g.h * g.w);
    }
    y
}

/// [`conv_transpose_backward`] on one chunk of the batch.
fn conv_transpose_backward_chunk<T: Elem>(
    x: &[T],
    w: &[T],
    dy: &[T],
    g: &ConvGeom,
    ic: usize,
    need_dx: bool,
    need_dw: bool,
) -> (Option<Vec<T>>, Option<Vec<T>>) {
    let s = g.oh() * g.ow();
    let cols = im2col(&transpose(dy, g.n, g.c * g.h * g.w), g);
    let cols_m = Mat::new(&cols, g.rows(), g.cols());
    let dx = need_dx.then(|| {
        let dx_t = matmul(Mat::new(w, ic, g.rows()), cols_m);
        transpose(&dx_t, ic * s, g.n)
    });
    let dw = need_dw.then(|| {
        let x_t = transpose(x, g.n, ic * s);
        // As in `conv_backward`: dW^T = cols x^T, then transposed.
        let dw_t = matmul(cols_m, Mat::new(&x_t, ic, g.cols()).t());
        transpose(&dw_t, g.rows(), ic)
    });
    (dx, dw)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct-loop convolution, the definition.
    fn naive_conv(x: &[f64], w: &[f64], g: &ConvGeom, oc: usize) -> Vec<f64> {
        let (oh, ow) = (g.oh(), g.ow());
        let mut y = vec![0.0; g.n * oc * oh * ow];
        for n in 0..g.n {
            for o in 0..oc {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = 0.0;
                        for c in 0..g.c {
                            for ki in 0..g.kh {
                                for kj in 0..g.kw {
                                    let iy = (oy * g.stride + ki) as isize - g.pad as isize;
                                    let ix = (ox * g.stride + kj) as isize - g.pad as isize;
                                    if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize
                                    {
                                        continue;
                                    }
                                    acc += x
                                        [((n * g.c + c) * g.h + iy as usize) * g.w + ix as usize]
                                        * w[((o * g.c + c) * g.kh + ki) * g.kw + kj];
                                }
                            }
                        }
                        y[((n * oc + o) * oh + oy) * ow + ox] = acc;
                    }
                }
            }
        }
        y
    }

    fn seq(n: usize, seed: u64) -> Vec<f64> {
        gan_runtime::latent(seed, 0, n)
            .into_iter()
            .map(f64::from)
            .collect()
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    const GEOMS: [ConvGeom; 5] = [
        ConvGeom {
            n: 2,
            c: 3,
            h: 8,
            w: 6,
            kh: 4,
            kw: 4,
            stride: 2,
            pad: 1,
        },
        ConvGeom {
            n: 1,
            c: 2,
            h: 5,
            w: 7,
            kh: 3,
            kw: 3,
            stride: 1,
            pad: 1,
        },
        ConvGeom {
            n: 3,
            c: 1,
            h: 4,
            w: 4,
            kh: 4,
            kw: 4,
            stride: 2,
            pad: 1,
        },
        ConvGeom {
            n: 2,
            c: 2,
            h: 9,
            w: 5,
            kh: 3,
            kw: 2,
            stride: 3,
            pad: 2,
        },
        // 262,144 column values per sample: the batch of 20 runs in chunks of 16 and 4.
        ConvGeom {
            n: 20,
            c: 64,
            h: 32,
            w: 32,
            kh: 4,
            kw: 4,
            stride: 2,
            pad: 1,
        },
    ];

    #[test]
    fn forward_matches_the_definition() {
        for g in GEOMS {
            let oc = 3;
            let x = seq(g.n * g.c * g.h * g.w, 1);
            let w = seq(oc * g.rows(), 2);
            let ours = conv_forward(&x, &w, None, &g, oc);
            let want = naive_conv(&x, &w, &g, oc);
            let d = ours
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(d < 1e-12, "{g:?}: {d}");
        }
    }

    /// `<conv(x), dy> = <x, dx(dy)> = <w, dw(dy)>`: the backward passes are the adjoints, and
    /// the transposed convolution's forward is the convolution's input gradient.
    #[test]
    fn backward_and_transpose_are_adjoints() {
        for g in GEOMS {
            let oc = 3;
            let x = seq(g.n * g.c * g.h * g.w, 3);
            let w = seq(oc * g.rows(), 4);
            let dy = seq(g.n * oc * g.oh() * g.ow(), 5);
            let y = conv_forward(&x, &w, None, &g, oc);
            let (dx, dw, db) = conv_backward(&x, &w, &dy, &g, oc, true, true);
            let (dx, dw) = (dx.unwrap(), dw.unwrap());
            let lhs = dot(&y, &dy);
            assert!(
                (lhs - dot(&x, &dx)).abs() < 1e-9 * (1.0 + lhs.abs()),
                "{g:?} dx"
            );
            assert!(
                (lhs - dot(&w, &dw)).abs() < 1e-9 * (1.0 + lhs.abs()),
                "{g:?} dw"
            );
            assert!((db.iter().sum::<f64>() - dy.iter().sum::<f64>()).abs() < 1e-9);

            // Transposed conv with the same weights read as [IC = oc, OC = c, kh, kw].
            let t = conv_transpose_forward(&dy, &w, None, &g, oc);
            assert!(
                t.iter().zip(&dx).all(|(a, b)| (a - b).abs() < 1e-12),
                "{g:?} transpose"
            );
            let (tdx, tdw, _) = conv_transpose_backward(&dy, &w, &x, &g, oc, true, true);
            let tdx = tdx.unwrap();
            // d<convT(dy), x>/d dy = conv(x); d/dw = the conv weight gradient with roles swapped.
            assert!(
                tdx.iter().zip(&y).all(|(a, b)| (a - b).abs() < 1e-12),
                "{g:?} transpose dx"
            );
            assert!(
                tdw.unwrap()
                    .iter()
                    .zip(&dw)
                    .all(|(a, b)| (a - b).abs() < 1e-12),
                "{g:?} transpose dw"
            );
        }
    }
}
