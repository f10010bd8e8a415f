//! Export of trained generators to ONNX (opset 17), written with `onnx-protobuf`.
//!
//! The file carries the [`ModelContract`] in `metadata_props`; inputs and outputs follow it:
//! `z` float32 `[N, latent]` and `image` float32 `[N, C, H, W]`, `N` dynamic.

use std::path::Path;

use burn::prelude::*;
use gan_onnx::graph::{
    attr_float, attr_int, attr_ints, f32_tensor, i64_tensor, metadata, named_node, node,
    value_info, Dim,
};
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    ValueInfoProto,
};
use protobuf::MessageField;

use gan_runtime::contract::{INPUT_LABEL, INPUT_LATENT, OUTPUT_IMAGE};
use gan_runtime::ModelContract;

use crate::model::dcgan::{tensor_values, DcganGenerator, KERNEL};
use crate::model::linear_weights;
use crate::model::mlp::{MlpGenerator, LEAKY_SLOPE};
use crate::model::net::GeneratorBody;
use crate::model::Generator;
use burn::nn::BatchNorm;

/// ONNX opset the exported graphs use.
pub const OPSET: i64 = 17;
/// ONNX IR version matching [`OPSET`].
pub const IR_VERSION: i64 = 8;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The contract does not describe this generator.
    #[error("contract does not match the generator: {0}")]
    Contract(String),
    /// Serializing or writing the file failed (the message names the path).
    #[error(transparent)]
    File(#[from] gan_onnx::file::OnnxFileError),
}

/// Builds the ONNX model of a generator of any architecture, conditional or not.
///
/// Inputs: `z` float32 `[N, latent]`, and for conditional generators `label` int64 `[N]`
/// (looked up in the label embedding with `Gather`, then concatenated to `z`). DCGAN batch
/// norms are exported as `BatchNormalization` nodes in inference mode (running statistics),
/// which ONNX Runtime folds into the transposed convolutions when it optimizes the graph.
pub fn to_onnx(g: &Generator, contract: &ModelContract) -> Result<ModelProto, ExportError> {
    let shape = g.shape();
    if contract.latent_dim != g.latent_dim()
        || (contract.channels, contract.height, contract.width)
            != (shape.channels, shape.height, shape.width)
        || contract.num_classes != g.num_classes()
    {
        return Err(ExportError::Contract(format!(
            "generator is latent {} -> {}x{}x{}, {} classes; contract says latent {} -> {}x{}x{}, {} classes",
            g.latent_dim(),
            shape.channels,
            shape.height,
            shape.width,
            g.num_classes(),
            contract.latent_dim,
            contract.channels,
            contract.height,
            contract.width,
            contract.num_classes
        )));
    }
    let mut graph = GraphBuilder::default();
    let mut inputs = vec![value_info(
        INPUT_LATENT,
        DataType::FLOAT,
        Some(&[Dim::Param("N"), Dim::Value(contract.latent_dim as i64)]),
    )];
    let x = match &g.label_embedding {
        Some(embedding) => {
            inputs.push(value_info(
                INPUT_LABEL,
                DataType::INT64,
                Some(&[Dim::Param("N")]),
            ));
            let (dims, values) = tensor_values(embedding);
            let table = graph.initializer("label_embedding", &dims, &values);
            let e = graph.node(
                "Gather",
                &[&table, INPUT_LABEL],
                "label_embed",
                vec![attr_int("axis", 0)],
            );
            graph.node(
                "Concat",
                &[INPUT_LATENT, &e],
                "concat",
                vec![attr_int("axis", 1)],
            )
        }
        None => INPUT_LATENT.to_string(),
    };
    match &g.body {
        GeneratorBody::Mlp(body) => mlp_graph(&mut graph, body, &x),
        GeneratorBody::Dcgan(body) => dcgan_graph(&mut graph, body, &x),
    }
    let outputs = vec![value_info(
        OUTPUT_IMAGE,
        DataType::FLOAT,
        Some(&[
            Dim::Param("N"),
            Dim::Value(shape.channels as i64),
            Dim::Value(shape.height as i64),
            Dim::Value(shape.width as i64),
        ]),
    )];
    let name = format!("{}_generator", g.arch().name());
    Ok(graph.finish(&name, inputs, outputs, contract))
}

