//! # gan-wasm
//!
//! The browser generators: each shipped ONNX generator (`models/*.onnx`, see `build.rs`) turned
//! into burn code at build time by burn-onnx, run on burn-flex (burn's pure-Rust CPU backend,
//! SIMD128 in the browser), with the latents and pixel mapping of `gan-runtime`, so that sample
//! `index` of `seed` is the same image here, natively with ONNX Runtime, and in the browser.
//!
//! The module holds the code of every model; each model's weights are a separate file
//! (`web/pkg/models/<id>.bpk`, int8 per channel, see [`int8`]) that the page fetches when the
//! model is picked and hands to [`WebGenerator::load`], which checks it against the SHA-256 the
//! build recorded. The Gemm and wide ConvTranspose layers multiply the int8 weights in integer
//! arithmetic ([`kernels::linear_q`]); everything else is f32.
//!
//! [`WebGenerator`] is the Rust API (native and wasm). The JavaScript API (wasm-bindgen, see
//! `web/README.md`) is in [`js`]: `models()`, `Generator.load(id, bytes)`, and on a generator
//! `info()`, `generate(seed, index, count, label?, truncation?)`,
//! `interpolate(seed_a, seed_b, index, t, label?, truncation?)`,
//! `latents(seed, index, count, truncation?)`; `parse_seed(text)`.
//!
//! ```no_run
//! # fn main() -> Result<(), gan_wasm::Error> {
//! let spec = gan_wasm::spec("mnist-cdcgan")?;
//! let bytes = std::fs::read(format!("{}/{}.bpk", gan_wasm::registry::WEIGHTS_DIR, spec.id))
//!     .expect("weights built by build.rs");
//! let generator = gan_wasm::WebGenerator::load(spec.id, &bytes)?;
//! let sevens = generator.generate(42, 0, 8, Some(7), gan_runtime::Truncation::OFF)?;
//! assert_eq!(sevens.len(), 8);
//! # Ok(()) }
//! ```

use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_store::burn_pack::{self, Bytes, DType};
use burn_store::BurnpackStore;
use gan_runtime::{
    latent_batch_truncated, latent_truncated, ImageBatch, ModelContract, Truncation,
};
use sha2::{Digest, Sha256};

pub mod int8;
pub mod interpret;
pub mod js;
pub mod kernels;
pub mod onnx_proto;

/// What the build script generated: the model modules, [`registry::Net`] over them, and the
/// [`registry::MODELS`] table.
pub mod registry {
    use burn::prelude::*;

    /// A model of the page, as the build recorded it.
    #[derive(Debug)]
    pub struct ModelSpec {
        /// The model's id: its ONNX file's stem (`fashion-mlp`).
        pub id: &'static str,
        /// The ONNX file it was generated from.
        pub model_file: &'static str,
        /// The model's `metadata_props`, in file order (the contract).
        pub metadata: &'static [(&'static str, &'static str)],
        /// Size of its weights file (`<id>.bpk`).
        pub weights_bytes: u64,
        /// SHA-256 of its weights file, lower-case hex.
        pub weights_sha256: &'static str,
        /// Weights stored as int8.
        pub int8_values: usize,
        /// Weights stored as f32 (biases, batch-norm statistics, small embeddings).
        pub f32_values: usize,
        /// Keys (`<id>/<tensor name>`) of the Gemm and ConvTranspose weights the generated
        /// code hands to [`crate::kernels::linear_q`] and
        /// [`crate::kernels::conv_transpose2d_q`].
        pub int8_gemms: &'static [&'static str],
    }

    include!(concat!(env!("OUT_DIR"), "/models.rs"));
}

pub use registry::{ModelSpec, MODELS};

