//! Plateau detection on a monitored metric (say FD against steps): reduce the learning rate
//! when it stops improving, and stop training when it has not improved for longer.
//!
//! The learning-rate side follows PyTorch's `ReduceLROnPlateau`: an observation that is not an
//! improvement is "bad"; when more than `reduce_patience` bad ones come in a row, the rate is
//! multiplied by `factor` (not below `min_lr`), and the next `cooldown` observations count as
//! good. The stopping side follows Keras' `EarlyStopping`: stop at the `stop_patience`-th
//! observation in a row without improvement (a patience of 0 acts as 1). The two counters are
//! independent, so a stop patience larger than the reduce patience lets a few reductions try
//! first. Improvement is measured against the best value seen, with `min_delta` as an absolute
//! or relative margin. Non-finite values never improve.
//!
//! ```
//! use gan_trainer::plateau::{Plateau, PlateauAction, PlateauConfig};
//! let config = PlateauConfig { reduce_patience: Some(1), stop_patience: Some(3), ..Default::default() };
//! let mut p = Plateau::new(config, 1.0).unwrap();
//! let actions: Vec<_> = [50.0, 40.0, 41.0, 42.0, 40.5].iter().map(|&fd| p.observe(fd)).collect();
//! assert_eq!(actions[3], PlateauAction::ReduceLr { lr: 0.1 });
//! assert_eq!(actions[4], PlateauAction::Stop);
//! ```
//!
//! The whole state is serde-serializable, so it can be saved in a checkpoint and resumed.

use serde::{Deserialize, Serialize};

/// Whether lower or higher values of the metric are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Lower is better (losses, FD).
    #[default]
    Min,
    /// Higher is better (accuracy, IS).
    Max,
}

/// How `min_delta` is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdMode {
    /// Improve by more than `min_delta` (Keras, and PyTorch's `abs`).
    #[default]
    Abs,
    /// Improve by more than `min_delta` times the best value (PyTorch's default `rel`).
    Rel,
}

/// The settings of a [`Plateau`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlateauConfig {
    /// Whether lower or higher is better.
    pub mode: Mode,
    /// Margin an observation must beat the best by to count as an improvement (>= 0).
    pub min_delta: f64,
    /// Whether `min_delta` is absolute or relative to the best value.
    pub threshold_mode: ThresholdMode,
    /// Reduce the rate after more than this many bad observations in a row (None: never).
    pub reduce_patience: Option<u32>,
    /// Multiplier of the rate on a reduction, in (0, 1).
    pub factor: f64,
    /// The rate is never reduced below this.
    pub min_lr: f64,
    /// Observations after a reduction during which bad ones are not counted.
    pub cooldown: u32,
    /// Stop at this many observations in a row without improvement (None: never).
    pub stop_patience: Option<u32>,
    /// Reductions smaller than this are skipped (PyTorch's `eps`).
    pub eps: f64,
}

impl Default for PlateauConfig {
    /// PyTorch's defaults for the rate side (factor 0.1, patience 10, no cooldown, no floor),
    /// an absolute `min_delta` of 0, and no stopping.
    fn default() -> Self {
        Self {
            mode: Mode::Min,
            min_delta: 0.0,
            threshold_mode: ThresholdMode::Abs,
            reduce_patience: Some(10),
            factor: 0.1,
            min_lr: 0.0,
            cooldown: 0,
            stop_patience: None,
            eps: 1e-8,
        }
    }
}

/// Why a [`PlateauConfig`] or starting rate is unusable; names the setting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlateauError {
    /// A setting is out of its range.
    #[error("plateau setting {name} = {value}: {expected}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// Its value.
        value: f64,
        /// What it must be.
        expected: &'static str,
    },
}

/// What to do after an observation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum PlateauAction {
    /// Keep going.
    None,
    /// Set the learning rate to `lr` (see [`GanTrainer::set_lr`](crate::train::GanTrainer::set_lr)).
    ReduceLr {
        /// The new rate.
        lr: f64,
    },
    /// Stop training: no improvement for `stop_patience` observations.
    Stop,
}

