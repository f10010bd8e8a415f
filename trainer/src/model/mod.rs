//! GAN networks (burn modules) and their seeded initialization.

pub mod dcgan;
pub mod ema;
pub mod fastgan;
pub mod mlp;
pub mod net;
pub mod spectral;

pub use net::{Discriminator, Generator, NetConfig};

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use rand::Rng;

/// Image geometry a generator produces and a discriminator reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageShape {
    /// Channels.
    pub channels: usize,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
}

impl ImageShape {
    /// `C * H * W`.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }
    /// Whether the shape holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Weight initialization schemes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Init {
    /// PyTorch's `nn.Linear` default: weights and bias from U(-1/sqrt(d_in), 1/sqrt(d_in)).
    #[default]
    Pytorch,
    /// Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (d_in + d_out)); bias 0.
    Xavier,
    /// N(0, 0.02) as in the DCGAN paper; bias 0.
    Normal,
}

/// Generator and discriminator architecture.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// Fully connected networks (the reference notebooks' GAN).
    #[default]
    Mlp,
    /// DCGAN (Radford et al. 2016): transposed convolutions with batch norm in G, strided
    /// convolutions in D.
    Dcgan,
    /// FastGAN-lite (Liu et al. 2021): G upsamples by nearest 2x + 3x3 convolution with GLU
    /// and skip-layer excitation (no transposed convolution: int8 in ONNX Runtime, no
    /// checkerboard); D is DCGAN's at twice the width, with a decoder that reconstructs real
    /// images from its features (see [`fastgan`]).
    Fastgan,
}

impl Arch {
    /// The name recorded in `gan.arch`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Mlp => "mlp",
            Arch::Dcgan => "dcgan",
            Arch::Fastgan => "fastgan",
        }
    }
}

/// `n` weights of a layer with the given fans, drawn from `rng` per `init` (PyTorch's default
/// is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), which is what kaiming_uniform(a=sqrt(5)) reduces to).
pub fn init_weights(
    n: usize,
    fan_in: usize,
    fan_out: usize,
    init: Init,
    rng: &mut impl Rng,
) -> Vec<f32> {
    match init {
        Init::Pytorch => {
            let k = 1.0 / (fan_in.max(1) as f32).sqrt();
            (0..n).map(|_| rng.random_range(-k..k)).collect()
        }
        Init::Xavier => {
            let a = (6.0 / (fan_in + fan_out).max(1) as f32).sqrt();
            (0..n).map(|_| rng.random_range(-a..a)).collect()
        }
        Init::Normal => gan_runtime::latent(rng.next_u64(), 0, n)
            .into_iter()
            .map(|v| v * 0.02)
            .collect(),
    }
}

/// `n` biases of a layer with `fan_in` inputs: PyTorch's U(-1/sqrt(fan_in), ..) for
/// [`Init::Pytorch`], zeros otherwise.
pub fn init_bias(n: usize, fan_in: usize, init: Init, rng: &mut impl Rng) -> Vec<f32> {
    match init {
        Init::Pytorch => {
            let k = 1.0 / (fan_in.max(1) as f32).sqrt();
            (0..n).map(|_| rng.random_range(-k..k)).collect()
        }
        _ => vec![0.0; n],
    }
}

/// A float parameter of `shape` holding `values`.
pub fn param<const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &Device,
) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
}

/// A linear layer initialized per `init`, drawing from `rng` rather than burn's global backend
/// RNG, so that the same seed gives the same weights whatever else runs in the process.
pub fn seeded_linear(
    d_in: usize,
    d_out: usize,
    init: Init,
    rng: &mut impl Rng,
    device: &Device,
) -> Linear {
    let w = init_weights(d_in * d_out, d_in, d_out, init, rng);
    let b = init_bias(d_out, d_in, init, rng);
    Linear {
        weight: param(w, [d_in, d_out], device),
        bias: Some(param(b, [d_out], device)),
    }
}

/// The weights of a linear layer as `(weight [d_in, d_out] row-major, bias [d_out])`.
pub fn linear_weights(l: &Linear) -> (Vec<usize>, Vec<f32>, Vec<f32>) {
    let w = l.weight.val();
    let dims = w.dims().to_vec();
    let w = w
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    let b = match &l.bias {
        Some(b) => b
            .val()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default(),
        None => vec![0.0; dims[1]],
    };
    (dims, w, b)
}