/// Gemm + LeakyRelu layers, tanh, and a reshape to the image.
fn mlp_graph(graph: &mut GraphBuilder, g: &MlpGenerator, input: &str) {
    let shape = g.shape();
    let mut x = input.to_string();
    let last = g.layers.len() - 1;
    for (i, layer) in g.layers.iter().enumerate() {
        let (dims, w, b) = linear_weights(layer);
        let wn = graph.initializer(&format!("fc{i}.weight"), &dims, &w);
        let bn = graph.initializer(&format!("fc{i}.bias"), &[dims[1]], &b);
        let h = graph.node("Gemm", &[&x, &wn, &bn], &format!("fc{i}"), vec![]);
        x = if i < last {
            graph.node(
                "LeakyRelu",
                &[&h],
                &format!("act{i}"),
                vec![attr_float("alpha", LEAKY_SLOPE as f32)],
            )
        } else {
            graph.node("Tanh", &[&h], "tanh", vec![])
        };
    }
    let target = graph.initializer_i64(
        "image_shape",
        &[
            -1,
            shape.channels as i64,
            shape.height as i64,
            shape.width as i64,
        ],
    );
    graph.node_named("Reshape", &[&x, &target], OUTPUT_IMAGE, vec![]);
}

/// Gemm, reshape to the first map, then BatchNormalization + Relu and ConvTranspose blocks,
/// tanh last.
fn dcgan_graph(graph: &mut GraphBuilder, g: &DcganGenerator, input: &str) {
    let (dims, w, b) = linear_weights(&g.project);
    let wn = graph.initializer("project.weight", &dims, &w);
    let bn = graph.initializer("project.bias", &[dims[1]], &b);
    let h = graph.node("Gemm", &[input, &wn, &bn], "project", vec![]);
    let target = graph.initializer_i64(
        "map_shape",
        &[
            -1,
            g.start_channels as i64,
            g.start_height as i64,
            g.start_width as i64,
        ],
    );
    let h = graph.node("Reshape", &[&h, &target], "to_map", vec![]);
    let h = batch_norm_node(graph, &g.project_norm, &h, "project_norm");
    let mut x = graph.node("Relu", &[&h], "project_relu", vec![]);
    let last = g.ups.len() - 1;
    for (i, up) in g.ups.iter().enumerate() {
        let (dims, w) = tensor_values(&up.weight);
        let wn = graph.initializer(&format!("up{i}.weight"), &dims, &w);
        let mut ins = vec![x.clone(), wn];
        if let Some(bias) = &up.bias {
            let (bd, bv) = tensor_values(bias);
            ins.push(graph.initializer(&format!("up{i}.bias"), &bd, &bv));
        }
        let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
        let attrs = vec![
            attr_ints("kernel_shape", &[KERNEL as i64, KERNEL as i64]),
            attr_ints("strides", &[up.stride[0] as i64, up.stride[1] as i64]),
            attr_ints(
                "pads",
                &[
                    up.padding[0] as i64,
                    up.padding[1] as i64,
                    up.padding[0] as i64,
                    up.padding[1] as i64,
                ],
            ),
        ];
        if i == last {
            let h = graph.node("ConvTranspose", &ins, &format!("up{i}"), attrs);
            graph.node_named("Tanh", &[&h], OUTPUT_IMAGE, vec![]);
        } else {
            let h = graph.node("ConvTranspose", &ins, &format!("up{i}"), attrs);
            let h = batch_norm_node(graph, &g.norms[i], &h, &format!("norm{i}"));
            x = graph.node("Relu", &[&h], &format!("relu{i}"), vec![]);
        }
    }
}

/// A `BatchNormalization` node in inference mode with the layer's running statistics.
fn batch_norm_node(graph: &mut GraphBuilder, bn: &BatchNorm, input: &str, name: &str) -> String {
    let values = |t: Tensor<1>| -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default()
    };
    let c = bn.gamma.dims()[0];
    let scale = graph.initializer(&format!("{name}.scale"), &[c], &values(bn.gamma.val()));
    let bias = graph.initializer(&format!("{name}.bias"), &[c], &values(bn.beta.val()));
    let mean = graph.initializer(
        &format!("{name}.running_mean"),
        &[c],
        &values(bn.running_mean.value()),
    );
    let var = graph.initializer(
        &format!("{name}.running_var"),
        &[c],
        &values(bn.running_var.value()),
    );
    graph.node(
        "BatchNormalization",
        &[input, &scale, &bias, &mean, &var],
        name,
        vec![attr_float("epsilon", bn.epsilon as f32)],
    )
}

/// Writes `model` to `path` atomically.
pub fn save(model: &ModelProto, path: &Path) -> Result<(), ExportError> {
    Ok(gan_onnx::file::save(model, path)?)
}

