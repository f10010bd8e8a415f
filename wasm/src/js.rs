//! The JavaScript API (wasm-bindgen). Seeds and indices are JavaScript numbers holding an
//! integer in `0..2^53`; images come back as RGBA bytes (`Uint8Array`), image after image,
//! ready for `new ImageData(...)`. Errors are thrown as `Error` with a message meant for people.
//!
//! The model loads (weights cast from float16) on the first call that needs it; call
//! [`load`] first to time that separately.

use std::cell::OnceCell;

use wasm_bindgen::prelude::*;

use gan_runtime::Truncation;

use crate::{batch_rgba, model_info_json, seed_from_number, EmbeddedGenerator, Error};

thread_local! {
    /// The one generator of this module instance (wasm is single-threaded here).
    static GENERATOR: OnceCell<EmbeddedGenerator> = const { OnceCell::new() };
}

/// Runs `f` with the generator, loading it on first use.
fn with_generator<R>(f: impl FnOnce(&EmbeddedGenerator) -> Result<R, Error>) -> Result<R, JsError> {
    GENERATOR.with(|cell| {
        if cell.get().is_none() {
            let generator = EmbeddedGenerator::load().map_err(to_js)?;
            let _ = cell.set(generator);
        }
        f(cell.get().expect("generator was just set")).map_err(to_js)
    })
}

fn to_js(e: Error) -> JsError {
    JsError::new(&e.to_string())
}

fn class(label: Option<u32>) -> Option<usize> {
    label.map(|l| l as usize)
}

/// `psi` from JavaScript (`undefined`: no truncation), checked by the runtime's rule.
fn truncation(psi: Option<f64>) -> Result<Truncation, JsError> {
    psi.map_or(Ok(Truncation::OFF), Truncation::new)
        .map_err(|e| JsError::new(&e.to_string()))
}

/// Loads the model now (it is otherwise loaded by the first `generate`).
#[wasm_bindgen]
pub fn load() -> Result<(), JsError> {
    with_generator(|_| Ok(()))
}

/// The model as a JSON string: `height`, `width`, `channels`, `latent_dim`, `num_classes`,
/// `class_names`, `dataset`, `steps`, `arch`, `output_range`, `model_file`, `weights`
/// (`f16`/`f32`), `latent_sampler`, `interpolation` (`slerp`), `max_count`.
#[wasm_bindgen]
pub fn model_info() -> Result<String, JsError> {
    crate::contract()
        .map(|c| model_info_json(&c))
        .map_err(to_js)
}

/// Samples `index .. index + count` of `seed` as RGBA bytes (`count * height * width * 4`).
/// `label` picks the class of conditional models and must be left out for the others.
/// `truncation` (psi >= 0.05, or left out for none) keeps every latent coordinate within
/// `[-psi, psi]` by the runtime's rule, so the images match `generate --truncation psi`.
#[wasm_bindgen]
pub fn generate(
    seed: f64,
    index: f64,
    count: u32,
    label: Option<u32>,
    truncation: Option<f64>,
) -> Result<Vec<u8>, JsError> {
    let seed = seed_from_number("seed", seed).map_err(to_js)?;
    let index = seed_from_number("index", index).map_err(to_js)?;
    let truncation = self::truncation(truncation)?;
    with_generator(|g| {
        g.generate(seed, index, count as usize, class(label), truncation)
            .map(|b| batch_rgba(&b))
    })
}

/// Sample `index` at `t` (0..=1) of the way from `seed_a` to `seed_b`, interpolating the two
/// latents spherically (slerp), as RGBA bytes of one image. Both latents are truncated first
/// when `truncation` is given.
#[wasm_bindgen]
pub fn interpolate(
    seed_a: f64,
    seed_b: f64,
    index: f64,
    t: f64,
    label: Option<u32>,
    truncation: Option<f64>,
) -> Result<Vec<u8>, JsError> {
    let a = seed_from_number("seed A", seed_a).map_err(to_js)?;
    let b = seed_from_number("seed B", seed_b).map_err(to_js)?;
    let index = seed_from_number("index", index).map_err(to_js)?;
    let truncation = self::truncation(truncation)?;
    with_generator(|g| {
        g.interpolate(a, b, index, t as f32, class(label), truncation)
            .map(|b| batch_rgba(&b))
    })
}

/// The latents of samples `index .. index + count` of `seed`, row-major `[count, latent_dim]`:
/// the runtime's latent contract, for feeding the same model elsewhere (onnxruntime-web),
/// truncated like `generate` when `truncation` is given.
#[wasm_bindgen]
pub fn latents(
    seed: f64,
    index: f64,
    count: u32,
    truncation: Option<f64>,
) -> Result<Vec<f32>, JsError> {
    let seed = seed_from_number("seed", seed).map_err(to_js)?;
    let index = seed_from_number("index", index).map_err(to_js)?;
    let truncation = self::truncation(truncation)?;
    let dim = crate::contract().map_err(to_js)?.latent_dim;
    if count == 0 || count as usize > crate::MAX_COUNT {
        return Err(JsError::new(&format!(
            "count must be 1..={}, got {count}",
            crate::MAX_COUNT
        )));
    }
    Ok(gan_runtime::latent_batch_truncated(
        seed,
        index,
        count as usize,
        dim,
        truncation,
    ))
}

/// Parses a seed typed by a person (decimal digits, `0..2^53`); throws the message to show
/// otherwise.
#[wasm_bindgen]
pub fn parse_seed(text: &str) -> Result<f64, JsError> {
    crate::parse_seed(text).map(|s| s as f64).map_err(to_js)
}
