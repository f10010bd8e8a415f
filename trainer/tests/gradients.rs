//! Gradient checks in f64 (their own test process: a burn device's default float type is set
//! once per process, here to f64, so these checks cannot share a process with f32 tests).
//!
//! - Our convolution kernels (`gan_trainer::kernels`, what DCGAN and the eval classifier use)
//!   equal burn's `conv2d` / `conv_transpose2d`, values and gradients (input, weight, bias), and
//!   their gradients match finite differences.
//! - The discriminator's written-out input gradient equals burn autodiff's, and the WGAN-GP
//!   penalty's gradient with respect to D's weights matches finite differences, with and
//!   without spectral normalization.
//! - The gradient through a spectrally normalized weight `W / sigma(W)` matches finite
//!   differences.
//! - FastGAN's pieces (nearest 2x upsampling, GLU, skip-layer excitation with its average
//!   pooling, the 3x3 convolutions and batch norm of the up-blocks) and D's reconstruction
//!   decoder: gradients of whole networks match finite differences.

use burn::module::Param;
use burn::prelude::*;
use gan_trainer::kernels::{self, Conv};
use gan_trainer::model::net::DiscriminatorBody;
use gan_trainer::model::{Arch, Discriminator, ImageShape, Init, NetConfig};

/// The CPU device with f64 as its default float type (set once for this process).
fn f64_device() -> Device {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        gan_trainer::device::cpu()
            .configure(burn::tensor::FloatDType::F64)
            .expect("the f64 device is configured before any tensor exists");
    });
    gan_trainer::device::cpu()
}

mod conv {
    use super::*;

    use burn::tensor::module::{conv2d, conv_transpose2d};
    use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

    fn t4(seed: u64, dims: [usize; 4]) -> Tensor<4> {
        let n = dims.iter().product();
        let v: Vec<f64> = gan_runtime::latent(seed, 0, n)
            .into_iter()
            .map(f64::from)
            .collect();
        Tensor::from_data(TensorData::new(v, dims), &f64_device())
    }

    fn bias(seed: u64, n: usize) -> Tensor<1> {
        let v: Vec<f64> = gan_runtime::latent(seed, 0, n)
            .into_iter()
            .map(f64::from)
            .collect();
        Tensor::from_data(TensorData::new(v, [n]), &f64_device())
    }

    fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f64 {
        assert_eq!(a.dims(), b.dims());
        (a - b).abs().max().into_scalar::<f64>()
    }

    /// (batch, in channels, out channels, height, width, kernel, stride, padding)
    type Case = (usize, usize, usize, usize, usize, usize, usize, usize);
    const CASES: [Case; 5] = [
        (2, 3, 5, 8, 6, 4, 2, 1),
        (1, 1, 2, 28, 28, 4, 2, 1),
        (3, 4, 1, 4, 10, 4, 2, 1),
        (2, 3, 4, 7, 5, 3, 1, 1),
        (1, 2, 3, 9, 9, 3, 2, 0),
    ];

    fn conv_opts(stride: usize, pad: usize) -> ConvOptions<2> {
        ConvOptions::new([stride; 2], [pad; 2], [1, 1], 1)
    }

    fn convt_opts(stride: usize, pad: usize) -> ConvTransposeOptions<2> {
        ConvTransposeOptions::new([stride; 2], [pad; 2], [0, 0], [1, 1], 1)
    }

    #[test]
    fn conv2d_matches_burn() {
        for (n, c, oc, h, w, k, stride, pad) in CASES {
            let x = t4(1, [n, c, h, w]);
            let wt = t4(2, [oc, c, k, k]);
            let b = bias(3, oc);
            let cv = Conv { stride, pad };
            let ours = kernels::conv2d(x.clone(), wt.clone(), Some(b.clone()), cv);
            let theirs = conv2d(x.clone(), wt.clone(), Some(b), conv_opts(stride, pad));
            let d = max_diff(ours, theirs);
            assert!(d < 1e-12, "{d}");
            let ours = kernels::conv2d(x.clone(), wt.clone(), None, cv);
            let d = max_diff(ours, conv2d(x, wt, None, conv_opts(stride, pad)));
            assert!(d < 1e-12, "{d}");
        }
    }

