//! GAN objectives, as functions of D's raw outputs (logits, or critic scores).

use burn::prelude::*;

/// Which objective both networks optimize.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// Original minimax (Goodfellow et al. 2014): G minimizes log(1 - D(G(z))).
    Minimax,
    /// Non-saturating: G maximizes log D(G(z)) (the usual choice).
    #[default]
    Ns,
    /// Least squares (Mao et al. 2017): targets 1 for real, 0 for fake, on raw outputs.
    Lsgan,
    /// Hinge (Lim & Ye 2017; SAGAN): D minimizes relu(1 - D(x)) + relu(1 + D(G(z))).
    Hinge,
    /// Wasserstein with gradient penalty (Gulrajani et al. 2017): the critic minimizes
    /// D(G(z)) - D(x) + lambda (|grad D(x_hat)| - 1)^2 on random interpolates x_hat; G
    /// minimizes -D(G(z)). The penalty is added by the trainer (it needs the critic).
    WganGp,
}

impl Loss {
    /// D's loss on its outputs for a real and a fake batch.
    pub fn discriminator(self, real: Tensor<2>, fake: Tensor<2>) -> Tensor<1> {
        match self {
            Loss::Minimax | Loss::Ns => bce_with_logits(real, true) + bce_with_logits(fake, false),
            Loss::Lsgan => (real.sub_scalar(1.0).powi_scalar(2).mean()
                + fake.powi_scalar(2).mean())
            .mul_scalar(0.5),
            Loss::Hinge => {
                real.neg().add_scalar(1.0).clamp_min(0.0).mean()
                    + fake.add_scalar(1.0).clamp_min(0.0).mean()
            }
            Loss::WganGp => fake.mean() - real.mean(),
        }
    }

    /// G's loss on D's outputs for its images.
    pub fn generator(self, fake: Tensor<2>) -> Tensor<1> {
        match self {
            // log(1 - sigmoid(x)) = -softplus(x)
            Loss::Minimax => bce_with_logits(fake, false).neg(),
            Loss::Ns => bce_with_logits(fake, true),
            Loss::Lsgan => fake.sub_scalar(1.0).powi_scalar(2).mean().mul_scalar(0.5),
            Loss::Hinge | Loss::WganGp => fake.mean().neg(),
        }
    }

    /// Whether D needs the gradient penalty (and so no batch norm).
    pub fn needs_gradient_penalty(self) -> bool {
        self == Loss::WganGp
    }

    /// The output above which D calls an image real (for the accuracy shown while training).
    pub fn threshold(self) -> f32 {
        match self {
            Loss::Lsgan => 0.5,
            _ => 0.0,
        }
    }
}

/// Mean binary cross-entropy of `logits` against an all-`real` (1) or all-fake (0) target,
/// computed stably as softplus(-x) for 1 and softplus(x) for 0.
pub fn bce_with_logits(logits: Tensor<2>, real: bool) -> Tensor<1> {
    let x = if real { logits.neg() } else { logits };
    // softplus(x) = max(x, 0) + log(1 + exp(-|x|)), finite for any finite x.
    let sp = x.clone().clamp_min(0.0) + x.abs().neg().exp().log1p();
    sp.mean()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32]) -> Tensor<2> {
        Tensor::<1>::from_floats(v, &crate::device::cpu()).reshape([v.len(), 1])
    }

    fn close(a: Tensor<1>, b: f32) {
        let a = a.into_scalar::<f32>();
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }

    #[test]
    fn bce_matches_closed_form() {
        let x = t(&[0.0, 2.0, -100.0]);
        let want = ((2f32).ln() + (1.0 + (-2f32).exp()).ln() + 100.0) / 3.0;
        close(bce_with_logits(x.clone(), true), want);
        let want = ((2f32).ln() + 2.0 + (1.0 + (-2f32).exp()).ln() + (-100f32).exp()) / 3.0;
        close(bce_with_logits(x, false), want);
    }

    #[test]
    fn each_loss_matches_its_formula() {
        let (r, f) = (t(&[2.0, -1.0]), t(&[0.5, -3.0]));
        let sp = |x: f32| (1.0 + x.exp()).ln();
        close(Loss::Ns.generator(f.clone()), (sp(-0.5) + sp(3.0)) / 2.0);
        close(
            Loss::Minimax.generator(f.clone()),
            -(sp(0.5) + sp(-3.0)) / 2.0,
        );
        close(
            Loss::Ns.discriminator(r.clone(), f.clone()),
            (sp(-2.0) + sp(1.0)) / 2.0 + (sp(0.5) + sp(-3.0)) / 2.0,
        );
        close(
            Loss::Lsgan.discriminator(r.clone(), f.clone()),
            0.5 * ((1.0 + 4.0) / 2.0 + (0.25 + 9.0) / 2.0),
        );
        close(Loss::Lsgan.generator(f.clone()), 0.5 * (0.25 + 16.0) / 2.0);
        close(
            Loss::Hinge.discriminator(r, f.clone()),
            (0.0 + 2.0) / 2.0 + (1.5 + 0.0) / 2.0,
        );
        close(Loss::Hinge.generator(f), 1.25);
    }
}