/// Suffix of the tensor holding an int8 tensor's per-channel scales in a weights file.
const SCALE_SUFFIX: &str = "/int8_scale";

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
    /// A model id this module does not hold.
    UnknownModel(String),
    /// A weights file that is not the one this module was built with.
    Weights(String),
    /// An ONNX file opened in the page that is not a trainer export the page can run.
    File(String),
    /// A model whose contract or code is broken; a build problem.
    Model(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Seed(m)
            | Error::Request(m)
            | Error::UnknownModel(m)
            | Error::Weights(m)
            | Error::File(m)
            | Error::Model(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// The model `id` of [`MODELS`].
pub fn spec(id: &str) -> Result<&'static ModelSpec, Error> {
    MODELS.iter().find(|m| m.id == id).ok_or_else(|| {
        let known: Vec<&str> = MODELS.iter().map(|m| m.id).collect();
        Error::UnknownModel(format!(
            "no model {id:?} in this module; it has {}",
            known.join(", ")
        ))
    })
}

/// The contract of a model, read from its metadata.
pub fn contract(spec: &ModelSpec) -> Result<ModelContract, Error> {
    ModelContract::from_metadata(|key| {
        spec.metadata
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    })
    .map_err(|e| Error::Model(format!("model {}: {e}", spec.model_file)))
}

/// Where a page generator comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// One of the module's models ([`MODELS`]), with its int8 weights file.
    Built(&'static ModelSpec),
    /// An ONNX file the visitor opened: its name and size.
    File {
        /// The file's name.
        name: String,
        /// Its size in bytes.
        bytes: usize,
    },
}

/// What runs a page generator.
enum Engine {
    /// burn-onnx's code for one of the module's models.
    Built(registry::Net),
    /// A trainer export read at run time (boxed: the larger variant).
    File(Box<interpret::FileModel>),
}

/// A page generator: a burn model with its weights, and its contract.
pub struct WebGenerator {
    source: Source,
    engine: Engine,
    contract: ModelContract,
    device: Device,
}

impl std::fmt::Debug for WebGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebGenerator")
            .field("source", &self.source)
            .field("contract", &self.contract)
            .finish_non_exhaustive()
    }
}

impl WebGenerator {
    /// Builds model `id` and loads `weights`, the bytes of its weights file (`<id>.bpk`);
    /// int8 weights become f32. Fails when the file is not the one this module was built with.
    pub fn load(id: &str, weights: &[u8]) -> Result<Self, Error> {
        let spec = spec(id)?;
        let contract = contract(spec)?;
        let file = format!("{id}.bpk");
        let digest: String = Sha256::digest(weights)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if digest != spec.weights_sha256 {
            return Err(Error::Weights(format!(
                "{file} is not the weights file of this build ({} bytes with SHA-256 {}…, \
                 expected {} bytes with {}…): a damaged download or a stale cache; reload the \
                 page",
                weights.len(),
                &digest[..12],
                spec.weights_bytes,
                &spec.weights_sha256[..12.min(spec.weights_sha256.len())]
            )));
        }
        let (f32_pack, int8) =
            dequantize_pack(weights).map_err(|e| Error::Weights(format!("{file}: {e}")))?;
        // The Gemm and ConvTranspose weights' int8 form, for the kernels' integer products
        // (`kernels::linear_q`, `kernels::conv_transpose2d_q`).
        for (name, dims, q, scales) in int8 {
            let key = format!("{id}/{name}");
            if !spec.int8_gemms.contains(&key.as_str()) {
                continue;
            }
            let gemm = match dims.as_slice() {
                // Gemm weights [in, out]: a scale per column.
                [k, n] => kernels::Int8Gemm::new(&q, &scales, *k, *n),
                // ConvTranspose weights [in, out, kh, kw]: the GEMM [in, out * kh * kw], its
                // column (co, ky, kx) scaled by out channel co.
                [cin, cout, kh, kw] => {
                    let cols: Vec<f32> = scales
                        .iter()
                        .flat_map(|&s| std::iter::repeat_n(s, kh * kw))
                        .collect();
                    kernels::Int8Gemm::new(&q, &cols, *cin, cout * kh * kw)
                }
                _ => None,
            };
            if let Some(g) = gemm {
                kernels::register_int8(key, g);
            }
        }
        // burn-flex: burn's pure-Rust CPU backend (SIMD128 on wasm), f32.
        let device = Device::flex();
        let index = MODELS
            .iter()
            .position(|m| m.id == spec.id)
            .expect("spec comes from MODELS");
        let mut net = registry::Net::new(index, &device).expect("index of MODELS");
        let mut store = BurnpackStore::from_bytes(Some(f32_pack));
        let result = net
            .load_from(&mut store)
            .map_err(|e| Error::Weights(format!("cannot load {file}: {e}")))?;
        if !result.errors.is_empty() || !result.missing.is_empty() {
            return Err(Error::Weights(format!(
                "{file} does not fit model {id}: {result}"
            )));
        }
        Ok(Self {
            source: Source::Built(spec),
            engine: Engine::Built(net),
            contract,
            device,
        })
    }