    #[test]
    fn conv_transpose2d_matches_burn() {
        for (n, ic, oc, h, w, k, stride, pad) in CASES {
            // The transposed convolution of the conv's output shape back to its input shape.
            let (oh, ow) = (
                (h + 2 * pad - k) / stride + 1,
                (w + 2 * pad - k) / stride + 1,
            );
            let x = t4(4, [n, ic, oh, ow]);
            let wt = t4(5, [ic, oc, k, k]);
            let b = bias(6, oc);
            let cv = Conv { stride, pad };
            let ours = kernels::conv_transpose2d(x.clone(), wt.clone(), Some(b.clone()), cv);
            let theirs = conv_transpose2d(x, wt, Some(b), convt_opts(stride, pad));
            let d = max_diff(ours, theirs);
            assert!(d < 1e-12, "{d}");
        }
    }

    /// Gradients of `sum(op(x, w, b) * probe)` with respect to x, w and b.
    fn grads_of(
        op: impl Fn(Tensor<4>, Tensor<4>, Tensor<1>) -> Tensor<4>,
        x: &Tensor<4>,
        w: &Tensor<4>,
        b: &Tensor<1>,
        probe_seed: u64,
    ) -> (Tensor<4>, Tensor<4>, Tensor<1>) {
        let (x, w, b) = (
            x.clone().autodiff().require_grad(),
            w.clone().autodiff().require_grad(),
            b.clone().autodiff().require_grad(),
        );
        let y = op(x.clone(), w.clone(), b.clone());
        let probe = t4(probe_seed, y.dims()).autodiff();
        let g = (y * probe).sum().backward();
        (
            x.grad(&g).unwrap(),
            w.grad(&g).unwrap(),
            b.grad(&g).unwrap(),
        )
    }

    /// Our `op` and burn's `reference` give the same gradients for x, w and b.
    fn assert_same_gradients(
        what: &str,
        op: impl Fn(Tensor<4>, Tensor<4>, Tensor<1>) -> Tensor<4>,
        reference: impl Fn(Tensor<4>, Tensor<4>, Tensor<1>) -> Tensor<4>,
        (x, w, b): (&Tensor<4>, &Tensor<4>, &Tensor<1>),
        probe_seed: u64,
    ) {
        let ours = grads_of(op, x, w, b, probe_seed);
        let theirs = grads_of(reference, x, w, b, probe_seed);
        assert!(max_diff(ours.0, theirs.0) < 1e-12, "{what} dx");
        assert!(max_diff(ours.1, theirs.1) < 1e-12, "{what} dw");
        assert!(max_diff(ours.2, theirs.2) < 1e-12, "{what} db");
    }

    #[test]
    fn gradients_match_burn() {
        for (n, c, oc, h, w, k, stride, pad) in CASES {
            let cv = Conv { stride, pad };
            let b = bias(9, oc);
            let (x, wt) = (t4(7, [n, c, h, w]), t4(8, [oc, c, k, k]));
            assert_same_gradients(
                "conv",
                |x, w, b| kernels::conv2d(x, w, Some(b), cv),
                |x, w, b| conv2d(x, w, Some(b), conv_opts(stride, pad)),
                (&x, &wt, &b),
                10,
            );
            let (oh, ow) = (
                (h + 2 * pad - k) / stride + 1,
                (w + 2 * pad - k) / stride + 1,
            );
            let (xt, wt) = (t4(11, [n, c, oh, ow]), t4(12, [c, oc, k, k]));
            assert_same_gradients(
                "conv_transpose",
                |x, w, b| kernels::conv_transpose2d(x, w, Some(b), cv),
                |x, w, b| conv_transpose2d(x, w, Some(b), convt_opts(stride, pad)),
                (&xt, &wt, &b),
                13,
            );
        }
    }

