//! The GAN training loop: alternating discriminator and generator steps with separate Adam
//! optimizers over separate parameter sets.

use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::{Batcher, Dataset};
use crate::model::net::NetError;
use crate::model::{Arch, Discriminator, Generator, ImageShape, NetConfig};

/// Hyper-parameters of a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// Latent vector length.
    pub latent_dim: usize,
    /// Images per batch (real and fake each).
    pub batch_size: usize,
    /// Adam learning rate, both networks.
    pub lr: f64,
    /// Adam beta1.
    pub beta1: f32,
    /// Seed of the weights, the batch order and the training noise.
    pub seed: u64,
    /// The objective.
    #[serde(default)]
    pub loss: crate::loss::Loss,
    /// Discriminator updates per generator update.
    #[serde(default = "default_d_steps")]
    pub d_steps: u32,
    /// Weight initialization.
    #[serde(default)]
    pub init: crate::model::Init,
    /// Network architecture.
    #[serde(default)]
    pub arch: Arch,
    /// Classes to condition on (0: unconditional). Needs labeled data.
    #[serde(default)]
    pub num_classes: usize,
    /// DCGAN base width (channels of G's last hidden map and of D's first).
    #[serde(default = "default_width")]
    pub width: usize,
    /// DCGAN discriminator dropout probability.
    #[serde(default = "default_dropout")]
    pub dropout: f64,
    /// WGAN-GP penalty weight lambda.
    #[serde(default = "default_gp_weight")]
    pub gp_weight: f64,
    /// Augmentation of real images (default: none).
    #[serde(default)]
    pub augment: crate::data::augment::Augment,
    /// Decay of the generator's exponential moving average (`--ema`); `None`: no average, the
    /// live generator is sampled and exported.
    #[serde(default)]
    pub ema: Option<f64>,
    /// Generator learning rate (`--lr-g`, two time-scale update rule); `None`: `lr`.
    #[serde(default)]
    pub lr_g: Option<f64>,
    /// Discriminator learning rate (`--lr-d`); `None`: `lr`.
    #[serde(default)]
    pub lr_d: Option<f64>,
    /// Spectral normalization of every discriminator weight (`--spectral-norm`).
    #[serde(default)]
    pub spectral_norm: bool,
    /// DiffAugment policy applied to real and fake images at D's input (`--diffaugment`).
    #[serde(default)]
    pub diffaugment: crate::diffaugment::DiffAugment,
    /// Weight of the mode-seeking term in G's loss (`--mode-seeking`); `None`: off.
    #[serde(default)]
    pub mode_seeking: Option<f64>,
}

// Defaults of fields older checkpoints lack: the values of `TrainConfig::default()`, the one
// place training defaults are written (the CLI's flags take theirs from there too).
fn default_d_steps() -> u32 {
    TrainConfig::default().d_steps
}
fn default_width() -> usize {
    TrainConfig::default().width
}
fn default_dropout() -> f64 {
    TrainConfig::default().dropout
}
fn default_gp_weight() -> f64 {
    TrainConfig::default().gp_weight
}

/// A [`TrainConfig`] value that cannot train, named by its command-line flag.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("--{flag} {problem}")]
pub struct ConfigError {
    /// The flag (`lr`, `batch-size`, ...).
    pub flag: &'static str,
    /// What is wrong with its value.
    pub problem: String,
}

