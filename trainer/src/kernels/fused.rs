//! Fused layers on plain contiguous slices: linear + bias + activation, batch norm (batch
//! statistics) + activation, and a lone activation, each with its backward pass.
//!
//! Why by hand: through burn's stock ops, `leaky_relu(x W + b)` is a matmul, a broadcast add
//! and a `mask_where`, each a pass over memory forward and more backward (burn-flex's
//! `mask_where` alone was 11% of a DCGAN step), and batch norm's backward is a dozen reductions
//! and broadcasts with `swap_dims` copies. Here each layer is one GEMM (where it has one) plus
//! one pass forward, and one pass plus GEMMs backward. Every activation used here keeps the sign
//! of its input (or is tanh), so its derivative is read off the *output*, which the backward
//! pass keeps anyway.

use rayon::prelude::*;

use super::im2col::{items_per_task, matmul, Elem, Mat};

/// An activation fused into a layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    /// None.
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `x` if `x > 0`, else `slope * x` (`slope > 0`).
    LeakyRelu(f64),
    /// `tanh(x)`.
    Tanh,
}

/// Float operations the fused kernels need beyond [`Elem`].
pub trait Float:
    Elem
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Sub<Output = Self>
{
    /// From f64.
    fn of(v: f64) -> Self;
    /// To f64 (statistics are accumulated in f64).
    fn f64(self) -> f64;
    /// tanh.
    fn tanh(self) -> Self;
}
impl Float for f32 {
    fn of(v: f64) -> Self {
        v as f32
    }
    fn f64(self) -> f64 {
        self as f64
    }
    fn tanh(self) -> Self {
        f32::tanh(self)
    }
}
impl Float for f64 {
    fn of(v: f64) -> Self {
        v
    }
    fn f64(self) -> f64 {
        self
    }
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
}

impl Act {
    /// `act(z)`.
    #[inline]
    pub fn apply<T: Float>(self, z: T) -> T {
        match self {
            Act::Identity => z,
            Act::Relu => {
                if z > T::default() {
                    z
                } else {
                    T::default()
                }
            }
            Act::LeakyRelu(s) => {
                if z > T::default() {
                    z
                } else {
                    z * T::of(s)
                }
            }
            Act::Tanh => z.tanh(),
        }
    }

    /// `act'(z)` from `y = act(z)`.
    #[inline]
    pub fn derivative_at_output<T: Float>(self, y: T) -> T {
        match self {
            Act::Identity => T::ONE,
            Act::Relu => {
                if y > T::default() {
                    T::ONE
                } else {
                    T::default()
                }
            }
            Act::LeakyRelu(s) => {
                if y > T::default() {
                    T::ONE
                } else {
                    T::of(s)
                }
            }
            Act::Tanh => T::ONE - y * y,
        }
    }
}

/// Values per parallel task in elementwise passes (below this, threads cost more than they
/// save).
const CHUNK: usize = 1 << 14;

/// `act` applied to every value, in place.
pub fn act_in_place<T: Float>(x: &mut [T], act: Act) {
    if act == Act::Identity {
        return;
    }
    x.par_chunks_mut(CHUNK)
        .for_each(|c| c.iter_mut().for_each(|v| *v = act.apply(*v)));
}

/// `dy * act'` from the output `y`: the gradient at the activation's input.
pub fn act_backward<T: Float>(y: &[T], dy: &[T], act: Act) -> Vec<T> {
    let mut dz = dy.to_vec();
    if act == Act::Identity {
        return dz;
    }
    dz.par_chunks_mut(CHUNK)
        .zip(y.par_chunks(CHUNK))
        .for_each(|(d, y)| {
            d.iter_mut()
                .zip(y)
                .for_each(|(d, &y)| *d = *d * act.derivative_at_output(y))
        });
    dz
}

/// `act(x W + b)`: `x` `[N, I]`, `w` `[I, O]` (burn's `Linear` layout), `b` `[O]`.
pub fn linear_forward<T: Float>(x: &[T], w: &[T], b: &[T], n: usize, act: Act) -> Vec<T> {
    let (i, o) = (x.len() / n.max(1), b.len());
    let mut y = matmul(Mat::new(x, n, i), Mat::new(w, i, o));
    y.par_chunks_mut(o * (CHUNK / o.max(1)).max(1))
        .for_each(|rows| {
            for row in rows.chunks_mut(o) {
                for (v, &bb) in row.iter_mut().zip(b) {
                    *v = act.apply(*v + bb);
                }
            }
        });
    y
}