    /// Autodiff through our kernels agrees with central finite differences of a loss that
    /// chains both kernels with a nonlinearity between them.
    #[test]
    fn gradients_match_finite_differences() {
        let cv = Conv { stride: 2, pad: 1 };
        let (x, wt) = (t4(14, [2, 3, 6, 6]), t4(15, [4, 3, 4, 4]));
        let (b, w2, probe) = (bias(16, 4), t4(17, [4, 2, 4, 4]), t4(18, [2, 2, 6, 6]));
        let loss = |x: Tensor<4>, w: Tensor<4>, ad: bool| -> Tensor<1> {
            let lift = |t: Tensor<4>| if ad { t.autodiff() } else { t };
            let b = if ad { b.clone().autodiff() } else { b.clone() };
            let y = kernels::conv2d(x, w, Some(b), cv);
            let y = kernels::conv_transpose2d(y.clone() * y, lift(w2.clone()), None, cv);
            (y * lift(probe.clone())).sum()
        };
        let (xa, wa) = (
            x.clone().autodiff().require_grad(),
            wt.clone().autodiff().require_grad(),
        );
        let g = loss(xa.clone(), wa.clone(), true).backward();
        let gx = xa
            .grad(&g)
            .unwrap()
            .into_data()
            .try_to_vec::<f64>()
            .unwrap();
        let gw = wa
            .grad(&g)
            .unwrap()
            .into_data()
            .try_to_vec::<f64>()
            .unwrap();
        let h = 1e-6;
        let bump = |t: &Tensor<4>, i: usize, d: f64| {
            let mut v = t.clone().into_data().try_to_vec::<f64>().unwrap();
            v[i] += d;
            Tensor::<4>::from_data(TensorData::new(v, t.dims()), &f64_device())
        };
        let value = |x: Tensor<4>, w: Tensor<4>| loss(x, w, false).into_scalar::<f64>();
        for i in [0, 17, 50, 107] {
            let num = (value(bump(&x, i, h), wt.clone()) - value(bump(&x, i, -h), wt.clone()))
                / (2.0 * h);
            assert!(
                (num - gx[i]).abs() < 1e-6 * (1.0 + num.abs()),
                "dx[{i}]: {} vs {num}",
                gx[i]
            );
        }
        for i in [0, 33, 100, 191] {
            let num = (value(x.clone(), bump(&wt, i, h)) - value(x.clone(), bump(&wt, i, -h)))
                / (2.0 * h);
            assert!(
                (num - gw[i]).abs() < 1e-6 * (1.0 + num.abs()),
                "dw[{i}]: {} vs {num}",
                gw[i]
            );
        }
    }
}

mod fused {
    //! Linear + activation, batch norm + activation and lone activations against burn's
    //! stock ops, values and gradients.
    use super::*;
    use burn::nn::{BatchNormConfig, LinearConfig};
    use burn::tensor::activation::{leaky_relu, relu, tanh};
    use gan_trainer::kernels::Act;

    fn t<const D: usize>(seed: u64, dims: [usize; D]) -> Tensor<D> {
        let n = dims.iter().product();
        let v: Vec<f64> = gan_runtime::latent(seed, 0, n)
            .into_iter()
            .map(f64::from)
            .collect();
        Tensor::from_data(TensorData::new(v, dims), &f64_device())
    }

    fn reference<const D: usize>(x: Tensor<D>, act: Act) -> Tensor<D> {
        match act {
            Act::Identity => x,
            Act::Relu => relu(x),
            Act::LeakyRelu(s) => leaky_relu(x, s),
            Act::Tanh => tanh(x),
        }
    }

    fn max_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f64 {
        assert_eq!(a.dims(), b.dims());
        (a - b).abs().max().into_scalar::<f64>()
    }

    const ACTS: [Act; 4] = [Act::Identity, Act::Relu, Act::LeakyRelu(0.2), Act::Tanh];

    #[test]
    fn linear_matches_burn_values_and_gradients() {
        let ad = f64_device().autodiff();
        for act in ACTS {
            let layer = LinearConfig::new(7, 5).init(&ad);
            let x = t(1, [6, 7]).autodiff().require_grad();
            let probe = t(2, [6, 5]).autodiff();
            let ours = kernels::linear(x.clone(), &layer, act);
            let theirs = reference(layer.forward(x.clone()), act);
            assert!(
                max_diff(ours.clone(), theirs.clone()) < 1e-12,
                "{act:?} value"
            );
            let g1 = (ours * probe.clone()).sum().backward();
            let g2 = (theirs * probe).sum().backward();
            assert!(
                max_diff(x.grad(&g1).unwrap(), x.grad(&g2).unwrap()) < 1e-12,
                "{act:?} dx"
            );
            let (w, b) = (&layer.weight, layer.bias.as_ref().unwrap());
            assert!(
                max_diff(w.grad(&g1).unwrap(), w.grad(&g2).unwrap()) < 1e-12,
                "{act:?} dw"
            );
            assert!(
                max_diff(b.grad(&g1).unwrap(), b.grad(&g2).unwrap()) < 1e-12,
                "{act:?} db"
            );
        }
    }