impl TrainConfig {
    /// Checks every hyper-parameter: what the CLI and library callers of
    /// [`crate::run::run`] both go through.
    ///
    /// ```
    /// use gan_trainer::train::TrainConfig;
    ///
    /// assert!(TrainConfig::default().validate().is_ok());
    /// let bad = TrainConfig { lr: 0.0, ..TrainConfig::default() };
    /// assert_eq!(bad.validate().unwrap_err().to_string(), "--lr must be a positive number, got 0");
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |flag, problem: String| Err(ConfigError { flag, problem });
        if self.batch_size == 0 {
            return bad("batch-size", "must be at least 1".into());
        }
        if self.latent_dim == 0 {
            return bad("latent-dim", "must be at least 1".into());
        }
        if self.d_steps == 0 {
            return bad("d-steps", "must be at least 1".into());
        }
        for (flag, lr) in [
            ("lr", Some(self.lr)),
            ("lr-g", self.lr_g),
            ("lr-d", self.lr_d),
        ] {
            if let Some(lr) = lr.filter(|lr| !(*lr > 0.0 && lr.is_finite())) {
                return bad(flag, format!("must be a positive number, got {lr}"));
            }
        }
        if let Some(w) = self.mode_seeking.filter(|w| !(*w >= 0.0 && w.is_finite())) {
            return bad(
                "mode-seeking",
                format!("must be a non-negative weight, e.g. 1; got {w}"),
            );
        }
        if let Some(decay) = self.ema.filter(|d| !(0.0..1.0).contains(d)) {
            return bad(
                "ema",
                format!("must be a decay in [0, 1), e.g. 0.999; got {decay}"),
            );
        }
        if !(0.0..1.0).contains(&self.beta1) {
            return bad("beta1", format!("must be in [0, 1), got {}", self.beta1));
        }
        if self.arch != Arch::Mlp && self.width == 0 {
            return bad("width", "must be at least 1".into());
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(
                "dropout",
                format!("must be in [0, 1), got {}", self.dropout),
            );
        }
        if !(self.gp_weight >= 0.0 && self.gp_weight.is_finite()) {
            return bad(
                "gp-weight",
                format!("must be a non-negative number, got {}", self.gp_weight),
            );
        }
        Ok(())
    }

    /// The generator's learning rate: `lr_g`, else `lr`.
    pub fn g_lr(&self) -> f64 {
        self.lr_g.unwrap_or(self.lr)
    }

    /// The discriminator's learning rate: `lr_d`, else `lr`.
    pub fn d_lr(&self) -> f64 {
        self.lr_d.unwrap_or(self.lr)
    }

    /// The networks' configuration for images of `shape`.
    pub fn net(&self, shape: ImageShape) -> NetConfig {
        NetConfig {
            arch: self.arch,
            latent_dim: self.latent_dim,
            shape,
            num_classes: self.num_classes,
            init: self.init,
            width: self.width,
            dropout: self.dropout,
            // The gradient penalty is per sample; batch norm would couple the samples.
            d_batch_norm: !self.loss.needs_gradient_penalty(),
            spectral_norm: self.spectral_norm,
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            latent_dim: 100,
            batch_size: 128,
            lr: 2e-4,
            beta1: 0.5,
            seed: 0,
            loss: crate::loss::Loss::Ns,
            d_steps: 1,
            init: crate::model::Init::Pytorch,
            arch: Arch::Mlp,
            num_classes: 0,
            width: 64,
            dropout: 0.3,
            gp_weight: 10.0,
            augment: Default::default(),
            ema: None,
            lr_g: None,
            lr_d: None,
            spectral_norm: false,
            diffaugment: Default::default(),
            mode_seeking: None,
        }
    }
}

/// What one training step measured.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepStats {
    /// Step number, from 1.
    pub step: u64,
    /// Discriminator loss (for WGAN-GP: including the penalty).
    pub d_loss: f32,
    /// Generator loss.
    pub g_loss: f32,
    /// Fraction of real images D called real.
    pub d_acc_real: f32,
    /// Fraction of fake images D called fake.
    pub d_acc_fake: f32,
}

/// Seed offset of the noise stream fed to G during training, so it never coincides with the
/// latents of sample grids (seed 0, 1, ...).
const NOISE_SEED_SALT: u64 = 0x9E37_79B9_7F4A_7C15;

/// Real images of one batch and their labels (when conditional).
pub struct RealBatch {
    /// `[N, C, H, W]` in [-1, 1].
    pub images: Tensor<4>,
    /// `[N]`, present when the run is conditional.
    pub labels: Option<Tensor<1, Int>>,
}

