//! What a generator is worth: sample quality measured against held-out real data.

pub mod metrics;