    #[test]
    fn batch_norm_matches_burn_values_gradients_and_running_stats() {
        let ad = f64_device().autodiff();
        for act in ACTS {
            let (ours_bn, theirs_bn) = (
                BatchNormConfig::new(3).init(&ad),
                BatchNormConfig::new(3).init(&ad),
            );
            let x = (t(3, [4, 3, 5, 2]).mul_scalar(2.0).add_scalar(0.5))
                .autodiff()
                .require_grad();
            let probe = t(4, [4, 3, 5, 2]).autodiff();
            let ours = kernels::batch_norm(x.clone(), &ours_bn, act);
            let theirs = reference(theirs_bn.forward(x.clone()), act);
            assert!(
                max_diff(ours.clone(), theirs.clone()) < 1e-12,
                "{act:?} value"
            );
            let g1 = (ours * probe.clone()).sum().backward();
            let g2 = (theirs * probe).sum().backward();
            assert!(
                max_diff(x.grad(&g1).unwrap(), x.grad(&g2).unwrap()) < 1e-12,
                "{act:?} dx"
            );
            for (a, b) in [
                (&ours_bn.gamma, &theirs_bn.gamma),
                (&ours_bn.beta, &theirs_bn.beta),
            ] {
                assert!(
                    max_diff(a.grad(&g1).unwrap(), b.grad(&g2).unwrap()) < 1e-12,
                    "{act:?}"
                );
            }
            let stats = |bn: &burn::nn::BatchNorm| {
                (bn.running_mean.value_sync(), bn.running_var.value_sync())
            };
            let (m1, v1) = stats(&ours_bn);
            let (m2, v2) = stats(&theirs_bn);
            assert!(
                max_diff(m1, m2) < 1e-12 && max_diff(v1, v2) < 1e-12,
                "{act:?} running"
            );
            // Without autodiff, both use the running statistics.
            let x = t(5, [2, 3, 4, 4]);
            let ours = kernels::batch_norm(x.clone(), &ours_bn.valid(), act);
            let theirs = reference(theirs_bn.valid().forward(x), act);
            assert!(max_diff(ours, theirs) < 1e-12, "{act:?} inference");
        }
    }

    #[test]
    fn activation_matches_burn_values_and_gradients() {
        for act in ACTS {
            let x = t(6, [3, 4, 5]).autodiff().require_grad();
            let probe = t(7, [3, 4, 5]).autodiff();
            let ours = kernels::activation(x.clone(), act);
            let theirs = reference(x.clone(), act);
            assert!(
                max_diff(ours.clone(), theirs.clone()) < 1e-12,
                "{act:?} value"
            );
            let g1 = (ours * probe.clone()).sum().backward();
            let g2 = (theirs * probe).sum().backward();
            assert!(
                max_diff(x.grad(&g1).unwrap(), x.grad(&g2).unwrap()) < 1e-12,
                "{act:?} dx"
            );
        }
    }
}

mod penalty {
    use super::*;

    use burn::tensor::Gradients;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ad() -> Device {
        f64_device().autodiff()
    }

    fn config(arch: Arch, classes: usize, spectral_norm: bool) -> NetConfig {
        NetConfig {
            arch,
            latent_dim: 3,
            shape: ImageShape {
                channels: 2,
                height: 8,
                width: 6,
            },
            num_classes: classes,
            init: Init::Pytorch,
            width: 3,
            dropout: 0.25,
            d_batch_norm: false,
            spectral_norm,
        }
    }

    fn images(n: usize, cfg: &NetConfig, seed: u64, device: &Device) -> Tensor<4> {
        let s = cfg.shape;
        let v: Vec<f64> = gan_runtime::latent(seed, 0, n * s.len())
            .into_iter()
            .map(f64::from)
            .collect();
        Tensor::from_data(
            TensorData::new(v, [n, s.channels, s.height, s.width]),
            device,
        )
    }

