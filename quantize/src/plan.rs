//! What static mode runs in int8, and which tensors get a QuantizeLinear/DequantizeLinear
//! pair. [`calibrate`](crate::calibrate) and [`quantize`](crate::quantize) read the same
//! plan, so the ranges one records are the ones the other needs.

use std::collections::{HashMap, HashSet};

use gan_onnx::read::{attr_float_or, attr_int_or};
use onnx_protobuf::{GraphProto, NodeProto};

use crate::graph::{float_init, float_tensors, initializers};

/// The ops static mode runs in int8 (QDQ node units ONNX Runtime's CPU provider fuses):
/// `Conv` -> QLinearConv, `Gemm` -> QGemm, `Sigmoid` -> QLinearSigmoid, `Mul` ->
/// QLinearMul, `Resize` and `Split` on uint8. Each was measured on the fastgan generator
/// (docs in the crate root); LeakyRelu, AveragePool, Tanh are left in float (small tensors,
/// or no int8 kernel).
const INT8_OPS: &[&str] = &["Conv", "Gemm", "Resize", "Split", "Sigmoid", "Mul"];

/// Int8 ops whose outputs hold a subset of their input's values: they keep the input's
/// parameters (ONNX Runtime only drops the Q/DQ around them when the parameters are equal).
const SAME_PARAMS: &[&str] = &["Resize", "Split"];

/// The static-mode plan of one graph.
pub(crate) struct Plan {
    /// The nodes (by index, ascending) that run in int8.
    pub int8: Vec<usize>,
    /// Each quantized activation tensor, in graph order, with the tensor whose calibrated
    /// range sets its uint8 parameters (itself, or the input of a [`SAME_PARAMS`] op).
    pub tensors: Vec<(String, String)>,
}

impl Plan {
    /// Plans `graph` (BatchNormalizations already folded).
    pub fn new(graph: &GraphProto) -> Plan {
        let floats = float_tensors(graph);
        let inits: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let int8: Vec<usize> = graph
            .node
            .iter()
            .enumerate()
            .filter(|(_, n)| qualifies(graph, n, &floats, &inits))
            .map(|(i, _)| i)
            .collect();
        let is_int8: HashSet<usize> = int8.iter().copied().collect();
        let act_inputs: HashSet<&str> = int8
            .iter()
            .flat_map(|&i| activation_inputs(&graph.node[i]))
            .map(String::as_str)
            .collect();
        let read_by_int8 = |t: &str| act_inputs.contains(t);

        let mut source: HashMap<String, String> = HashMap::new();
        let mut tensors: Vec<(String, String)> = Vec::new();
        let mut add = |t: &str, src: Option<&str>| {
            if !source.contains_key(t) {
                let root = src
                    .and_then(|s| source.get(s).cloned())
                    .unwrap_or_else(|| t.to_string());
                source.insert(t.to_string(), root.clone());
                tensors.push((t.to_string(), root));
            }
        };
        // Graph inputs read by int8 nodes first, then every node's outputs in order.
        for v in &graph.input {
            if floats.contains(&v.name) && read_by_int8(&v.name) {
                add(&v.name, None);
            }
        }
        for (i, n) in graph.node.iter().enumerate() {
            let own = is_int8.contains(&i);
            for out in n.output.iter().filter(|o| !o.is_empty()) {
                let needs_q = own && n.op_type != "Gemm"; // QGemm may output float
                if needs_q || (floats.contains(out) && read_by_int8(out)) {
                    let src = (own && SAME_PARAMS.contains(&n.op_type.as_str()))
                        .then(|| n.input[0].as_str());
                    add(out, src);
                }
            }
        }
        Plan { int8, tensors }
    }

    /// The tensors whose ranges calibration must record (each once).
    pub fn range_sources(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.tensors
            .iter()
            .map(|(_, s)| s.as_str())
            .filter(|s| seen.insert(*s))
            .collect()
    }
}

/// The inputs of an int8 node that are activations (quantized through Q/DQ).
pub(crate) fn activation_inputs(n: &NodeProto) -> &[String] {
    match n.op_type.as_str() {
        "Mul" => &n.input[..2.min(n.input.len())],
        _ => &n.input[..1.min(n.input.len())],
    }
}

fn qualifies(
    graph: &GraphProto,
    n: &NodeProto,
    floats: &HashSet<String>,
    inits: &HashSet<&str>,
) -> bool {
    if !INT8_OPS.contains(&n.op_type.as_str()) || n.input.is_empty() {
        return false;
    }
    let acts_ok = activation_inputs(n)
        .iter()
        .all(|a| floats.contains(a) && !inits.contains(a.as_str()));
    acts_ok
        && match n.op_type.as_str() {
            "Conv" => quantizable_conv(graph, n),
            "Gemm" => quantizable_gemm(graph, n),
            "Mul" => n.input.len() == 2,
            _ => true,
        }
}

/// A 2-D `Conv` with a constant float weight `[M, C/group, kh, kw]` and no bias or a
/// constant float bias `[M]`.
pub(crate) fn quantizable_conv(graph: &GraphProto, n: &NodeProto) -> bool {
    let inits = initializers(graph);
    n.op_type == "Conv"
        && n.output.len() == 1
        && n.input
            .get(1)
            .and_then(|w| float_init(&inits, w, 4))
            .is_some_and(|w| {
                n.input.get(2).is_none_or(|b| {
                    b.is_empty() || float_init(&inits, b, 1).is_some_and(|b| b.dims[0] == w.dims[0])
                })
            })
}

/// A `Gemm` `Y = A @ B + C` with constant float `B [K, N]` and `C [N]` (no transposes,
/// alpha = beta = 1).
pub(crate) fn quantizable_gemm(graph: &GraphProto, n: &NodeProto) -> bool {
    let inits = initializers(graph);
    n.op_type == "Gemm"
        && n.input.len() == 3
        && attr_int_or(n, "transA", 0) == 0
        && attr_int_or(n, "transB", 0) == 0
        && attr_float_or(n, "alpha", 1.0) == 1.0
        && attr_float_or(n, "beta", 1.0) == 1.0
        && float_init(&inits, &n.input[1], 2).is_some()
        && float_init(&inits, &n.input[2], 1).is_some()
}
