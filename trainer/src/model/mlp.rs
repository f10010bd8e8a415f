//! The MLP GAN of the reference notebooks: G 100 -> 256 -> 512 -> 1024 -> C*H*W with
//! LeakyReLU(0.2) and tanh; D C*H*W -> 512 -> 256 features with LeakyReLU(0.2) (the logit
//! head lives in [`super::net::Discriminator`], shared by every architecture).

use burn::nn::Linear;
use burn::prelude::*;
use rand::Rng;

use super::spectral::{Layout, SpectralNorm};
use super::{seeded_linear, ImageShape, Init};
use crate::kernels::{self, Act};

/// Hidden widths of the generator.
pub const G_HIDDEN: [usize; 3] = [256, 512, 1024];
/// Hidden widths of the discriminator (the last is its feature width).
pub const D_HIDDEN: [usize; 2] = [512, 256];
/// Negative slope of the LeakyReLU activations.
pub const LEAKY_SLOPE: f64 = 0.2;

/// MLP generator: input `[N, in_dim]` (the latent, with the label embedding appended when
/// conditional) -> images `[N, C, H, W]` in [-1, 1].
#[derive(Module, Debug)]
pub struct MlpGenerator {
    /// The layers, input to image.
    pub layers: Vec<Linear>,
    /// Image channels.
    pub channels: usize,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
}

impl MlpGenerator {
    /// A generator with seeded `init` initialization.
    pub fn new(
        in_dim: usize,
        shape: ImageShape,
        init: Init,
        rng: &mut impl Rng,
        device: &Device,
    ) -> Self {
        let mut dims = vec![in_dim];
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

    /// Input length (latent plus label embedding).
    pub fn in_dim(&self) -> usize {
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

    /// Images `[N, C, H, W]` from inputs `[N, in_dim]`.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let n = z.dims()[0];
        let last = self.layers.len() - 1;
        let mut x = z;
        for (i, layer) in self.layers.iter().enumerate() {
            let act = if i < last {
                Act::LeakyRelu(LEAKY_SLOPE)
            } else {
                Act::Tanh
            };
            x = kernels::linear(x, layer, act);
        }
        x.reshape([n, self.channels, self.height, self.width])
    }
}

/// MLP discriminator body: images `[N, C, H, W]` -> features `[N, 256]`.
#[derive(Module, Debug)]
pub struct MlpDiscriminator {
    /// The hidden layers, image to features.
    pub layers: Vec<Linear>,
    /// Spectral normalization of each layer's weight (empty when off).
    pub spectral: Vec<SpectralNorm>,
}

/// What [`MlpDiscriminator::input_gradient`] needs from a forward pass: the slope of each
/// LeakyReLU at its input (1 or [`LEAKY_SLOPE`]), as constants.
#[derive(Debug, Clone)]
pub struct MlpTrace {
    slopes: Vec<Tensor<2>>,
}

impl MlpTrace {
    /// Batch size of the pass.
    pub fn batch(&self) -> usize {
        self.slopes.first().map_or(0, |s| s.dims()[0])
    }
}

impl MlpDiscriminator {
    /// A discriminator body with seeded `init` initialization.
    pub fn new(shape: ImageShape, init: Init, rng: &mut impl Rng, device: &Device) -> Self {
        let mut dims = vec![shape.len()];
        dims.extend(D_HIDDEN);
        let layers = dims
            .windows(2)
            .map(|w| seeded_linear(w[0], w[1], init, rng, device))
            .collect();
        Self {
            layers,
            spectral: Vec::new(),
        }
    }

    /// Turns on spectral normalization of every layer, drawing each layer's `u` from `rng`.
    pub fn with_spectral_norm(mut self, rng: &mut impl Rng) -> Self {
        self.spectral = self
            .layers
            .iter()
            .map(|l| SpectralNorm::new(&l.weight.val(), Layout::InOut, rng))
            .collect();
        self
    }

    /// One power iteration per spectrally normalized weight (none when off).
    pub fn power_iteration(&mut self) {
        for (sn, layer) in self.spectral.iter_mut().zip(&self.layers) {
            sn.power_iteration(&layer.weight.val());
        }
    }

    /// The weight layer `i` uses, `[in, out]`: spectrally normalized when on.
    pub fn weight(&self, i: usize) -> Tensor<2> {
        let w = self.layers[i].weight.val();
        match self.spectral.get(i) {
            Some(sn) => sn.normalize(w),
            None => w,
        }
    }

    /// Feature width.
    pub fn feature_dim(&self) -> usize {
        D_HIDDEN[D_HIDDEN.len() - 1]
    }

    /// Features `[N, 256]` of `images`, and (when `traced`) the trace for
    /// [`Self::input_gradient`].
    pub fn features(&self, images: Tensor<4>, traced: bool) -> (Tensor<2>, MlpTrace) {
        let mut x: Tensor<2> = images.flatten(1, 3);
        let mut slopes = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            let bias = layer
                .bias
                .as_ref()
                .expect("the discriminator's layers all have a bias")
                .val();
            x = kernels::linear_with(x, self.weight(i), bias, Act::LeakyRelu(LEAKY_SLOPE));
            if traced {
                // LeakyReLU keeps the sign: its slope is read off the output.
                slopes.push(leaky_slope(x.clone().detach()));
            }
        }
        (x, MlpTrace { slopes })
    }

    /// d(features . g_features)/d(images), flattened to `[N, C*H*W]`, as a differentiable
    /// function of the weights: the backward pass written out with the same (spectrally
    /// normalized, when on) weights.
    pub fn input_gradient(&self, trace: &MlpTrace, g_features: Tensor<2>) -> Tensor<2> {
        let mut g = g_features;
        for (i, slope) in trace.slopes.iter().enumerate().rev() {
            g = (g * slope.clone()).matmul(self.weight(i).transpose());
        }
        g
    }
}

/// The derivative of LeakyReLU at `pre`: 1 where `pre > 0`, [`LEAKY_SLOPE`] elsewhere.
pub(crate) fn leaky_slope<const D: usize>(pre: Tensor<D>) -> Tensor<D> {
    // From `ones_like`, not `bool.float()`, to keep `pre`'s float type (f32 or f64).
    let negative = pre.clone().lower_equal_elem(0.0);
    pre.ones_like().mask_fill(negative, LEAKY_SLOPE)
}