/// Latents of one batch and the classes asked for (when conditional).
pub struct Noise {
    /// `[N, latent]`.
    pub z: Tensor<2>,
    /// `[N]`, present when the run is conditional.
    pub labels: Option<Tensor<1, Int>>,
}

/// A GAN being trained: both networks, their optimizers and the data order.
pub struct GanTrainer {
    /// The generator.
    pub g: Generator,
    /// The discriminator.
    pub d: Discriminator,
    pub(crate) opt_g: ModuleOptimizer,
    pub(crate) opt_d: ModuleOptimizer,
    pub(crate) config: TrainConfig,
    pub(crate) shape: ImageShape,
    pub(crate) batcher: Batcher,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) noise_index: u64,
    /// Real batches drawn so far: keys the augmentation of the next one.
    pub(crate) real_batches: u64,
    pub(crate) step: u64,
    pub(crate) device: Device,
    /// The generator's moving average, when `config.ema` asks for one.
    pub(crate) ema: Option<crate::model::ema::Ema>,
    real_buf: Vec<f32>,
}

/// Why a trainer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The networks cannot be built.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The data does not fit the configuration.
    #[error("{0}")]
    Data(String),
}

impl GanTrainer {
    /// Fresh networks for images of `shape`, from `config.seed`, over `dataset_len` images.
    pub fn new(
        config: TrainConfig,
        shape: ImageShape,
        dataset_len: usize,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let net = config.net(shape);
        let g = Generator::new(&net, &mut rng, device)?;
        let d = Discriminator::new(&net, &mut rng, device)?;
        let adam = AdamConfig::new()
            .with_beta_1(config.beta1)
            .with_beta_2(0.999)
            .with_epsilon(1e-8);
        let ema = config
            .ema
            .map(|decay| crate::model::ema::Ema::new(decay, g.valid()));
        Ok(Self {
            ema,
            g,
            d,
            opt_g: adam.init(),
            opt_d: adam.init(),
            config,
            shape,
            batcher: Batcher::new(dataset_len),
            rng,
            noise_index: 0,
            real_batches: 0,
            step: 0,
            device: device.clone(),
            real_buf: Vec::new(),
        })
    }

    /// Steps done so far.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// The run's configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The base learning rate (`--lr`) from the next update on.
    pub fn lr(&self) -> f64 {
        self.config.lr
    }

    /// Changes the base learning rate from the next update on (for a plateau schedule; Adam's
    /// moment estimates are kept). Separate `lr_g` / `lr_d` are scaled by the same factor, so
    /// their ratio holds. It is saved in checkpoints with the config.
    pub fn set_lr(&mut self, lr: f64) {
        let factor = lr / self.config.lr;
        self.config.lr = lr;
        for own in [&mut self.config.lr_g, &mut self.config.lr_d]
            .into_iter()
            .flatten()
        {
            *own *= factor;
        }
    }

    /// The next `n` latents of the training noise stream, with uniformly drawn classes when
    /// conditional.
    pub fn next_noise(&mut self, n: usize) -> Noise {
        let dim = self.config.latent_dim;
        let z =
            gan_runtime::latent_batch(self.config.seed ^ NOISE_SEED_SALT, self.noise_index, n, dim);
        self.noise_index += n as u64;
        let classes = self.config.num_classes;
        let labels = (classes > 0).then(|| {
            let v: Vec<i64> = (0..n)
                .map(|_| self.rng.random_range(0..classes as i64))
                .collect();
            Tensor::from_data(TensorData::new(v, [n]), &self.device)
        });
        Noise {
            z: Tensor::from_data(TensorData::new(z, [n, dim]), &self.device),
            labels,
        }
    }

