//! `Gemm` with constant weights: dynamic mode (`MatMulInteger`) and the weights of static
//! mode (QDQ, fused by ONNX Runtime into `QGemm`).

use gan_onnx::graph::{attr_int, f32_tensor, node, tensor};
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::{GraphProto, NodeProto};

use crate::edits::Edits;
use crate::graph::{checked_floats, initializers, prefix};
use crate::params::quantize_weights_per_column;
use crate::plan::quantizable_gemm;
use crate::qdq::{bias_dq, weight_dq};
use crate::QuantizeError;

/// The float weight `[k, n]` and bias `[n]` of Gemm `index`, checked.
fn weights(
    graph: &GraphProto,
    index: usize,
) -> Result<(usize, usize, Vec<f32>, Vec<f32>), QuantizeError> {
    let inits = initializers(graph);
    let gemm = &graph.node[index];
    let bt = inits[gemm.input[1].as_str()];
    let (k, n) = (
        usize::try_from(bt.dims[0]).unwrap_or(0),
        usize::try_from(bt.dims[1]).unwrap_or(0),
    );
    let w = checked_floats(bt, gemm)?;
    let bias = checked_floats(inits[gemm.input[2].as_str()], gemm)?;
    if bias.len() != n || n == 0 {
        return Err(QuantizeError::BadInitializer {
            node: gemm.name.clone(),
            tensor: gemm.input[2].clone(),
            found: bias.len(),
            expected: n,
        });
    }
    Ok((k, n, w, bias))
}

/// Dynamic mode: every constant-weight Gemm becomes DynamicQuantizeLinear + MatMulInteger
/// (int8 weights per column), rescaled to float, plus the float bias.
pub(crate) fn dynamic_edits(graph: &GraphProto) -> Result<Edits, QuantizeError> {
    let mut edits = Edits::default();
    for (i, g) in graph.node.iter().enumerate() {
        if quantizable_gemm(graph, g) {
            let nodes = dynamic_one(graph, i, &mut edits)?;
            edits.replace.insert(i, nodes);
        }
    }
    if edits.replace.is_empty() {
        return Err(QuantizeError::Unsupported(
            "no Gemm with constant float weights (transA=0, transB=0, alpha=beta=1)".into(),
        ));
    }
    Ok(edits)
}

fn dynamic_one(
    graph: &GraphProto,
    index: usize,
    edits: &mut Edits,
) -> Result<Vec<NodeProto>, QuantizeError> {
    let gemm = &graph.node[index];
    let (a, y) = (gemm.input[0].as_str(), gemm.output[0].as_str());
    let p = prefix(gemm, index);
    let (k, n, w, _) = weights(graph, index)?;
    let (wq, ws) = quantize_weights_per_column(&w, k, n);
    // The float bias initializer is read as it is.
    let (wq_name, ws_name, b_name) = (
        format!("{p}.weight_int8"),
        format!("{p}.weight_scale"),
        gemm.input[2].as_str(),
    );
    let raw = wq.iter().map(|&v| v as u8).collect();
    edits
        .initializers
        .push(tensor(&wq_name, &[k as i64, n as i64], DataType::INT8, raw));
    edits
        .initializers
        .push(f32_tensor(&ws_name, &[n as i64], &ws));
    edits.dropped.push(gemm.input[1].clone());
    let [aq, a_s, azp, mm, mmf, s, ys] = [
        "a_u8", "a_scale", "a_zp", "mm_i32", "mm_f32", "scale", "scaled",
    ]
    .map(|x| format!("{p}/{x}"));
    Ok(vec![
        node("DynamicQuantizeLinear", &[a], &[&aq, &a_s, &azp], vec![]),
        node("MatMulInteger", &[&aq, &wq_name, &azp], &[&mm], vec![]),
        node(
            "Cast",
            &[&mm],
            &[&mmf],
            vec![attr_int("to", DataType::FLOAT as i64)],
        ),
        node("Mul", &[&a_s, &ws_name], &[&s], vec![]),
        node("Mul", &[&mmf, &s], &[&ys], vec![]),
        node("Add", &[&ys, b_name], &[y], vec![]),
    ])
}

/// Static mode: Gemm `index` reads its weight (int8 per column, axis 1) and bias (int32 at
/// scale `input_scale * weight_scale`) through `DequantizeLinear`.
pub(crate) fn static_weights(
    graph: &GraphProto,
    index: usize,
    input_scale: f32,
    edits: &mut Edits,
) -> Result<(), QuantizeError> {
    let gemm = &graph.node[index];
    let p = prefix(gemm, index);
    let (k, n, w, bias) = weights(graph, index)?;
    let (wq, ws) = quantize_weights_per_column(&w, k, n);
    let wdq = weight_dq(&p, &[k as i64, n as i64], &wq, &ws, 1, edits);
    let bdq = bias_dq(&p, &bias, input_scale, &ws, edits);
    edits.dropped.extend(gemm.input[1..].iter().cloned());
    let mut rewritten = gemm.clone();
    rewritten.input[1] = wdq.output[0].clone();
    rewritten.input[2] = bdq.output[0].clone();
    edits.replace.insert(index, vec![wdq, bdq, rewritten]);
    Ok(())
}