/// Tracks a metric and says when to reduce the learning rate or stop. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plateau {
    config: PlateauConfig,
    lr: f64,
    best: Option<f64>,
    /// Observation number (from 0) of the best value.
    best_at: Option<u64>,
    observations: u64,
    /// Bad observations in a row, for the rate (PyTorch's `num_bad_epochs`).
    bad_for_reduce: u32,
    /// Observations without improvement in a row, for stopping (Keras' `wait`).
    bad_for_stop: u32,
    cooldown_left: u32,
    reductions: u32,
}

impl PlateauConfig {
    /// Checks every setting's range.
    pub fn validate(&self) -> Result<(), PlateauError> {
        let check = |name, value: f64, ok: bool, expected| {
            if ok {
                Ok(())
            } else {
                Err(PlateauError::Invalid {
                    name,
                    value,
                    expected,
                })
            }
        };
        let f = self.factor;
        check("factor", f, f > 0.0 && f < 1.0, "must be in (0, 1)")?;
        let d = self.min_delta;
        check(
            "min_delta",
            d,
            d >= 0.0 && d.is_finite(),
            "must be finite and >= 0",
        )?;
        let m = self.min_lr;
        check(
            "min_lr",
            m,
            m >= 0.0 && m.is_finite(),
            "must be finite and >= 0",
        )?;
        let e = self.eps;
        check(
            "eps",
            e,
            e >= 0.0 && e.is_finite(),
            "must be finite and >= 0",
        )
    }
}