    /// The next batch of real images, `[batch, C, H, W]` in [-1, 1], augmented as
    /// `config.augment` says, with their labels when conditional.
    pub fn next_real(&mut self, data: &Dataset) -> RealBatch {
        let idx = self
            .batcher
            .next_batch(self.config.batch_size, &mut self.rng);
        data.fill_batch(&idx, &mut self.real_buf);
        self.config.augment.apply_batch(
            self.config.seed,
            self.real_batches,
            &mut self.real_buf,
            data.channels,
            data.height,
            data.width,
        );
        self.real_batches += 1;
        let shape = [idx.len(), data.channels, data.height, data.width];
        let labels = match (&data.labels, self.config.num_classes > 0) {
            (Some(l), true) => {
                let v: Vec<i64> = idx.iter().map(|&i| i64::from(l[i])).collect();
                Some(Tensor::from_data(
                    TensorData::new(v, [idx.len()]),
                    &self.device,
                ))
            }
            _ => None,
        };
        RealBatch {
            images: Tensor::from_data(TensorData::new(self.real_buf.clone(), shape), &self.device),
            labels,
        }
    }

    /// One discriminator update on `real` and on G's images for `noise` (G is not touched).
    /// Returns `(loss, accuracy on real, accuracy on fake)`.
    pub fn d_step(&mut self, real: RealBatch, noise: Noise) -> (f32, f32, f32) {
        // G's images are constants for this step. G runs in training mode (batch statistics
        // in batch norm), as in PyTorch's DCGAN, and is detached from the graph.
        let fake = self.g.forward(noise.z, noise.labels.clone()).detach();
        let n = fake.dims()[0];
        let seeds = [
            self.rng.next_u64(),
            self.rng.next_u64(),
            self.rng.next_u64(),
        ];
        if self.config.spectral_norm {
            self.d.power_iteration();
        }
        let (d_real, d_fake) = if self.config.diffaugment.is_empty() {
            (real.images.clone(), fake.clone())
        } else {
            // Drawn only when on, so runs without it keep their random stream.
            let (a, b) = (self.rng.next_u64(), self.rng.next_u64());
            let policy = self.config.diffaugment;
            (
                policy.apply(real.images.clone(), a),
                policy.apply(fake.clone(), b),
            )
        };
        // FastGAN's D also decodes the real batch (as D sees it) from its features: the L1
        // reconstruction loss joins D's loss with weight 1, as in FastGAN.
        let (logits_real, reconstruction) =
            self.d
                .forward_reconstructing(d_real, real.labels.clone(), Some(seeds[0]));
        let logits_fake = self.d.forward(d_fake, noise.labels.clone(), Some(seeds[1]));
        let th = self.config.loss.threshold();
        let acc_real = mean_of(logits_real.clone().greater_elem(th).float());
        let acc_fake = mean_of(logits_fake.clone().lower_equal_elem(th).float());
        let mut loss = self.config.loss.discriminator(logits_real, logits_fake);
        if let Some(reconstruction) = reconstruction {
            loss = loss + reconstruction;
        }
        if self.config.loss.needs_gradient_penalty() {
            // Interpolates between real and fake at a uniform point per sample; a
            // conditional critic scores them with the real batch's labels.
            let eps: Vec<f32> = (0..n).map(|_| self.rng.random::<f32>()).collect();
            let eps = Tensor::<1>::from_data(TensorData::new(eps, [n]), &self.device)
                .reshape([n, 1, 1, 1]);
            let x_hat = real.images.clone() * eps.clone() + fake * eps.neg().add_scalar(1.0);
            let (_, trace, used) =
                self.d
                    .forward_traced(x_hat.detach(), real.labels.clone(), Some(seeds[2]));
            let grad = self.d.input_gradient(&trace, used);
            let norm = (grad.powi_scalar(2).sum_dim(1).add_scalar(1e-12)).sqrt();
            let penalty = norm.sub_scalar(1.0).powi_scalar(2).mean();
            loss = loss + penalty.mul_scalar(self.config.gp_weight);
        }
        let loss_value = mean_of(loss.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &self.d);
        self.d = self.opt_d.step(self.config.d_lr(), self.d.clone(), grads);
        (loss_value, acc_real, acc_fake)
    }

