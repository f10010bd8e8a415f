//! # gan-quantize
//!
//! Int8 versions of exported generators, for CPU devices: a quarter of the size, faster
//! matrix products, the same contract.
//!
//! Two modes, both rewriting every `Gemm` whose weight and bias are constants (the MLP's
//! layers); other nodes are left in float:
//! - [`Mode::Dynamic`]: weights int8 (symmetric, per output column); activations quantized to
//!   uint8 at run time by `DynamicQuantizeLinear`, then `MatMulInteger`, rescaled to float.
//!   Needs no calibration. ONNX Runtime fuses the pattern into `MatMulIntegerToFloat`.
//! - [`Mode::Static`]: QDQ format: the same int8 weights behind `DequantizeLinear`, and each
//!   Gemm input behind a `QuantizeLinear`/`DequantizeLinear` pair whose uint8 scale comes from
//!   the activation ranges seen on calibration latents ([`calibrate`]). Bias is int32 with
//!   scale `s_input * s_weight`. ONNX Runtime fuses Q/DQ + Gemm into `QGemm`.
//!
//! The model's metadata (its [`ModelContract`](gan_runtime::ModelContract)) is kept, and
//! `gan.quantization` records the mode.
//!
//! ```no_run
//! use gan_quantize::{calibrate, quantize, Mode};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let model = gan_quantize::load("models/fashion-mlp.onnx".as_ref())?;
//! let ranges = calibrate(&model, 512, 12345)?;
//! let int8 = quantize(&model, Mode::Static, Some(&ranges))?;
//! gan_quantize::save(&int8, "models/fashion-mlp.qdq.onnx".as_ref())?;
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use gan_onnx::graph::{attr_int, f32_tensor, metadata, node, tensor, value_info};
use gan_onnx::read::{attr_float_or, attr_int_or, floats, metadata_value};
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::{GraphProto, Message, ModelProto, NodeProto, TensorProto};

/// Metadata key recording how a model was quantized (`dynamic-int8` or `qdq-int8`).
pub const QUANTIZATION_KEY: &str = "gan.quantization";

/// How to quantize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Int8 weights, activations quantized at run time (no calibration).
    Dynamic,
    /// QDQ int8 with activation scales from calibration.
    Static,
}

impl Mode {
    fn tag(self) -> &'static str {
        match self {
            Mode::Dynamic => "dynamic-int8",
            Mode::Static => "qdq-int8",
        }
    }
}

