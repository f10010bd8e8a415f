//! Export of trained generators to ONNX (opset 17), written with `onnx-protobuf`.
//!
//! The file carries the [`ModelContract`] in `metadata_props`; inputs and outputs follow it:
//! `z` float32 `[N, latent]` and `image` float32 `[N, C, H, W]`, `N` dynamic.

use std::path::Path;

use burn::prelude::*;
use gan_onnx::graph::{
    attr_float, attr_int, attr_ints, attr_string, f32_tensor, i64_tensor, metadata, named_node,
    node, value_info, Dim,
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
use crate::model::fastgan::{self, FastganGenerator, UpBlock, SLE_POOL, SLE_SLOPE};
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
        GeneratorBody::Fastgan(body) => fastgan_graph(&mut graph, body, &x),
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

/// Gemm, reshape to the first map, BatchNormalization + GLU, then up-blocks (Resize nearest
/// 2x, 3x3 Conv, BatchNormalization, GLU) with skip-layer excitations (AveragePool, Gemm,
/// LeakyRelu, Gemm, Sigmoid, Mul), 3x3 Conv to the image, Tanh. No ConvTranspose: ONNX
/// Runtime folds each BatchNormalization into the Conv before it, and runs the Convs in int8
/// once quantized.
fn fastgan_graph(graph: &mut GraphBuilder, g: &FastganGenerator, input: &str) {
    let (dims, w, b) = linear_weights(&g.project);
    let wn = graph.initializer("project.weight", &dims, &w);
    let bn = graph.initializer("project.bias", &[dims[1]], &b);
    let h = graph.node("Gemm", &[input, &wn, &bn], "project", vec![]);
    let target = graph.initializer_i64(
        "map_shape",
        &[
            -1,
            2 * g.start_channels as i64,
            g.start_height as i64,
            g.start_width as i64,
        ],
    );
    let h = graph.node("Reshape", &[&h, &target], "to_map", vec![]);
    let h = batch_norm_node(graph, &g.project_norm, &h, "project_norm");
    let mut x = glu_nodes(graph, &h, g.start_channels, "project_glu");
    let scales = graph.initializer("upsample_scales", &[4], &[1.0, 1.0, 2.0, 2.0]);
    let mut sources: Vec<Option<String>> = vec![None; g.ups.len() + 1];
    for i in 0..=g.ups.len() {
        if i > 0 {
            x = up_block_nodes(graph, &g.ups[i - 1], &x, &scales, &format!("up{}", i - 1));
        }
        for e in g.excitations.iter().filter(|e| e.to == i) {
            let Some(source) = sources[e.from].take() else {
                continue;
            };
            let name = format!("sle{}_{}", e.from, e.to);
            let side = g.start_height << e.from;
            let side_w = g.start_width << e.from;
            let pooled = if side == SLE_POOL && side_w == SLE_POOL {
                source
            } else {
                let k = [(side / SLE_POOL) as i64, (side_w / SLE_POOL) as i64];
                graph.node(
                    "AveragePool",
                    &[&source],
                    &format!("{name}.pool"),
                    vec![attr_ints("kernel_shape", &k), attr_ints("strides", &k)],
                )
            };
            let flat = graph.node(
                "Flatten",
                &[&pooled],
                &format!("{name}.flatten"),
                vec![attr_int("axis", 1)],
            );
            let s = gemm_node(graph, &e.squeeze, &flat, &format!("{name}.squeeze"));
            let s = graph.node(
                "LeakyRelu",
                &[&s],
                &format!("{name}.act"),
                vec![attr_float("alpha", SLE_SLOPE as f32)],
            );
            let s = gemm_node(graph, &e.excite, &s, &format!("{name}.excite"));
            let s = graph.node("Sigmoid", &[&s], &format!("{name}.sigmoid"), vec![]);
            let c = e.excite.weight.dims()[1] as i64;
            let gate_shape = graph.initializer_i64(&format!("{name}.gate_shape"), &[-1, c, 1, 1]);
            let s = graph.node(
                "Reshape",
                &[&s, &gate_shape],
                &format!("{name}.gates"),
                vec![],
            );
            x = graph.node("Mul", &[&x, &s], &format!("{name}.mul"), vec![]);
        }
        if g.excitations.iter().any(|e| e.from == i) {
            sources[i] = Some(x.clone());
        }
    }
    let h = conv3_node(graph, &g.to_image, &x, "to_image");
    graph.node_named("Tanh", &[&h], OUTPUT_IMAGE, vec![]);
}

/// `Gemm` of a linear layer (weight `[in, out]`, bias).
fn gemm_node(
    graph: &mut GraphBuilder,
    layer: &burn::nn::Linear,
    input: &str,
    name: &str,
) -> String {
    let (dims, w, b) = linear_weights(layer);
    let wn = graph.initializer(&format!("{name}.weight"), &dims, &w);
    let bn = graph.initializer(&format!("{name}.bias"), &[dims[1]], &b);
    graph.node("Gemm", &[input, &wn, &bn], name, vec![])
}

/// A 3x3, stride-1, padding-1 `Conv` with the layer's weight (and bias when it has one).
fn conv3_node(
    graph: &mut GraphBuilder,
    conv: &burn::nn::conv::Conv2d,
    input: &str,
    name: &str,
) -> String {
    let (dims, w) = tensor_values(&conv.weight);
    let mut ins = vec![
        input.to_string(),
        graph.initializer(&format!("{name}.weight"), &dims, &w),
    ];
    if let Some(bias) = &conv.bias {
        let (bd, bv) = tensor_values(bias);
        ins.push(graph.initializer(&format!("{name}.bias"), &bd, &bv));
    }
    let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
    let k = fastgan::KERNEL as i64;
    let p = fastgan::SAME.pad as i64;
    graph.node(
        "Conv",
        &ins,
        name,
        vec![
            attr_ints("kernel_shape", &[k, k]),
            attr_ints("strides", &[1, 1]),
            attr_ints("pads", &[p, p, p, p]),
        ],
    )
}

/// Resize (nearest, 2x, exact repeat), Conv 3x3, BatchNormalization, GLU.
fn up_block_nodes(
    graph: &mut GraphBuilder,
    up: &UpBlock,
    input: &str,
    scales: &str,
    name: &str,
) -> String {
    let x = graph.node(
        "Resize",
        &[input, "", scales],
        &format!("{name}.resize"),
        vec![
            attr_string("mode", "nearest"),
            attr_string("coordinate_transformation_mode", "asymmetric"),
            attr_string("nearest_mode", "floor"),
        ],
    );
    let x = conv3_node(graph, &up.conv, &x, &format!("{name}.conv"));
    let x = batch_norm_node(graph, &up.norm, &x, &format!("{name}.norm"));
    let c = up.norm.gamma.dims()[0] / 2;
    glu_nodes(graph, &x, c, &format!("{name}.glu"))
}

/// GLU over channels: Split into halves of `half` channels, `a * Sigmoid(b)`.
fn glu_nodes(graph: &mut GraphBuilder, input: &str, half: usize, name: &str) -> String {
    let split = graph.initializer_i64(&format!("{name}.split"), &[half as i64, half as i64]);
    let (a, b) = (format!("{name}.a"), format!("{name}.b"));
    graph.nodes.push(named_node(
        &format!("{name}.split"),
        "Split",
        &[input, &split],
        &[&a, &b],
        vec![attr_int("axis", 1)],
    ));
    let gate = graph.node("Sigmoid", &[&b], &format!("{name}.sigmoid"), vec![]);
    graph.node("Mul", &[&a, &gate], name, vec![])
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
