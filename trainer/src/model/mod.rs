//! GAN networks (burn modules) and their seeded initialization.

pub mod mlp;

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

/// A linear layer initialized per `init`, drawing from `rng` rather than burn's global backend
/// RNG, so that the same seed gives the same weights whatever else runs in the process.
pub fn seeded_linear<B: Backend>(
    d_in: usize,
    d_out: usize,
    init: Init,
    rng: &mut impl Rng,
    device: &B::Device,
) -> Linear<B> {
    let (w, b): (Vec<f32>, Vec<f32>) = match init {
        Init::Pytorch => {
            let k = 1.0 / (d_in as f32).sqrt();
            let w = (0..d_in * d_out).map(|_| rng.random_range(-k..k)).collect();
            let b = (0..d_out).map(|_| rng.random_range(-k..k)).collect();
            (w, b)
        }
        Init::Xavier => {
            let a = (6.0 / (d_in + d_out) as f32).sqrt();
            (
                (0..d_in * d_out).map(|_| rng.random_range(-a..a)).collect(),
                vec![0.0; d_out],
            )
        }
        Init::Normal => {
            let z = gan_runtime::latent(rng.next_u64(), 0, d_in * d_out);
            (z.into_iter().map(|v| v * 0.02).collect(), vec![0.0; d_out])
        }
    };
    Linear {
        weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [d_in, d_out]), device)),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b, [d_out]),
            device,
        ))),
    }
}

/// The weights of a linear layer as `(weight [d_in, d_out] row-major, bias [d_out])`.
pub fn linear_weights<B: Backend>(l: &Linear<B>) -> (Vec<usize>, Vec<f32>, Vec<f32>) {
    let w = l.weight.val();
    let dims = w.dims().to_vec();
    let w = w
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .unwrap_or_default();
    let b = match &l.bias {
        Some(b) => b
            .val()
            .into_data()
            .convert::<f32>()
            .into_vec::<f32>()
            .unwrap_or_default(),
        None => vec![0.0; dims[1]],
    };
    (dims, w, b)
}