/// Why quantization failed.
#[derive(Debug, thiserror::Error)]
pub enum QuantizeError {
    /// The file could not be read or written, or is not an ONNX model (the message names it).
    #[error(transparent)]
    File(#[from] gan_onnx::file::OnnxFileError),
    /// The graph has nothing this tool can quantize, or is already quantized.
    #[error("cannot quantize: {0}")]
    Unsupported(String),
    /// Static mode needs calibration ranges for every quantized Gemm input.
    #[error("no calibration range for tensor `{0}` (run calibrate on this model first)")]
    MissingRange(String),
    /// Running the model for calibration failed.
    #[error("calibration failed: {0}")]
    Calibration(String),
}

/// Reads an ONNX model.
pub fn load(path: &Path) -> Result<ModelProto, QuantizeError> {
    Ok(gan_onnx::file::load(path)?)
}

/// Writes an ONNX model atomically.
pub fn save(model: &ModelProto, path: &Path) -> Result<(), QuantizeError> {
    Ok(gan_onnx::file::save(model, path)?)
}

/// A `Gemm` this tool can rewrite: `Y = A @ B + C` with constant `B [K, N]` and `C [N]`.
struct QuantizableGemm {
    node: usize,
    a: String,
    b: String,
    c: String,
}

fn quantizable_gemms(graph: &GraphProto) -> Vec<QuantizableGemm> {
    let inits: HashMap<&str, &TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    graph
        .node
        .iter()
        .enumerate()
        .filter(|(_, n)| n.op_type == "Gemm" && n.input.len() == 3)
        .filter(|(_, n)| attr_int_or(n, "transA", 0) == 0 && attr_int_or(n, "transB", 0) == 0)
        .filter(|(_, n)| {
            attr_float_or(n, "alpha", 1.0) == 1.0 && attr_float_or(n, "beta", 1.0) == 1.0
        })
        .filter(|(_, n)| {
            let is_float = |name: &str, rank: usize| {
                inits
                    .get(name)
                    .is_some_and(|t| t.data_type == DataType::FLOAT as i32 && t.dims.len() == rank)
            };
            is_float(&n.input[1], 2) && is_float(&n.input[2], 1)
        })
        .map(|(i, n)| QuantizableGemm {
            node: i,
            a: n.input[0].clone(),
            b: n.input[1].clone(),
            c: n.input[2].clone(),
        })
        .collect()
}

/// Symmetric per-column int8 quantization of `w [k, n]` (row-major): returns the int8
/// values and one scale per column. A zero column gets scale 1 (all its values are 0).
pub fn quantize_weights_per_column(w: &[f32], k: usize, n: usize) -> (Vec<i8>, Vec<f32>) {
    let mut scales = vec![0f32; n];
    for row in w.chunks_exact(n) {
        for (s, &v) in scales.iter_mut().zip(row) {
            *s = s.max(v.abs());
        }
    }
    for s in &mut scales {
        *s = if *s > 0.0 { *s / 127.0 } else { 1.0 };
    }
    let mut q = Vec::with_capacity(k * n);
    for row in w.chunks_exact(n) {
        q.extend(
            row.iter()
                .zip(&scales)
                .map(|(&v, &s)| (v / s).round().clamp(-127.0, 127.0) as i8),
        );
    }
    (q, scales)
}

/// Asymmetric uint8 parameters `(scale, zero_point)` covering `[lo, hi]` (widened to hold 0,
/// so that zero is exact).
pub fn uint8_params(lo: f32, hi: f32) -> (f32, u8) {
    let lo = lo.min(0.0);
    let hi = hi.max(0.0);
    if hi - lo <= f32::EPSILON {
        return (1.0, 0);
    }
    let scale = (hi - lo) / 255.0;
    let zp = (-lo / scale).round().clamp(0.0, 255.0) as u8;
    (scale, zp)
}

/// Activation ranges `(min, max)` per tensor name, from [`calibrate`].
pub type Ranges = BTreeMap<String, (f32, f32)>;

/// Runs the float model with ONNX Runtime on `samples` latents of `seed` (labels cycling
/// through the classes for conditional models) and records the min/max of every quantizable
/// Gemm's input.
pub fn calibrate(model: &ModelProto, samples: usize, seed: u64) -> Result<Ranges, QuantizeError> {
    use ort::session::Session;
    use ort::value::TensorRef;

    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| QuantizeError::Unsupported("the model has no graph".into()))?;
    let gemms = quantizable_gemms(graph);
    if gemms.is_empty() {
        return Err(QuantizeError::Unsupported(
            "no Gemm with constant weights to calibrate".into(),
        ));
    }
    let contract =
        gan_onnx::read::contract(model).map_err(|e| QuantizeError::Unsupported(e.to_string()))?;

    // Expose every Gemm input as an extra graph output.
    let mut probe = model.clone();
    let g = probe.graph.mut_or_insert_default();
    let mut names: Vec<String> = Vec::new();
    for q in &gemms {
        if !names.contains(&q.a) && !g.output.iter().any(|o| o.name == q.a) {
            g.output.push(value_info(&q.a, DataType::FLOAT, None));
        }
        names.push(q.a.clone());
    }
    let bytes = probe
        .write_to_bytes()
        .map_err(|e| QuantizeError::Calibration(e.to_string()))?;
    let env = gan_runtime::generator::ort_environment()
        .map_err(|e| QuantizeError::Calibration(e.to_string()))?;
    let cal = |e: ort::Error| QuantizeError::Calibration(e.to_string());
    let mut session = Session::builder(env)
        .map_err(cal)?
        .commit_from_memory(&bytes)
        .map_err(|e| QuantizeError::Calibration(e.to_string()))?;

    let mut ranges = Ranges::new();
    let batch = 128;
    let mut done = 0;
    while done < samples {
        let n = batch.min(samples - done);
        let z = gan_runtime::latent_batch(seed, done as u64, n, contract.latent_dim);
        let z_t = TensorRef::from_array_view(([n, contract.latent_dim], &z[..])).map_err(cal)?;
        let labels: Vec<i64> = (0..n)
            .map(|i| ((done + i) % contract.num_classes.max(1)) as i64)
            .collect();
        let outputs = if contract.is_conditional() {
            let l_t = TensorRef::from_array_view(([n], &labels[..])).map_err(cal)?;
            session.run(ort::inputs![
                gan_runtime::contract::INPUT_LATENT => z_t,
                gan_runtime::contract::INPUT_LABEL => l_t
            ])
        } else {
            session.run(ort::inputs![gan_runtime::contract::INPUT_LATENT => z_t])
        }
        .map_err(cal)?;
        for name in &names {
            let (_, data) = outputs[name.as_str()]
                .try_extract_tensor::<f32>()
                .map_err(cal)?;
            let r = ranges.entry(name.clone()).or_insert((f32::MAX, f32::MIN));
            for &v in data {
                if v.is_finite() {
                    r.0 = r.0.min(v);
                    r.1 = r.1.max(v);
                }
            }
        }
        done += n;
    }
    Ok(ranges)
}

