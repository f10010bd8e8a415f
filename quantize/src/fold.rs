//! Folding `BatchNormalization` into the `Conv` before it.

use std::collections::{HashMap, HashSet};

use gan_onnx::graph::f32_tensor;
use gan_onnx::read::{attr_float_or, attr_int_or};
use onnx_protobuf::{GraphProto, ModelProto, NodeProto, TensorProto};

use crate::edits::Edits;
use crate::graph::{checked_floats, consumers, float_init, initializers};
use crate::QuantizeError;

/// Folds every `BatchNormalization` (inference mode) that directly follows a `Conv` with
/// constant weights, and is that Conv's only reader, into the Conv's weight and bias:
/// per output channel `k = gamma / sqrt(var + eps)`, `W' = W * k`, `b' = (b - mean) * k + beta`
/// (computed in f64). The Conv then writes the BatchNormalization's output, so tensor names
/// downstream are unchanged. Everything else, metadata included, is kept.
///
/// Static quantization needs this: a quantized Conv's output scale must be that of the
/// normalized values, and ONNX Runtime does not fold a BatchNormalization into a QLinearConv.
///
/// ```no_run
/// # fn main() -> Result<(), gan_quantize::QuantizeError> {
/// let model = gan_quantize::load("out/fastgan.onnx".as_ref())?;
/// let folded = gan_quantize::fold_batch_norms(&model)?;
/// let graph = folded.graph.as_ref().expect("a model has a graph");
/// assert!(graph.node.iter().all(|n| n.op_type != "BatchNormalization"));
/// # Ok(())
/// # }
/// ```
pub fn fold_batch_norms(model: &ModelProto) -> Result<ModelProto, QuantizeError> {
    let mut out = model.clone();
    let graph = out
        .graph
        .as_mut()
        .ok_or_else(|| QuantizeError::Unsupported("the model has no graph".into()))?;
    let mut edits = Edits::default();
    let mut taken: HashSet<String> = graph.initializer.iter().map(|t| t.name.clone()).collect();
    for (conv, bn) in foldable(graph) {
        fold_one(graph, conv, bn, &mut edits, &mut taken)?;
    }
    edits.apply(graph);
    Ok(out)
}

/// `(conv, batch_norm)` node index pairs that can be folded.
fn foldable(graph: &GraphProto) -> Vec<(usize, usize)> {
    let inits = initializers(graph);
    let readers = consumers(graph);
    let is_output = |t: &str| graph.output.iter().any(|o| o.name == t);
    graph
        .node
        .iter()
        .enumerate()
        .filter(|(_, c)| c.op_type == "Conv" && c.output.len() == 1 && c.input.len() >= 2)
        .filter(|(_, c)| float_init(&inits, &c.input[1], 4).is_some())
        .filter(|(_, c)| {
            c.input
                .get(2)
                .is_none_or(|b| b.is_empty() || float_init(&inits, b, 1).is_some())
        })
        .filter_map(
            |(i, c)| match readers.get(c.output[0].as_str()).map(Vec::as_slice) {
                Some(&[j]) if !is_output(&c.output[0]) => Some((i, j)),
                _ => None,
            },
        )
        .filter(|&(_, j)| {
            let bn = &graph.node[j];
            bn.op_type == "BatchNormalization"
                && bn.input.len() == 5
                && bn.output.len() == 1
                && attr_int_or(bn, "training_mode", 0) == 0
                && bn.input[1..]
                    .iter()
                    .all(|p| float_init(&inits, p, 1).is_some())
        })
        .collect()
}

fn fold_one(
    graph: &GraphProto,
    conv: usize,
    bn: usize,
    edits: &mut Edits,
    taken: &mut HashSet<String>,
) -> Result<(), QuantizeError> {
    let inits = initializers(graph);
    let (c, b) = (&graph.node[conv], &graph.node[bn]);
    let wt = inits[c.input[1].as_str()];
    let w = checked_floats(wt, c)?;
    let channels = usize::try_from(wt.dims[0]).unwrap_or(0);
    let per_channel = |node: &NodeProto, name: &str| channel_values(&inits, node, name, channels);
    let (gamma, beta) = (per_channel(b, &b.input[1])?, per_channel(b, &b.input[2])?);
    let (mean, var) = (per_channel(b, &b.input[3])?, per_channel(b, &b.input[4])?);
    let bias = match c.input.get(2).filter(|s| !s.is_empty()) {
        Some(name) => per_channel(c, name)?,
        None => vec![0.0; channels],
    };
    let eps = f64::from(attr_float_or(b, "epsilon", 1e-5));
    let k: Vec<f64> = gamma
        .iter()
        .zip(&var)
        .map(|(g, v)| g / (v + eps).sqrt())
        .collect();
    let per = w.len() / channels.max(1);
    let w2: Vec<f32> = w
        .iter()
        .enumerate()
        .map(|(i, &x)| (f64::from(x) * k[i / per.max(1)]) as f32)
        .collect();
    let b2: Vec<f32> = (0..channels)
        .map(|o| ((bias[o] - mean[o]) * k[o] + beta[o]) as f32)
        .collect();

    let (wn, bn_name) = (
        unique(taken, &format!("{}/bn_folded", c.input[1])),
        unique(taken, &format!("{}/bias_bn_folded", c.input[1])),
    );
    edits.initializers.push(f32_tensor(&wn, &wt.dims, &w2));
    edits
        .initializers
        .push(f32_tensor(&bn_name, &[channels as i64], &b2));
    edits
        .dropped
        .extend(c.input[1..].iter().chain(&b.input[1..]).cloned());
    let mut folded: NodeProto = c.clone();
    folded.input = vec![c.input[0].clone(), wn, bn_name];
    folded.output = b.output.clone();
    edits.replace.insert(conv, vec![folded]);
    edits.replace.insert(bn, vec![]);
    Ok(())
}

/// The `channels` values of initializer `name` (read by `node`), in f64.
fn channel_values(
    inits: &HashMap<&str, &TensorProto>,
    node: &NodeProto,
    name: &str,
    channels: usize,
) -> Result<Vec<f64>, QuantizeError> {
    let v = checked_floats(inits[name], node)?;
    if v.len() != channels {
        return Err(QuantizeError::BadInitializer {
            node: node.name.clone(),
            tensor: name.to_string(),
            found: v.len(),
            expected: channels,
        });
    }
    Ok(v.into_iter().map(f64::from).collect())
}

/// `name`, or `name.1`, `name.2`, ... : the first not yet in `taken` (which it joins).
fn unique(taken: &mut HashSet<String>, name: &str) -> String {
    let mut candidate = name.to_string();
    let mut i = 1;
    while taken.contains(&candidate) {
        candidate = format!("{name}.{i}");
        i += 1;
    }
    taken.insert(candidate.clone());
    candidate
}