    /// One generator update with the configured loss; D's weights are read, not changed.
    pub fn g_step(&mut self, noise: Noise) -> f32 {
        // D's parameters need no gradient here; gradients still flow through D to G.
        let d = self.d.clone().no_grad();
        let seed = self.rng.next_u64();
        let n = noise.z.dims()[0];
        let half = n / 2;
        let ms_weight = self.config.mode_seeking.filter(|_| half > 0);
        let labels = match (&noise.labels, ms_weight) {
            // Mode seeking compares pairs of one class: the second half repeats the first
            // half's labels.
            (Some(l), Some(_)) => {
                let mut v = l
                    .clone()
                    .into_data()
                    .convert::<i64>()
                    .try_into_vec::<i64>()
                    .unwrap_or_default();
                v.copy_within(0..half, half);
                Some(Tensor::from_data(TensorData::new(v, [n]), &self.device))
            }
            (l, _) => l.clone(),
        };
        let z = noise.z;
        let mut fake = self.g.forward(z.clone(), labels.clone());
        let mode_seeking = ms_weight.map(|w| {
            // MSGAN (Mao et al. 2019): G is rewarded for images that differ as much as their
            // latents do: 1 / (mean|x1 - x2| / mean|z1 - z2| + eps).
            let x1 = fake.clone().narrow(0, 0, half);
            let x2 = fake.clone().narrow(0, half, half);
            let z1 = z.clone().narrow(0, 0, half);
            let z2 = z.narrow(0, half, half);
            let ratio = (x1 - x2).abs().mean() / (z1 - z2).abs().mean().detach();
            ratio.add_scalar(1e-5).recip().mul_scalar(w)
        });
        if !self.config.diffaugment.is_empty() {
            // The same augmentation D trains on, differentiable: G learns through it, and
            // never learns to draw it.
            fake = self.config.diffaugment.apply(fake, self.rng.next_u64());
        }
        let mut loss = self
            .config
            .loss
            .generator(d.forward(fake, labels, Some(seed)));
        if let Some(term) = mode_seeking {
            loss = loss + term;
        }
        let loss_value = mean_of(loss.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &self.g);
        self.g = self.opt_g.step(self.config.g_lr(), self.g.clone(), grads);
        if let Some(ema) = &mut self.ema {
            ema.update(&self.g.valid());
        }
        loss_value
    }

    /// One full step: `d_steps` D updates, each on a real batch and a fake batch, then a G
    /// update on fresh noise. D's reported figures are those of its last update.
    pub fn step(&mut self, data: &Dataset) -> StepStats {
        let n = self.config.batch_size;
        let mut d_stats = (0.0, 0.0, 0.0);
        for _ in 0..self.config.d_steps.max(1) {
            let real = self.next_real(data);
            let noise = self.next_noise(n);
            d_stats = self.d_step(real, noise);
        }
        let (d_loss, d_acc_real, d_acc_fake) = d_stats;
        let noise = self.next_noise(n);
        let g_loss = self.g_step(noise);
        self.step += 1;
        StepStats {
            step: self.step,
            d_loss,
            g_loss,
            d_acc_real,
            d_acc_fake,
        }
    }

    /// The generator to sample, evaluate and export: the moving average when the run keeps
    /// one (`--ema`), else the live generator; without autodiff.
    pub fn generator(&self) -> Generator {
        match &self.ema {
            Some(ema) => ema.generator().valid(),
            None => self.g.valid(),
        }
    }

    /// The live (last-iterate) generator without autodiff, whether or not an average is kept.
    pub fn live_generator(&self) -> Generator {
        self.g.valid()
    }

    /// The training device without autodiff: where [`Self::generator`]'s weights live.
    pub fn infer_device(&self) -> Device {
        self.device.clone().inner()
    }
}

fn mean_of<const D: usize>(t: Tensor<D>) -> f32 {
    t.mean().into_scalar::<f32>()
}

/// Runs `g` on the sample latents `0..count` of `seed` (the same latents the runtime uses;
/// a conditional `g` draws class `i % classes` for sample `i`, as the runtime's balanced
/// labels do), returning images ready to save.
pub fn sample_grid(
    g: &Generator,
    seed: u64,
    count: usize,
    device: &Device,
) -> gan_runtime::ImageBatch {
    sample(g, seed, 0, count, None, device)
}

