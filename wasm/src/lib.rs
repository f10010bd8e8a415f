//! # gan-wasm
//!
//! The browser generator: the shipped ONNX generator (`models/fashion-mlp.onnx` by default)
//! turned into burn code at build time by burn-onnx, run on burn-flex (burn's pure-Rust CPU
//! backend, SIMD128 in the browser), with the latents and pixel mapping of `gan-runtime`, so
//! that sample `index` of `seed` is the same image here, natively with ONNX Runtime, and in
//! the browser.
//!
//! The weights are embedded in the module as float16 (half the download) and cast to f32 when
//! the model loads; all arithmetic is f32. The contract (sizes, classes, dataset) comes from the
//! model's `metadata_props`, read by the build script.
//!
//! [`EmbeddedGenerator`] is the Rust API (native and wasm). The JavaScript API (wasm-bindgen, see
//! `web/README.md`) is in [`js`]: `model_info()`, `generate(seed, index, count, label?,
//! truncation?)`, `interpolate(seed_a, seed_b, index, t, label?, truncation?)`,
//! `latents(seed, index, count, truncation?)`, `parse_seed(text)`.

use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use burn_store::{BurnpackStore, FloatCastAdapter, ModuleSnapshot};
use gan_runtime::{
    latent_batch_truncated, latent_truncated, ImageBatch, ModelContract, Truncation,
};

pub mod js;

/// The burn code burn-onnx generated from the ONNX model (see `build.rs`).
#[allow(clippy::all, clippy::pedantic, unused, missing_docs)]
mod model {
    include!(env!("GAN_WASM_MODEL_RS"));
}

/// What the build script read from the model: its metadata pairs, file name and weight
/// precision.
pub mod metadata {
    include!(concat!(env!("OUT_DIR"), "/metadata.rs"));
}

/// The model's weights in burnpack format (float16 by default), aligned like burnpack's own
/// tensor data so that they can be read in place.
#[repr(C, align(256))]
struct Aligned<T: ?Sized>(T);
static WEIGHTS: &Aligned<[u8]> = &Aligned(*include_bytes!(env!("GAN_WASM_WEIGHTS_BPK")));

/// Most images one call may generate: keeps a typo from allocating gigabytes.
pub const MAX_COUNT: usize = 1024;

/// Largest seed or sample index accepted from JavaScript: numbers above `2^53 - 1` are not
/// all integers there (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why images could not be generated. The messages are shown in the web page as they are.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A seed or index that is not an integer in `0..2^53`.
    Seed(String),
    /// A request the model cannot serve (count, label, t out of range).
    Request(String),
    /// The embedded model is broken (contract or weights); a build problem.
    Model(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Seed(m) | Error::Request(m) | Error::Model(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// The embedded generator: the burn model with its weights, and its contract.
pub struct EmbeddedGenerator {
    model: model::Model,
    contract: ModelContract,
    device: Device,
}

impl std::fmt::Debug for EmbeddedGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedGenerator")
            .field("contract", &self.contract)
            .finish_non_exhaustive()
    }
}

/// The contract of the embedded model, read from its metadata.
pub fn contract() -> Result<ModelContract, Error> {
    ModelContract::from_metadata(|key| {
        metadata::METADATA
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    })
    .map_err(|e| Error::Model(format!("embedded model {}: {e}", metadata::MODEL_FILE)))
}

impl EmbeddedGenerator {
    /// Builds the model and loads the embedded weights (float16 weights become f32).
    pub fn load() -> Result<Self, Error> {
        let contract = contract()?;
        // burn-flex: burn's pure-Rust CPU backend (SIMD128 on wasm), f32.
        let device = Device::flex();
        let mut model = model::Model::new(&device);
        let mut store = BurnpackStore::from_static(&WEIGHTS.0)
            .with_from_adapter(FloatCastAdapter::to(DType::F32));
        let result = model
            .load_from(&mut store)
            .map_err(|e| Error::Model(format!("cannot load the embedded weights: {e}")))?;
        if !result.errors.is_empty() || !result.missing.is_empty() {
            return Err(Error::Model(format!(
                "embedded weights do not fit the model: {result}"
            )));
        }
        Ok(Self {
            model,
            contract,
            device,
        })
    }

    /// The model's contract: latent size, image shape, classes, dataset.
    pub fn contract(&self) -> &ModelContract {
        &self.contract
    }

