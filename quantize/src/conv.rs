//! Static mode for `Conv`: int8 weights per output channel, int32 bias, both behind
//! `DequantizeLinear`, so that ONNX Runtime fuses DQ + Conv + Q into `QLinearConv`.

use onnx_protobuf::GraphProto;

use crate::edits::Edits;
use crate::graph::{checked_floats, initializers, prefix};
use crate::params::quantize_weights_per_channel;
use crate::qdq::{bias_dq, weight_dq};
use crate::QuantizeError;

/// Rewrites Conv node `index` (planned: constant 4-D weight, optional constant bias) to read
/// its weight and bias through `DequantizeLinear`. `input_scale` is its input's scale.
pub(crate) fn static_weights(
    graph: &GraphProto,
    index: usize,
    input_scale: f32,
    edits: &mut Edits,
) -> Result<(), QuantizeError> {
    let inits = initializers(graph);
    let conv = &graph.node[index];
    let p = prefix(conv, index);
    let wt = inits[conv.input[1].as_str()];
    let w = checked_floats(wt, conv)?;
    let channels = usize::try_from(wt.dims[0]).unwrap_or(0);
    if channels == 0 {
        return Err(QuantizeError::Unsupported(format!(
            "Conv `{}`: weight `{}` has no output channels",
            conv.name, wt.name
        )));
    }
    let (q, scales) = quantize_weights_per_channel(&w, channels);
    let mut nodes = vec![weight_dq(&p, &wt.dims, &q, &scales, 0, edits)];
    edits.dropped.push(wt.name.clone());
    let mut rewritten = conv.clone();
    rewritten.input[1] = nodes[0].output[0].clone();
    if let Some(b) = conv.input.get(2).filter(|b| !b.is_empty()) {
        let bias = checked_floats(inits[b.as_str()], conv)?;
        if bias.len() != channels {
            return Err(QuantizeError::BadInitializer {
                node: conv.name.clone(),
                tensor: b.clone(),
                found: bias.len(),
                expected: channels,
            });
        }
        nodes.push(bias_dq(&p, &bias, input_scale, &scales, edits));
        rewritten.input[2] = nodes[1].output[0].clone();
        edits.dropped.push(b.clone());
    }
    nodes.push(rewritten);
    edits.replace.insert(index, nodes);
    Ok(())
}