/// Quantizes every constant-weight `Gemm` of `model`. `ranges` is required for
/// [`Mode::Static`] and ignored for [`Mode::Dynamic`].
pub fn quantize(
    model: &ModelProto,
    mode: Mode,
    ranges: Option<&Ranges>,
) -> Result<ModelProto, QuantizeError> {
    if metadata_value(model, QUANTIZATION_KEY).is_some() {
        return Err(QuantizeError::Unsupported(
            "the model is already quantized (gan.quantization is set)".into(),
        ));
    }
    let mut out = model.clone();
    let graph = out
        .graph
        .as_mut()
        .ok_or_else(|| QuantizeError::Unsupported("the model has no graph".into()))?;
    let gemms = quantizable_gemms(graph);
    if gemms.is_empty() {
        return Err(QuantizeError::Unsupported(
            "no Gemm with constant float weights (transA=0, transB=0, alpha=beta=1)".into(),
        ));
    }
    let inits: HashMap<String, TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.clone(), t.clone()))
        .collect();
    let mut replacement: HashMap<usize, Vec<NodeProto>> = HashMap::new();
    let mut new_inits: Vec<TensorProto> = Vec::new();
    let mut dropped: Vec<String> = Vec::new();

    for q in &gemms {
        let gemm = &graph.node[q.node];
        let y = gemm.output[0].clone();
        let p = format!("{}_q", sanitize(&gemm.name, q.node));
        let bt = &inits[&q.b];
        let (k, n) = (bt.dims[0] as usize, bt.dims[1] as usize);
        let w = floats(bt);
        let bias = floats(&inits[&q.c]);
        if w.len() != k * n || bias.len() != n {
            return Err(QuantizeError::Unsupported(format!(
                "Gemm `{}`: weight/bias sizes do not match their dims",
                gemm.name
            )));
        }
        let (wq, ws) = quantize_weights_per_column(&w, k, n);
        let wq_raw: Vec<u8> = wq.iter().map(|&v| v as u8).collect();
        let wq_name = format!("{p}.weight_int8");
        let ws_name = format!("{p}.weight_scale");
        new_inits.push(tensor(
            &wq_name,
            &[k as i64, n as i64],
            DataType::INT8,
            wq_raw,
        ));
        new_inits.push(f32_tensor(&ws_name, &[n as i64], &ws));
        dropped.push(q.b.clone());
        dropped.push(q.c.clone());

        let nodes = match mode {
            Mode::Dynamic => {
                new_inits.push(f32_tensor(&format!("{p}.bias"), &[n as i64], &bias));
                let (aq, as_, azp) = (
                    format!("{p}/a_u8"),
                    format!("{p}/a_scale"),
                    format!("{p}/a_zp"),
                );
                let (mm, mmf, s, ys) = (
                    format!("{p}/mm_i32"),
                    format!("{p}/mm_f32"),
                    format!("{p}/scale"),
                    format!("{p}/scaled"),
                );
                vec![
                    node("DynamicQuantizeLinear", &[&q.a], &[&aq, &as_, &azp], vec![]),
                    node("MatMulInteger", &[&aq, &wq_name, &azp], &[&mm], vec![]),
                    node(
                        "Cast",
                        &[&mm],
                        &[&mmf],
                        vec![attr_int("to", DataType::FLOAT as i64)],
                    ),
                    node("Mul", &[&as_, &ws_name], &[&s], vec![]),
                    node("Mul", &[&mmf, &s], &[&ys], vec![]),
                    node("Add", &[&ys, &format!("{p}.bias")], &[&y], vec![]),
                ]
            }
            Mode::Static => {
                let ranges = ranges.ok_or_else(|| QuantizeError::MissingRange(q.a.clone()))?;
                let &(lo, hi) = ranges
                    .get(&q.a)
                    .ok_or_else(|| QuantizeError::MissingRange(q.a.clone()))?;
                let (a_scale, a_zp) = uint8_params(lo, hi);
                let (asn, azn) = (format!("{p}.input_scale"), format!("{p}.input_zp"));
                new_inits.push(f32_tensor(&asn, &[], &[a_scale]));
                new_inits.push(tensor(&azn, &[], DataType::UINT8, vec![a_zp]));
                let wzn = format!("{p}.weight_zp");
                new_inits.push(tensor(&wzn, &[n as i64], DataType::INT8, vec![0; n]));
                // Bias in int32 at scale s_a * s_w, as QGemm expects.
                let bs: Vec<f32> = ws.iter().map(|s| s * a_scale).collect();
                let bq: Vec<u8> = bias
                    .iter()
                    .zip(&bs)
                    .flat_map(|(b, s)| ((b / s).round() as i32).to_le_bytes())
                    .collect();
                let (bqn, bsn, bzn) = (
                    format!("{p}.bias_int32"),
                    format!("{p}.bias_scale"),
                    format!("{p}.bias_zp"),
                );
                new_inits.push(tensor(&bqn, &[n as i64], DataType::INT32, bq));
                new_inits.push(f32_tensor(&bsn, &[n as i64], &bs));
                new_inits.push(tensor(&bzn, &[n as i64], DataType::INT32, vec![0; 4 * n]));
                let (aq, adq, wdq, bdq) = (
                    format!("{p}/a_u8"),
                    format!("{p}/a_dq"),
                    format!("{p}/w_dq"),
                    format!("{p}/b_dq"),
                );
                let mut g = gemm.clone();
                g.input = vec![adq.clone(), wdq.clone(), bdq.clone()];
                vec![
                    node("QuantizeLinear", &[&q.a, &asn, &azn], &[&aq], vec![]),
                    node("DequantizeLinear", &[&aq, &asn, &azn], &[&adq], vec![]),
                    node(
                        "DequantizeLinear",
                        &[&wq_name, &ws_name, &wzn],
                        &[&wdq],
                        vec![attr_int("axis", 1)],
                    ),
                    node(
                        "DequantizeLinear",
                        &[&bqn, &bsn, &bzn],
                        &[&bdq],
                        vec![attr_int("axis", 0)],
                    ),
                    g,
                ]
            }
        };
        replacement.insert(q.node, nodes);
    }

    let old_nodes = std::mem::take(&mut graph.node);
    for (i, n) in old_nodes.into_iter().enumerate() {
        match replacement.remove(&i) {
            Some(nodes) => graph.node.extend(nodes),
            None => graph.node.push(n),
        }
    }
    // Drop float weights no remaining node reads.
    let still_used = |name: &str| graph.node.iter().any(|n| n.input.iter().any(|i| i == name));
    let keep: Vec<TensorProto> = std::mem::take(&mut graph.initializer)
        .into_iter()
        .filter(|t| !dropped.contains(&t.name) || still_used(&t.name))
        .collect();
    graph.initializer = keep;
    graph.initializer.extend(new_inits);
    out.metadata_props.extend(metadata([(
        QUANTIZATION_KEY.to_string(),
        mode.tag().to_string(),
    )]));
    Ok(out)
}

