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
pub mod fused;
pub mod im2col;

use burn::backend::Dispatch;
use burn::nn::{BatchNorm, Linear};
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

pub use fused::Act;

/// `act(x W + b)` of a burn `Linear` (which must have a bias): `x` `[N, in]` -> `[N, out]`,
/// one GEMM and one pass, with its own backward pass on the CPU.
pub fn linear(x: Tensor<2>, layer: &Linear, act: Act) -> Tensor<2> {
    let bias = layer
        .bias
        .as_ref()
        .expect("the networks' linear layers all have a bias");
    linear_with(x, layer.weight.val(), bias.val(), act)
}

/// [`linear`] with the weight `w` `[in, out]` and bias `b` `[out]` given as tensors, e.g. a
/// spectrally normalized weight (gradients flow into whatever computed them).
///
/// ```
/// use burn::prelude::*;
/// use gan_trainer::kernels::{linear_with, Act};
///
/// let device = gan_trainer::device::cpu();
/// let x = Tensor::<2>::ones([3, 2], &device);
/// let w = Tensor::<2>::ones([2, 4], &device);
/// let b = Tensor::<1>::zeros([4], &device);
/// let y: Vec<f32> = linear_with(x, w, b, Act::Identity).into_data().try_into_vec().unwrap();
/// assert_eq!(y, vec![2.0; 12]);
/// ```
pub fn linear_with(x: Tensor<2>, w: Tensor<2>, b: Tensor<1>, act: Act) -> Tensor<2> {
    if !on_flex(&x) {
        return activation(module::linear(x, w, Some(b)), act);
    }
    Tensor::from_dispatch(Dispatch::kernel_linear(
        x.into_dispatch(),
        w.into_dispatch(),
        b.into_dispatch(),
        act,
    ))
}

/// `act(x)`, elementwise, with its own backward pass on the CPU.
pub fn activation<const D: usize>(x: Tensor<D>, act: Act) -> Tensor<D> {
    if !on_flex(&x) {
        return match act {
            Act::Identity => x,
            Act::Relu => burn::tensor::activation::relu(x),
            Act::LeakyRelu(s) => burn::tensor::activation::leaky_relu(x, s),
            Act::Tanh => burn::tensor::activation::tanh(x),
        };
    }
    Tensor::from_dispatch(Dispatch::kernel_activation(x.into_dispatch(), act))
}

/// `act(norm(x))` for `x` `[N, C, ...]`. While training (autodiff device, layer not frozen)
/// it normalizes with the batch statistics and updates the running ones as burn's
/// `BatchNorm` does (PyTorch's rule: `running = (1 - momentum) running + momentum batch`, biased
/// batch variance, as burn); otherwise it uses the running statistics.
pub fn batch_norm<const D: usize>(x: Tensor<D>, norm: &BatchNorm, act: Act) -> Tensor<D> {
    let training = x.device().is_autodiff() && norm.training.is_enabled();
    if !training || !on_flex(&x) {
        return activation(norm.forward(x), act);
    }
    let device = x.device();
    let (y, mean, var) = Dispatch::kernel_batch_norm(
        x.into_dispatch(),
        norm.gamma.val().into_dispatch(),
        norm.beta.val().into_dispatch(),
        norm.epsilon,
        act,
    );
    let (mean, var): (Tensor<1>, Tensor<1>) =
        (Tensor::from_dispatch(mean), Tensor::from_dispatch(var));
    let m = norm.momentum;
    let running_mean = norm.running_mean.value_sync().to_device(&device);
    let running_var = norm.running_var.value_sync().to_device(&device);
    norm.running_mean
        .update((running_mean.mul_scalar(1.0 - m) + mean.detach().mul_scalar(m)).detach());
    norm.running_var
        .update((running_var.mul_scalar(1.0 - m) + var.detach().mul_scalar(m)).detach());
    Tensor::from_dispatch(y)
}