/// Runs a conditional `g` on the sample latents `start..start + labels.len()` of `seed`,
/// sample `i` drawing class `labels[i]` (values in `0..g.num_classes()`): images of chosen
/// classes, as [`sample_grid`] makes balanced ones. With `start` 0 and the balanced labels
/// `i % classes` it is [`sample_grid`].
pub fn sample_labeled(
    g: &Generator,
    seed: u64,
    start: u64,
    labels: &[i64],
    device: &Device,
) -> gan_runtime::ImageBatch {
    sample(g, seed, start, labels.len(), Some(labels), device)
}

fn sample(
    g: &Generator,
    seed: u64,
    start: u64,
    count: usize,
    labels: Option<&[i64]>,
    device: &Device,
) -> gan_runtime::ImageBatch {
    let dim = g.latent_dim();
    let z = gan_runtime::latent_batch(seed, start, count, dim);
    let labels = labels.map(|l| Tensor::from_data(TensorData::new(l.to_vec(), [l.len()]), device));
    let out = g.forward(
        Tensor::from_data(TensorData::new(z, [count, dim]), device),
        labels,
    );
    let shape = g.shape();
    let data = out
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    // The forward pass produced exactly count x C x H x W values.
    gan_runtime::ImageBatch::new(
        data,
        count,
        shape.channels,
        shape.height,
        shape.width,
        (-1.0, 1.0),
    )
    .expect("generator output matches its own shape")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_data() -> Dataset {
        let n = 16;
        Dataset {
            pixels: (0..n * 4 * 4).map(|i| (i * 37 % 256) as u8).collect(),
            len: n,
            channels: 1,
            height: 4,
            width: 4,
            labels: None,
        }
    }

    fn params<M: burn::module::Module>(m: &M) -> Vec<Vec<f32>> {
        struct Collect(Vec<Vec<f32>>);
        impl burn::module::ModuleVisitor for Collect {
            fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
                self.0
                    .push(p.val().into_data().convert::<f32>().try_into_vec().unwrap());
            }
        }
        let mut c = Collect(Vec::new());
        m.visit(&mut c);
        c.0
    }

    fn trainer(seed: u64) -> GanTrainer {
        let cfg = TrainConfig {
            latent_dim: 8,
            batch_size: 4,
            seed,
            ..TrainConfig::default()
        };
        let shape = ImageShape {
            channels: 1,
            height: 4,
            width: 4,
        };
        GanTrainer::new(cfg, shape, 16, &crate::device::cpu_train()).unwrap()
    }

    #[test]
    fn g_step_leaves_d_alone_and_d_step_leaves_g_alone() {
        let data = tiny_data();
        let mut t = trainer(3);
        let (g0, d0) = (params(&t.g), params(&t.d));

        let noise = t.next_noise(4);
        t.g_step(noise);
        let (g1, d1) = (params(&t.g), params(&t.d));
        assert_eq!(d0, d1, "a G step changed D");
        assert_ne!(g0, g1, "a G step did not change G");

        let real = t.next_real(&data);
        let noise = t.next_noise(4);
        t.d_step(real, noise);
        let (g2, d2) = (params(&t.g), params(&t.d));
        assert_eq!(g1, g2, "a D step changed G");
        assert_ne!(d1, d2, "a D step did not change D");
    }

    #[test]
    fn same_seed_same_weights() {
        let data = tiny_data();
        let run = |seed| {
            let mut t = trainer(seed);
            for _ in 0..3 {
                t.step(&data);
            }
            (params(&t.g), params(&t.d))
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5).0, run(6).0);
    }

    #[test]
    fn augmentation_is_seeded_and_changes_the_real_batches() {
        let data = tiny_data();
        let real = |augment: &str| {
            let mut t = trainer(5);
            t.config.augment = augment.parse().unwrap();
            (0..3)
                .map(|_| {
                    t.next_real(&data)
                        .images
                        .into_data()
                        .try_into_vec::<f32>()
                        .unwrap()
                })
                .collect::<Vec<_>>()
        };
        let plain = real("none");
        let aug = real("flip,rotate=10,zoom=0.1,contrast=0.2");
        assert_eq!(aug, real("flip,rotate=10,zoom=0.1,contrast=0.2"));
        assert_ne!(plain, aug);
        assert_ne!(aug[0], aug[1]);
        assert!(aug.iter().flatten().all(|v| (-1.0..=1.0).contains(v)));
    }

    #[test]
    fn validate_names_the_flag_of_each_bad_value() {
        let d = TrainConfig::default();
        let cases = [
            (
                TrainConfig {
                    lr: 0.0,
                    ..d.clone()
                },
                "--lr must be a positive number, got 0",
            ),
            (
                TrainConfig {
                    lr: f64::NAN,
                    ..d.clone()
                },
                "--lr must be a positive number",
            ),
            (
                TrainConfig {
                    lr_g: Some(-1e-4),
                    ..d.clone()
                },
                "--lr-g must be a positive number, got -0.0001",
            ),
            (
                TrainConfig {
                    lr_d: Some(f64::INFINITY),
                    ..d.clone()
                },
                "--lr-d must be a positive number",
            ),
            (
                TrainConfig {
                    mode_seeking: Some(-1.0),
                    ..d.clone()
                },
                "--mode-seeking must be a non-negative weight",
            ),
            (
                TrainConfig {
                    ema: Some(1.0),
                    ..d.clone()
                },
                "--ema must be a decay in [0, 1), e.g. 0.999; got 1",
            ),
            (
                TrainConfig {
                    batch_size: 0,
                    ..d.clone()
                },
                "--batch-size must be at least 1",
            ),
            (
                TrainConfig {
                    latent_dim: 0,
                    ..d.clone()
                },
                "--latent-dim must be at least 1",
            ),
            (
                TrainConfig {
                    d_steps: 0,
                    ..d.clone()
                },
                "--d-steps must be at least 1",
            ),
            (
                TrainConfig {
                    beta1: 1.0,
                    ..d.clone()
                },
                "--beta1 must be in [0, 1)",
            ),
            (
                TrainConfig {
                    dropout: 1.0,
                    ..d.clone()
                },
                "--dropout must be in [0, 1), got 1",
            ),
            (
                TrainConfig {
                    gp_weight: -1.0,
                    ..d.clone()
                },
                "--gp-weight must be a non-negative",
            ),
            (
                TrainConfig {
                    arch: Arch::Dcgan,
                    width: 0,
                    ..d.clone()
                },
                "--width must be at least 1",
            ),
        ];
        for (config, want) in cases {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.starts_with(want), "{err:?} should start with {want:?}");
        }
        assert_eq!(d.validate(), Ok(()));
    }

    #[test]
    fn run_gives_library_callers_the_same_checks() {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("never-made");
        let config = TrainConfig {
            lr: 0.0,
            ..TrainConfig::default()
        };
        let options = crate::run::RunOptions::new(config, 1, out_dir.clone());
        let err = crate::run::run(&options, &tiny_data()).err().unwrap();
        assert!(
            err.to_string().contains("--lr must be a positive number"),
            "{err}"
        );
        assert!(
            !out_dir.exists(),
            "a refused run created its output directory"
        );
    }

    #[test]
    fn set_lr_changes_the_next_update() {
        let mut t = trainer(1);
        assert_eq!(t.lr(), 2e-4);
        t.set_lr(1e-5);
        assert_eq!(t.lr(), 1e-5);
        assert_eq!(t.config().lr, 1e-5);
    }

    #[test]
    fn set_lr_keeps_the_ratio_of_two_time_scales() {
        let mut t = trainer(1);
        t.config.lr_g = Some(1e-4);
        t.config.lr_d = Some(4e-4);
        t.set_lr(1e-4);
        assert!((t.config().g_lr() - 5e-5).abs() < 1e-18);
        assert!((t.config().d_lr() - 2e-4).abs() < 1e-18);
    }
}