    /// Samples `index .. index + count` of `seed` (see [`gan_runtime::latent`]), with
    /// `truncation` applied to their latents by the runtime's rule ([`Truncation`]); for
    /// conditional models, all of class `label`.
    pub fn generate(
        &self,
        seed: u64,
        index: u64,
        count: usize,
        label: Option<usize>,
        truncation: Truncation,
    ) -> Result<ImageBatch, Error> {
        if count == 0 || count > MAX_COUNT {
            return Err(Error::Request(format!(
                "count must be 1..={MAX_COUNT}, got {count}"
            )));
        }
        if index.checked_add(count as u64).is_none() {
            return Err(Error::Request(format!(
                "sample indices {index}..{index}+{count} overflow"
            )));
        }
        let z = latent_batch_truncated(seed, index, count, self.contract.latent_dim, truncation);
        self.run(z, count, label)
    }

    /// Sample `index` at `t` of the way from `seed_a` to `seed_b`: the two latents are
    /// interpolated spherically ([`slerp`]), which keeps the norm a N(0, I) latent typically
    /// has, where a straight line would pass through unlikely short latents. Both ends are
    /// truncated first, so `t = 0` and `t = 1` are the two seeds' samples at that truncation.
    pub fn interpolate(
        &self,
        seed_a: u64,
        seed_b: u64,
        index: u64,
        t: f32,
        label: Option<usize>,
        truncation: Truncation,
    ) -> Result<ImageBatch, Error> {
        if !(0.0..=1.0).contains(&t) {
            return Err(Error::Request(format!("t must be in 0..=1, got {t}")));
        }
        let dim = self.contract.latent_dim;
        let z = slerp(
            &latent_truncated(seed_a, index, dim, truncation),
            &latent_truncated(seed_b, index, dim, truncation),
            t,
        );
        self.run(z, 1, label)
    }

    /// Runs the model on `count` latents (row-major `[count, latent_dim]`).
    pub fn run(
        &self,
        latents: Vec<f32>,
        count: usize,
        label: Option<usize>,
    ) -> Result<ImageBatch, Error> {
        let c = &self.contract;
        if latents.len() != count * c.latent_dim {
            return Err(Error::Request(format!(
                "{} latent values given, expected {count} x {}",
                latents.len(),
                c.latent_dim
            )));
        }
        let z = Tensor::<2>::from_data(
            TensorData::new(latents, [count, c.latent_dim]),
            &self.device,
        );
        let labels = self.labels(count, label)?;
        let image = self.forward(z, labels);
        let data = image
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| Error::Model(format!("model output is not f32: {e:?}")))?;
        ImageBatch::new(data, count, c.channels, c.height, c.width, c.output_range)
            .map_err(|e| Error::Model(format!("model output: {e}")))
    }

    /// The label tensor for a conditional model; `None` for unconditional ones.
    fn labels(&self, count: usize, label: Option<usize>) -> Result<Option<Tensor<1, Int>>, Error> {
        let n = self.contract.num_classes;
        match (n, label) {
            (0, None) => Ok(None),
            (0, Some(l)) => Err(Error::Request(format!(
                "the model is unconditional: it takes no class (got class {l})"
            ))),
            (_, None) => Err(Error::Request(format!(
                "the model is conditional: choose a class 0..{n}"
            ))),
            (_, Some(l)) if l >= n => Err(Error::Request(format!(
                "class {l} is out of range: the model has classes 0..{n}"
            ))),
            (_, Some(l)) => Ok(Some(Tensor::from_data(
                TensorData::new(vec![l as i64; count], [count]),
                &self.device,
            ))),
        }
    }

    #[cfg(not(gan_conditional))]
    fn forward(&self, z: Tensor<2>, _labels: Option<Tensor<1, Int>>) -> Tensor<4> {
        self.model.forward(z)
    }

    #[cfg(gan_conditional)]
    fn forward(&self, z: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Tensor<4> {
        // `labels` checks the label is there for conditional models.
        self.model
            .forward(z, labels.expect("conditional model needs labels"))
    }
}

