//! Experiments: things that drive whole training runs ([`crate::run::run`]) and compare them,
//! above the run itself (the run uses `eval/`'s metrics; nothing below calls up into here).
//!
//! - [`augment_eval`]: do synthetic images help a classifier that has little real data?
//!   (`trainer augment-eval`)

pub mod augment_eval;
