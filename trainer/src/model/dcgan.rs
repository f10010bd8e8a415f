//! DCGAN (Radford et al. 2016) for any image size with an even side.
//!
//! G: linear -> reshape to `[C0, H/2^k, W/2^k]` -> BatchNorm + ReLU -> `k` transposed
//! convolutions (kernel 4, stride 2, padding 1, each doubling the side), BatchNorm + ReLU
//! between them, tanh after the last. D mirrors it: `k` convolutions (kernel 4, stride 2,
//! padding 1), LeakyReLU(0.2) and dropout after each, BatchNorm after all but the first; the
//! flattened map is its feature vector. `k` is the largest number of halvings (at most 4) that
//! leaves a map of at least 3x3: 28 -> 7 (k = 2), 32 -> 4 (3), 64 -> 4 (4), 100 -> 25 (2).

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, PaddingConfig2d};
use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::mlp::{leaky_slope, LEAKY_SLOPE};
use super::spectral::{Layout, SpectralNorm};
use super::{init_bias, init_weights, param, seeded_linear, ImageShape, Init};
use crate::kernels::{self, conv2d, conv_transpose2d, Act, Conv};

/// Kernel side of every (transposed) convolution.
pub const KERNEL: usize = 4;
/// Stride 2, padding 1: each block halves (D) or doubles (G) the side.
const STRIDE2: Conv = Conv { stride: 2, pad: 1 };
/// The most up/down-sampling blocks used.
pub const MAX_BLOCKS: usize = 4;
/// The smallest side of the first feature map.
pub const MIN_SIDE: usize = 3;
/// Batch norm epsilon (PyTorch's default).
pub const BN_EPSILON: f64 = 1e-5;
/// Batch norm running-statistics momentum (PyTorch's default).
pub const BN_MOMENTUM: f64 = 0.1;

/// The number of stride-2 blocks for an image of `height x width`, or why there is none.
pub fn blocks_for(height: usize, width: usize) -> Result<usize, String> {
    let k = (1..=MAX_BLOCKS)
        .take_while(|&k| {
            height.is_multiple_of(1 << k)
                && width.is_multiple_of(1 << k)
                && height >> k >= MIN_SIDE
                && width >> k >= MIN_SIDE
        })
        .last();
    k.ok_or_else(|| {
        format!(
            "DCGAN needs an image side that halves at least once to a map of {MIN_SIDE}x{MIN_SIDE} \
             or more (e.g. 28, 32, 64, 100); got {height}x{width}"
        )
    })
}

/// A batch norm over `channels` with PyTorch's epsilon and momentum; its scale drawn from
/// N(1, 0.02) under [`Init::Normal`] (the DCGAN paper's), else 1.
pub(crate) fn batch_norm(
    channels: usize,
    init: Init,
    rng: &mut impl Rng,
    device: &Device,
) -> BatchNorm {
    let mut bn = BatchNormConfig::new(channels)
        .with_epsilon(BN_EPSILON)
        .with_momentum(BN_MOMENTUM)
        .init(device);
    if init == Init::Normal {
        // The DCGAN paper's N(1, 0.02) for the scale.
        let g = init_weights(channels, 1, 1, Init::Normal, rng);
        bn.gamma = param(g.into_iter().map(|v| 1.0 + v).collect(), [channels], device);
    }
    bn
}

/// DCGAN generator: input `[N, in_dim]` -> images `[N, C, H, W]` in [-1, 1].
#[derive(Module, Debug)]
pub struct DcganGenerator {
    /// Input to the first feature map.
    pub project: Linear,
    /// Batch norm of the first feature map.
    pub project_norm: BatchNorm,
    /// The transposed convolutions, each doubling the side.
    pub ups: Vec<ConvTranspose2d>,
    /// Batch norms after all but the last transposed convolution.
    pub norms: Vec<BatchNorm>,
    /// Channels of the first feature map.
    pub start_channels: usize,
    /// Side of the first feature map, height.
    pub start_height: usize,
    /// Side of the first feature map, width.
    pub start_width: usize,
    /// Image channels.
    pub channels: usize,
}

