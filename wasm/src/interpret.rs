//! A generator the visitor opens in the page: an ONNX file exported by the trainer
//! (`trainer --export`), read at run time and run node by node on burn-flex.
//!
//! The page's own models are compiled from their ONNX files by burn-onnx at build time; a file
//! picked in the browser cannot be, so this runs the trainer's export op set (Gemm, LeakyRelu,
//! Relu, Tanh, Reshape, BatchNormalization, ConvTranspose, Gather, Concat) with the same burn
//! ops and the page's kernels (`kernels`) for Gemm, ConvTranspose and Tanh. Anything else, and any file without the trainer's contract, is refused with a message
//! naming the node or field.

use std::collections::HashMap;

use burn::tensor::ops::ConvTransposeOptions;
use burn::tensor::{activation, Device, Int, Tensor, TensorData};
use gan_runtime::{ElemType, ModelContract, TensorSpec};
use prost::Message;

use crate::onnx_proto::{self as proto, NodeProto, TensorProto, ValueInfoProto};

/// The ops of a trainer export: what this runs.
pub const OPS: &[&str] = &[
    "Gemm",
    "LeakyRelu",
    "Relu",
    "Tanh",
    "Reshape",
    "BatchNormalization",
    "ConvTranspose",
    "Gather",
    "Concat",
];

/// A value between nodes: an f32 tensor of rank 1, 2 or 4, the labels, or a shape.
#[derive(Clone)]
enum Value {
    F1(Tensor<1>),
    F2(Tensor<2>),
    F4(Tensor<4>),
    Labels(Tensor<1, Int>),
    Shape(Vec<i64>),
}

impl Value {
    fn rank(&self) -> &'static str {
        match self {
            Value::F1(_) => "an f32 tensor of rank 1",
            Value::F2(_) => "an f32 tensor of rank 2",
            Value::F4(_) => "an f32 tensor of rank 4",
            Value::Labels(_) => "the labels",
            Value::Shape(_) => "an int64 shape",
        }
    }
}

/// One node, its attributes read and checked once.
enum Op {
    Gemm {
        alpha: f32,
        beta: f32,
        trans_b: bool,
    },
    LeakyRelu(f64),
    Relu,
    Tanh,
    Reshape,
    /// Batch norm at inference as `x * a + b` per channel (boxed: the largest variant).
    BatchNorm(Box<(Tensor<1>, Tensor<1>)>),
    ConvTranspose(ConvTransposeOptions<2>),
    Gather,
    Concat(usize),
}

struct Step {
    op: Op,
    name: String,
    inputs: Vec<String>,
    output: String,
}

/// A trainer export read from its bytes, ready to run.
pub struct FileModel {
    contract: ModelContract,
    steps: Vec<Step>,
    constants: HashMap<String, Value>,
    latent_input: String,
    label_input: Option<String>,
    output: String,
}

impl std::fmt::Debug for FileModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileModel")
            .field("contract", &self.contract)
            .field("nodes", &self.steps.len())
            .finish_non_exhaustive()
    }
}

/// Why a file cannot be run: the message names the file's part at fault.
pub type FileError = String;

const NOT_EXPORT: &str = "the page opens generators exported by the trainer \
    (`trainer --export generator.onnx`)";

impl FileModel {
    /// Reads `bytes` as an ONNX generator exported by the trainer.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self, FileError> {
        let model = proto::ModelProto::decode(bytes)
            .map_err(|e| format!("not an ONNX model ({e}); {NOT_EXPORT}"))?;
        let graph = model
            .graph
            .as_ref()
            .filter(|g| !g.node.is_empty())
            .ok_or_else(|| format!("an ONNX file without a graph; {NOT_EXPORT}"))?;
        let meta: HashMap<&str, &str> = model
            .metadata_props
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        let contract = ModelContract::from_metadata(|k| meta.get(k).map(|v| v.to_string()))
            .map_err(|e| format!("{e}; {NOT_EXPORT}"))?;
        let inits: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let inputs: Vec<&ValueInfoProto> = graph
            .input
            .iter()
            .filter(|v| !inits.contains(&v.name.as_str()))
            .collect();
        let specs: Vec<TensorSpec> = inputs.iter().map(|v| spec(v)).collect();
        let outputs: Vec<TensorSpec> = graph.output.iter().map(spec).collect();
        contract
            .validate_io(&specs, &outputs)
            .map_err(|e| format!("{e}; {NOT_EXPORT}"))?;
        let latent_input = specs
            .iter()
            .find(|s| s.elem == ElemType::F32)
            .map(|s| s.name.clone())
            .ok_or("no f32 latent input")?;
        let label_input = specs
            .iter()
            .find(|s| s.elem == ElemType::I64)
            .map(|s| s.name.clone());
        let output = outputs[0].name.clone();

