//! Our own ops where burn's stock ones are slow on the CPU: the one convolution and transposed
//! convolution every network here uses (DCGAN G and D, the evaluation classifier).
//!
//! On burn-flex (the CPU device) they run [`im2col`]'s kernels with our own backward pass, as
//! a burn backend extension ([`backend::KernelBackend`]); on any other device (CUDA, wgpu)
//! they are burn's own `conv2d` / `conv_transpose2d`, which those backends implement well.
//! `trainer/tests/gradients.rs` checks values and gradients against burn's ops in f64.
//!
//! ```
//! use burn::prelude::*;
//! use gan_trainer::kernels::{conv2d, Conv};
//!
//! let device = gan_trainer::device::cpu();
//! let x = Tensor::<4>::ones([2, 3, 8, 8], &device);
//! let w = Tensor::<4>::ones([5, 3, 4, 4], &device);
//! let y = conv2d(x, w, None, Conv { stride: 2, pad: 1 });
//! assert_eq!(y.dims(), [2, 5, 4, 4]);
//! ```

pub mod backend;
pub mod im2col;

use burn::backend::Dispatch;
use burn::prelude::*;
use burn::tensor::module;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

use backend::KernelBackend;

/// Stride and zero padding of a square-kernel convolution (dilation 1, one group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv {
    /// Stride, both axes.
    pub stride: usize,
    /// Padding, both sides of both axes.
    pub pad: usize,
}

/// Whether `t` lives on the CPU backend our kernels are written for.
fn on_flex<const D: usize>(t: &Tensor<D>) -> bool {
    t.device().inner() == Device::flex()
}

/// `conv2d(x [N, C, H, W], w [OC, C, K, K], bias [OC])` -> `[N, OC, OH, OW]`.
pub fn conv2d(x: Tensor<4>, w: Tensor<4>, bias: Option<Tensor<1>>, c: Conv) -> Tensor<4> {
    if !on_flex(&x) {
        let opts = ConvOptions::new([c.stride; 2], [c.pad; 2], [1, 1], 1);
        return module::conv2d(x, w, bias, opts);
    }
    let (x, w) = (x.into_dispatch(), w.into_dispatch());
    Tensor::from_dispatch(match bias {
        Some(b) => Dispatch::kernel_conv2d_bias(x, w, b.into_dispatch(), c.stride, c.pad),
        None => Dispatch::kernel_conv2d(x, w, c.stride, c.pad),
    })
}

/// `conv_transpose2d(x [N, IC, H, W], w [IC, OC, K, K], bias [OC])` -> `[N, OC, OH, OW]` with
/// `OH = (H - 1) * stride + K - 2 * pad` (no output padding). With the same weights it is the
/// input gradient of [`conv2d`].
pub fn conv_transpose2d(x: Tensor<4>, w: Tensor<4>, bias: Option<Tensor<1>>, c: Conv) -> Tensor<4> {
    if !on_flex(&x) {
        let opts = ConvTransposeOptions::new([c.stride; 2], [c.pad; 2], [0, 0], [1, 1], 1);
        return module::conv_transpose2d(x, w, bias, opts);
    }
    let (x, w) = (x.into_dispatch(), w.into_dispatch());
    Tensor::from_dispatch(match bias {
        Some(b) => Dispatch::kernel_conv_transpose2d_bias(x, w, b.into_dispatch(), c.stride, c.pad),
        None => Dispatch::kernel_conv_transpose2d(x, w, c.stride, c.pad),
    })
}
