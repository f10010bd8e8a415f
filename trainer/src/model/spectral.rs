//! Spectral normalization (Miyato et al. 2018) of a weight: the layer uses `W / sigma(W)`,
//! where `sigma(W)` estimates `W`'s largest singular value by power iteration, as PyTorch's
//! `torch.nn.utils.spectral_norm` does with `n_power_iterations = 1` and `eps = 1e-12`.
//!
//! A weight is read as a matrix `[rows, cols]` (see [`Layout`]): `u` has one value per row,
//! `v` one per column. Two steps, kept apart:
//!
//! - [`SpectralNorm::power_iteration`], without gradient: `v = normalize(W^T u)`,
//!   `u = normalize(W v)` (`normalize(x) = x / max(|x|, eps)`);
//! - [`SpectralNorm::normalize`], with gradient through `W`: `sigma = u^T W v`, `W / sigma`
//!   (`u`, `v` constants, so `d sigma / d W = u v^T`, PyTorch's gradient).
//!
//! Where `u` moves: PyTorch moves it inside every forward pass in training mode. Here a
//! forward pass only reads `u` and `v` (it takes `&self`), and the training step calls
//! [`crate::model::Discriminator::power_iteration`] once before each discriminator update.
//! Every pass of that update (real, fake, the WGAN-GP interpolates and their input gradient)
//! then divides by the same `sigma`, and generator steps and evaluation never move `u`.
//! With `v` stored too, the update's passes compute exactly what PyTorch's first training
//! forward after the same iteration would.
//!
//! `u` and `v` are [`RunningState`]s, burn's buffer type (batch norm keeps its running
//! statistics in them): they are saved in the module's record, so checkpoints keep them, but
//! they are never a gradient target — a module mapper (the optimizer included) cannot make
//! them require a gradient, and an optimizer only updates what has one. Clones of a
//! `RunningState` share its value, so it is replaced whole, never updated in place.
//!
//! ```
//! use burn::prelude::*;
//! use gan_trainer::model::spectral::{Layout, SpectralNorm};
//! use rand::SeedableRng;
//!
//! let device = gan_trainer::device::cpu();
//! // A convolution kernel [out 2, in 1, 1, 1] read as the matrix [[3], [4]]: sigma = 5.
//! let w = Tensor::<4>::from_data(TensorData::new(vec![3.0f32, 4.0], [2, 1, 1, 1]), &device);
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let mut sn = SpectralNorm::new(&w, Layout::OutFirst, &mut rng);
//! sn.power_iteration(&w);
//! let sigma: f32 = sn.sigma(w.clone()).into_scalar();
//! assert!((sigma - 5.0).abs() < 1e-5);
//! let w_sn: Vec<f32> = sn.normalize(w).into_data().try_into_vec().unwrap();
//! assert!((w_sn[0] - 0.6).abs() < 1e-6 && (w_sn[1] - 0.8).abs() < 1e-6);
//! ```

use burn::module::RunningState;
use burn::prelude::*;
use burn::tensor::Shape;
use rand::Rng;

/// `eps` of the normalization of `u` and `v` (PyTorch's default).
pub const EPS: f64 = 1e-12;

/// How a weight is read as the matrix whose largest singular value is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The first axis gives the rows, the others are flattened into the columns (PyTorch's
    /// `dim = 0`): a convolution kernel `[out, in, k, k]` is `[out, in * k * k]`, an embedding
    /// `[classes, dim]` is itself.
    OutFirst,
    /// burn's `Linear` weight `[in, out]`, read as its transpose `[out, in]`: PyTorch's
    /// `nn.Linear` layout, so `u` has one value per output, as there.
    InOut,
}

/// The power-iteration state of one spectrally normalized weight.
#[derive(Module, Debug)]
pub struct SpectralNorm {
    /// The estimate of the left singular vector, `[rows]`, unit length.
    pub u: RunningState<Tensor<1>>,
    /// The estimate of the right singular vector, `[cols]`, unit length.
    pub v: RunningState<Tensor<1>>,
    /// How the weight is read as a matrix.
    #[module(skip)]
    pub layout: Layout,
}

impl SpectralNorm {
    /// The state for `weight` read per `layout`: `u` drawn from `rng` (one `u64`: the seed of
    /// a standard normal vector, as [`super::init_weights`] draws one) and normalized, and
    /// `v = normalize(W^T u)`, what the first power iteration computes first. A forward pass
    /// before any [`Self::power_iteration`] thus divides by `|W^T u| > 0`, never by a random
    /// sign.
    pub fn new<const D: usize>(weight: &Tensor<D>, layout: Layout, rng: &mut impl Rng) -> Self {
        let m = matrix(weight.clone().detach(), layout);
        let [rows, _] = m.dims();
        let values = gan_runtime::latent(rng.next_u64(), 0, rows);
        let u = normalize(Tensor::from_data(
            TensorData::new(values, [rows]),
            &weight.device(),
        ));
        let v = normalize(mat_vec(m.transpose(), u.clone()));
        Self {
            u: RunningState::new(u),
            v: RunningState::new(v),
            layout,
        }
    }

