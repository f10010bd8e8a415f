//! Reading a graph for rewriting: its constants, which tensors hold floats, who reads what.

use std::collections::{HashMap, HashSet};

use gan_onnx::read::floats;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::{type_proto, GraphProto, NodeProto, TensorProto};

use crate::QuantizeError;

/// The graph's initializers by name.
pub(crate) fn initializers(graph: &GraphProto) -> HashMap<&str, &TensorProto> {
    graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect()
}

/// A float initializer of the given rank, if `name` is one.
pub(crate) fn float_init<'a>(
    inits: &HashMap<&str, &'a TensorProto>,
    name: &str,
    rank: usize,
) -> Option<&'a TensorProto> {
    inits
        .get(name)
        .copied()
        .filter(|t| t.data_type == DataType::FLOAT as i32 && t.dims.len() == rank)
}

/// The values of a float initializer, checked against the count its dims give.
pub(crate) fn checked_floats(t: &TensorProto, node: &NodeProto) -> Result<Vec<f32>, QuantizeError> {
    let expected = t.dims.iter().try_fold(1usize, |n, &d| {
        usize::try_from(d).ok().and_then(|d| n.checked_mul(d))
    });
    let values = floats(t);
    match expected {
        Some(e) if e == values.len() => Ok(values),
        _ => Err(QuantizeError::BadInitializer {
            node: node.name.clone(),
            tensor: t.name.clone(),
            found: values.len(),
            expected: expected.unwrap_or(usize::MAX),
        }),
    }
}

/// For each tensor, the nodes (by index) that read it.
pub(crate) fn consumers(graph: &GraphProto) -> HashMap<&str, Vec<usize>> {
    let mut map: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, n) in graph.node.iter().enumerate() {
        for input in n.input.iter().filter(|s| !s.is_empty()) {
            map.entry(input.as_str()).or_default().push(i);
        }
    }
    map
}

/// Ops whose outputs hold floats when their first input does. Anything else (Cast, Shape,
/// ArgMax, comparisons, ops unknown here) is taken to produce non-float outputs, so that no
/// `QuantizeLinear` is ever put on an integer tensor.
const FLOAT_PRESERVING: &[&str] = &[
    "Add",
    "AveragePool",
    "BatchNormalization",
    "Clip",
    "Concat",
    "Conv",
    "ConvTranspose",
    "Div",
    "Flatten",
    "Gemm",
    "GlobalAveragePool",
    "Identity",
    "InstanceNormalization",
    "LeakyRelu",
    "MatMul",
    "MaxPool",
    "Mul",
    "Pad",
    "Relu",
    "Reshape",
    "Resize",
    "Sigmoid",
    "Slice",
    "Softmax",
    "Split",
    "Squeeze",
    "Sub",
    "Tanh",
    "Transpose",
    "Unsqueeze",
];

/// The tensors known to hold float32: float graph inputs and initializers, and the outputs
/// of [`FLOAT_PRESERVING`] ops on them (`Gather` from a float table included). Assumes the
/// nodes are in topological order, as ONNX requires.
pub(crate) fn float_tensors(graph: &GraphProto) -> HashSet<String> {
    let is_float_type = |t: &onnx_protobuf::TypeProto| matches!(&t.value, Some(type_proto::Value::TensorType(tt)) if tt.elem_type == DataType::FLOAT as i32);
    let mut set: HashSet<String> = graph
        .input
        .iter()
        .filter(|v| v.type_.as_ref().is_some_and(is_float_type))
        .map(|v| v.name.clone())
        .chain(
            graph
                .initializer
                .iter()
                .filter(|t| t.data_type == DataType::FLOAT as i32)
                .map(|t| t.name.clone()),
        )
        .collect();
    for n in &graph.node {
        let first_float = n.input.first().is_some_and(|i| set.contains(i));
        let keeps = FLOAT_PRESERVING.contains(&n.op_type.as_str()) || n.op_type == "Gather";
        if first_float && keeps {
            // MaxPool's second output holds indices.
            let outs = if n.op_type == "MaxPool" {
                1
            } else {
                n.output.len()
            };
            set.extend(n.output.iter().take(outs).cloned());
        }
    }
    set
}

/// A name for new tensors derived from node `index` (its name, made safe, or `node{index}`).
pub(crate) fn prefix(node: &NodeProto, index: usize) -> String {
    if node.name.is_empty() {
        format!("node{index}")
    } else {
        node.name.replace(['/', ':'], "_")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gan_onnx::graph::{f32_tensor, i64_tensor, node, value_info};

    #[test]
    fn float_tensors_follow_float_inputs_only() {
        let graph = GraphProto {
            input: vec![
                value_info("z", DataType::FLOAT, None),
                value_info("label", DataType::INT64, None),
            ],
            initializer: vec![
                f32_tensor("table", &[2, 2], &[0.0; 4]),
                i64_tensor("k", &[1], &[2]),
            ],
            node: vec![
                node("Gather", &["table", "label"], &["e"], vec![]),
                node("Mul", &["z", "e"], &["m"], vec![]),
                node("Shape", &["m"], &["s"], vec![]),
                node("Mul", &["s", "k"], &["si"], vec![]),
            ],
            ..Default::default()
        };
        let f = float_tensors(&graph);
        for name in ["z", "table", "e", "m"] {
            assert!(f.contains(name), "{name}");
        }
        for name in ["label", "k", "s", "si"] {
            assert!(!f.contains(name), "{name}");
        }
    }
}