impl Plateau {
    /// A fresh tracker for a run whose learning rate is now `lr`.
    pub fn new(config: PlateauConfig, lr: f64) -> Result<Self, PlateauError> {
        config.validate()?;
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(PlateauError::Invalid {
                name: "lr",
                value: lr,
                expected: "must be finite and > 0",
            });
        }
        Ok(Self {
            config,
            lr,
            best: None,
            best_at: None,
            observations: 0,
            bad_for_reduce: 0,
            bad_for_stop: 0,
            cooldown_left: 0,
            reductions: 0,
        })
    }

    /// Takes the next value of the metric and says what to do. `Stop` wins over a reduction
    /// due at the same time; a reduction that the floor `min_lr` makes empty is `None`.
    pub fn observe(&mut self, value: f64) -> PlateauAction {
        let index = self.observations;
        self.observations += 1;
        if self.is_improvement(value) {
            self.best = Some(value);
            self.best_at = Some(index);
            self.bad_for_reduce = 0;
            self.bad_for_stop = 0;
        } else {
            self.bad_for_reduce += 1;
            self.bad_for_stop += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad_for_reduce = 0;
        }
        if let Some(patience) = self.config.stop_patience {
            if self.bad_for_stop > 0 && self.bad_for_stop >= patience {
                return PlateauAction::Stop;
            }
        }
        if let Some(patience) = self.config.reduce_patience {
            if self.bad_for_reduce > patience {
                self.bad_for_reduce = 0;
                self.cooldown_left = self.config.cooldown;
                let new = (self.lr * self.config.factor).max(self.config.min_lr);
                if self.lr - new > self.config.eps {
                    self.lr = new;
                    self.reductions += 1;
                    return PlateauAction::ReduceLr { lr: new };
                }
            }
        }
        PlateauAction::None
    }

    fn is_improvement(&self, value: f64) -> bool {
        if !value.is_finite() {
            return false;
        }
        let Some(best) = self.best else {
            return true;
        };
        let delta = match self.config.threshold_mode {
            ThresholdMode::Abs => self.config.min_delta,
            ThresholdMode::Rel => self.config.min_delta * best.abs(),
        };
        match self.config.mode {
            Mode::Min => value < best - delta,
            Mode::Max => value > best + delta,
        }
    }

    /// The learning rate after the reductions so far.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// The best value seen, if any.
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// Which observation (from 0) gave the best value.
    pub fn best_at(&self) -> Option<u64> {
        self.best_at
    }

    /// Observations so far.
    pub fn observations(&self) -> u64 {
        self.observations
    }

    /// Reductions so far.
    pub fn reductions(&self) -> u32 {
        self.reductions
    }

    /// The settings.
    pub fn config(&self) -> &PlateauConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PlateauAction::{None as Go, ReduceLr, Stop};

    fn run(p: &mut Plateau, values: &[f64]) -> Vec<PlateauAction> {
        values.iter().map(|&v| p.observe(v)).collect()
    }

    fn reduce_only(patience: u32) -> PlateauConfig {
        PlateauConfig {
            reduce_patience: Some(patience),
            factor: 0.5,
            ..Default::default()
        }
    }

    #[test]
    fn reduces_after_more_than_patience_bad_observations() {
        // As torch.optim.lr_scheduler.ReduceLROnPlateau(patience=2, factor=0.5,
        // threshold=0, threshold_mode='abs').
        let mut p = Plateau::new(reduce_only(2), 1.0).unwrap();
        let got = run(
            &mut p,
            &[1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.8, 0.9],
        );
        let want = [
            Go,
            Go,
            Go,
            Go,
            ReduceLr { lr: 0.5 },
            Go,
            Go,
            ReduceLr { lr: 0.25 },
            Go,
            Go,
        ];
        assert_eq!(got, want);
        assert_eq!(p.lr(), 0.25);
        assert_eq!(p.best(), Some(0.8));
        assert_eq!(p.best_at(), Some(8));
        assert_eq!(p.reductions(), 2);
        // An equal value is not an improvement.
        let mut p = Plateau::new(reduce_only(0), 1.0).unwrap();
        assert_eq!(run(&mut p, &[3.0, 3.0]), [Go, ReduceLr { lr: 0.5 }]);
    }

    #[test]
    fn cooldown_skips_counting_after_a_reduction() {
        // patience 0, cooldown 2: reductions at the 1st, 4th and 7th bad observation.
        let config = PlateauConfig {
            cooldown: 2,
            ..reduce_only(0)
        };
        let mut p = Plateau::new(config, 8.0).unwrap();
        let got = run(&mut p, &[1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]);
        let want = [
            Go,
            ReduceLr { lr: 4.0 },
            Go,
            Go,
            ReduceLr { lr: 2.0 },
            Go,
            Go,
            ReduceLr { lr: 1.0 },
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn min_lr_floors_the_rate_and_then_nothing_happens() {
        let config = PlateauConfig {
            min_lr: 0.3,
            ..reduce_only(0)
        };
        let mut p = Plateau::new(config, 1.0).unwrap();
        let got = run(&mut p, &[1.0, 1.0, 1.0, 1.0, 1.0]);
        assert_eq!(
            got,
            [Go, ReduceLr { lr: 0.5 }, ReduceLr { lr: 0.3 }, Go, Go]
        );
        assert_eq!(p.lr(), 0.3);
        assert_eq!(p.reductions(), 2);
    }

    #[test]
    fn min_delta_absolute_and_relative() {
        let abs = PlateauConfig {
            min_delta: 0.5,
            ..reduce_only(0)
        };
        let mut p = Plateau::new(abs, 1.0).unwrap();
        // 9.6 is better by 0.4 only: bad. 9.4 beats 10 by 0.6: improvement.
        assert_eq!(run(&mut p, &[10.0, 9.6]), [Go, ReduceLr { lr: 0.5 }]);
        assert_eq!(run(&mut p, &[9.4]), [Go]);
        assert_eq!(p.best(), Some(9.4));

        let rel = PlateauConfig {
            min_delta: 0.1,
            threshold_mode: ThresholdMode::Rel,
            ..reduce_only(0)
        };
        let mut p = Plateau::new(rel, 1.0).unwrap();
        // Needs < 100 * 0.9 = 90: 91 is bad, 89 is good.
        assert_eq!(
            run(&mut p, &[100.0, 91.0, 89.0]),
            [Go, ReduceLr { lr: 0.5 }, Go]
        );
    }

    #[test]
    fn max_mode_wants_higher_values() {
        let config = PlateauConfig {
            mode: Mode::Max,
            ..reduce_only(1)
        };
        let mut p = Plateau::new(config, 1.0).unwrap();
        let got = run(&mut p, &[0.5, 0.6, 0.55, 0.58, 0.7, 0.1, 0.1]);
        assert_eq!(
            got,
            [
                Go,
                Go,
                Go,
                ReduceLr { lr: 0.5 },
                Go,
                Go,
                ReduceLr { lr: 0.25 }
            ]
        );
        assert_eq!(p.best(), Some(0.7));
    }

    #[test]
    fn stops_like_keras_early_stopping() {
        // keras.callbacks.EarlyStopping(patience=3): the 3rd epoch in a row without
        // improvement stops.
        let config = PlateauConfig {
            reduce_patience: None,
            stop_patience: Some(3),
            ..Default::default()
        };
        let mut p = Plateau::new(config, 1.0).unwrap();
        assert_eq!(run(&mut p, &[5.0, 4.0, 4.5, 4.2]), [Go, Go, Go, Go]);
        assert_eq!(run(&mut p, &[3.9, 4.0, 4.0]), [Go, Go, Go]);
        assert_eq!(p.observe(4.0), Stop);
        // Patience 0 acts as 1: the first observation without improvement stops.
        let config = PlateauConfig {
            reduce_patience: None,
            stop_patience: Some(0),
            ..Default::default()
        };
        let mut p = Plateau::new(config, 1.0).unwrap();
        assert_eq!(run(&mut p, &[2.0, 1.0, 1.0]), [Go, Go, Stop]);
    }

    #[test]
    fn reductions_first_then_stop_and_stop_wins_ties() {
        let config = PlateauConfig {
            reduce_patience: Some(1),
            stop_patience: Some(4),
            factor: 0.1,
            ..Default::default()
        };
        let mut p = Plateau::new(config, 1.0).unwrap();
        let got = run(&mut p, &[10.0, 11.0, 11.0, 11.0, 11.0]);
        // bad counts 1, 2 (reduce, reset), 1, 2 (reduce due, but stop's count hit 4).
        assert_eq!(got, [Go, Go, ReduceLr { lr: 0.1 }, Go, Stop]);
        assert_eq!(p.lr(), 0.1);
    }

    #[test]
    fn non_finite_values_are_never_improvements() {
        let mut p = Plateau::new(reduce_only(0), 1.0).unwrap();
        assert_eq!(p.observe(f64::NAN), ReduceLr { lr: 0.5 });
        assert_eq!(p.best(), None);
        assert_eq!(p.observe(3.0), Go);
        assert_eq!(p.observe(f64::NEG_INFINITY), ReduceLr { lr: 0.25 });
        assert_eq!(p.best(), Some(3.0));
    }

    #[test]
    fn state_round_trips_through_json_mid_run() {
        let config = PlateauConfig {
            cooldown: 1,
            stop_patience: Some(6),
            ..reduce_only(1)
        };
        let values = [
            5.0, 4.0, 4.1, 4.2, 4.3, 3.0, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5, 3.5,
        ];
        let mut straight = Plateau::new(config, 0.1).unwrap();
        let want = run(&mut straight, &values);
        let mut first = Plateau::new(config, 0.1).unwrap();
        let mut got = run(&mut first, &values[..4]);
        let json = serde_json::to_string(&first).unwrap();
        let mut resumed: Plateau = serde_json::from_str(&json).unwrap();
        got.extend(run(&mut resumed, &values[4..]));
        assert_eq!(got, want);
        assert_eq!(resumed, straight);
        assert_eq!(*got.last().unwrap(), Stop);
        // Settings left out of a saved config take their defaults.
        let c: PlateauConfig = serde_json::from_str(r#"{"mode":"max"}"#).unwrap();
        assert_eq!(c.mode, Mode::Max);
        assert_eq!(c.factor, 0.1);
    }

    #[test]
    fn bad_settings_name_the_setting() {
        for (config, lr, name) in [
            (
                PlateauConfig {
                    factor: 1.0,
                    ..Default::default()
                },
                1.0,
                "factor",
            ),
            (
                PlateauConfig {
                    factor: 0.0,
                    ..Default::default()
                },
                1.0,
                "factor",
            ),
            (
                PlateauConfig {
                    min_delta: -1.0,
                    ..Default::default()
                },
                1.0,
                "min_delta",
            ),
            (
                PlateauConfig {
                    min_lr: f64::NAN,
                    ..Default::default()
                },
                1.0,
                "min_lr",
            ),
            (PlateauConfig::default(), 0.0, "lr"),
            (PlateauConfig::default(), f64::INFINITY, "lr"),
        ] {
            let e = Plateau::new(config, lr).unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        }
    }
}