fn sanitize(name: &str, index: usize) -> String {
    if name.is_empty() {
        format!("gemm{index}")
    } else {
        name.replace(['/', ':'], "_")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_column_weights_round_trip_within_half_a_step() {
        let (k, n) = (3, 2);
        let w = [0.5, -2.0, -0.25, 1.0, 0.0, 0.1];
        let (q, s) = quantize_weights_per_column(&w, k, n);
        assert_eq!(s, vec![0.5 / 127.0, 2.0 / 127.0]);
        for (i, (&qv, &wv)) in q.iter().zip(&w).enumerate() {
            let back = qv as f32 * s[i % n];
            assert!(
                (back - wv).abs() <= s[i % n] / 2.0 + 1e-7,
                "{i}: {back} vs {wv}"
            );
        }
        assert_eq!(q[0], 127);
        assert_eq!(q[1], -127);
        let (_, s0) = quantize_weights_per_column(&[0.0, 0.0], 1, 2);
        assert_eq!(s0, vec![1.0, 1.0]);
    }

    #[test]
    fn uint8_params_make_zero_exact() {
        let (s, zp) = uint8_params(-1.0, 3.0);
        assert!((s - 4.0 / 255.0).abs() < 1e-7);
        assert_eq!(zp, 64);
        assert_eq!(uint8_params(0.5, 2.0).1, 0); // widened to include 0
        assert_eq!(uint8_params(0.0, 0.0), (1.0, 0));
    }
}
