//! The MLP GAN of the reference notebooks: G 100 -> 256 -> 512 -> 1024 -> C*H*W with
//! LeakyReLU(0.2) and tanh; D C*H*W -> 512 -> 256 -> 1 (a logit) with LeakyReLU(0.2).

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, tanh};
use rand::Rng;

use super::{seeded_linear, ImageShape, Init};

/// Hidden widths of the generator.
pub const G_HIDDEN: [usize; 3] = [256, 512, 1024];
/// Hidden widths of the discriminator.
pub const D_HIDDEN: [usize; 2] = [512, 256];
/// Negative slope of the LeakyReLU activations.
pub const LEAKY_SLOPE: f64 = 0.2;

/// MLP generator: latent `[N, latent]` -> images `[N, C, H, W]` in [-1, 1].
#[derive(Module, Debug)]
pub struct MlpGenerator<B: Backend> {
    /// The layers, latent to image.
    pub layers: Vec<Linear<B>>,
    /// Image channels.
    pub channels: usize,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
}

impl<B: Backend> MlpGenerator<B> {
    /// A generator with seeded `init` initialization.
    pub fn new(
        latent_dim: usize,
        shape: ImageShape,
        init: Init,
        rng: &mut impl Rng,
        device: &B::Device,
    ) -> Self {
        let mut dims = vec![latent_dim];
        dims.extend(G_HIDDEN);
        dims.push(shape.len());
        let layers = dims
            .windows(2)
            .map(|w| seeded_linear(w[0], w[1], init, rng, device))
            .collect();
        Self {
            layers,
            channels: shape.channels,
            height: shape.height,
            width: shape.width,
        }
    }

    /// Latent length.
    pub fn latent_dim(&self) -> usize {
        self.layers[0].weight.dims()[0]
    }

    /// Image shape produced.
    pub fn shape(&self) -> ImageShape {
        ImageShape {
            channels: self.channels,
            height: self.height,
            width: self.width,
        }
    }

    /// Images `[N, C, H, W]` from latents `[N, latent]`.
    pub fn forward(&self, z: Tensor<B, 2>) -> Tensor<B, 4> {
        let n = z.dims()[0];
        let last = self.layers.len() - 1;
        let mut x = z;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            x = if i < last {
                leaky_relu(x, LEAKY_SLOPE)
            } else {
                tanh(x)
            };
        }
        x.reshape([n, self.channels, self.height, self.width])
    }
}

/// MLP discriminator: images `[N, C, H, W]` -> logits `[N, 1]`.
#[derive(Module, Debug)]
pub struct MlpDiscriminator<B: Backend> {
    /// The layers, image to logit.
    pub layers: Vec<Linear<B>>,
}

impl<B: Backend> MlpDiscriminator<B> {
    /// A discriminator with seeded `init` initialization.
    pub fn new(shape: ImageShape, init: Init, rng: &mut impl Rng, device: &B::Device) -> Self {
        let mut dims = vec![shape.len()];
        dims.extend(D_HIDDEN);
        dims.push(1);
        let layers = dims
            .windows(2)
            .map(|w| seeded_linear(w[0], w[1], init, rng, device))
            .collect();
        Self { layers }
    }

    /// Logits `[N, 1]` (real > 0) for images `[N, C, H, W]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let mut x: Tensor<B, 2> = images.flatten(1, 3);
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = leaky_relu(x, LEAKY_SLOPE);
            }
        }
        x
    }
}
