//! An exponential moving average (EMA) of the generator: the copy of G that samples, evaluation
//! and export use when a run asks for `--ema DECAY`.
//!
//! After every generator update, each float of the average moves towards the live generator's:
//! `avg = beta * avg + (1 - beta) * g`, over the trained weights **and** batch norm's running
//! statistics (burn visits both as floats). The average of a GAN generator's recent weights is
//! smoother and less tied to the discriminator's latest whims than the last iterate (Yazıcı et
//! al. 2019, "The Unusual Effectiveness of Averaging in GAN Training"; StyleGAN, BigGAN and
//! PyTorch-StudioGAN all sample from an EMA generator).
//!
//! `beta` warms up as `min(decay, (1 + t) / (10 + t))` after `t` updates (the schedule of
//! TensorFlow's `ExponentialMovingAverage` with `num_updates`), so the average is not dragged
//! towards the random initialization early in a run.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

use super::Generator;

/// The moving average of a generator, on the inference device (no autodiff).
#[derive(Debug, Clone)]
pub struct Ema {
    decay: f64,
    updates: u64,
    average: Generator,
}

impl Ema {
    /// Starts the average at `g`'s current values (pass the generator without autodiff, e.g.
    /// `g.valid()`).
    ///
    /// ```
    /// use gan_trainer::model::ema::Ema;
    /// # use gan_trainer::model::{Generator, NetConfig, ImageShape, Init, Arch};
    /// # use rand::SeedableRng;
    /// # let config = NetConfig { arch: Arch::Mlp, latent_dim: 4, num_classes: 0, init: Init::Pytorch,
    /// #     shape: ImageShape { channels: 1, height: 2, width: 2 }, width: 8, dropout: 0.0,
    /// #     d_batch_norm: false, spectral_norm: false };
    /// # let device = gan_trainer::device::cpu();
    /// # let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    /// let g = Generator::new(&config, &mut rng, &device).unwrap();
    /// let mut ema = Ema::new(0.999, g.clone());
    /// ema.update(&g); // after each generator update of training
    /// let for_sampling: &Generator = ema.generator();
    /// # assert_eq!(for_sampling.latent_dim(), 4);
    /// ```
    pub fn new(decay: f64, g: Generator) -> Self {
        Self::restore(decay, 0, g)
    }

    /// Restores an average saved after `updates` updates (checkpoints).
    pub fn restore(decay: f64, updates: u64, average: Generator) -> Self {
        Self {
            decay,
            updates,
            // `valid()` gives the average batch-norm statistics of its own: a clone of a
            // module shares them, and updates write them in place.
            average: average.valid(),
        }
    }

    /// The configured decay.
    pub fn decay(&self) -> f64 {
        self.decay
    }

    /// Updates done so far.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// The weight of the old average in the next update: the decay, warmed up.
    pub fn beta(&self) -> f64 {
        let t = self.updates as f64;
        self.decay.min((1.0 + t) / (10.0 + t))
    }

    /// Moves the average towards `g` (the live generator without autodiff).
    pub fn update(&mut self, g: &Generator) {
        let beta = self.beta();
        let mut live = Floats(Vec::new());
        g.visit(&mut live);
        let mut mix = Mix {
            live: live.0.into_iter(),
            beta,
        };
        self.average = self.average.clone().map(&mut mix);
        self.updates += 1;
    }

    /// The averaged generator. Its batch-norm statistics change in place with the next
    /// [`Self::update`]: take `generator().valid()` for a copy that keeps them.
    pub fn generator(&self) -> &Generator {
        &self.average
    }
}

/// Every float of a module (parameters and running statistics), flattened, in visiting order.
struct Floats(Vec<Tensor<1>>);

impl ModuleVisitor for Floats {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let n = t.shape().num_elements();
        self.0.push(t.reshape([n]));
    }
}

/// Maps each float of the average to `beta * avg + (1 - beta) * live`, taking the live values
/// in the same visiting order (both modules have one structure).
struct Mix {
    live: std::vec::IntoIter<Tensor<1>>,
    beta: f64,
}

impl ModuleMapper for Mix {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let live = self.live.next();
        let beta = self.beta;
        param.map(|avg| match live {
            Some(live) => {
                let dims = avg.dims();
                avg.mul_scalar(beta) + live.reshape(dims).mul_scalar(1.0 - beta)
            }
            // Unreachable for two generators of one configuration.
            None => avg,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Arch, ImageShape, Init, NetConfig};
    use rand::SeedableRng;

    fn floats(g: &Generator) -> Vec<f32> {
        let mut f = Floats(Vec::new());
        g.visit(&mut f);
        f.0.into_iter()
            .flat_map(|t| {
                t.into_data()
                    .convert::<f32>()
                    .try_into_vec::<f32>()
                    .unwrap()
            })
            .collect()
    }

    fn generator(seed: u64) -> Generator {
        let config = NetConfig {
            arch: Arch::Dcgan,
            latent_dim: 4,
            shape: ImageShape {
                channels: 1,
                height: 8,
                width: 8,
            },
            num_classes: 3,
            init: Init::Pytorch,
            width: 4,
            dropout: 0.0,
            d_batch_norm: true,
            spectral_norm: false,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        Generator::new(&config, &mut rng, &crate::device::cpu()).unwrap()
    }

    #[test]
    fn beta_warms_up_to_the_decay() {
        let mut ema = Ema::new(0.999, generator(0));
        assert_eq!(ema.beta(), 0.1);
        ema.updates = 10;
        assert!((ema.beta() - 11.0 / 20.0).abs() < 1e-12);
        ema.updates = 1_000_000;
        assert_eq!(ema.beta(), 0.999);
    }

    /// Every float, BN running statistics included, follows the formula.
    #[test]
    fn update_mixes_every_float_by_beta() {
        let (a, b) = (generator(1), generator(2));
        let mut ema = Ema::restore(0.9, 1000, a.clone());
        ema.update(&b);
        let (fa, fb, fe) = (floats(&a), floats(&b), floats(ema.generator()));
        assert_eq!(fa.len(), fe.len());
        // The DCGAN generator has batch norms: running means start at 0, variances at 1,
        // so equal there; the weights differ.
        assert!(fa.iter().zip(&fb).filter(|(x, y)| x != y).count() > fa.len() / 2);
        for ((x, y), e) in fa.iter().zip(&fb).zip(&fe) {
            let want = 0.9 * x + 0.1 * y;
            assert!(
                (e - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "{e} vs {want}"
            );
        }
        assert_eq!(ema.updates(), 1001);
        // The live generator is untouched.
        assert_eq!(floats(&b), fb);
    }

    #[test]
    fn a_constant_generator_is_its_own_average() {
        let g = generator(3);
        let mut ema = Ema::new(0.999, g.clone());
        for _ in 0..5 {
            ema.update(&g);
        }
        for (x, e) in floats(&g).iter().zip(floats(ema.generator())) {
            assert!((x - e).abs() <= 1e-6 * (1.0 + x.abs()));
        }
    }
}