    /// Reads `bytes`, an ONNX file named `name`, as a generator exported by the trainer
    /// (`trainer --export`, MLP or DCGAN, conditional or not) and runs it with its f32 weights.
    /// Any other file is refused with a message naming the file and what is wrong.
    pub fn from_onnx(name: &str, bytes: &[u8]) -> Result<Self, Error> {
        let device = Device::flex();
        let model = interpret::FileModel::from_bytes(bytes, &device)
            .map_err(|e| Error::File(format!("{name}: {e}")))?;
        Ok(Self {
            source: Source::File {
                name: name.to_string(),
                bytes: bytes.len(),
            },
            contract: model.contract().clone(),
            engine: Engine::File(Box::new(model)),
            device,
        })
    }

    /// Where the generator comes from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The model's contract: latent size, image shape, classes, dataset.
    pub fn contract(&self) -> &ModelContract {
        &self.contract
    }

    /// Samples `index .. index + count` of `seed` (see [`gan_runtime::latent()`]), with
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
        let z = self.latents(seed, index, count, truncation)?;
        self.run(z, count, label)
    }

    /// The latents of samples `index .. index + count` of `seed`, row-major
    /// `[count, latent_dim]`, truncated by the runtime's rule: what [`Self::generate`] runs.
    pub fn latents(
        &self,
        seed: u64,
        index: u64,
        count: usize,
        truncation: Truncation,
    ) -> Result<Vec<f32>, Error> {
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
        Ok(latent_batch_truncated(
            seed,
            index,
            count,
            self.contract.latent_dim,
            truncation,
        ))
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
        let image = self.forward(z, labels)?;
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

    fn forward(&self, z: Tensor<2>, labels: Option<Tensor<1, Int>>) -> Result<Tensor<4>, Error> {
        match &self.engine {
            // `labels` has already matched the label to the contract; a mismatch here means the
            // generated code and the contract disagree.
            Engine::Built(net) => net.forward(z, labels).ok_or_else(|| {
                Error::Model(format!(
                    "model {}: its code and its contract disagree on the class input",
                    self.contract.arch
                ))
            }),
            Engine::File(model) => model.forward(z, labels).map_err(|e| match &self.source {
                Source::File { name, .. } => Error::File(format!("{name}: {e}")),
                Source::Built(spec) => Error::Model(format!("{}: {e}", spec.id)),
            }),
        }
    }
}

/// An int8 tensor of a weights file: name, shape, values, per-channel scales.
type Int8Tensor = (String, Vec<usize>, Vec<i8>, Vec<f32>);

