//! FastGAN-lite (Liu et al., ICLR 2021, "Towards Faster and Stabilized GAN Training for
//! High-fidelity Few-shot Image Synthesis"), sized for a CPU: a generator with no transposed
//! convolution anywhere, and the discriminator's self-supervised reconstruction decoder.
//!
//! G: input -> linear -> reshape to `[2·C0, h0, w0]` -> BatchNorm -> GLU -> `k` up-blocks, each
//! nearest 2x upsampling, a 3x3 convolution (no bias), BatchNorm and GLU (the gated linear unit
//! halves the channels: `a · sigmoid(b)` of the two halves) -> 3x3 convolution to the image's
//! channels -> tanh. Skip-layer excitation (SLE): the map after block `i` gates the map after
//! block `i + 3` (4x4 gates 32x32, 8x8 gates 64x64): average-pooled to 4x4, a linear layer
//! (FastGAN's 4x4 convolution without padding), LeakyReLU(0.2), a linear layer (its 1x1
//! convolution), sigmoid, one scale per channel of the gated map.
//!
//! Nearest upsampling + 3x3 convolution draws without the checkerboard of stride-2 transposed
//! convolutions (Odena et al. 2016), and it quantizes: ONNX Runtime's int8 CPU path runs Conv
//! as QLinearConv, but has no int8 ConvTranspose (microsoft/onnxruntime#8988).
//!
//! Channels: with base width `W`, the map after block `i` of `k` has `W · 2^max(0, k-1-i)`
//! channels (64x64, W = 32: 256, 128, 64, 32, 32 for the 4, 8, 16, 32, 64 maps): FastGAN's
//! halving per doubling with its last two maps equally wide.
//!
//! The discriminator is the DCGAN one ([`super::dcgan::DcganDiscriminator`]) plus
//! [`Decoder`]: FastGAN's self-supervised regularizer. A small decoder reconstructs the real
//! image (average-pooled to the decoder's side) from D's second-to-last feature map, with an
//! L1 loss added to D's loss on real batches, which makes D learn features that describe the
//! image instead of a few that merely separate real from fake.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use rand::Rng;

use super::dcgan::batch_norm;
use super::{init_bias, init_weights, param, seeded_linear, ImageShape, Init};
use crate::kernels::{self, conv2d, Act, Conv};

/// Kernel side of every convolution.
pub const KERNEL: usize = 3;
/// Stride 1, padding 1: the convolutions keep the side.
pub const SAME: Conv = Conv { stride: 1, pad: 1 };
/// The most up-sampling blocks (4x4 -> 128x128).
pub const MAX_BLOCKS: usize = 5;
/// The smallest side of the first feature map.
pub const MIN_SIDE: usize = 3;
/// Maps apart (in doublings) between an SLE's source and the map it gates.
pub const SLE_GAP: usize = 3;
/// Side of the pooled source map of an SLE.
pub const SLE_POOL: usize = 4;
/// LeakyReLU slope inside an SLE.
pub const SLE_SLOPE: f64 = 0.2;

/// The number of up-sampling blocks for an image of `height x width` (the most doublings, at
/// most [`MAX_BLOCKS`], from a first map of at least [`MIN_SIDE`]), or why there is none.
pub fn blocks_for(height: usize, width: usize) -> Result<usize, String> {
    (1..=MAX_BLOCKS)
        .take_while(|&k| {
            height.is_multiple_of(1 << k)
                && width.is_multiple_of(1 << k)
                && height >> k >= MIN_SIDE
                && width >> k >= MIN_SIDE
        })
        .last()
        .ok_or_else(|| {
            format!(
                "fastgan needs an image side that halves at least once to a map of \
                 {MIN_SIDE}x{MIN_SIDE} or more (e.g. 28, 32, 64, 128); got {height}x{width}"
            )
        })
}

/// Channels of the map after block `i` (0: the first map) of `k`, for base width `width`.
pub fn channels(width: usize, k: usize, i: usize) -> usize {
    width << (k - 1).saturating_sub(i)
}

/// Nearest-neighbour 2x upsampling of `[N, C, H, W]` (each value repeated in a 2x2 square), as
/// ONNX `Resize` with `mode = nearest`, `coordinate_transformation_mode = asymmetric`,
/// `nearest_mode = floor` computes it.
pub fn upsample2(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h, 1, w, 1])
        .expand([n, c, h, 2, w, 2])
        .reshape([n, c, 2 * h, 2 * w])
}

/// Average pooling of `[N, C, H, W]` over non-overlapping `kh x kw` windows (`H`, `W`
/// multiples of them), as ONNX `AveragePool` with `kernel_shape = strides = [kh, kw]`; the
/// identity for 1x1.
pub fn avg_pool(x: Tensor<4>, kh: usize, kw: usize) -> Tensor<4> {
    if kh == 1 && kw == 1 {
        return x;
    }
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h / kh, kh, w / kw, kw])
        .mean_dim(5)
        .mean_dim(3)
        .reshape([n, c, h / kh, w / kw])
}