    /// One power iteration on `weight` (the weight this state was made for, current value),
    /// without gradient: `v = normalize(W^T u)`, then `u = normalize(W v)`.
    pub fn power_iteration<const D: usize>(&mut self, weight: &Tensor<D>) {
        let m = matrix(weight.clone().detach(), self.layout);
        let v = normalize(mat_vec(m.clone().transpose(), self.u.value().detach()));
        let u = normalize(mat_vec(m, v.clone()));
        self.u = RunningState::new(u);
        self.v = RunningState::new(v);
    }

    /// `sigma = u^T W v`, `[1]`, differentiable in `weight` (`u`, `v` are constants).
    pub fn sigma<const D: usize>(&self, weight: Tensor<D>) -> Tensor<1> {
        let m = matrix(weight, self.layout);
        let [rows, cols] = m.dims();
        let u = self.u.value().detach().reshape([1, rows]);
        let v = self.v.value().detach().reshape([cols, 1]);
        u.matmul(m).matmul(v).reshape([1])
    }

    /// `weight / sigma`, in `weight`'s own shape, differentiable in `weight`.
    pub fn normalize<const D: usize>(&self, weight: Tensor<D>) -> Tensor<D> {
        let sigma = self.sigma(weight.clone()).reshape(Shape::from(vec![1; D]));
        weight / sigma
    }

    /// Length of `u` (the matrix's rows).
    pub fn rows(&self) -> usize {
        self.u.value().dims()[0]
    }
}

/// `weight` as the matrix `[rows, cols]` of `layout`.
fn matrix<const D: usize>(weight: Tensor<D>, layout: Layout) -> Tensor<2> {
    let dims = weight.dims();
    let rows = dims[0];
    let cols = dims[1..].iter().product();
    let m: Tensor<2> = weight.reshape([rows, cols]);
    match layout {
        Layout::OutFirst => m,
        Layout::InOut => m.transpose(),
    }
}

/// `m x` for `m` `[r, c]`, `x` `[c]`.
fn mat_vec(m: Tensor<2>, x: Tensor<1>) -> Tensor<1> {
    let [rows, cols] = m.dims();
    m.matmul(x.reshape([cols, 1])).reshape([rows])
}