/// Reads a weights file (`<id>.bpk`: int8 tensors with their `/int8_scale` companions, f32
/// tensors) and writes it again as an all-f32 burnpack that the generated model loads; also
/// returns its int8 tensors.
fn dequantize_pack(weights: &[u8]) -> Result<(Bytes, Vec<Int8Tensor>), String> {
    let reader = burn_pack::Reader::from_bytes(Bytes::from_bytes_vec(weights.to_vec()))
        .map_err(|e| format!("not a burnpack file: {e}"))?;
    let tensors = reader
        .into_tensors()
        .map_err(|e| format!("cannot read its tensors: {e}"))?;
    let mut scales = std::collections::HashMap::new();
    let mut rest = Vec::new();
    for t in tensors {
        let (name, dtype, shape, id, bytes) = t
            .into_parts()
            .map_err(|e| format!("cannot read a tensor: {e}"))?;
        match name.strip_suffix(SCALE_SUFFIX) {
            Some(of) if dtype == DType::F32 => {
                let s = int8::f32s_from_le(&bytes);
                scales.insert(of.to_string(), s);
            }
            _ => rest.push((name, dtype, shape, id, bytes)),
        }
    }
    let mut out = Vec::with_capacity(rest.len());
    let mut int8_tensors = Vec::new();
    for (name, dtype, shape, id, bytes) in rest {
        if dtype != DType::I8 {
            out.push(burn_pack::Tensor::new(name, dtype, shape, id, bytes));
            continue;
        }
        let s = scales
            .get(&name)
            .ok_or_else(|| format!("int8 tensor {name} has no {name}{SCALE_SUFFIX}"))?;
        let dims: Vec<usize> = shape.to_vec();
        if dims.len() < 2 || s.len() != dims[1] || bytes.len() != dims.iter().product::<usize>() {
            return Err(format!(
                "int8 tensor {name} of shape {dims:?} has {} values and {} scales",
                bytes.len(),
                s.len()
            ));
        }
        let q: Vec<i8> = bytes.iter().map(|&b| b as i8).collect();
        let values = int8::dequantize(&q, &dims, s);
        int8_tensors.push((name.clone(), dims.clone(), q, s.clone()));
        let f32_bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        out.push(burn_pack::Tensor::new(
            name,
            DType::F32,
            shape,
            id,
            Bytes::from_bytes_vec(f32_bytes),
        ));
    }
    let pack = burn_pack::Writer::new(out)
        .into_bytes()
        .map_err(|e| format!("cannot convert it to f32: {e}"))?;
    Ok((pack, int8_tensors))
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

/// A model's description as a JSON object: its id, image shape, latent size, classes, training
/// data, and its weights file (for an opened file: id `file`, f32 weights, no weights file).
pub fn model_info_json(source: &Source, c: &ModelContract) -> String {
    let (id, model_file, weights, weights_file, weights_bytes, sha) = match source {
        Source::Built(spec) => (
            spec.id.to_string(),
            spec.model_file.to_string(),
            "int8",
            format!("models/{}.bpk", spec.id),
            spec.weights_bytes,
            spec.weights_sha256.to_string(),
        ),
        Source::File { name, bytes } => (
            "file".to_string(),
            name.clone(),
            "f32",
            String::new(),
            *bytes as u64,
            String::new(),
        ),
    };
    let names: Vec<String> = c.class_names.iter().map(|n| json_string(n)).collect();
    format!(
        concat!(
            "{{\"height\":{},\"width\":{},\"channels\":{},\"latent_dim\":{},",
            "\"num_classes\":{},\"class_names\":[{}],\"dataset\":{},\"steps\":{},",
            "\"arch\":{},\"output_range\":[{},{}],\"id\":{},\"model_file\":{},",
            "\"weights\":{},\"weights_file\":{},\"weights_bytes\":{},",
            "\"weights_sha256\":{},\"latent_sampler\":{},\"interpolation\":\"slerp\",",
            "\"max_count\":{}}}"
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
        json_string(&id),
        json_string(&model_file),
        json_string(weights),
        json_string(&weights_file),
        weights_bytes,
        json_string(&sha),
        json_string(gan_runtime::latent::LATENT_SAMPLER),
        MAX_COUNT,
    )
}

/// Every model of [`MODELS`] as a JSON array of [`model_info_json`] objects, in the picker's
/// order.
pub fn models_json() -> Result<String, Error> {
    let infos = MODELS
        .iter()
        .map(|m| contract(m).map(|c| model_info_json(&Source::Built(m), &c)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(format!("[{}]", infos.join(",")))
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

    /// The largest difference between two images' values.
    fn max_diff(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    }

    /// Model `id` with the weights file the build wrote.
    fn load(id: &str) -> WebGenerator {
        let path = format!("{}/{id}.bpk", registry::WEIGHTS_DIR);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        WebGenerator::load(id, &bytes).unwrap()
    }

    /// A class for conditional models (the last one), none for the others.
    fn some_label(g: &WebGenerator) -> Option<usize> {
        let n = g.contract().num_classes;
        (n > 0).then(|| n - 1)
    }

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
    fn models_json_lists_every_model_with_its_contract() {
        let all = models_json().unwrap();
        assert!(all.starts_with('[') && all.ends_with(']'), "{all}");
        for m in MODELS {
            let c = contract(m).unwrap();
            let info = model_info_json(&Source::Built(m), &c);
            assert!(all.contains(&info), "{} missing from {all}", m.id);
            assert!(info.contains(&format!("\"id\":\"{}\"", m.id)), "{info}");
            assert!(
                info.contains(&format!("\"latent_dim\":{}", c.latent_dim)),
                "{info}"
            );
            assert!(info.contains("\"interpolation\":\"slerp\""), "{info}");
        }
        assert_eq!(json_string("a\"b\n"), "\"a\\\"b\\n\"");
    }

    /// Every model: the int8 weights file loads, and a sample is the same in any batch.
    #[test]
    fn every_model_generates_the_same_sample_in_any_batch() {
        assert!(MODELS.len() >= 2, "the page offers several models");
        for m in MODELS {
            let g = load(m.id);
            let c = g.contract().clone();
            let label = some_label(&g);
            let batch = g.generate(42, 0, 4, label, OFF).unwrap();
            assert_eq!(batch.shape(), (c.channels, c.height, c.width), "{}", m.id);
            assert_eq!(batch.non_finite_count(), 0, "{}", m.id);
            let one = g.generate(42, 2, 1, label, OFF).unwrap();
            // The same latent gives the same image up to float rounding: natively, burn-flex's
            // GEMM picks its micro-kernel by batch size and CPU (AVX2 and AVX-512 differ), so
            // the last bits may differ between batch 1 and batch 4. The browser test holds
            // pixels to ONNX Runtime within 1/255.
            let worst = max_diff(one.image(0), batch.image(2));
            // Each row is scaled to integers on its own (`kernels::linear_q`), so batches
            // agree closely; the bound leaves room for f32 rounding in the other layers.
            assert!(
                worst < 1e-3,
                "{}: batch 1 vs batch 4 differ by {worst}",
                m.id
            );
            assert_eq!(
                batch_rgba(&batch).len(),
                4 * c.height * c.width * 4,
                "{}",
                m.id
            );
            // Interpolation ends are the two seeds' samples.
            let other = g.generate(7, 2, 1, label, OFF).unwrap();
            let t0 = g.interpolate(42, 7, 2, 0.0, label, OFF).unwrap();
            let t1 = g.interpolate(42, 7, 2, 1.0, label, OFF).unwrap();
            assert_eq!(t0.to_u8(0), one.to_u8(0), "{}", m.id);
            let diff = t1
                .to_u8(0)
                .iter()
                .zip(other.to_u8(0))
                .map(|(a, b)| a.abs_diff(b))
                .max();
            assert!(
                diff <= Some(1),
                "{}: t = 1 is seed b's sample: {diff:?}",
                m.id
            );
        }
    }

    /// Every Gemm and ConvTranspose of every model has its int8 form registered, and the
    /// integer products give the images in any batch (each row is scaled on its own).
    #[test]
    fn integer_products_use_the_int8_weights() {
        for m in MODELS {
            let g = load(m.id);
            assert!(!m.int8_gemms.is_empty(), "{}: no Gemm keys", m.id);
            for key in m.int8_gemms {
                assert!(kernels::has_int8(key), "{key} not registered");
            }
            if m.id.contains("dcgan") {
                assert!(
                    m.int8_gemms.iter().any(|k| k.contains("convtranspose")),
                    "{}: no ConvTranspose keys: {:?}",
                    m.id,
                    m.int8_gemms
                );
            }
            let label = some_label(&g);
            let four = g.generate(9, 0, 4, label, OFF).unwrap();
            for i in 0..4 {
                let one = g.generate(9, i as u64, 1, label, OFF).unwrap();
                let worst = max_diff(one.image(0), four.image(i));
                assert!(
                    worst < 1e-5,
                    "{}: batch 1 vs batch 4 differ by {worst}",
                    m.id
                );
            }
        }
    }

    /// Conditional models draw different images for different classes.
    #[test]
    fn classes_change_the_images() {
        for m in MODELS {
            let g = load(m.id);
            if !g.contract().is_conditional() {
                continue;
            }
            let a = g.generate(42, 0, 2, Some(0), OFF).unwrap();
            let b = g.generate(42, 0, 2, Some(1), OFF).unwrap();
            assert_ne!(a.to_u8(0), b.to_u8(0), "{}: class 0 == class 1", m.id);
        }
    }

    /// Truncation follows the runtime's rule: the image of a truncated sample is the model's
    /// output for `latent_truncated`, and interpolation ends are the truncated samples.
    #[test]
    fn truncation_uses_the_runtime_s_latents() {
        let g = load(MODELS[MODELS.len() - 1].id);
        let c = g.contract().clone();
        let label = some_label(&g);
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
        for m in MODELS {
            let g = load(m.id);
            let label = some_label(&g);
            assert!(g.generate(1, 0, 0, label, OFF).is_err());
            assert!(g.generate(1, 0, MAX_COUNT + 1, label, OFF).is_err());
            assert!(g.generate(1, u64::MAX, 2, label, OFF).is_err());
            assert!(g.interpolate(1, 2, 0, 1.5, label, OFF).is_err());
            let n = g.contract().num_classes;
            if n > 0 {
                let e = g.generate(1, 0, 1, None, OFF).unwrap_err();
                assert!(e.to_string().contains("choose a class"), "{e}");
                let e = g.generate(1, 0, 1, Some(n), OFF).unwrap_err();
                assert!(e.to_string().contains("out of range"), "{e}");
            } else {
                let e = g.generate(1, 0, 1, Some(0), OFF).unwrap_err();
                assert!(e.to_string().contains("unconditional"), "{e}");
            }
        }
    }

    /// A weights file that is not this build's, or not for this model, or damaged, is refused
    /// with a message naming the file; an unknown model names the known ones.
    #[test]
    fn bad_weights_files_are_refused_clearly() {
        let id = MODELS[0].id;
        let path = format!("{}/{id}.bpk", registry::WEIGHTS_DIR);
        let good = std::fs::read(&path).unwrap();
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        for (what, bytes) in [
            ("one flipped bit", flipped),
            ("truncated", good[..good.len() / 2].to_vec()),
            ("empty", Vec::new()),
        ] {
            let e = WebGenerator::load(id, &bytes).unwrap_err();
            assert!(matches!(e, Error::Weights(_)), "{what}: {e:?}");
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("{id}.bpk")) && msg.contains("not the weights file"),
                "{what}: {msg}"
            );
        }
        if let Some(other) = MODELS.get(1) {
            let e = WebGenerator::load(other.id, &good).unwrap_err();
            assert!(e.to_string().contains(&format!("{}.bpk", other.id)), "{e}");
        }
        let e = WebGenerator::load("no-such-model", &good).unwrap_err();
        assert!(
            e.to_string().contains("no-such-model") && e.to_string().contains(id),
            "{e}"
        );
    }

    /// The int8 format reads back what the build wrote: the pack's int8 tensors become the
    /// f32 values their scales say, and nothing else changes.
    #[test]
    fn weights_file_is_int8_with_scales() {
        for m in MODELS {
            let bytes = std::fs::read(format!("{}/{}.bpk", registry::WEIGHTS_DIR, m.id)).unwrap();
            assert_eq!(bytes.len() as u64, m.weights_bytes, "{}", m.id);
            // Most of the model is int8: the file is about a quarter of f32.
            assert!(
                m.int8_values > 10 * m.f32_values,
                "{}: {} int8 vs {} f32 values",
                m.id,
                m.int8_values,
                m.f32_values
            );
            let (f32_pack, _) = dequantize_pack(&bytes).unwrap();
            let reader = burn_pack::Reader::from_bytes(f32_pack).unwrap();
            let tensors = reader.into_tensors().unwrap();
            assert!(tensors.iter().all(|t| t.dtype == DType::F32), "{}", m.id);
            assert!(
                tensors.iter().all(|t| !t.name.ends_with(SCALE_SUFFIX)),
                "{}",
                m.id
            );
        }
    }

    /// An opened trainer export runs like the module's own code for it: each reference model
    /// (the page's int8 weights as f32, ONNX) read at run time makes the same images as the
    /// generated code with the weights file.
    #[test]
    fn opened_trainer_exports_match_the_generated_code() {
        for m in MODELS {
            let built = load(m.id);
            let path = format!("{}/{}.onnx", registry::REFERENCE_DIR, m.id);
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let opened = WebGenerator::from_onnx(&format!("{}.onnx", m.id), &bytes).unwrap();
            assert_eq!(opened.contract(), built.contract(), "{}", m.id);
            let label = some_label(&built);
            let a = built.generate(42, 0, 3, label, OFF).unwrap();
            let b = opened.generate(42, 0, 3, label, OFF).unwrap();
            let worst = max_diff(a.image(2), b.image(2));
            // The generated code runs its Gemms and wide ConvTransposes as integer products
            // (`kernels::linear_q`, x rounded to 15 bits), the opened file on f32: < 1e-3 apart.
            assert!(worst < 1e-3, "{}: opened file differs by {worst}", m.id);
            let info = model_info_json(opened.source(), opened.contract());
            assert!(
                info.contains("\"id\":\"file\"") && info.contains("\"weights\":\"f32\""),
                "{info}"
            );
        }
    }

    /// Files that are not trainer exports are refused naming the file and what is wrong.
    #[test]
    fn opened_files_that_are_not_trainer_exports_are_refused_clearly() {
        use prost::Message;
        let id = MODELS[MODELS.len() - 1].id;
        let bytes = std::fs::read(format!("{}/{id}.onnx", registry::REFERENCE_DIR)).unwrap();
        let model = onnx_proto::ModelProto::decode(bytes.as_slice()).unwrap();
        let refused = |name: &str, bytes: &[u8]| -> String {
            let e = WebGenerator::from_onnx(name, bytes).unwrap_err();
            assert!(matches!(e, Error::File(_)), "{e:?}");
            let msg = e.to_string();
            assert!(msg.starts_with(&format!("{name}: ")), "{msg}");
            msg
        };
        let msg = refused("notes.txt", b"just some text, not protobuf at all");
        assert!(
            msg.contains("not an ONNX model") || msg.contains("without a graph"),
            "{msg}"
        );

        let mut no_contract = model.clone();
        no_contract.metadata_props.clear();
        let msg = refused("plain.onnx", &no_contract.encode_to_vec());
        assert!(
            msg.contains("gan.") && msg.contains("trainer --export"),
            "{msg}"
        );

        let mut other_op = model.clone();
        let node = &mut other_op.graph.as_mut().unwrap().node[0];
        node.op_type = "Softmax".into();
        let name = node.name.clone();
        let msg = refused("softmax.onnx", &other_op.encode_to_vec());
        assert!(
            msg.contains(&format!("node {name} uses op Softmax")) && msg.contains("Gemm"),
            "{msg}"
        );
    }
}
