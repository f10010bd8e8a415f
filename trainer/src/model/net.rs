//! The generator and discriminator of every architecture, with optional class conditioning:
//! G appends a learned label embedding to the latent; D scores `head(h) + <embed(y), h>` on
//! its features `h` (the projection discriminator of Miyato & Koyama 2018). With
//! [`NetConfig::spectral_norm`], every weight of D — the body's layers, the head and the
//! projection embedding — is spectrally normalized (see [`super::spectral`]).

use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use rand::Rng;

use super::dcgan::{DcganDiscriminator, DcganGenerator, DcganTrace};
use super::fastgan::{Decoder, FastganGenerator};
use super::mlp::{MlpDiscriminator, MlpGenerator, MlpTrace};
use super::spectral::{Layout, SpectralNorm};
use super::{init_weights, param, seeded_linear, Arch, ImageShape, Init};

/// Length of G's label embedding in conditional models.
pub const LABEL_EMBED_DIM: usize = 50;

/// What both networks are built from.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetConfig {
    /// Architecture.
    pub arch: Arch,
    /// Latent length.
    pub latent_dim: usize,
    /// Image shape.
    pub shape: ImageShape,
    /// Classes for conditioning (0: unconditional).
    pub num_classes: usize,
    /// Weight initialization.
    pub init: Init,
    /// DCGAN base width: channels of G's last hidden map and D's first map.
    pub width: usize,
    /// DCGAN D dropout probability.
    pub dropout: f64,
    /// DCGAN D batch norm (off for WGAN-GP, whose penalty is per sample).
    pub d_batch_norm: bool,
    /// Spectral normalization (Miyato et al. 2018) of every weight of D; absent in older
    /// configurations (off).
    #[serde(default)]
    pub spectral_norm: bool,
}

/// Why networks could not be built.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The configuration is unusable.
    #[error("{0}")]
    Config(String),
}

/// The generator body.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum GeneratorBody {
    /// [`MlpGenerator`].
    Mlp(MlpGenerator),
    /// [`DcganGenerator`].
    Dcgan(DcganGenerator),
    /// [`FastganGenerator`].
    Fastgan(FastganGenerator),
}

/// A generator: latents `[N, latent]` (and labels `[N]` when conditional) -> images.
#[derive(Module, Debug)]
pub struct Generator {
    /// The network.
    pub body: GeneratorBody,
    /// Label embedding `[classes, LABEL_EMBED_DIM]`, appended to the latent (conditional only).
    pub label_embedding: Option<Param<Tensor<2>>>,
    /// Latent length.
    pub latent_dim: usize,
}

impl Generator {
    /// A seeded generator for `config`.
    pub fn new(config: &NetConfig, rng: &mut impl Rng, device: &Device) -> Result<Self, NetError> {
        check(config)?;
        let conditional = config.num_classes > 0;
        let in_dim = config.latent_dim + if conditional { LABEL_EMBED_DIM } else { 0 };
        let body = match config.arch {
            Arch::Mlp => GeneratorBody::Mlp(MlpGenerator::new(
                in_dim,
                config.shape,
                config.init,
                rng,
                device,
            )),
            Arch::Dcgan => GeneratorBody::Dcgan(
                DcganGenerator::new(in_dim, config.shape, config.width, config.init, rng, device)
                    .map_err(NetError::Config)?,
            ),
            Arch::Fastgan => GeneratorBody::Fastgan(
                FastganGenerator::new(in_dim, config.shape, config.width, config.init, rng, device)
                    .map_err(NetError::Config)?,
            ),
        };
        let label_embedding = conditional.then(|| {
            // nn.Embedding's N(0, 1).
            let n = config.num_classes * LABEL_EMBED_DIM;
            let v = gan_runtime::latent(rng.next_u64(), 0, n);
            param(v, [config.num_classes, LABEL_EMBED_DIM], device)
        });
        Ok(Self {
            body,
            label_embedding,
            latent_dim: config.latent_dim,
        })
    }

    /// Latent length.
    pub fn latent_dim(&self) -> usize {
        self.latent_dim
    }

    /// Classes it is conditioned on (0: unconditional).
    pub fn num_classes(&self) -> usize {
        self.label_embedding.as_ref().map_or(0, |e| e.dims()[0])
    }

    /// The architecture.
    pub fn arch(&self) -> Arch {
        match self.body {
            GeneratorBody::Mlp(_) => Arch::Mlp,
            GeneratorBody::Dcgan(_) => Arch::Dcgan,
            GeneratorBody::Fastgan(_) => Arch::Fastgan,
        }
    }

