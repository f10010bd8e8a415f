//! The JavaScript API (wasm-bindgen). Seeds and indices are JavaScript numbers holding an
//! integer in `0..2^53`; images come back as RGBA bytes (`Uint8Array`), image after image,
//! ready for `new ImageData(...)`. Errors are thrown as `Error` with a message meant for people.
//!
//! ```js
//! const models = JSON.parse(gan.models());            // [{id, model_file, num_classes, ...}]
//! const bytes = new Uint8Array(await (await fetch(`pkg/${models[1].weights_file}`)).arrayBuffer());
//! const g = gan.Generator.load(models[1].id, bytes); // checks the file, loads the weights
//! const rgba = g.generate(42, 0, 8, 3);              // 8 images of class 3
//! ```

use wasm_bindgen::prelude::*;

use gan_runtime::Truncation;

use crate::{batch_rgba, model_info_json, models_json, seed_from_number, Error, WebGenerator};

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

/// The models this module holds, as a JSON array in the picker's order. Each entry: `id`,
/// `model_file`, `weights_file` (relative to `pkg/`), `weights_bytes`, `weights_sha256`,
/// `weights` (`int8`), `height`, `width`, `channels`, `latent_dim`, `num_classes`,
/// `class_names`, `dataset`, `steps`, `arch`, `output_range`, `latent_sampler`,
/// `interpolation` (`slerp`), `max_count`.
#[wasm_bindgen]
pub fn models() -> Result<String, JsError> {
    models_json().map_err(to_js)
}

/// One model with its weights loaded.
#[wasm_bindgen]
pub struct Generator {
    inner: WebGenerator,
}

#[wasm_bindgen]
impl Generator {
    /// Loads model `id` from `weights`, the bytes of its weights file (`weights_file` in
    /// [`models`]). Throws when the id is unknown or the file is not this build's.
    pub fn load(id: &str, weights: &[u8]) -> Result<Generator, JsError> {
        WebGenerator::load(id, weights)
            .map(|inner| Generator { inner })
            .map_err(to_js)
    }

    /// Reads `bytes`, an ONNX file named `name` that the visitor opened, as a generator
    /// exported by the trainer (MLP or DCGAN, conditional or not) and runs it with its f32
    /// weights. Throws a message naming the file and what is wrong for any other file.
    pub fn from_onnx(name: &str, bytes: &[u8]) -> Result<Generator, JsError> {
        WebGenerator::from_onnx(name, bytes)
            .map(|inner| Generator { inner })
            .map_err(to_js)
    }

    /// The model as a JSON object (an entry of [`models`]; `id` is `file` for an opened file).
    pub fn info(&self) -> String {
        model_info_json(self.inner.source(), self.inner.contract())
    }

    /// Samples `index .. index + count` of `seed` as RGBA bytes (`count * height * width * 4`).
    /// `label` picks the class of conditional models and must be left out for the others.
    /// `truncation` (psi >= 0.05, or left out for none) keeps every latent coordinate within
    /// `[-psi, psi]` by the runtime's rule, so the images match `generate --truncation psi`.
    pub fn generate(
        &self,
        seed: f64,
        index: f64,
        count: u32,
        label: Option<u32>,
        truncation: Option<f64>,
    ) -> Result<Vec<u8>, JsError> {
        let seed = seed_from_number("seed", seed).map_err(to_js)?;
        let index = seed_from_number("index", index).map_err(to_js)?;
        let truncation = self::truncation(truncation)?;
        self.inner
            .generate(seed, index, count as usize, class(label), truncation)
            .map(|b| batch_rgba(&b))
            .map_err(to_js)
    }

    /// Sample `index` at `t` (0..=1) of the way from `seed_a` to `seed_b`, interpolating the
    /// two latents spherically (slerp), as RGBA bytes of one image. Both latents are truncated
    /// first when `truncation` is given.
    pub fn interpolate(
        &self,
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
        self.inner
            .interpolate(a, b, index, t as f32, class(label), truncation)
            .map(|b| batch_rgba(&b))
            .map_err(to_js)
    }

    /// The latents of samples `index .. index + count` of `seed`, row-major
    /// `[count, latent_dim]`: the runtime's latent contract, for feeding the same model
    /// elsewhere (onnxruntime-web), truncated like `generate` when `truncation` is given.
    pub fn latents(
        &self,
        seed: f64,
        index: f64,
        count: u32,
        truncation: Option<f64>,
    ) -> Result<Vec<f32>, JsError> {
        let seed = seed_from_number("seed", seed).map_err(to_js)?;
        let index = seed_from_number("index", index).map_err(to_js)?;
        let truncation = self::truncation(truncation)?;
        self.inner
            .latents(seed, index, count as usize, truncation)
            .map_err(to_js)
    }
}

/// Parses a seed typed by a person (decimal digits, `0..2^53`); throws the message to show
/// otherwise.
#[wasm_bindgen]
pub fn parse_seed(text: &str) -> Result<f64, JsError> {
    crate::parse_seed(text).map(|s| s as f64).map_err(to_js)
}