        let mut constants = HashMap::new();
        for t in &graph.initializer {
            constants.insert(t.name.clone(), constant(t, device)?);
        }
        let steps = graph
            .node
            .iter()
            .map(|n| step(n, &constants, device))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            contract,
            steps,
            constants,
            latent_input,
            label_input,
            output,
        })
    }

    /// The contract read from the file's metadata.
    pub fn contract(&self) -> &ModelContract {
        &self.contract
    }

    /// Runs the graph on latents `z` (`[N, latent]`) and, for conditional models, `labels`.
    pub fn forward(
        &self,
        z: Tensor<2>,
        labels: Option<Tensor<1, Int>>,
    ) -> Result<Tensor<4>, FileError> {
        let mut values: HashMap<&str, Value> = HashMap::new();
        values.insert(&self.latent_input, Value::F2(z));
        if let (Some(name), Some(l)) = (&self.label_input, labels) {
            values.insert(name, Value::Labels(l));
        }
        for s in &self.steps {
            let args = s
                .inputs
                .iter()
                .filter(|i| !i.is_empty())
                .map(|i| {
                    values
                        .get(i.as_str())
                        .or_else(|| self.constants.get(i))
                        .cloned()
                        .ok_or_else(|| {
                            format!("node {}: input {i} is not computed before it", s.name)
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = run(&s.op, args).map_err(|e| format!("node {}: {e}", s.name))?;
            values.insert(&s.output, out);
        }
        match values.remove(self.output.as_str()) {
            Some(Value::F4(t)) => Ok(t),
            Some(v) => Err(format!(
                "output {} is {}, not an image batch",
                self.output,
                v.rank()
            )),
            None => Err(format!("no node computes the output {}", self.output)),
        }
    }
}

/// A graph input or output as the contract sees it.
fn spec(v: &ValueInfoProto) -> TensorSpec {
    let t = v.r#type.as_ref().and_then(|t| t.tensor_type.as_ref());
    let elem = match t.map(|t| t.elem_type) {
        Some(proto::FLOAT) => ElemType::F32,
        Some(proto::INT64) => ElemType::I64,
        _ => ElemType::Other,
    };
    let shape = t
        .and_then(|t| t.shape.as_ref())
        .map(|s| {
            s.dim
                .iter()
                .map(|d| d.dim_value.filter(|&v| v >= 0).map(|v| v as usize))
                .collect()
        })
        .unwrap_or_default();
    TensorSpec {
        name: v.name.clone(),
        elem,
        shape,
    }
}

/// An initializer as a value: f32 of rank 1, 2 or 4, or an int64 shape.
fn constant(t: &TensorProto, device: &Device) -> Result<Value, FileError> {
    let what = || format!("initializer {}", t.name);
    if !t.external_data.is_empty() {
        return Err(format!(
            "{}: its data is in another file; export the model as one file",
            what()
        ));
    }
    let dims: Vec<usize> = t.dims.iter().map(|&d| d.max(0) as usize).collect();
    let n: usize = dims.iter().product();
    match t.data_type {
        proto::FLOAT => {
            let values: Vec<f32> = if t.raw_data.is_empty() {
                t.float_data.clone()
            } else {
                crate::int8::f32s_from_le(&t.raw_data)
            };
            if values.len() != n {
                return Err(format!(
                    "{}: {} values for shape {dims:?}",
                    what(),
                    values.len()
                ));
            }
            Ok(match dims.len() {
                1 => Value::F1(Tensor::from_data(TensorData::new(values, [n]), device)),
                2 => Value::F2(Tensor::from_data(
                    TensorData::new(values, [dims[0], dims[1]]),
                    device,
                )),
                4 => Value::F4(Tensor::from_data(
                    TensorData::new(values, [dims[0], dims[1], dims[2], dims[3]]),
                    device,
                )),
                r => return Err(format!("{}: f32 of rank {r} (expected 1, 2 or 4)", what())),
            })
        }
        proto::INT64 => {
            let values: Vec<i64> = if t.raw_data.is_empty() {
                t.int64_data.clone()
            } else {
                t.raw_data
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                    .collect()
            };
            if values.len() != n || dims.len() != 1 {
                return Err(format!("{}: an int64 tensor that is not a shape", what()));
            }
            Ok(Value::Shape(values))
        }
        other => {
            // ONNX TensorProto.DataType names of the types a model file is likely to hold.
            let name = match other {
                2 => "uint8".to_string(),
                3 => "int8".to_string(),
                6 => "int32".to_string(),
                10 => "float16".to_string(),
                11 => "double".to_string(),
                16 => "bfloat16".to_string(),
                n => format!("ONNX data type {n}"),
            };
            Err(format!(
                "{}: {name} values, where the trainer writes f32 weights: a quantized or \
                 converted model is not one the page runs; open the f32 model that \
                 `trainer --export` wrote",
                what()
            ))
        }
    }
}

fn attr<'a>(n: &'a NodeProto, name: &str) -> Option<&'a proto::AttributeProto> {
    n.attribute.iter().find(|a| a.name == name)
}

fn pair(n: &NodeProto, name: &str, default: usize) -> Result<[usize; 2], FileError> {
    match attr(n, name).map(|a| a.ints.as_slice()) {
        None => Ok([default; 2]),
        Some([a, b]) if *a >= 0 && *b >= 0 => Ok([*a as usize, *b as usize]),
        Some(v) => Err(format!(
            "node {}: {name} {v:?} (expected two sizes)",
            n.name
        )),
    }
}

/// Reads one node's op and attributes.
fn step(
    n: &NodeProto,
    constants: &HashMap<String, Value>,
    device: &Device,
) -> Result<Step, FileError> {
    let bad = |why: String| format!("node {} ({}): {why}", n.name, n.op_type);
    if !n.domain.is_empty() && n.domain != "ai.onnx" {
        return Err(bad(format!("op domain {:?}; {NOT_EXPORT}", n.domain)));
    }
    let f = |name: &str, default: f32| attr(n, name).map_or(default, |a| a.f);
    let i = |name: &str, default: i64| attr(n, name).map_or(default, |a| a.i);
    let op = match n.op_type.as_str() {
        "Gemm" => {
            if i("transA", 0) != 0 {
                return Err(bad("transA = 1 (the trainer never writes it)".into()));
            }
            Op::Gemm {
                alpha: f("alpha", 1.0),
                beta: f("beta", 1.0),
                trans_b: i("transB", 0) != 0,
            }
        }
        "LeakyRelu" => Op::LeakyRelu(f64::from(f("alpha", 0.01))),
        "Relu" => Op::Relu,
        "Tanh" => Op::Tanh,
        "Reshape" => Op::Reshape,
        "BatchNormalization" => {
            let eps = f("epsilon", 1e-5);
            let vec = |k: usize| -> Result<Vec<f32>, FileError> {
                match n.input.get(k).and_then(|name| constants.get(name)) {
                    Some(Value::F1(t)) => t
                        .clone()
                        .into_data()
                        .try_into_vec::<f32>()
                        .map_err(|e| bad(format!("{e:?}"))),
                    _ => Err(bad(format!("input {k} is not a constant vector"))),
                }
            };
            let (scale, bias, mean, var) = (vec(1)?, vec(2)?, vec(3)?, vec(4)?);
            let a: Vec<f32> = scale
                .iter()
                .zip(&var)
                .map(|(s, v)| s / (v + eps).sqrt())
                .collect();
            let b: Vec<f32> = bias
                .iter()
                .zip(&mean)
                .zip(&a)
                .map(|((b, m), a)| b - m * a)
                .collect();
            let c = a.len();
            Op::BatchNorm(Box::new((
                Tensor::from_data(TensorData::new(a, [c]), device),
                Tensor::from_data(TensorData::new(b, [c]), device),
            )))
        }
        "ConvTranspose" => {
            let pads = match attr(n, "pads").map(|a| a.ints.as_slice()) {
                None => [0, 0],
                Some([t, l, b, r]) if t == b && l == r && *t >= 0 && *l >= 0 => {
                    [*t as usize, *l as usize]
                }
                Some(v) => return Err(bad(format!("pads {v:?} (expected symmetric padding)"))),
            };
            if attr(n, "output_shape").is_some() || attr(n, "auto_pad").is_some() {
                return Err(bad("output_shape/auto_pad (the trainer writes pads)".into()));
            }
            Op::ConvTranspose(ConvTransposeOptions::new(
                pair(n, "strides", 1)?,
                pads,
                pair(n, "output_padding", 0)?,
                pair(n, "dilations", 1)?,
                i("group", 1).max(1) as usize,
            ))
        }
        "Gather" => {
            if i("axis", 0) != 0 {
                return Err(bad("axis other than 0".into()));
            }
            Op::Gather
        }
        "Concat" => match i("axis", 0) {
            a @ 0..=3 => Op::Concat(a as usize),
            a => return Err(bad(format!("axis {a}"))),
        },
        other => {
            return Err(format!(
                "node {} uses op {other}, which is not one the trainer exports ({}); {NOT_EXPORT}",
                n.name,
                OPS.join(", ")
            ))
        }
    };
    let output = match n.output.as_slice() {
        [o] => o.clone(),
        outs => return Err(bad(format!("{} outputs (expected 1)", outs.len()))),
    };
    Ok(Step {
        op,
        name: if n.name.is_empty() {
            output.clone()
        } else {
            n.name.clone()
        },
        inputs: n.input.clone(),
        output,
    })
}

/// Runs one op.
fn run(op: &Op, args: Vec<Value>) -> Result<Value, String> {
    let wrong = |args: &[Value]| {
        format!(
            "inputs {} do not fit the op",
            args.iter().map(Value::rank).collect::<Vec<_>>().join(", ")
        )
    };
    Ok(match (op, args.as_slice()) {
        // The trainer's Gemm (alpha = beta = 1, no transposes, a bias) on the page's kernel.
        (
            Op::Gemm {
                alpha: 1.0,
                beta: 1.0,
                trans_b: false,
            },
            [Value::F2(a), Value::F2(b), Value::F1(c)],
        ) => Value::F2(crate::kernels::linear(a.clone(), b.clone(), c.clone())),
        (
            Op::Gemm {
                alpha,
                beta,
                trans_b,
            },
            [Value::F2(a), Value::F2(b), rest @ ..],
        ) => {
            let b = if *trans_b {
                b.clone().transpose()
            } else {
                b.clone()
            };
            let mut y = a.clone().matmul(b);
            if *alpha != 1.0 {
                y = y * *alpha;
            }
            match rest {
                [] => y,
                [Value::F1(c)] => y + c.clone().unsqueeze::<2>() * *beta,
                [Value::F2(c)] => y + c.clone() * *beta,
                _ => return Err(wrong(&args)),
            }
            .into()
        }
        (Op::LeakyRelu(alpha), [x]) => map(
            x,
            |t| activation::leaky_relu(t, *alpha),
            |t| activation::leaky_relu(t, *alpha),
        )?,
        (Op::Relu, [x]) => map(x, activation::relu, activation::relu)?,
        (Op::Tanh, [x]) => map(x, crate::kernels::tanh, crate::kernels::tanh)?,
        (Op::Reshape, [x, Value::Shape(shape)]) => reshape(x, shape)?,
        (Op::BatchNorm(ab), [Value::F4(x), ..]) => {
            let (a, b) = &**ab;
            let c = a.dims()[0];
            Value::F4(x.clone() * a.clone().reshape([1, c, 1, 1]) + b.clone().reshape([1, c, 1, 1]))
        }
        (Op::BatchNorm(ab), [Value::F2(x), ..]) => {
            let (a, b) = &**ab;
            Value::F2(x.clone() * a.clone().unsqueeze::<2>() + b.clone().unsqueeze::<2>())
        }
        (Op::ConvTranspose(o), [Value::F4(x), Value::F4(w), rest @ ..]) => {
            let bias = match rest {
                [] => None,
                [Value::F1(b)] => Some(b.clone()),
                _ => return Err(wrong(&args)),
            };
            Value::F4(crate::kernels::conv_transpose2d_with(
                x.clone(),
                w.clone(),
                bias,
                o.clone(),
            ))
        }
        (Op::Gather, [Value::F2(table), Value::Labels(idx)]) => {
            let rows = table.dims()[0] as i64;
            let max = idx.clone().max().into_scalar::<i64>();
            if max >= rows {
                return Err(format!("label {max} is beyond the table's {rows} rows"));
            }
            Value::F2(table.clone().select(0, idx.clone()))
        }
        (Op::Concat(axis), [Value::F2(_), ..]) => {
            let parts = args
                .iter()
                .map(|v| match v {
                    Value::F2(t) => Ok(t.clone()),
                    _ => Err(wrong(&args)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Value::F2(Tensor::cat(parts, *axis))
        }
        (Op::Concat(axis), [Value::F4(_), ..]) => {
            let parts = args
                .iter()
                .map(|v| match v {
                    Value::F4(t) => Ok(t.clone()),
                    _ => Err(wrong(&args)),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Value::F4(Tensor::cat(parts, *axis))
        }
        _ => return Err(wrong(&args)),
    })
}

impl From<Tensor<2>> for Value {
    fn from(t: Tensor<2>) -> Self {
        Value::F2(t)
    }
}

/// An element-wise op on an f32 value of rank 2 or 4.
fn map(
    x: &Value,
    f2: impl Fn(Tensor<2>) -> Tensor<2>,
    f4: impl Fn(Tensor<4>) -> Tensor<4>,
) -> Result<Value, String> {
    match x {
        Value::F2(t) => Ok(Value::F2(f2(t.clone()))),
        Value::F4(t) => Ok(Value::F4(f4(t.clone()))),
        v => Err(format!("input is {}", v.rank())),
    }
}

/// ONNX Reshape to rank 2 or 4 (`0` copies a dimension, one `-1` takes the rest).
fn reshape(x: &Value, shape: &[i64]) -> Result<Value, String> {
    let dims: Vec<usize> = match x {
        Value::F2(t) => t.dims().to_vec(),
        Value::F4(t) => t.dims().to_vec(),
        v => return Err(format!("input is {}", v.rank())),
    };
    let total: usize = dims.iter().product();
    let mut out = Vec::with_capacity(shape.len());
    let mut infer = None;
    for (k, &s) in shape.iter().enumerate() {
        match s {
            0 => out.push(*dims.get(k).ok_or("shape 0 beyond the input's rank")?),
            -1 if infer.is_none() => {
                infer = Some(k);
                out.push(1);
            }
            s if s > 0 => out.push(s as usize),
            s => return Err(format!("shape value {s}")),
        }
    }
    let known: usize = out.iter().product();
    if let Some(k) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {dims:?} to {shape:?}"));
        }
        out[k] = total / known;
    }
    if out.iter().product::<usize>() != total {
        return Err(format!("cannot reshape {dims:?} to {shape:?}"));
    }
    Ok(match (x, out.as_slice()) {
        (Value::F2(t), [a, b]) => Value::F2(t.clone().reshape([*a, *b])),
        (Value::F2(t), [a, b, c, d]) => Value::F4(t.clone().reshape([*a, *b, *c, *d])),
        (Value::F4(t), [a, b]) => Value::F2(t.clone().reshape([*a, *b])),
        (Value::F4(t), [a, b, c, d]) => Value::F4(t.clone().reshape([*a, *b, *c, *d])),
        _ => return Err(format!("reshape to rank {} (expected 2 or 4)", out.len())),
    })
}