    /// Image shape produced.
    pub fn shape(&self) -> ImageShape {
        match &self.body {
            GeneratorBody::Mlp(g) => g.shape(),
            GeneratorBody::Dcgan(g) => g.shape(),
            GeneratorBody::Fastgan(g) => g.shape(),
        }
    }

    /// Images `[N, C, H, W]` in [-1, 1] for latents `z` `[N, latent]`. A conditional generator
    /// draws class `labels[i]` (values in `0..num_classes`); given no labels it uses the
    /// balanced labels `i % num_classes`, as the runtime does. Labels are ignored by an
    /// unconditional generator.
    pub fn forward(&self, z: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<4> {
        let x = match &self.label_embedding {
            Some(embedding) => {
                let n = z.dims()[0];
                let labels =
                    labels.unwrap_or_else(|| balanced_labels(n, self.num_classes(), &z.device()));
                Tensor::cat(vec![z, embedding.val().select(0, labels)], 1)
            }
            None => z,
        };
        match &self.body {
            GeneratorBody::Mlp(g) => g.forward(x),
            GeneratorBody::Dcgan(g) => g.forward(x),
            GeneratorBody::Fastgan(g) => g.forward(x),
        }
    }

    /// The contract an export of this generator carries.
    pub fn contract(&self) -> gan_runtime::ModelContract {
        let s = self.shape();
        let mut c = gan_runtime::ModelContract::new(self.latent_dim, s.channels, s.height, s.width);
        c.num_classes = self.num_classes();
        c.arch = self.arch().name().into();
        c
    }
}

/// Labels `i % classes` for `i in 0..n`.
pub fn balanced_labels(n: usize, classes: usize, device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = (0..n as u64)
        .map(|i| gan_runtime::balanced_label(i, classes))
        .collect();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

/// The discriminator body.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum DiscriminatorBody {
    /// [`MlpDiscriminator`].
    Mlp(MlpDiscriminator),
    /// [`DcganDiscriminator`].
    Dcgan(DcganDiscriminator),
}

/// A discriminator (or WGAN critic): images (and labels when conditional) -> one raw score
/// per image, `[N, 1]`.
#[derive(Module, Debug)]
pub struct Discriminator {
    /// Image to features.
    pub body: DiscriminatorBody,
    /// Features to the unconditional score.
    pub head: Linear,
    /// Class embedding `[classes, features]` whose dot product with the features is added to
    /// the score (conditional only).
    pub projection: Option<Param<Tensor<2>>>,
    /// Spectral normalization of the head's weight (present when spectral norm is on).
    pub head_spectral: Option<SpectralNorm>,
    /// Spectral normalization of the projection embedding, read as `[classes, features]` as
    /// PyTorch-StudioGAN's and Miyato & Koyama's `SNEmbedding` do (present when spectral norm
    /// is on and the model is conditional).
    pub projection_spectral: Option<SpectralNorm>,
    /// FastGAN's reconstruction decoder on the body's features (FastGAN only).
    pub decoder: Option<Decoder>,
}

/// A forward pass's record, for [`Discriminator::input_gradient`].
#[derive(Debug, Clone)]
pub enum Trace {
    /// From an MLP body.
    Mlp(MlpTrace),
    /// From a DCGAN body.
    Dcgan(DcganTrace),
}

impl Discriminator {
    /// A seeded discriminator for `config`. With spectral norm on, the weights are drawn as
    /// without it, and then one `u` per weight (body in order, head, projection): the same
    /// seed gives the same weights either way.
    ///
    /// ```
    /// use gan_trainer::model::{Arch, Discriminator, ImageShape, Init, NetConfig};
    /// use rand::SeedableRng;
    ///
    /// let config = NetConfig {
    ///     arch: Arch::Mlp,
    ///     latent_dim: 8,
    ///     shape: ImageShape { channels: 1, height: 4, width: 4 },
    ///     num_classes: 0,
    ///     init: Init::Pytorch,
    ///     width: 4,
    ///     dropout: 0.0,
    ///     d_batch_norm: false,
    ///     spectral_norm: true,
    /// };
    /// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let mut d = Discriminator::new(&config, &mut rng, &gan_trainer::device::cpu()).unwrap();
    /// assert!(d.spectral_norm());
    /// d.power_iteration(); // once before each D update
    /// ```
    pub fn new(config: &NetConfig, rng: &mut impl Rng, device: &Device) -> Result<Self, NetError> {
        check(config)?;
        let body = match config.arch {
            Arch::Mlp => DiscriminatorBody::Mlp(MlpDiscriminator::new(
                config.shape,
                config.init,
                rng,
                device,
            )),
            Arch::Dcgan | Arch::Fastgan => DiscriminatorBody::Dcgan(
                DcganDiscriminator::new(
                    config.shape,
                    config.d_width(),
                    config.d_batch_norm,
                    config.dropout,
                    config.init,
                    rng,
                    device,
                )
                .map_err(NetError::Config)?,
            ),
        };
        let decoder = match (&body, config.arch) {
            (DiscriminatorBody::Dcgan(b), Arch::Fastgan) => Some(Decoder::new(
                b.convs.len(),
                config.d_width(),
                config.shape.channels,
                config.init,
                rng,
                device,
            )),
            _ => None,
        };
        let f = match &body {
            DiscriminatorBody::Mlp(d) => d.feature_dim(),
            DiscriminatorBody::Dcgan(d) => d.feature_dim(),
        };
        let head = seeded_linear(f, 1, config.init, rng, device);
        let projection = (config.num_classes > 0).then(|| {
            let v = init_weights(config.num_classes * f, f, 1, config.init, rng);
            param(v, [config.num_classes, f], device)
        });
        let mut d = Self {
            body,
            head,
            projection,
            head_spectral: None,
            projection_spectral: None,
            decoder,
        };
        if config.spectral_norm {
            d.body = match d.body {
                DiscriminatorBody::Mlp(b) => DiscriminatorBody::Mlp(b.with_spectral_norm(rng)),
                DiscriminatorBody::Dcgan(b) => DiscriminatorBody::Dcgan(b.with_spectral_norm(rng)),
            };
            d.head_spectral = Some(SpectralNorm::new(&d.head.weight.val(), Layout::InOut, rng));
            d.projection_spectral = d
                .projection
                .as_ref()
                .map(|p| SpectralNorm::new(&p.val(), Layout::OutFirst, rng));
        }
        Ok(d)
    }