    fn labels(v: &[i64]) -> Tensor<1, Int> {
        Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &ad())
    }

    /// A seeded D for `cfg`, with two power iterations done when spectral norm is on (so `u`
    /// is no longer its initial draw).
    fn discriminator(cfg: &NetConfig, seed: u64) -> Discriminator {
        let mut d = Discriminator::new(cfg, &mut ChaCha8Rng::seed_from_u64(seed), &ad()).unwrap();
        for _ in 0..2 {
            d.power_iteration();
        }
        d
    }

    /// The written-out input gradient equals burn's own gradient of the input, also through
    /// spectrally normalized weights.
    #[test]
    fn input_gradient_matches_autodiff() {
        for (arch, classes, sn) in [
            (Arch::Mlp, 0, false),
            (Arch::Mlp, 4, false),
            (Arch::Dcgan, 0, false),
            (Arch::Dcgan, 4, false),
            (Arch::Mlp, 0, true),
            (Arch::Mlp, 4, true),
            (Arch::Dcgan, 0, true),
            (Arch::Dcgan, 4, true),
        ] {
            let cfg = config(arch, classes, sn);
            let d = discriminator(&cfg, 1);
            let x = images(5, &cfg, 9, &ad()).require_grad();
            let l = (classes > 0).then(|| labels(&[0, 3, 1, 1, 2]));
            let (score, trace, used) = d.forward_traced(x.clone(), l, Some(77));
            let grads = score.sum().backward();
            let expected: Vec<f64> = x.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
            let ours: Vec<f64> = d
                .input_gradient(&trace, used)
                .into_data()
                .try_into_vec()
                .unwrap();
            assert_eq!(expected.len(), ours.len());
            let max = expected
                .iter()
                .zip(&ours)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(
                max < 1e-12,
                "{arch:?} classes {classes} spectral norm {sn}: differs by {max}"
            );
            assert!(
                expected.iter().any(|v| v.abs() > 1e-3),
                "degenerate gradient"
            );
        }
    }

    /// The penalty's gradient with respect to a weight, through burn autodiff, matches a
    /// central finite difference: the penalty really trains D (with spectral norm on, through
    /// `W / sigma(W)`, `u` and `v` held as they are).
    #[test]
    fn penalty_gradient_matches_finite_difference() {
        for (arch, classes, sn) in [
            (Arch::Mlp, 3, false),
            (Arch::Dcgan, 3, false),
            (Arch::Mlp, 3, true),
            (Arch::Dcgan, 3, true),
        ] {
            let cfg = config(arch, classes, sn);
            let x = images(4, &cfg, 5, &ad());
            let y = [2i64, 0, 1, 2];
            let penalty = |d: &Discriminator| {
                let (_, trace, used) = d.forward_traced(x.clone(), Some(labels(&y)), Some(3));
                let g = d.input_gradient(&trace, used);
                g.powi_scalar(2)
                    .sum_dim(1)
                    .sqrt()
                    .sub_scalar(1.0)
                    .powi_scalar(2)
                    .mean()
            };
            let d = discriminator(&cfg, 2);
            let grads = penalty(&d).backward();
            let (base, analytic) = first_weight(&d, &grads);
            for i in [0, 7, base.len() - 1] {
                let h = 1e-6;
                let at = |delta: f64| {
                    let mut v = base.clone();
                    v[i] += delta;
                    let mut d2 = d.clone();
                    set_first_weight(&mut d2, v);
                    penalty(&d2).into_scalar::<f64>()
                };
                let numeric = (at(h) - at(-h)) / (2.0 * h);
                assert!(
                    (numeric - analytic[i]).abs() < 1e-6 * (1.0 + numeric.abs()),
                    "{arch:?} spectral norm {sn} weight {i}: autodiff {} vs finite difference {numeric}",
                    analytic[i]
                );
            }
        }
    }

    /// The first layer's weight values and their gradient in `grads`, flattened.
    fn first_weight(d: &Discriminator, grads: &Gradients) -> (Vec<f64>, Vec<f64>) {
        fn pair<const D: usize>(w: &Param<Tensor<D>>, grads: &Gradients) -> (Vec<f64>, Vec<f64>) {
            (
                w.val().into_data().try_into_vec().unwrap(),
                w.grad(grads).unwrap().into_data().try_into_vec().unwrap(),
            )
        }
        match &d.body {
            DiscriminatorBody::Mlp(m) => pair(&m.layers[0].weight, grads),
            DiscriminatorBody::Dcgan(c) => pair(&c.convs[0].weight, grads),
        }
    }

    fn set_first_weight(d: &mut Discriminator, v: Vec<f64>) {
        match &mut d.body {
            DiscriminatorBody::Mlp(m) => {
                let dims = m.layers[0].weight.dims();
                m.layers[0].weight =
                    Param::from_tensor(Tensor::from_data(TensorData::new(v, dims), &ad()));
            }
            DiscriminatorBody::Dcgan(c) => {
                let dims = c.convs[0].weight.dims();
                c.convs[0].weight =
                    Param::from_tensor(Tensor::from_data(TensorData::new(v, dims), &ad()));
            }
        }
    }
}