/// Spherical linear interpolation between `a` (t = 0) and `b` (t = 1), computed in f64.
/// Falls back to a straight line when the two are (nearly) parallel.
///
/// ```
/// let a = [1.0, 0.0];
/// let b = [0.0, 1.0];
/// let mid = gan_wasm::slerp(&a, &b, 0.5);
/// assert!((mid[0] - 0.5f32.sqrt()).abs() < 1e-6 && (mid[1] - 0.5f32.sqrt()).abs() < 1e-6);
/// assert_eq!(gan_wasm::slerp(&a, &b, 0.0), a);
/// ```
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    assert_eq!(a.len(), b.len(), "latents of different sizes");
    let t = f64::from(t);
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let cos = (dot / (norm(a) * norm(b))).clamp(-1.0, 1.0);
    let omega = cos.acos();
    let (wa, wb) = if omega.sin().abs() < 1e-6 {
        (1.0 - t, t)
    } else {
        let s = omega.sin();
        (((1.0 - t) * omega).sin() / s, (t * omega).sin() / s)
    };
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (wa * f64::from(x) + wb * f64::from(y)) as f32)
        .collect()
}

/// A seed or sample index given as a JavaScript number: an integer in `0..2^53`.
pub fn seed_from_number(what: &str, value: f64) -> Result<u64, Error> {
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= MAX_SAFE_INTEGER as f64
    {
        Ok(value as u64)
    } else {
        Err(Error::Seed(format!(
            "{what} must be an integer 0..2^53, got {value}"
        )))
    }
}

/// A seed typed by a person: decimal digits (surrounding spaces allowed) for an integer in
/// `0..2^53`.
pub fn parse_seed(text: &str) -> Result<u64, Error> {
    let t = text.trim();
    let bad = || Error::Seed(format!("seed must be an integer 0..2^53, got {text:?}"));
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match t.parse::<u64>() {
        Ok(v) if v <= MAX_SAFE_INTEGER => Ok(v),
        _ => Err(bad()),
    }
}

