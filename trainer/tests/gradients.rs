//! Gradient checks in f64 (their own test process: burn 0.21's ndarray device keeps one
//! default float type per process, so f64 checks cannot share a process with f32 tests).
//!
//! - The im2col convolutions DCGAN uses equal burn's `conv2d` / `conv_transpose2d`, values and
//!   gradients.
//! - The discriminator's written-out input gradient equals burn autodiff's, and the WGAN-GP
//!   penalty's gradient with respect to D's weights matches finite differences.

use burn::module::Param;
use burn::prelude::*;
use gan_trainer::model::conv::{conv2d_down, conv_transpose2d_up};
use gan_trainer::model::net::DiscriminatorBody;
use gan_trainer::model::{Arch, Discriminator, ImageShape, Init, NetConfig};

mod conv {
    use super::*;

    use burn::backend::{Autodiff, NdArray};
    use burn::tensor::module::{conv2d, conv_transpose2d};
    use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};

    type F = NdArray<f64>;

    fn t4(seed: u64, dims: [usize; 4]) -> Tensor<F, 4> {
        let n = dims.iter().product();
        let v: Vec<f64> = gan_runtime::latent(seed, 0, n)
            .into_iter()
            .map(f64::from)
            .collect();
        Tensor::from_data(TensorData::new(v, dims), &Default::default())
    }

    fn bias(seed: u64, n: usize) -> Tensor<F, 1> {
        let v: Vec<f64> = gan_runtime::latent(seed, 0, n)
            .into_iter()
            .map(f64::from)
            .collect();
        Tensor::from_data(TensorData::new(v, [n]), &Default::default())
    }

    fn max_diff<const D: usize>(a: Tensor<F, D>, b: Tensor<F, D>) -> f64 {
        assert_eq!(a.dims(), b.dims());
        (a - b).abs().max().into_scalar()
    }

    #[test]
    fn down_matches_burn_conv2d() {
        for (n, c, oc, h, w) in [(2, 3, 5, 8, 6), (1, 1, 2, 28, 28), (3, 4, 1, 4, 10)] {
            let x = t4(1, [n, c, h, w]);
            let k = t4(2, [oc, c, 4, 4]);
            let b = bias(3, oc);
            let ours = conv2d_down(x.clone(), k.clone(), Some(b.clone()));
            let theirs = conv2d(x, k, Some(b), ConvOptions::new([2, 2], [1, 1], [1, 1], 1));
            let d = max_diff(ours, theirs);
            assert!(d < 1e-12, "{d}");
        }
    }

    #[test]
    fn up_matches_burn_conv_transpose2d() {
        for (n, ic, oc, h, w) in [(2, 3, 5, 4, 3), (1, 2, 1, 7, 7), (3, 1, 4, 1, 2)] {
            let x = t4(4, [n, ic, h, w]);
            let k = t4(5, [ic, oc, 4, 4]);
            let b = bias(6, oc);
            let ours = conv_transpose2d_up(x.clone(), k.clone(), Some(b.clone()));
            let theirs = conv_transpose2d(
                x,
                k,
                Some(b),
                ConvTransposeOptions::new([2, 2], [1, 1], [0, 0], [1, 1], 1),
            );
            let d = max_diff(ours, theirs);
            assert!(d < 1e-12, "{d}");
        }
    }

    #[test]
    fn gradients_match_burn() {
        type A = Autodiff<F>;
        let x = Tensor::<A, 4>::from_inner(t4(7, [2, 3, 6, 4])).require_grad();
        let k = Tensor::<A, 4>::from_inner(t4(8, [5, 3, 4, 4])).require_grad();
        let probe = Tensor::<A, 4>::from_inner(t4(9, [2, 5, 3, 2]));
        let grads_of = |y: Tensor<A, 4>| {
            let g = (y * probe.clone()).sum().backward();
            (x.grad(&g).unwrap(), k.grad(&g).unwrap())
        };
        let (gx, gk) = grads_of(conv2d_down(x.clone(), k.clone(), None));
        let (rx, rk) = grads_of(conv2d(
            x.clone(),
            k.clone(),
            None,
            ConvOptions::new([2, 2], [1, 1], [1, 1], 1),
        ));
        assert!(max_diff(gx, rx) < 1e-12);
        assert!(max_diff(gk, rk) < 1e-12);
    }
}

mod penalty {
    use super::*;

    use burn::backend::{Autodiff, NdArray};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    type F64 = NdArray<f64>;
    type Ad = Autodiff<F64>;