mod spectral {
    use super::*;

    use gan_trainer::model::spectral::{Layout, SpectralNorm};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn t<const D: usize>(seed: u64, dims: [usize; D]) -> Tensor<D> {
        let n = dims.iter().product();
        let v: Vec<f64> = gan_runtime::latent(seed, 0, n)
            .into_iter()
            .map(f64::from)
            .collect();
        Tensor::from_data(TensorData::new(v, dims), &f64_device())
    }

    /// The gradient of `sum(Y) + sum(Y^2)`, `Y = (W / sigma(W)) * P`, with respect to `W`,
    /// through burn autodiff, matches central finite differences at every weight (`u`, `v`
    /// held as they are).
    fn check<const D: usize>(dims: [usize; D], layout: Layout) {
        let w = t(11, dims).autodiff();
        let probe = t(12, dims).autodiff();
        let mut sn = SpectralNorm::new(&w, layout, &mut ChaCha8Rng::seed_from_u64(13));
        for _ in 0..3 {
            sn.power_iteration(&w);
        }
        let loss = |w: Tensor<D>| {
            let y = sn.normalize(w) * probe.clone();
            // Quadratic, so that the gradient depends on W through more than sigma.
            y.clone().sum() + y.powi_scalar(2).sum()
        };
        let wa = w.clone().autodiff().require_grad();
        let grads = loss(wa.clone()).backward();
        let analytic: Vec<f64> = wa.grad(&grads).unwrap().into_data().try_into_vec().unwrap();
        let base: Vec<f64> = w.into_data().try_into_vec().unwrap();
        let h = 1e-6;
        let mut worst = 0.0f64;
        for i in 0..base.len() {
            let at = |delta: f64| {
                let mut v = base.clone();
                v[i] += delta;
                let w = Tensor::from_data(TensorData::new(v, dims), &f64_device().autodiff());
                loss(w).into_scalar::<f64>()
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            let err = (numeric - analytic[i]).abs() / (1.0 + numeric.abs());
            worst = worst.max(err);
        }
        assert!(
            worst < 1e-7,
            "{layout:?} {dims:?}: worst relative error {worst}"
        );
        assert!(
            analytic.iter().any(|g| g.abs() > 1e-3),
            "degenerate gradient"
        );
    }

    #[test]
    fn gradient_through_the_normalized_weight_matches_finite_differences() {
        check([4, 3, 2, 2], Layout::OutFirst);
        check([5, 3], Layout::InOut);
        check([6, 1], Layout::InOut);
        check([3, 5], Layout::OutFirst);
    }
}

mod fastgan {
    use super::*;

    use gan_trainer::model::fastgan::{glu, upsample2};
    use gan_trainer::model::Generator;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ad() -> Device {
        f64_device().autodiff()
    }

    fn values(seed: u64, n: usize) -> Vec<f64> {
        gan_runtime::latent(seed, 0, n)
            .into_iter()
            .map(f64::from)
            .collect()
    }

    /// 32x32 (4x4 gates 32x32), 2 channels, 3 classes, width 2: every FastGAN piece, small.
    fn config() -> NetConfig {
        NetConfig {
            arch: Arch::Fastgan,
            latent_dim: 3,
            shape: ImageShape {
                channels: 2,
                height: 32,
                width: 32,
            },
            num_classes: 3,
            init: Init::Pytorch,
            width: 2,
            dropout: 0.0,
            d_batch_norm: true,
            spectral_norm: false,
        }
    }