impl DcganGenerator {
    /// A generator for `shape` whose last hidden map has `width` channels (doubling towards
    /// the input), seeded.
    pub fn new(
        in_dim: usize,
        shape: ImageShape,
        width: usize,
        init: Init,
        rng: &mut impl Rng,
        device: &Device,
    ) -> Result<Self, String> {
        let k = blocks_for(shape.height, shape.width)?;
        let chans: Vec<usize> = (0..k).map(|i| width << (k - 1 - i)).collect();
        let (h0, w0) = (shape.height >> k, shape.width >> k);
        let project = seeded_linear(in_dim, chans[0] * h0 * w0, init, rng, device);
        let project_norm = batch_norm(chans[0], init, rng, device);
        let mut ups = Vec::with_capacity(k);
        let mut norms = Vec::with_capacity(k - 1);
        for i in 0..k {
            let c_in = chans[i];
            let last = i + 1 == k;
            let c_out = if last { shape.channels } else { chans[i + 1] };
            let mut up = ConvTranspose2dConfig::new([c_in, c_out], [KERNEL, KERNEL])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_bias(last)
                .init(device);
            // PyTorch computes the fans of a transposed convolution from its weight
            // [c_in, c_out, k, k] as if it were a convolution: fan_in = c_out * k * k.
            let fan_in = c_out * KERNEL * KERNEL;
            let fan_out = c_in * KERNEL * KERNEL;
            let w = init_weights(c_in * c_out * KERNEL * KERNEL, fan_in, fan_out, init, rng);
            up.weight = param(w, [c_in, c_out, KERNEL, KERNEL], device);
            if last {
                up.bias = Some(param(init_bias(c_out, fan_in, init, rng), [c_out], device));
            } else {
                norms.push(batch_norm(c_out, init, rng, device));
            }
            ups.push(up);
        }
        Ok(Self {
            project,
            project_norm,
            ups,
            norms,
            start_channels: chans[0],
            start_height: h0,
            start_width: w0,
            channels: shape.channels,
        })
    }

    /// Input length.
    pub fn in_dim(&self) -> usize {
        self.project.weight.dims()[0]
    }

    /// Image shape produced.
    pub fn shape(&self) -> ImageShape {
        let k = self.ups.len();
        ImageShape {
            channels: self.channels,
            height: self.start_height << k,
            width: self.start_width << k,
        }
    }

    /// Images `[N, C, H, W]` from inputs `[N, in_dim]`. Batch norm uses batch statistics
    /// under autodiff (training) and the running ones otherwise (inference, export).
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let n = z.dims()[0];
        let x = kernels::linear(z, &self.project, Act::Identity).reshape([
            n,
            self.start_channels,
            self.start_height,
            self.start_width,
        ]);
        let mut x = kernels::batch_norm(x, &self.project_norm, Act::Relu);
        for (i, up) in self.ups.iter().enumerate() {
            let bias = up.bias.as_ref().map(|b| b.val());
            x = conv_transpose2d(x, up.weight.val(), bias, STRIDE2);
            x = match self.norms.get(i) {
                Some(norm) => kernels::batch_norm(x, norm, Act::Relu),
                None => kernels::activation(x, Act::Tanh),
            };
        }
        x
    }
}

/// DCGAN discriminator body: images `[N, C, H, W]` -> features `[N, C_k * H/2^k * W/2^k]`.
#[derive(Module, Debug)]
pub struct DcganDiscriminator {
    /// The strided convolutions, each halving the side.
    pub convs: Vec<Conv2d>,
    /// Batch norms after all but the first convolution (empty when batch norm is off).
    pub norms: Vec<BatchNorm>,
    /// Spectral normalization of each convolution's kernel (empty when off).
    pub spectral: Vec<SpectralNorm>,
    /// Dropout probability after each activation (training only).
    pub dropout: f64,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
}

/// What [`DcganDiscriminator::input_gradient`] needs from a forward pass: per layer, the
/// LeakyReLU slope times the dropout mask.
#[derive(Debug, Clone)]
pub struct DcganTrace {
    scales: Vec<Tensor<4>>,
    out_shape: [usize; 4],
}

impl DcganTrace {
    /// Batch size of the pass.
    pub fn batch(&self) -> usize {
        self.out_shape[0]
    }
}