/// The gated linear unit over channels: `a · sigmoid(b)` for the halves `a`, `b` of dim 1.
pub fn glu(x: Tensor<4>) -> Tensor<4> {
    let c = x.dims()[1] / 2;
    let a = x.clone().narrow(1, 0, c);
    let b = x.narrow(1, c, c);
    a * sigmoid(b)
}

/// A 3x3 convolution layer initialized per `init`, with or without bias.
fn conv3(
    c_in: usize,
    c_out: usize,
    bias: bool,
    init: Init,
    rng: &mut impl Rng,
    device: &Device,
) -> Conv2d {
    let mut conv = Conv2dConfig::new([c_in, c_out], [KERNEL, KERNEL])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .with_bias(bias)
        .init(device);
    let fan_in = c_in * KERNEL * KERNEL;
    let fan_out = c_out * KERNEL * KERNEL;
    let w = init_weights(c_out * fan_in, fan_in, fan_out, init, rng);
    conv.weight = param(w, [c_out, c_in, KERNEL, KERNEL], device);
    conv.bias = bias.then(|| param(init_bias(c_out, fan_in, init, rng), [c_out], device));
    conv
}

/// An up-block: nearest 2x, 3x3 convolution to twice `c_out` channels, BatchNorm, GLU.
#[derive(Module, Debug)]
pub struct UpBlock {
    /// The 3x3 convolution (no bias: batch norm follows).
    pub conv: Conv2d,
    /// Batch norm of the convolution's `2 · c_out` channels.
    pub norm: BatchNorm,
}

impl UpBlock {
    fn new(c_in: usize, c_out: usize, init: Init, rng: &mut impl Rng, device: &Device) -> Self {
        Self {
            conv: conv3(c_in, 2 * c_out, false, init, rng, device),
            norm: batch_norm(2 * c_out, init, rng, device),
        }
    }

    /// `[N, c_in, H, W]` -> `[N, c_out, 2H, 2W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = conv2d(upsample2(x), self.conv.weight.val(), None, SAME);
        glu(kernels::batch_norm(x, &self.norm, Act::Identity))
    }
}

/// Skip-layer excitation: the map after block `from` scales each channel of the map after
/// block `to`.
#[derive(Module, Debug)]
pub struct Excitation {
    /// Source map (0: the first map).
    pub from: usize,
    /// Gated map.
    pub to: usize,
    /// Pooled source `[C_from · 4 · 4]` -> `[C_to]` (FastGAN's 4x4 convolution).
    pub squeeze: Linear,
    /// `[C_to]` -> `[C_to]` (FastGAN's 1x1 convolution), then sigmoid.
    pub excite: Linear,
}

impl Excitation {
    /// Per-channel gates `[N, C_to, 1, 1]` in (0, 1) from the source map.
    pub fn gates(&self, source: Tensor<4>) -> Tensor<4> {
        let [n, _, h, w] = source.dims();
        let pooled = avg_pool(source, h / SLE_POOL, w / SLE_POOL);
        let x = kernels::linear(
            pooled.flatten(1, 3),
            &self.squeeze,
            Act::LeakyRelu(SLE_SLOPE),
        );
        let x = kernels::linear(x, &self.excite, Act::Identity);
        let c = x.dims()[1];
        sigmoid(x).reshape([n, c, 1, 1])
    }
}

/// FastGAN-lite generator: input `[N, in_dim]` -> images `[N, C, H, W]` in [-1, 1].
#[derive(Module, Debug)]
pub struct FastganGenerator {
    /// Input to the first map, `2 · C0 · h0 · w0` values (GLU halves them).
    pub project: Linear,
    /// Batch norm of the first map's `2 · C0` channels.
    pub project_norm: BatchNorm,
    /// The up-blocks, each doubling the side.
    pub ups: Vec<UpBlock>,
    /// Skip-layer excitations.
    pub excitations: Vec<Excitation>,
    /// The last map to the image (3x3, with bias), then tanh.
    pub to_image: Conv2d,
    /// Channels of the first map.
    pub start_channels: usize,
    /// Side of the first map, height.
    pub start_height: usize,
    /// Side of the first map, width.
    pub start_width: usize,
}