/// `x / max(|x|, EPS)`, as PyTorch's `F.normalize`.
fn normalize(x: Tensor<1>) -> Tensor<1> {
    let norm = x.clone().powi_scalar(2).sum().sqrt().clamp_min(EPS);
    x / norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::net::DiscriminatorBody;
    use crate::model::{Arch, Discriminator, ImageShape, Init, NetConfig};
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::store::ModuleRecord;
    use nalgebra::DMatrix;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_into_vec().unwrap()
    }

    /// `weight` as the matrix of `layout`, in f64, for nalgebra.
    fn as_matrix<const D: usize>(weight: &Tensor<D>, layout: Layout) -> DMatrix<f64> {
        let dims = weight.dims();
        let (rows, cols) = (dims[0], dims[1..].iter().product::<usize>());
        let v: Vec<f64> = values(weight.clone()).into_iter().map(f64::from).collect();
        let m = DMatrix::from_row_slice(rows, cols, &v);
        match layout {
            Layout::OutFirst => m,
            Layout::InOut => m.transpose(),
        }
    }

    fn largest_singular_value(m: &DMatrix<f64>) -> f64 {
        m.singular_values().max()
    }

    fn random<const D: usize>(seed: u64, dims: [usize; D]) -> Tensor<D> {
        let n = dims.iter().product();
        let v = gan_runtime::latent(seed, 0, n);
        Tensor::from_data(TensorData::new(v, dims), &crate::device::cpu())
    }

    /// Many power iterations: sigma is the largest singular value (nalgebra's SVD), and the
    /// normalized weight's largest singular value is 1, for both layouts.
    #[test]
    fn sigma_converges_to_the_largest_singular_value() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let conv = random(1, [6, 3, 2, 2]);
        let linear = random(2, [10, 7]);
        let check = |w: Tensor<2>, layout: Layout, sn: &SpectralNorm| {
            let expected = largest_singular_value(&as_matrix(&w, layout));
            let sigma = f64::from(sn.sigma(w.clone()).into_scalar::<f32>());
            assert!(
                (sigma - expected).abs() < 1e-4 * expected.max(1.0),
                "{layout:?}: sigma {sigma} vs SVD {expected}"
            );
            let top = largest_singular_value(&as_matrix(&sn.normalize(w), layout));
            assert!((top - 1.0).abs() < 1e-4, "{layout:?}: normalized top {top}");
        };

        let mut sn = SpectralNorm::new(&conv, Layout::OutFirst, &mut rng);
        assert_eq!(sn.rows(), 6);
        assert!(
            values(sn.sigma(conv.clone()))[0] > 0.0,
            "positive before any iteration"
        );
        for _ in 0..500 {
            sn.power_iteration(&conv);
        }
        check(conv.clone().reshape([6, 12]), Layout::OutFirst, &sn);
        let normalized = sn.normalize(conv.clone());
        assert_eq!(normalized.dims(), [6, 3, 2, 2]);

        let mut sn = SpectralNorm::new(&linear, Layout::InOut, &mut rng);
        assert_eq!(sn.rows(), 7, "u has one value per output");
        for _ in 0..500 {
            sn.power_iteration(&linear);
        }
        check(linear, Layout::InOut, &sn);
    }

    /// One iteration is PyTorch's: `v = W^T u / |W^T u|`, `u' = W v / |W v|`, and sigma is
    /// `u'^T W v`, computed here by hand from the stored `u`.
    #[test]
    fn one_iteration_is_pytorchs() {
        let w = random(4, [3, 5]);
        let mut sn = SpectralNorm::new(&w, Layout::OutFirst, &mut ChaCha8Rng::seed_from_u64(8));
        let m = as_matrix(&w, Layout::OutFirst);
        let u0 =
            nalgebra::DVector::from_iterator(3, values(sn.u.value()).into_iter().map(f64::from));
        assert!((u0.norm() - 1.0).abs() < 1e-6);
        sn.power_iteration(&w);
        let v = (m.transpose() * &u0).normalize();
        let u = (&m * &v).normalize();
        let sigma = (u.transpose() * &m * &v)[(0, 0)];
        let close = |a: Vec<f32>, b: &nalgebra::DVector<f64>| {
            a.iter()
                .zip(b.iter())
                .all(|(x, y)| (f64::from(*x) - y).abs() < 1e-6)
        };
        assert!(close(values(sn.u.value()), &u));
        assert!(close(values(sn.v.value()), &v));
        let ours = f64::from(sn.sigma(w).into_scalar::<f32>());
        assert!((ours - sigma).abs() < 1e-5, "{ours} vs {sigma}");
    }

    fn config(arch: Arch, classes: usize, spectral_norm: bool) -> NetConfig {
        NetConfig {
            arch,
            latent_dim: 3,
            shape: ImageShape {
                channels: 1,
                height: 8,
                width: 8,
            },
            num_classes: classes,
            init: Init::Pytorch,
            width: 2,
            dropout: 0.0,
            d_batch_norm: false,
            spectral_norm,
        }
    }

    /// Every spectral-norm state of `d`, as `(u, v)` values, body first.
    fn states(d: &Discriminator) -> Vec<(Vec<f32>, Vec<f32>)> {
        let body = match &d.body {
            DiscriminatorBody::Mlp(b) => &b.spectral,
            DiscriminatorBody::Dcgan(b) => &b.spectral,
        };
        body.iter()
            .chain(&d.head_spectral)
            .chain(&d.projection_spectral)
            .map(|sn| (values(sn.u.value()), values(sn.v.value())))
            .collect()
    }

    fn images(device: &Device) -> Tensor<4> {
        let v = gan_runtime::latent(5, 0, 3 * 64);
        Tensor::from_data(TensorData::new(v, [3, 1, 8, 8]), device)
    }

    fn labels(device: &Device) -> Tensor<1, Int> {
        Tensor::from_data(TensorData::new(vec![0i64, 2, 1], [3]), device)
    }

    /// The same seed gives the same weights with and without spectral norm (the `u`s are
    /// drawn after them), one state per weight, and turning it on changes the scores.
    #[test]
    fn spectral_norm_leaves_the_weights_and_covers_every_one() {
        let dev = crate::device::cpu();
        for arch in [Arch::Mlp, Arch::Dcgan] {
            let plain = Discriminator::new(
                &config(arch, 3, false),
                &mut ChaCha8Rng::seed_from_u64(1),
                &dev,
            )
            .unwrap();
            let sn = Discriminator::new(
                &config(arch, 3, true),
                &mut ChaCha8Rng::seed_from_u64(1),
                &dev,
            )
            .unwrap();
            assert!(!plain.spectral_norm() && sn.spectral_norm());
            assert!(states(&plain).is_empty());
            let layers = match &sn.body {
                DiscriminatorBody::Mlp(b) => b.layers.len(),
                DiscriminatorBody::Dcgan(b) => b.convs.len(),
            };
            assert_eq!(
                states(&sn).len(),
                layers + 2,
                "{arch:?}: body, head, projection"
            );
            let rec = |d: &Discriminator| d.clone().into_record().len();
            assert_eq!(
                rec(&sn),
                rec(&plain) + 2 * (layers + 2),
                "u and v are recorded"
            );
            // Same raw weights: the records match tensor for tensor, u and v aside.
            let raw = |d: &Discriminator| {
                let mut d = d.clone();
                d.head_spectral = None;
                d.projection_spectral = None;
                d.body = match d.body {
                    DiscriminatorBody::Mlp(mut b) => {
                        b.spectral.clear();
                        DiscriminatorBody::Mlp(b)
                    }
                    DiscriminatorBody::Dcgan(mut b) => {
                        b.spectral.clear();
                        DiscriminatorBody::Dcgan(b)
                    }
                };
                values(d.forward(images(&dev), Some(labels(&dev)), None))
            };
            assert_eq!(raw(&plain), raw(&sn), "{arch:?}: same weights");
            let scores =
                |d: &Discriminator| values(d.forward(images(&dev), Some(labels(&dev)), None));
            assert_ne!(
                scores(&plain),
                scores(&sn),
                "{arch:?}: normalization is applied"
            );
        }
    }

    /// u and v survive the record round trip checkpoints use (`valid()`, burnpack bytes,
    /// `try_load_record` into a freshly built D), and the loaded D scores identically. A
    /// record with spectral norm does not load into a D without it, nor the reverse.
    #[test]
    fn record_round_trip_keeps_u_and_v() {
        let dev = crate::device::cpu_train();
        for (arch, classes) in [(Arch::Mlp, 3), (Arch::Dcgan, 0), (Arch::Dcgan, 3)] {
            let cfg = config(arch, classes, true);
            let mut d = Discriminator::new(&cfg, &mut ChaCha8Rng::seed_from_u64(4), &dev).unwrap();
            for _ in 0..3 {
                d.power_iteration();
            }
            let bytes = d.valid().into_record().into_bytes().unwrap();
            // Another seed: other weights and other u, all overwritten by the load.
            let fresh = Discriminator::new(&cfg, &mut ChaCha8Rng::seed_from_u64(5), &dev).unwrap();
            assert_ne!(states(&fresh), states(&d));
            let loaded = fresh
                .try_load_record(ModuleRecord::from_bytes(bytes.clone()).unwrap())
                .unwrap();
            assert_eq!(states(&loaded), states(&d), "{arch:?} classes {classes}");
            let l = (classes > 0).then(|| labels(&dev));
            let score = |d: &Discriminator| values(d.forward(images(&dev), l.clone(), None));
            assert_eq!(score(&loaded), score(&d));

            let plain = Discriminator::new(
                &config(arch, classes, false),
                &mut ChaCha8Rng::seed_from_u64(4),
                &dev,
            )
            .unwrap();
            assert!(plain
                .clone()
                .try_load_record(ModuleRecord::from_bytes(bytes).unwrap())
                .is_err());
            let plain_bytes = plain.valid().into_record().into_bytes().unwrap();
            assert!(d
                .try_load_record(ModuleRecord::from_bytes(plain_bytes).unwrap())
                .is_err());
        }
    }

    /// u and v are buffers: an optimizer step moves the weights but not them, they never
    /// require a gradient, and only `power_iteration` moves them.
    #[test]
    fn the_optimizer_leaves_u_and_v_alone() {
        let dev = crate::device::cpu_train();
        for arch in [Arch::Mlp, Arch::Dcgan] {
            let cfg = config(arch, 3, true);
            let mut d = Discriminator::new(&cfg, &mut ChaCha8Rng::seed_from_u64(6), &dev).unwrap();
            d.power_iteration();
            let before = states(&d);
            let score_before = values(d.forward(images(&dev), Some(labels(&dev)), None));
            let mut opt = AdamConfig::new().init();
            let loss = d.forward(images(&dev), Some(labels(&dev)), None).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &d);
            d = opt.step(1e-2, d, grads);
            assert_eq!(states(&d), before, "{arch:?}: the optimizer moved u or v");
            let head = d.head_spectral.as_ref().unwrap();
            assert!(!head.u.value().is_require_grad() && !head.v.value().is_require_grad());
            let score_after = values(d.forward(images(&dev), Some(labels(&dev)), None));
            assert_ne!(score_before, score_after, "{arch:?}: the weights moved");
            d.power_iteration();
            assert_ne!(
                states(&d),
                before,
                "{arch:?}: power_iteration moves u and v"
            );
        }
    }
}
