//! Activation ranges from running the float model on seeded latents.

use std::collections::BTreeMap;

use gan_onnx::graph::value_info;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::{Message, ModelProto};
use ort::session::{Session, SessionOutputs};
use ort::value::TensorRef;

use crate::fold::fold_batch_norms;
use crate::plan::Plan;
use crate::QuantizeError;

/// Activation ranges `(min, max)` per tensor name, from [`calibrate`].
pub type Ranges = BTreeMap<String, (f32, f32)>;

/// Latents per calibration run: the extra outputs of a convolutional generator take a few
/// MB per sample.
const BATCH: usize = 32;

/// Runs the float model (BatchNormalizations folded, as [`quantize`](crate::quantize) will)
/// with ONNX Runtime on `samples` latents of `seed`, labels `i % num_classes` for
/// conditional models (the runtime's balanced labels), and records the min/max of every
/// tensor that static mode quantizes: the inputs of each `Gemm` and `Conv`, each Conv's
/// output, and the tensors around the int8 `Resize`, `Split`, `Sigmoid` and `Mul` nodes.
///
/// ```no_run
/// # fn main() -> Result<(), gan_quantize::QuantizeError> {
/// let model = gan_quantize::load("models/fashion-mlp.onnx".as_ref())?;
/// let ranges = gan_quantize::calibrate(&model, 512, 12345)?;
/// for (tensor, (lo, hi)) in &ranges {
///     println!("{tensor}: {lo} .. {hi}");
/// }
/// # Ok(())
/// # }
/// ```
pub fn calibrate(model: &ModelProto, samples: usize, seed: u64) -> Result<Ranges, QuantizeError> {
    let mut probe = fold_batch_norms(model)?;
    let contract =
        gan_onnx::read::contract(model).map_err(|e| QuantizeError::Unsupported(e.to_string()))?;
    let g = probe
        .graph
        .as_mut()
        .ok_or_else(|| QuantizeError::Unsupported("the model has no graph".into()))?;
    let plan = Plan::new(g);
    let names: Vec<String> = plan.range_sources().into_iter().map(String::from).collect();
    if names.is_empty() {
        return Err(QuantizeError::Unsupported(
            "no Conv or Gemm with constant weights to calibrate".into(),
        ));
    }
    // Expose every tensor to measure as an extra graph output.
    for name in &names {
        if !g.output.iter().any(|o| &o.name == name) {
            g.output.push(value_info(name, DataType::FLOAT, None));
        }
    }
    let mut session = session(&probe)?;
    let mut ranges = Ranges::new();
    let mut done = 0;
    while done < samples {
        let n = BATCH.min(samples - done);
        let z = gan_runtime::latent_batch(seed, done as u64, n, contract.latent_dim);
        let labels: Vec<i64> = (done..done + n)
            .map(|i| gan_runtime::balanced_label(i as u64, contract.num_classes))
            .collect();
        let z_t = TensorRef::from_array_view(([n, contract.latent_dim], &z[..])).map_err(cal)?;
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
            let r = ranges.entry(name.clone()).or_insert((f32::MAX, f32::MIN));
            widen(r, name, &outputs)?;
        }
        done += n;
    }
    Ok(ranges)
}

fn session(model: &ModelProto) -> Result<Session, QuantizeError> {
    let bytes = model
        .write_to_bytes()
        .map_err(|e| QuantizeError::Calibration(e.to_string()))?;
    let env = gan_runtime::generator::ort_environment()
        .map_err(|e| QuantizeError::Calibration(e.to_string()))?;
    Session::builder(env)
        .map_err(cal)?
        .commit_from_memory(&bytes)
        .map_err(|e| QuantizeError::Calibration(e.to_string()))
}

/// Widens `range` by the finite values of output `name`.
fn widen(
    range: &mut (f32, f32),
    name: &str,
    outputs: &SessionOutputs<'_>,
) -> Result<(), QuantizeError> {
    let value = outputs
        .get(name)
        .ok_or_else(|| QuantizeError::Calibration(format!("no output `{name}`")))?;
    let (_, data) = value.try_extract_tensor::<f32>().map_err(cal)?;
    for &v in data.iter().filter(|v| v.is_finite()) {
        range.0 = range.0.min(v);
        range.1 = range.1.max(v);
    }
    Ok(())
}

fn cal(e: ort::Error) -> QuantizeError {
    QuantizeError::Calibration(e.to_string())
}