impl FastganGenerator {
    /// A generator for `shape` with base width `width` (see the module docs), seeded.
    pub fn new(
        in_dim: usize,
        shape: ImageShape,
        width: usize,
        init: Init,
        rng: &mut impl Rng,
        device: &Device,
    ) -> Result<Self, String> {
        let k = blocks_for(shape.height, shape.width)?;
        let (h0, w0) = (shape.height >> k, shape.width >> k);
        let c0 = channels(width, k, 0);
        let project = seeded_linear(in_dim, 2 * c0 * h0 * w0, init, rng, device);
        let project_norm = batch_norm(2 * c0, init, rng, device);
        let ups = (0..k)
            .map(|i| {
                UpBlock::new(
                    channels(width, k, i),
                    channels(width, k, i + 1),
                    init,
                    rng,
                    device,
                )
            })
            .collect();
        let mut excitations = Vec::new();
        for from in 0..=k {
            let to = from + SLE_GAP;
            let (h, w) = (h0 << from, w0 << from);
            if to > k || !h.is_multiple_of(SLE_POOL) || !w.is_multiple_of(SLE_POOL) {
                continue;
            }
            let (c_from, c_to) = (channels(width, k, from), channels(width, k, to));
            excitations.push(Excitation {
                from,
                to,
                squeeze: seeded_linear(c_from * SLE_POOL * SLE_POOL, c_to, init, rng, device),
                excite: seeded_linear(c_to, c_to, init, rng, device),
            });
        }
        let to_image = conv3(
            channels(width, k, k),
            shape.channels,
            true,
            init,
            rng,
            device,
        );
        Ok(Self {
            project,
            project_norm,
            ups,
            excitations,
            to_image,
            start_channels: c0,
            start_height: h0,
            start_width: w0,
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
            channels: self.to_image.weight.dims()[0],
            height: self.start_height << k,
            width: self.start_width << k,
        }
    }

    /// Images `[N, C, H, W]` from inputs `[N, in_dim]`. Batch norm uses batch statistics
    /// under autodiff (training) and the running ones otherwise.
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let n = z.dims()[0];
        let x = kernels::linear(z, &self.project, Act::Identity).reshape([
            n,
            2 * self.start_channels,
            self.start_height,
            self.start_width,
        ]);
        let mut x = glu(kernels::batch_norm(x, &self.project_norm, Act::Identity));
        // Maps that gate a later one, by block index.
        let mut sources: Vec<Option<Tensor<4>>> = vec![None; self.ups.len() + 1];
        for i in 0..=self.ups.len() {
            if i > 0 {
                x = self.ups[i - 1].forward(x);
            }
            for e in self.excitations.iter().filter(|e| e.to == i) {
                if let Some(source) = sources[e.from].take() {
                    x = x * e.gates(source);
                }
            }
            if self.excitations.iter().any(|e| e.from == i) {
                sources[i] = Some(x.clone());
            }
        }
        let bias = self.to_image.bias.as_ref().map(|b| b.val());
        let x = conv2d(x, self.to_image.weight.val(), bias, SAME);
        kernels::activation(x, Act::Tanh)
    }
}

/// The reconstruction decoder of a FastGAN discriminator: D's second-to-last map ->
/// up-blocks -> 3x3 convolution -> tanh, compared (L1) with the real image average-pooled to
/// the same side.
#[derive(Module, Debug)]
pub struct Decoder {
    /// Index of D's convolution whose output the decoder reads.
    pub tap: usize,
    /// Up-blocks, each doubling the side and halving the channels.
    pub ups: Vec<UpBlock>,
    /// The last map to the image (3x3, with bias), then tanh.
    pub to_image: Conv2d,
    /// How much the real image is average-pooled to the decoder's side.
    pub pool: usize,
}

/// Up-blocks in the decoder (fewer when D has too few blocks to leave room).
pub const DECODER_BLOCKS: usize = 2;

impl Decoder {
    /// A decoder for a DCGAN discriminator of `blocks` stride-2 convolutions whose first map
    /// has `d_width` channels (doubling per block), over images of `channels`.
    pub fn new(
        blocks: usize,
        d_width: usize,
        channels: usize,
        init: Init,
        rng: &mut impl Rng,
        device: &Device,
    ) -> Self {
        // The map after convolution `tap` has side H / 2^(tap + 1) and d_width << tap channels.
        let tap = blocks.saturating_sub(2);
        let ups_n = DECODER_BLOCKS.min(tap + 1);
        let mut c = d_width << tap;
        let mut ups = Vec::with_capacity(ups_n);
        for i in 0..ups_n {
            // Much thinner than D (an eighth of the tapped map's channels, then halving): it
            // is a regularizer, and at D's width it would cost as much as D itself.
            let c_out = if i == 0 { c / 8 } else { c / 2 }.max(4);
            ups.push(UpBlock::new(c, c_out, init, rng, device));
            c = c_out;
        }
        let to_image = conv3(c, channels, true, init, rng, device);
        Self {
            tap,
            ups,
            to_image,
            pool: 1 << (tap + 1 - ups_n),
        }
    }

    /// Mean absolute difference between the decoded `map` and `images` pooled to its side.
    pub fn loss(&self, map: Tensor<4>, images: Tensor<4>) -> Tensor<1> {
        let mut x = map;
        for up in &self.ups {
            x = up.forward(x);
        }
        let bias = self.to_image.bias.as_ref().map(|b| b.val());
        let x = kernels::activation(conv2d(x, self.to_image.weight.val(), bias, SAME), Act::Tanh);
        let target = avg_pool(images, self.pool, self.pool);
        (x - target).abs().mean()
    }
}