    /// Whether D's weights are spectrally normalized.
    pub fn spectral_norm(&self) -> bool {
        self.head_spectral.is_some()
    }

    /// One power iteration (without gradient) for every spectrally normalized weight, on its
    /// current value; nothing when spectral norm is off. The training step calls it once
    /// before each D update: forward passes only read the estimates, so the update's passes
    /// all divide by the same `sigma` and G steps and evaluation leave them alone.
    pub fn power_iteration(&mut self) {
        match &mut self.body {
            DiscriminatorBody::Mlp(b) => b.power_iteration(),
            DiscriminatorBody::Dcgan(b) => b.power_iteration(),
        }
        if let Some(sn) = &mut self.head_spectral {
            sn.power_iteration(&self.head.weight.val());
        }
        if let (Some(sn), Some(p)) = (&mut self.projection_spectral, &self.projection) {
            sn.power_iteration(&p.val());
        }
    }

    /// The head's weight `[features, 1]` as used: spectrally normalized when on.
    fn head_weight(&self) -> Tensor<2> {
        let w = self.head.weight.val();
        match &self.head_spectral {
            Some(sn) => sn.normalize(w),
            None => w,
        }
    }

    /// The projection embedding `[classes, features]` as used (conditional only).
    fn projection_weight(&self) -> Option<Tensor<2>> {
        let p = self.projection.as_ref()?.val();
        Some(match &self.projection_spectral {
            Some(sn) => sn.normalize(p),
            None => p,
        })
    }

    /// Scores `[N, 1]` of `images` (real > fake). `labels` are used when conditional (see
    /// [`Generator::forward`] for `None`); `dropout_seed` draws dropout masks (`None`: off).
    pub fn forward(
        &self,
        images: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
        dropout_seed: Option<u64>,
    ) -> Tensor<2> {
        self.scores(images, labels, dropout_seed, false).0
    }

    /// [`Self::forward`] and, when D has a reconstruction decoder (FastGAN), its L1 loss on
    /// `images` (call it on real images only).
    pub fn forward_reconstructing(
        &self,
        images: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
        dropout_seed: Option<u64>,
    ) -> (Tensor<2>, Option<Tensor<1>>) {
        let (Some(decoder), DiscriminatorBody::Dcgan(body)) = (&self.decoder, &self.body) else {
            return (self.forward(images, labels, dropout_seed), None);
        };
        let (h, _, map) =
            body.features_tapped(images.clone(), dropout_seed, false, Some(decoder.tap));
        let score = self.score_features(h, labels);
        (score.0, map.map(|m| decoder.loss(m, images)))
    }