    #[test]
    fn upsample_repeats_each_value_in_a_square_and_glu_gates_by_the_second_half() {
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f64, 2.0, 3.0, 4.0], [1, 1, 2, 2]),
            &f64_device(),
        );
        let up: Vec<f64> = upsample2(x).into_data().try_to_vec().unwrap();
        let want = [
            1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 3.0, 3.0, 4.0, 4.0,
        ];
        assert_eq!(up, want);
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![2.0f64, -1.0, 0.0, 3.0], [1, 2, 1, 2]),
            &f64_device(),
        );
        let g: Vec<f64> = glu(x).into_data().try_to_vec().unwrap();
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        assert!((g[0] - 2.0 * sig(0.0)).abs() < 1e-12 && (g[1] + sig(3.0)).abs() < 1e-12);
    }

    /// Perturbs value `i` of a 4-d or 2-d parameter through `set` and returns the loss.
    fn check(name: &str, base: Vec<f64>, analytic: Vec<f64>, loss_with: impl Fn(Vec<f64>) -> f64) {
        assert_eq!(base.len(), analytic.len());
        let n = base.len();
        assert!(
            analytic.iter().any(|g| g.abs() > 1e-9),
            "{name}: zero gradient"
        );
        for i in [0, n / 3, n / 2, n - 1] {
            let h = 1e-6;
            let at = |d: f64| {
                let mut v = base.clone();
                v[i] += d;
                loss_with(v)
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            assert!(
                (numeric - analytic[i]).abs() < 1e-5 * (1.0 + numeric.abs()),
                "{name}[{i}]: autodiff {} vs finite difference {numeric}",
                analytic[i]
            );
        }
    }

    fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f64> {
        t.into_data().try_to_vec().unwrap()
    }

    fn param_from<const D: usize>(v: Vec<f64>, dims: [usize; D]) -> Param<Tensor<D>> {
        Param::from_tensor(Tensor::from_data(TensorData::new(v, dims), &ad()))
    }

    /// G's gradient, through the up-blocks (Resize + 3x3 conv + batch norm + GLU), the
    /// excitation and the label embedding, matches finite differences at the first map's
    /// linear layer, an up-block's convolution, the excitation's squeeze layer and the output
    /// convolution.
    #[test]
    fn generator_gradients_match_finite_differences() {
        let cfg = config();
        let g = Generator::new(&cfg, &mut ChaCha8Rng::seed_from_u64(4), &ad()).unwrap();
        let n = 4;
        let z = Tensor::<2>::from_data(TensorData::new(values(7, n * 3), [n, 3]), &ad());
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 2, 1, 2], [n]), &ad());
        let probe = Tensor::<4>::from_data(
            TensorData::new(values(8, n * 2 * 32 * 32), [n, 2, 32, 32]),
            &ad(),
        );
        let loss =
            |g: &Generator| (g.forward(z.clone(), Some(labels.clone())) * probe.clone()).sum();
        let grads = loss(&g).backward();
        let gan_trainer::model::net::GeneratorBody::Fastgan(body) = &g.body else {
            panic!("not a FastGAN body");
        };
        assert_eq!(body.excitations.len(), 1, "32x32 has one excitation");
        let with = |edit: &dyn Fn(&mut gan_trainer::model::fastgan::FastganGenerator)| {
            let mut g2 = g.clone();
            if let gan_trainer::model::net::GeneratorBody::Fastgan(b) = &mut g2.body {
                edit(b);
            }
            loss(&g2).into_scalar::<f64>()
        };
        let w = &body.project.weight;
        check(
            "project",
            vec_of(w.val()),
            vec_of(w.grad(&grads).unwrap()),
            |v| with(&|b| b.project.weight = param_from(v.clone(), w.dims())),
        );
        let w = &body.ups[1].conv.weight;
        check(
            "ups[1].conv",
            vec_of(w.val()),
            vec_of(w.grad(&grads).unwrap()),
            |v| with(&|b| b.ups[1].conv.weight = param_from(v.clone(), w.dims())),
        );
        let w = &body.excitations[0].squeeze.weight;
        check(
            "sle.squeeze",
            vec_of(w.val()),
            vec_of(w.grad(&grads).unwrap()),
            |v| with(&|b| b.excitations[0].squeeze.weight = param_from(v.clone(), w.dims())),
        );
        let w = &body.to_image.weight;
        check(
            "to_image",
            vec_of(w.val()),
            vec_of(w.grad(&grads).unwrap()),
            |v| with(&|b| b.to_image.weight = param_from(v.clone(), w.dims())),
        );
    }

    /// At 64x64 the 8x8 map gates the 64x64 one through an average pool: gradient checked at
    /// that excitation's squeeze layer.
    #[test]
    fn pooled_excitation_gradient_matches_finite_differences() {
        let cfg = NetConfig {
            shape: ImageShape {
                channels: 1,
                height: 64,
                width: 64,
            },
            num_classes: 0,
            width: 1,
            ..config()
        };
        let g = Generator::new(&cfg, &mut ChaCha8Rng::seed_from_u64(5), &ad()).unwrap();
        let n = 2;
        let z = Tensor::<2>::from_data(TensorData::new(values(9, n * 3), [n, 3]), &ad());
        let probe = Tensor::<4>::from_data(
            TensorData::new(values(10, n * 64 * 64), [n, 1, 64, 64]),
            &ad(),
        );
        let loss = |g: &Generator| (g.forward(z.clone(), None) * probe.clone()).sum();
        let grads = loss(&g).backward();
        let gan_trainer::model::net::GeneratorBody::Fastgan(body) = &g.body else {
            panic!("not a FastGAN body");
        };
        let e = body
            .excitations
            .iter()
            .position(|e| e.from == 1 && e.to == 4)
            .expect("8x8 gates 64x64");
        let w = &body.excitations[e].squeeze.weight;
        check(
            "sle 8->64 squeeze",
            vec_of(w.val()),
            vec_of(w.grad(&grads).unwrap()),
            |v| {
                let mut g2 = g.clone();
                if let gan_trainer::model::net::GeneratorBody::Fastgan(b) = &mut g2.body {
                    b.excitations[e].squeeze.weight = param_from(v, w.dims());
                }
                loss(&g2).into_scalar::<f64>()
            },
        );
    }

    /// D's reconstruction loss trains the decoder and D's body below the tapped map: its
    /// gradient matches finite differences at D's first convolution and the decoder's first
    /// up-block.
    #[test]
    fn reconstruction_gradients_match_finite_differences() {
        let cfg = config();
        let d = Discriminator::new(&cfg, &mut ChaCha8Rng::seed_from_u64(6), &ad()).unwrap();
        let n = 3;
        let x = Tensor::<4>::from_data(
            TensorData::new(
                values(11, n * 2 * 32 * 32)
                    .into_iter()
                    .map(|v| v.tanh())
                    .collect(),
                [n, 2, 32, 32],
            ),
            &ad(),
        );
        let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 0, 2], [n]), &ad());
        let loss = |d: &Discriminator| {
            let (score, rec) = d.forward_reconstructing(x.clone(), Some(labels.clone()), None);
            score.mean() + rec.expect("FastGAN's D has a decoder")
        };
        let grads = loss(&d).backward();
        let DiscriminatorBody::Dcgan(body) = &d.body else {
            panic!("FastGAN's D body is DCGAN's");
        };
        let w = &body.convs[0].weight;
        check(
            "d.convs[0]",
            vec_of(w.val()),
            vec_of(w.grad(&grads).unwrap()),
            |v| {
                let mut d2 = d.clone();
                if let DiscriminatorBody::Dcgan(b) = &mut d2.body {
                    b.convs[0].weight = param_from(v, w.dims());
                }
                loss(&d2).into_scalar::<f64>()
            },
        );
        let decoder = d.decoder.as_ref().unwrap();
        let w = &decoder.ups[0].conv.weight;
        check(
            "decoder.ups[0]",
            vec_of(w.val()),
            vec_of(w.grad(&grads).unwrap()),
            |v| {
                let mut d2 = d.clone();
                if let Some(dec) = &mut d2.decoder {
                    dec.ups[0].conv.weight = param_from(v, w.dims());
                }
                loss(&d2).into_scalar::<f64>()
            },
        );
    }
}