/// Gradients `(dx, dw, db)` of [`linear_forward`] from its output `y` and output gradient `dy`;
/// `need_dx` skips the input gradient.
pub fn linear_backward<T: Float>(
    x: &[T],
    w: &[T],
    y: &[T],
    dy: &[T],
    n: usize,
    act: Act,
    need_dx: bool,
) -> (Option<Vec<T>>, Vec<T>, Vec<T>) {
    let o = y.len() / n.max(1);
    let i = x.len() / n.max(1);
    let dz = act_backward(y, dy, act);
    let mut db = vec![T::default(); o];
    for row in dz.chunks(o) {
        for (d, &v) in db.iter_mut().zip(row) {
            *d += v;
        }
    }
    let dz_m = Mat::new(&dz, n, o);
    let dw = matmul(Mat::new(x, n, i).t(), dz_m);
    let dx = need_dx.then(|| matmul(dz_m, Mat::new(w, i, o).t()));
    (dx, dw, db)
}

/// Per-channel mean and biased variance of `[N, C, S]` (two passes, accumulated in f64).
pub fn channel_stats<T: Float>(x: &[T], n: usize, c: usize, s: usize) -> (Vec<f64>, Vec<f64>) {
    let planes = |ch: usize| (0..n).map(move |i| &x[(i * c + ch) * s..][..s]);
    (0..c)
        .into_par_iter()
        .map(|ch| {
            let m = (n * s) as f64;
            let mean = planes(ch).flatten().map(|v| v.f64()).sum::<f64>() / m;
            let var = planes(ch)
                .flatten()
                .map(|v| (v.f64() - mean) * (v.f64() - mean))
                .sum::<f64>()
                / m;
            (mean, var)
        })
        .unzip()
}

/// Batch norm with batch statistics, then `act`: `x` `[N, C, S]`, `gamma`/`beta` `[C]`.
/// Returns the output and the batch mean and biased variance (for the running statistics).
pub fn batch_norm_forward<T: Float>(
    x: &[T],
    gamma: &[T],
    beta: &[T],
    n: usize,
    s: usize,
    eps: f64,
    act: Act,
) -> (Vec<T>, Vec<f64>, Vec<f64>) {
    let c = gamma.len();
    let (mean, var) = channel_stats(x, n, c, s);
    let mut y = vec![T::default(); x.len()];
    y.par_chunks_mut(s)
        .enumerate()
        .with_min_len(items_per_task(s))
        .for_each(|(nc, out)| {
            let ch = nc % c;
            let scale = gamma[ch].f64() / (var[ch] + eps).sqrt();
            let shift = beta[ch].f64() - mean[ch] * scale;
            let (scale, shift) = (T::of(scale), T::of(shift));
            for (o, &v) in out.iter_mut().zip(&x[nc * s..][..s]) {
                *o = act.apply(v * scale + shift);
            }
        });
    (y, mean, var)
}

/// Gradients `(dx, dgamma, dbeta)` of [`batch_norm_forward`] from its input, output and
/// output gradient.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward<T: Float>(
    x: &[T],
    gamma: &[T],
    y: &[T],
    dy: &[T],
    n: usize,
    s: usize,
    eps: f64,
    act: Act,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let c = gamma.len();
    let (mean, var) = channel_stats(x, n, c, s);
    let dz = act_backward(y, dy, act);
    // Per channel: sum(dz) and sum(dz * xhat).
    let (dbeta, dgamma): (Vec<f64>, Vec<f64>) = (0..c)
        .into_par_iter()
        .map(|ch| {
            let inv = 1.0 / (var[ch] + eps).sqrt();
            let (mut sd, mut sdx) = (0.0f64, 0.0f64);
            for i in 0..n {
                let at = (i * c + ch) * s;
                for (&d, &v) in dz[at..at + s].iter().zip(&x[at..at + s]) {
                    let d = d.f64();
                    sd += d;
                    sdx += d * (v.f64() - mean[ch]) * inv;
                }
            }
            (sd, sdx)
        })
        .unzip();
    let m = (n * s) as f64;
    let mut dx = vec![T::default(); x.len()];
    dx.par_chunks_mut(s)
        .enumerate()
        .with_min_len(items_per_task(s))
        .for_each(|(nc, out)| {
            let ch = nc % c;
            let inv = 1.0 / (var[ch] + eps).sqrt();
            let k = gamma[ch].f64() * inv / m;
            let at = nc * s;
            for ((o, &d), &v) in out.iter_mut().zip(&dz[at..at + s]).zip(&x[at..at + s]) {
                let xhat = (v.f64() - mean[ch]) * inv;
                *o = T::of(k * (m * d.f64() - dbeta[ch] - xhat * dgamma[ch]));
            }
        });
    let to_t = |v: Vec<f64>| v.into_iter().map(T::of).collect();
    (dx, to_t(dgamma), to_t(dbeta))
}