/// Accumulates nodes and initializers of one graph.
#[derive(Default)]
struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl GraphBuilder {
    fn initializer(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        let dims: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
        self.initializers.push(f32_tensor(name, &dims, data));
        name.to_string()
    }

    fn initializer_i64(&mut self, name: &str, data: &[i64]) -> String {
        self.initializers
            .push(i64_tensor(name, &[data.len() as i64], data));
        name.to_string()
    }

    /// Adds a node named `name` whose output is `name:0`; returns the output name.
    fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        name: &str,
        attrs: Vec<AttributeProto>,
    ) -> String {
        let out = format!("{name}:0");
        self.nodes
            .push(named_node(name, op, inputs, &[&out], attrs));
        out
    }

    /// Adds a node whose output has the given (graph output) name.
    fn node_named(&mut self, op: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) {
        self.nodes.push(node(op, inputs, &[output], attrs));
    }

    fn finish(
        self,
        name: &str,
        inputs: Vec<ValueInfoProto>,
        outputs: Vec<ValueInfoProto>,
        contract: &ModelContract,
    ) -> ModelProto {
        let graph = GraphProto {
            name: name.to_string(),
            node: self.nodes,
            initializer: self.initializers,
            input: inputs,
            output: outputs,
            ..Default::default()
        };
        ModelProto {
            ir_version: IR_VERSION,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
                ..Default::default()
            }],
            producer_name: "gan-trainer".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            doc_string: format!(
                "GAN generator ({}), trained on {} for {} steps. Input `z`: float32 [N, {}] from N(0,1){}; output `image`: float32 [N, {}, {}, {}] in [{}, {}].",
                contract.arch,
                contract.dataset,
                contract.train_steps,
                contract.latent_dim,
                if contract.is_conditional() {
                    format!("; input `label`: int64 [N] in 0..{}", contract.num_classes)
                } else {
                    String::new()
                },
                contract.channels,
                contract.height,
                contract.width,
                contract.output_range.0,
                contract.output_range.1
            ),
            graph: MessageField::some(graph),
            metadata_props: metadata(contract.to_metadata()),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ImageShape;
    use rand::SeedableRng;

    fn tiny(arch: crate::model::Arch, classes: usize) -> (Generator, ModelContract) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let shape = ImageShape {
            channels: 1,
            height: 6,
            width: 6,
        };
        let net = crate::model::NetConfig {
            arch,
            latent_dim: 4,
            shape,
            num_classes: classes,
            init: Default::default(),
            width: 4,
            dropout: 0.0,
            d_batch_norm: true,
            spectral_norm: false,
        };
        let g = Generator::new(&net, &mut rng, &crate::device::cpu()).unwrap();
        let c = g.contract();
        (g, c)
    }

    #[test]
    fn graph_has_contract_and_dynamic_batch() {
        let (g, c) = tiny(crate::model::Arch::Mlp, 0);
        let m = to_onnx(&g, &c).unwrap();
        assert_eq!(m.opset_import[0].version, OPSET);
        let graph = m.graph.as_ref().unwrap();
        assert_eq!(graph.input[0].name, "z");
        assert_eq!(graph.output[0].name, "image");
        let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(
            ops,
            [
                "Gemm",
                "LeakyRelu",
                "Gemm",
                "LeakyRelu",
                "Gemm",
                "LeakyRelu",
                "Gemm",
                "Tanh",
                "Reshape"
            ]
        );
        assert_eq!(gan_onnx::read::contract(&m).unwrap(), c);
    }

    #[test]
    fn conditional_dcgan_graph_takes_labels() {
        let (g, c) = tiny(crate::model::Arch::Dcgan, 3);
        let m = to_onnx(&g, &c).unwrap();
        let graph = m.graph.as_ref().unwrap();
        let inputs: Vec<&str> = graph.input.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(inputs, ["z", "label"]);
        let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(
            ops,
            [
                "Gather",
                "Concat",
                "Gemm",
                "Reshape",
                "BatchNormalization",
                "Relu",
                "ConvTranspose",
                "Tanh"
            ]
        );
        assert_eq!(graph.node.last().unwrap().output[0], "image");
    }

    #[test]
    fn mismatched_contract_is_refused() {
        let (g, _) = tiny(crate::model::Arch::Mlp, 0);
        let e = to_onnx(&g, &ModelContract::new(5, 1, 6, 6)).unwrap_err();
        assert!(e.to_string().contains("latent 4"), "{e}");
        let (g, _) = tiny(crate::model::Arch::Mlp, 2);
        let e = to_onnx(&g, &ModelContract::new(4, 1, 6, 6)).unwrap_err();
        assert!(e.to_string().contains("2 classes"), "{e}");
    }
}