/// The model's description as a JSON object: image shape, latent size, classes, training
/// data, and how the module was built.
pub fn model_info_json(c: &ModelContract) -> String {
    let names: Vec<String> = c.class_names.iter().map(|n| json_string(n)).collect();
    format!(
        concat!(
            "{{\"height\":{},\"width\":{},\"channels\":{},\"latent_dim\":{},",
            "\"num_classes\":{},\"class_names\":[{}],\"dataset\":{},\"steps\":{},",
            "\"arch\":{},\"output_range\":[{},{}],\"model_file\":{},\"weights\":{},",
            "\"latent_sampler\":{},\"interpolation\":\"slerp\",\"max_count\":{}}}"
        ),
        c.height,
        c.width,
        c.channels,
        c.latent_dim,
        c.num_classes,
        names.join(","),
        json_string(&c.dataset),
        c.train_steps,
        json_string(&c.arch),
        c.output_range.0,
        c.output_range.1,
        json_string(metadata::MODEL_FILE),
        json_string(metadata::WEIGHTS_DTYPE),
        json_string(gan_runtime::latent::LATENT_SAMPLER),
        MAX_COUNT,
    )
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// All images of `batch` as RGBA bytes, one after the other (`count x H x W x 4`), the layout
/// of canvas `ImageData`.
pub fn batch_rgba(batch: &ImageBatch) -> Vec<u8> {
    (0..batch.len()).flat_map(|i| batch.to_rgba(i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gan_runtime::latent;

    const OFF: Truncation = Truncation::OFF;

    #[test]
    fn seeds_are_checked() {
        assert_eq!(parse_seed(" 42 "), Ok(42));
        assert_eq!(parse_seed("9007199254740991"), Ok(MAX_SAFE_INTEGER));
        for bad in ["", "-1", "1.5", "abc", "9007199254740992", "1e3", "0x10"] {
            let e = parse_seed(bad).unwrap_err();
            assert!(e.to_string().contains("integer 0..2^53"), "{bad:?}: {e}");
        }
        assert_eq!(seed_from_number("seed", 7.0), Ok(7));
        assert!(seed_from_number("seed", 0.5).is_err());
        assert!(seed_from_number("seed", f64::NAN).is_err());
        assert!(seed_from_number("seed", 2f64.powi(53)).is_err());
    }

    #[test]
    fn slerp_ends_and_norm() {
        let a = latent(1, 0, 100);
        let b = latent(2, 0, 100);
        assert_eq!(slerp(&a, &b, 0.0), a);
        let end = slerp(&a, &b, 1.0);
        assert!(end.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5));
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let mid = norm(&slerp(&a, &b, 0.5));
        assert!(
            mid > norm(&a).min(norm(&b)) * 0.95,
            "slerp keeps the norm: {mid}"
        );
    }

    #[test]
    fn model_info_is_json_of_the_contract() {
        let c = contract().unwrap();
        let info = model_info_json(&c);
        assert!(info.starts_with('{') && info.ends_with('}'), "{info}");
        assert!(
            info.contains(&format!("\"latent_dim\":{}", c.latent_dim)),
            "{info}"
        );
        assert!(info.contains("\"interpolation\":\"slerp\""), "{info}");
        assert_eq!(json_string("a\"b\n"), "\"a\\\"b\\n\"");
    }

    #[test]
    fn generates_the_same_sample_in_any_batch() {
        let g = EmbeddedGenerator::load().unwrap();
        let c = g.contract().clone();
        let batch = g.generate(42, 0, 4, None, OFF).unwrap();
        assert_eq!(batch.shape(), (c.channels, c.height, c.width));
        assert_eq!(batch.non_finite_count(), 0);
        let one = g.generate(42, 2, 1, None, OFF).unwrap();
        // The same latent gives the same image up to float rounding: natively, burn-flex's
        // GEMM picks its micro-kernel by batch size and CPU (AVX2 and AVX-512 differ), so the
        // last bits may differ between batch 1 and batch 4 (seen on an AMD EPYC without
        // AVX-512). The browser test holds pixels to ONNX Runtime within 1/255.
        let worst = one
            .image(0)
            .iter()
            .zip(batch.image(2))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "batch 1 vs batch 4 differ by {worst}");
        let rgba = batch_rgba(&batch);
        assert_eq!(rgba.len(), 4 * c.height * c.width * 4);
        // Interpolation ends are the two seeds' samples.
        let other = g.generate(7, 2, 1, None, OFF).unwrap();
        let t0 = g.interpolate(42, 7, 2, 0.0, None, OFF).unwrap();
        let t1 = g.interpolate(42, 7, 2, 1.0, None, OFF).unwrap();
        assert_eq!(t0.to_u8(0), one.to_u8(0));
        let diff = t1
            .to_u8(0)
            .iter()
            .zip(other.to_u8(0))
            .map(|(a, b)| a.abs_diff(b))
            .max();
        assert!(diff <= Some(1), "t = 1 is seed b's sample: {diff:?}");
    }

    /// Truncation follows the runtime's rule: the image of a truncated sample is the model's
    /// output for `latent_truncated`, and interpolation ends are the truncated samples.
    #[test]
    fn truncation_uses_the_runtime_s_latents() {
        let g = EmbeddedGenerator::load().unwrap();
        let c = g.contract().clone();
        let label = c.is_conditional().then_some(1);
        let t = Truncation::new(0.5).unwrap();
        let truncated = g.generate(42, 3, 1, label, t).unwrap();
        let z = latent_truncated(42, 3, c.latent_dim, t);
        let direct = g.run(z, 1, label).unwrap();
        assert_eq!(truncated.to_u8(0), direct.to_u8(0));
        assert_ne!(
            truncated.to_u8(0),
            g.generate(42, 3, 1, label, OFF).unwrap().to_u8(0)
        );
        let t0 = g.interpolate(42, 7, 3, 0.0, label, t).unwrap();
        assert_eq!(t0.to_u8(0), truncated.to_u8(0));
    }

    #[test]
    fn bad_requests_are_refused() {
        let g = EmbeddedGenerator::load().unwrap();
        assert!(g.generate(1, 0, 0, None, OFF).is_err());
        assert!(g.generate(1, 0, MAX_COUNT + 1, None, OFF).is_err());
        assert!(g.generate(1, u64::MAX, 2, None, OFF).is_err());
        assert!(g.interpolate(1, 2, 0, 1.5, None, OFF).is_err());
        if g.contract().is_conditional() {
            assert!(g.generate(1, 0, 1, None, OFF).is_err());
        } else {
            let e = g.generate(1, 0, 1, Some(0), OFF).unwrap_err();
            assert!(e.to_string().contains("unconditional"), "{e}");
        }
    }
}