    /// [`Self::forward`], also returning what [`Self::input_gradient`] needs.
    pub fn forward_traced(
        &self,
        images: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
        dropout_seed: Option<u64>,
    ) -> (Tensor<2>, Trace, Option<Tensor<1, Int>>) {
        self.scores(images, labels, dropout_seed, true)
    }

    /// Scores, the trace (empty unless `traced`) and the labels used.
    fn scores(
        &self,
        images: Tensor<4>,
        labels: Option<Tensor<1, Int>>,
        dropout_seed: Option<u64>,
        traced: bool,
    ) -> (Tensor<2>, Trace, Option<Tensor<1, Int>>) {
        let (h, trace) = match &self.body {
            DiscriminatorBody::Mlp(d) => {
                let (h, t) = d.features(images, traced);
                (h, Trace::Mlp(t))
            }
            DiscriminatorBody::Dcgan(d) => {
                let (h, t) = d.features(images, dropout_seed, traced);
                (h, Trace::Dcgan(t))
            }
        };
        let (score, used) = self.score_features(h, labels);
        (score, trace, used)
    }

    /// Scores `[N, 1]` of features `h` (head plus projection) and the labels used.
    fn score_features(
        &self,
        h: Tensor<2>,
        labels: Option<Tensor<1, Int>>,
    ) -> (Tensor<2>, Option<Tensor<1, Int>>) {
        let n = h.dims()[0];
        let device = h.device();
        let bias = self.head.bias.as_ref().map(|b| b.val());
        let mut score = burn::tensor::module::linear(h.clone(), self.head_weight(), bias);
        let mut used = None;
        if let Some(p) = self.projection_weight() {
            let labels = labels.unwrap_or_else(|| balanced_labels(n, p.dims()[0], &device));
            let e = p.select(0, labels.clone());
            score = score + (e * h).sum_dim(1);
            used = Some(labels);
        }
        (score, used)
    }

    /// The gradient of each image's score with respect to that image, `[N, C*H*W]`, as a
    /// differentiable function of D's weights, so that a penalty on it (WGAN-GP) trains D
    /// with ordinary first-order autodiff. burn's autodiff does not differentiate a
    /// backward pass (no double backward), so the input gradient is written out here: the
    /// chain rule through the head, the projection and the body, using `trace`'s activation
    /// slopes and dropout masks as constants (their derivative is zero almost everywhere).
    /// A test checks it against burn's own `grad` of the input.
    pub fn input_gradient(&self, trace: &Trace, labels: Option<Tensor<1, Int>>) -> Tensor<2> {
        let w = self.head_weight(); // [F, 1]
        let f = w.dims()[0];
        let n = match trace {
            Trace::Mlp(t) => t.batch(),
            Trace::Dcgan(t) => t.batch(),
        };
        let mut g = w.reshape([1, f]).repeat_dim(0, n);
        if let (Some(p), Some(labels)) = (self.projection_weight(), labels) {
            g = g + p.select(0, labels);
        }
        match (&self.body, trace) {
            (DiscriminatorBody::Mlp(d), Trace::Mlp(t)) => d.input_gradient(t, g),
            (DiscriminatorBody::Dcgan(d), Trace::Dcgan(t)) => d.input_gradient(t, g).flatten(1, 3),
            // A trace always comes from this discriminator's own body.
            _ => unreachable!("trace from another architecture"),
        }
    }

    /// Whether any batch norm is in the body (then per-sample input gradients are not
    /// defined by the body alone).
    pub fn has_batch_norm(&self) -> bool {
        match &self.body {
            DiscriminatorBody::Mlp(_) => false,
            DiscriminatorBody::Dcgan(d) => !d.norms.is_empty(),
        }
    }
}

impl NetConfig {
    /// Channels of D's first map: `width` for DCGAN, twice it for FastGAN (whose G at the same
    /// width is lighter than DCGAN's, and whose D needs the capacity).
    pub fn d_width(&self) -> usize {
        match self.arch {
            Arch::Fastgan => 2 * self.width,
            _ => self.width,
        }
    }
}

fn check(config: &NetConfig) -> Result<(), NetError> {
    if config.latent_dim == 0 {
        return Err(NetError::Config(
            "the latent length must be at least 1".into(),
        ));
    }
    if config.shape.is_empty() {
        return Err(NetError::Config("the image shape is empty".into()));
    }
    if config.arch != Arch::Mlp && config.width == 0 {
        return Err(NetError::Config(format!(
            "the {} width must be at least 1",
            config.arch.name()
        )));
    }
    if !(0.0..1.0).contains(&config.dropout) {
        return Err(NetError::Config(format!(
            "dropout must be in [0, 1), got {}",
            config.dropout
        )));
    }
    Ok(())
}
