//! Static mode: QDQ format. Activations behind QuantizeLinear/DequantizeLinear pairs (uint8,
//! calibrated), weights int8 per output channel and bias int32 behind DequantizeLinear.

use std::collections::HashMap;

use gan_onnx::graph::{attr_int, f32_tensor, node, tensor};
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::{GraphProto, NodeProto};

use crate::edits::Edits;
use crate::params::{bias_int32, uint8_params};
use crate::plan::Plan;
use crate::{conv, gemm, QuantizeError, Ranges};

/// The edits that put `graph` (BatchNormalizations folded) in QDQ format.
pub(crate) fn static_edits(
    graph: &GraphProto,
    ranges: Option<&Ranges>,
) -> Result<Edits, QuantizeError> {
    let plan = Plan::new(graph);
    if plan.int8.is_empty() {
        return Err(QuantizeError::Unsupported(
            "no Conv or Gemm with constant float weights (Gemm: transA=0, transB=0, alpha=beta=1)"
                .into(),
        ));
    }
    let mut params: HashMap<&str, (f32, u8)> = HashMap::new();
    for (tensor, source) in &plan.tensors {
        let &(lo, hi) = ranges
            .and_then(|r| r.get(source))
            .ok_or_else(|| QuantizeError::MissingRange(source.clone()))?;
        params.insert(tensor, uint8_params(lo, hi));
    }
    let mut edits = Edits::default();
    for &i in &plan.int8 {
        let n = &graph.node[i];
        let input_scale = || params.get(n.input[0].as_str()).map_or(1.0, |p| p.0);
        match n.op_type.as_str() {
            "Conv" => conv::static_weights(graph, i, input_scale(), &mut edits)?,
            "Gemm" => gemm::static_weights(graph, i, input_scale(), &mut edits)?,
            _ => {}
        }
    }
    activations(graph, &plan, &params, &mut edits);
    Ok(edits)
}

/// A QuantizeLinear/DequantizeLinear pair on each planned tensor, right after the node that
/// writes it; every node that read the tensor reads the dequantized copy instead (graph
/// outputs keep the float tensor).
fn activations(
    graph: &GraphProto,
    plan: &Plan,
    params: &HashMap<&str, (f32, u8)>,
    edits: &mut Edits,
) {
    let producer: HashMap<&str, usize> = graph
        .node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
        .collect();
    for (t, _) in &plan.tensors {
        let Some(&(scale, zp)) = params.get(t.as_str()) else {
            continue;
        };
        let (s, z, q, dq) = (
            format!("{t}/scale"),
            format!("{t}/zp"),
            format!("{t}/u8"),
            format!("{t}/dq"),
        );
        edits.initializers.push(f32_tensor(&s, &[], &[scale]));
        edits
            .initializers
            .push(tensor(&z, &[], DataType::UINT8, vec![zp]));
        let pair = [
            node("QuantizeLinear", &[t, &s, &z], &[&q], vec![]),
            node("DequantizeLinear", &[&q, &s, &z], &[&dq], vec![]),
        ];
        match producer.get(t.as_str()) {
            Some(&i) => edits.after.entry(i).or_default().extend(pair),
            None => edits.first.extend(pair),
        }
        edits.rename.insert(t.clone(), dq);
    }
}

/// Initializers and the `DequantizeLinear` node of constant int8 weights with one scale per
/// channel along `axis` (zero points 0); returns the node, whose output is `{p}/w_dq`.
pub(crate) fn weight_dq(
    p: &str,
    dims: &[i64],
    q: &[i8],
    scales: &[f32],
    axis: i64,
    edits: &mut Edits,
) -> NodeProto {
    let (wq, ws, wz, out) = (
        format!("{p}.weight_int8"),
        format!("{p}.weight_scale"),
        format!("{p}.weight_zp"),
        format!("{p}/w_dq"),
    );
    let c = scales.len();
    edits.initializers.push(tensor(
        &wq,
        dims,
        DataType::INT8,
        q.iter().map(|&v| v as u8).collect(),
    ));
    edits
        .initializers
        .push(f32_tensor(&ws, &[c as i64], scales));
    edits
        .initializers
        .push(tensor(&wz, &[c as i64], DataType::INT8, vec![0; c]));
    node(
        "DequantizeLinear",
        &[&wq, &ws, &wz],
        &[&out],
        vec![attr_int("axis", axis)],
    )
}

/// Initializers and the `DequantizeLinear` node of a bias in int32 at scale
/// `input_scale * weight_scales[c]`; returns the node, whose output is `{p}/b_dq`.
pub(crate) fn bias_dq(
    p: &str,
    bias: &[f32],
    input_scale: f32,
    weight_scales: &[f32],
    edits: &mut Edits,
) -> NodeProto {
    let (bq, bs, bz, out) = (
        format!("{p}.bias_int32"),
        format!("{p}.bias_scale"),
        format!("{p}.bias_zp"),
        format!("{p}/b_dq"),
    );
    let n = bias.len() as i64;
    let (raw, scales) = bias_int32(bias, input_scale, weight_scales);
    edits
        .initializers
        .push(tensor(&bq, &[n], DataType::INT32, raw));
    edits.initializers.push(f32_tensor(&bs, &[n], &scales));
    edits
        .initializers
        .push(tensor(&bz, &[n], DataType::INT32, vec![0; 4 * bias.len()]));
    node(
        "DequantizeLinear",
        &[&bq, &bs, &bz],
        &[&out],
        vec![attr_int("axis", 0)],
    )
}