impl DcganDiscriminator {
    /// A discriminator body for `shape` whose first map has `width` channels (doubling with
    /// each block), seeded; `batch_norm` adds BatchNorm after all but the first convolution.
    pub fn new(
        shape: ImageShape,
        width: usize,
        batch_norm_on: bool,
        dropout: f64,
        init: Init,
        rng: &mut impl Rng,
        device: &Device,
    ) -> Result<Self, String> {
        let k = blocks_for(shape.height, shape.width)?;
        let mut convs = Vec::with_capacity(k);
        let mut norms = Vec::new();
        let mut c_in = shape.channels;
        for i in 0..k {
            let c_out = width << i;
            let mut conv = Conv2dConfig::new([c_in, c_out], [KERNEL, KERNEL])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device);
            let fan_in = c_in * KERNEL * KERNEL;
            let fan_out = c_out * KERNEL * KERNEL;
            let w = init_weights(c_out * fan_in, fan_in, fan_out, init, rng);
            conv.weight = param(w, [c_out, c_in, KERNEL, KERNEL], device);
            conv.bias = Some(param(init_bias(c_out, fan_in, init, rng), [c_out], device));
            convs.push(conv);
            if batch_norm_on && i > 0 {
                norms.push(batch_norm(c_out, init, rng, device));
            }
            c_in = c_out;
        }
        Ok(Self {
            convs,
            norms,
            spectral: Vec::new(),
            dropout,
            height: shape.height,
            width: shape.width,
        })
    }

    /// Turns on spectral normalization of every convolution kernel, read as the matrix
    /// `[out, in * k * k]`, drawing each one's `u` from `rng`.
    pub fn with_spectral_norm(mut self, rng: &mut impl Rng) -> Self {
        self.spectral = self
            .convs
            .iter()
            .map(|c| SpectralNorm::new(&c.weight.val(), Layout::OutFirst, rng))
            .collect();
        self
    }

    /// One power iteration per spectrally normalized kernel (none when off).
    pub fn power_iteration(&mut self) {
        for (sn, conv) in self.spectral.iter_mut().zip(&self.convs) {
            sn.power_iteration(&conv.weight.val());
        }
    }

    /// The kernel convolution `i` uses, `[out, in, k, k]`: spectrally normalized when on.
    pub fn weight(&self, i: usize) -> Tensor<4> {
        let w = self.convs[i].weight.val();
        match self.spectral.get(i) {
            Some(sn) => sn.normalize(w),
            None => w,
        }
    }

    /// Feature width.
    pub fn feature_dim(&self) -> usize {
        let k = self.convs.len();
        let c = self.convs[k - 1].weight.dims()[0];
        c * (self.height >> k) * (self.width >> k)
    }

    /// Features of `images` and (when `traced`) the trace for [`Self::input_gradient`].
    /// `dropout_seed` draws the dropout masks (`None`: no dropout, as at evaluation).
    pub fn features(
        &self,
        images: Tensor<4>,
        dropout_seed: Option<u64>,
        traced: bool,
    ) -> (Tensor<2>, DcganTrace) {
        let (h, trace, _) = self.features_tapped(images, dropout_seed, traced, None);
        (h, trace)
    }

    /// [`Self::features`], also returning the map after convolution `tap` (after its
    /// activation and dropout), for a reconstruction decoder.
    pub fn features_tapped(
        &self,
        images: Tensor<4>,
        dropout_seed: Option<u64>,
        traced: bool,
        tap: Option<usize>,
    ) -> (Tensor<2>, DcganTrace, Option<Tensor<4>>) {
        let mut tapped = None;
        let mut rng = dropout_seed.map(ChaCha8Rng::seed_from_u64);
        let mut x = images;
        let mut scales = Vec::new();
        let leaky = Act::LeakyRelu(LEAKY_SLOPE);
        for (i, conv) in self.convs.iter().enumerate() {
            let bias = conv.bias.as_ref().map(|b| b.val());
            let pre = conv2d(x, self.weight(i), bias, STRIDE2);
            x = match i.checked_sub(1).and_then(|j| self.norms.get(j)) {
                Some(norm) => kernels::batch_norm(pre, norm, leaky),
                None => kernels::activation(pre, leaky),
            };
            // LeakyReLU keeps the sign: its slope is read off the output.
            let mut scale = traced.then(|| leaky_slope(x.clone().detach()));
            if let (Some(rng), true) = (rng.as_mut(), self.dropout > 0.0) {
                let mask = dropout_mask(x.dims(), self.dropout, rng, &x.device());
                x = x * mask.clone();
                scale = scale.map(|s| s * mask);
            }
            scales.extend(scale);
            if tap == Some(i) {
                tapped = Some(x.clone());
            }
        }
        let out_shape = x.dims();
        (x.flatten(1, 3), DcganTrace { scales, out_shape }, tapped)
    }

    /// d(features . g_features)/d(images) `[N, C, H, W]`, as a differentiable function of the
    /// weights: each convolution's backward is the transposed convolution with its weights
    /// (spectrally normalized when on, as in the forward pass; every side is even, so no
    /// output padding is needed).
    /// Only valid without batch norm (whose batch statistics couple the samples).
    pub fn input_gradient(&self, trace: &DcganTrace, g_features: Tensor<2>) -> Tensor<4> {
        let mut g: Tensor<4> = g_features.reshape(trace.out_shape);
        for i in (0..self.convs.len()).rev() {
            g = g * trace.scales[i].clone();
            g = conv_transpose2d(g, self.weight(i), None, STRIDE2);
        }
        g
    }
}

/// An inverted-dropout mask: each value 0 with probability `p`, else `1 / (1 - p)`.
fn dropout_mask(dims: [usize; 4], p: f64, rng: &mut ChaCha8Rng, device: &Device) -> Tensor<4> {
    let keep = (1.0 / (1.0 - p)) as f32;
    let n: usize = dims.iter().product();
    // One u32 per value, compared with p * 2^32: half the stream `random::<f64>()`
    // would draw per value, and no float conversion.
    let threshold = (p * 4_294_967_296.0).round() as u64;
    let mut bits = vec![0u32; n];
    rng.fill(&mut bits[..]);
    let values: Vec<f32> = bits
        .into_iter()
        .map(|b| if u64::from(b) < threshold { 0.0 } else { keep })
        .collect();
    Tensor::from_data(TensorData::new(values, dims), device)
}

/// A parameter's shape and values, row-major (for the export).
pub fn tensor_values<const D: usize>(p: &Param<Tensor<D>>) -> (Vec<usize>, Vec<f32>) {
    let t = p.val();
    let dims = t.dims().to_vec();
    (
        dims,
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default(),
    )
}