    fn config(arch: Arch, classes: usize) -> NetConfig {
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
        }
    }

    fn images<B: Backend>(n: usize, cfg: &NetConfig, seed: u64) -> Tensor<B, 4> {
        let s = cfg.shape;
        let v: Vec<f64> = gan_runtime::latent(seed, 0, n * s.len())
            .into_iter()
            .map(f64::from)
            .collect();
        Tensor::from_data(
            TensorData::new(v, [n, s.channels, s.height, s.width]),
            &Default::default(),
        )
    }

    fn labels<B: Backend>(v: &[i64]) -> Tensor<B, 1, Int> {
        Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &Default::default())
    }

    /// The written-out input gradient equals burn's own gradient of the input.
    #[test]
    fn input_gradient_matches_autodiff() {
        for (arch, classes) in [
            (Arch::Mlp, 0),
            (Arch::Mlp, 4),
            (Arch::Dcgan, 0),
            (Arch::Dcgan, 4),
        ] {
            let cfg = config(arch, classes);
            let d = Discriminator::<Ad>::new(
                &cfg,
                &mut ChaCha8Rng::seed_from_u64(1),
                &Default::default(),
            )
            .unwrap();
            let x = images::<Ad>(5, &cfg, 9).require_grad();
            let l = (classes > 0).then(|| labels::<Ad>(&[0, 3, 1, 1, 2]));
            let (score, trace, used) = d.forward_traced(x.clone(), l, Some(77));
            let grads = score.sum().backward();
            let expected: Vec<f64> = x.grad(&grads).unwrap().into_data().into_vec().unwrap();
            let ours: Vec<f64> = d
                .input_gradient(&trace, used)
                .inner()
                .into_data()
                .into_vec()
                .unwrap();
            assert_eq!(expected.len(), ours.len());
            let max = expected
                .iter()
                .zip(&ours)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(max < 1e-12, "{arch:?} classes {classes}: differs by {max}");
            assert!(
                expected.iter().any(|v| v.abs() > 1e-3),
                "degenerate gradient"
            );
        }
    }

    /// The penalty's gradient with respect to a weight, through burn autodiff, matches a
    /// central finite difference: the penalty really trains D.
    #[test]
    fn penalty_gradient_matches_finite_difference() {
        for (arch, classes) in [(Arch::Mlp, 3), (Arch::Dcgan, 3)] {
            let cfg = config(arch, classes);
            let x = images::<F64>(4, &cfg, 5);
            let y = [2i64, 0, 1, 2];
            let penalty = |d: &Discriminator<Ad>| {
                let (_, trace, used) = d.forward_traced(
                    Tensor::from_inner(x.clone()),
                    Some(labels::<Ad>(&y)),
                    Some(3),
                );
                let g = d.input_gradient(&trace, used);
                g.powi_scalar(2)
                    .sum_dim(1)
                    .sqrt()
                    .sub_scalar(1.0)
                    .powi_scalar(2)
                    .mean()
            };
            let d = Discriminator::<Ad>::new(
                &cfg,
                &mut ChaCha8Rng::seed_from_u64(2),
                &Default::default(),
            )
            .unwrap();
            let grads = penalty(&d).backward();
            let (base, analytic) = first_weight(&d, &grads);
            for i in [0, 7, base.len() - 1] {
                let h = 1e-6;
                let at = |delta: f64| {
                    let mut v = base.clone();
                    v[i] += delta;
                    let mut d2 = d.clone();
                    set_first_weight(&mut d2, v);
                    penalty(&d2).into_scalar()
                };
                let numeric = (at(h) - at(-h)) / (2.0 * h);
                assert!(
                    (numeric - analytic[i]).abs() < 1e-6 * (1.0 + numeric.abs()),
                    "{arch:?} weight {i}: autodiff {} vs finite difference {numeric}",
                    analytic[i]
                );
            }
        }
    }

    /// The first layer's weight values and their gradient in `grads`, flattened.
    fn first_weight(
        d: &Discriminator<Ad>,
        grads: &<Ad as burn::tensor::backend::AutodiffBackend>::Gradients,
    ) -> (Vec<f64>, Vec<f64>) {
        fn pair<const D: usize>(
            w: &Param<Tensor<Ad, D>>,
            grads: &<Ad as burn::tensor::backend::AutodiffBackend>::Gradients,
        ) -> (Vec<f64>, Vec<f64>) {
            (
                w.val().inner().into_data().into_vec().unwrap(),
                w.grad(grads).unwrap().into_data().into_vec().unwrap(),
            )
        }
        match &d.body {
            DiscriminatorBody::Mlp(m) => pair(&m.layers[0].weight, grads),
            DiscriminatorBody::Dcgan(c) => pair(&c.convs[0].weight, grads),
        }
    }

    fn set_first_weight(d: &mut Discriminator<Ad>, v: Vec<f64>) {
        match &mut d.body {
            DiscriminatorBody::Mlp(m) => {
                let dims = m.layers[0].weight.dims();
                m.layers[0].weight = Param::from_tensor(Tensor::from_data(
                    TensorData::new(v, dims),
                    &Default::default(),
                ));
            }
            DiscriminatorBody::Dcgan(c) => {
                let dims = c.convs[0].weight.dims();
                c.convs[0].weight = Param::from_tensor(Tensor::from_data(
                    TensorData::new(v, dims),
                    &Default::default(),
                ));
            }
        }
    }
}
