//! Generates the page's generators from the shipped ONNX models, at build time.
//!
//! For every model (the four shipped generators by default):
//! 1. Reads its contract from `metadata_props` and checks the graph's inputs and outputs against
//!    it with `gan-runtime`, so a model without a contract, or one that contradicts it, fails the
//!    build naming the file and field at fault.
//! 2. Quantizes its weights to int8 by the rule in `src/int8.rs` and writes the model with those
//!    weights (as the f32 values they stand for) to `$OUT_DIR/reference/<id>.onnx`: the model the
//!    page runs, which the browser test runs in ONNX Runtime to check the page within 1/255.
//! 3. Runs burn-onnx (the code generator behind burn-import) on that model: Rust source for the
//!    graph (`$OUT_DIR/model/<id>.rs`) and its weights in burnpack format. Then points the
//!    generated Gemm and ConvTranspose layers at the crate's own kernels (`rewrite_generated`,
//!    `src/kernels.rs`; `<id>.kernels.rs`): `x.matmul(constantN_out1) +
//!    constantM_out1.unsqueeze()` becomes `crate::kernels::linear_q("<id>/constantN", x, constantN_out1,
//!    constantM_out1)` and `self.convtranspose2dN.forward(x)` becomes
//!    `crate::kernels::conv_transpose2d_q("<id>/convtranspose2dN.weight", &self.convtranspose2dN,
//!    x)`, `x.tanh()`
//!    `crate::kernels::tanh(x)`. Checked: every Gemm, ConvTranspose and Tanh node of the graph
//!    must be rewritten, else the build fails (a burn-onnx upgrade that changes the code it
//!    writes shows here, not as a slow page).
//! 4. Writes the weights the page fetches, `$OUT_DIR/weights/<id>.bpk`: a burnpack whose large
//!    tensors are int8 with their per-channel scales (a quarter of f32), the others f32.
//!
//! Then `$OUT_DIR/models.rs`: the generated model modules, one `Net` enum over them, and a
//! `MODELS` table (id, file, metadata, the weights file's size and SHA-256).
//!
//! Input (environment): `GAN_WASM_MODELS`, a comma-separated list of ONNX generators exported by
//! the trainer (paths relative to the repository root, or absolute); default: the four in
//! [`DEFAULT_MODELS`]. The model's id on the page is its file stem.

use std::collections::HashMap;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use burn::tensor::DType;
use burn_onnx::{LoadStrategy, ModelGen};
use burn_store::burn_pack::{self, Bytes};
use gan_runtime::{ElemType, ModelContract, TensorSpec};
// onnx-ir's protobuf bindings (protobuf 3.7), the ones burn-onnx itself parses models with.
use onnx_ir::{ModelProto, TensorProto, ValueInfoProto};
use protobuf::Message;
use sha2::{Digest, Sha256};

#[path = "src/int8.rs"]
#[allow(dead_code)]
mod int8;

/// The generators the page offers, in the picker's order (relative to the repository root).
const DEFAULT_MODELS: &[&str] = &[
    "models/fashion-mlp.onnx",
    "models/mnist-cdcgan.onnx",
    "models/fashion-cdcgan.onnx",
    "models/emoji-cdcgan.onnx",
];

/// Suffix of the tensor holding an int8 tensor's per-channel scales in a weights file.
const SCALE_SUFFIX: &str = "/int8_scale";

/// What the build learned about one model, for `models.rs`.
struct Built {
    id: String,
    file_name: String,
    metadata: Vec<(String, String)>,
    conditional: bool,
    source: PathBuf,
    weights_len: usize,
    weights_sha256: String,
    int8_values: usize,
    f32_values: usize,
    int8_gemms: Vec<String>,
}

fn main() {
    println!("cargo::rerun-if-env-changed=GAN_WASM_MODELS");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=src/int8.rs");

    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let repo = manifest_dir
        .parent()
        .expect("wasm/ has a parent")
        .to_path_buf();
    let models: Vec<PathBuf> = match env::var("GAN_WASM_MODELS") {
        Ok(list) if !list.trim().is_empty() => {
            list.split(',').map(|p| repo.join(p.trim())).collect()
        }
        _ => DEFAULT_MODELS.iter().map(|p| repo.join(p)).collect(),
    };
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    for dir in ["reference", "weights"] {
        fs::create_dir_all(out_dir.join(dir)).expect("create OUT_DIR subfolder");
    }

    let mut built: Vec<Built> = Vec::new();
    for model in &models {
        println!("cargo::rerun-if-changed={}", model.display());
        let b = build_model(model, &out_dir);
        if built.iter().any(|o| o.id == b.id) {
            fail(&format!(
                "two models have the id {:?} (file stem): rename one",
                b.id
            ));
        }
        built.push(b);
    }
    fs::write(out_dir.join("models.rs"), registry(&built, &out_dir)).expect("write models.rs");
}

fn build_model(model: &Path, out_dir: &Path) -> Built {
    let bytes = fs::read(model).unwrap_or_else(|e| {
        fail(&format!(
            "cannot read the generator model {}: {e}. The page's generators are built from the \
             shipped models: train and export one (README: `trainer --export FILE.onnx`), or \
             set GAN_WASM_MODELS to ONNX generators exported by the trainer",
            model.display()
        ))
    });
    let mut proto = ModelProto::parse_from_bytes(&bytes)
        .unwrap_or_else(|e| fail(&format!("{} is not an ONNX model: {e}", model.display())));
    let metadata: Vec<(String, String)> = proto
        .metadata_props
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    let contract = check_contract(&proto, &metadata)
        .unwrap_or_else(|e| fail(&format!("{}: {e}", model.display())));
    let id = model
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or_else(|| {
            fail(&format!(
                "{}: the file stem is the model's id on the page and must be ASCII letters, \
                 digits and '-'",
                model.display()
            ))
        })
        .to_string();

    // The int8 weights as f32 values: the model the page runs, for burn-onnx and ONNX Runtime.
    let quantized = quantize_initializers(&mut proto)
        .unwrap_or_else(|e| fail(&format!("{}: {e}", model.display())));
    let reference = out_dir.join("reference").join(format!("{id}.onnx"));
    let reference_bytes = proto
        .write_to_bytes()
        .unwrap_or_else(|e| fail(&format!("cannot serialize {}: {e}", reference.display())));
    fs::write(&reference, reference_bytes)
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", reference.display())));

    // ONNX -> burn source + f32 burnpack. No loader is generated: lib.rs loads the weights.
    ModelGen::new()
        .input(reference.to_str().expect("OUT_DIR is not UTF-8"))
        .out_dir("model/")
        .load_strategy(LoadStrategy::None)
        .run_from_script();
    let generated = out_dir.join("model").join(&id);
    // Point the Gemm, ConvTranspose and Tanh nodes at the crate's kernels (src/kernels.rs).
    let count = |op: &str| proto.graph.node.iter().filter(|n| n.op_type == op).count();
    let code = fs::read_to_string(generated.with_extension("rs"))
        .unwrap_or_else(|e| fail(&format!("cannot read burn-onnx's code for {id}: {e}")));
    let (code, int8_gemms) = rewrite_generated(
        &id,
        &code,
        count("Gemm"),
        count("ConvTranspose"),
        count("Tanh"),
    )
    .unwrap_or_else(|e| fail(&format!("{}: {e}", model.display())));
    let source = generated.with_extension("kernels.rs");
    fs::write(&source, code)
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", source.display())));
    let weights = out_dir.join("weights").join(format!("{id}.bpk"));
    let (weights_bytes, int8_values, f32_values) =
        write_int8(&generated.with_extension("bpk"), &weights, &quantized);
    let file_name = model
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    Built {
        id,
        file_name,
        metadata,
        conditional: contract.is_conditional(),
        source,
        weights_len: weights_bytes.len(),
        weights_sha256: hex(&Sha256::digest(&weights_bytes)),
        int8_values,
        f32_values,
        int8_gemms,
    }
}

/// Reads the contract from the metadata and checks the graph's inputs and outputs against it.
fn check_contract(
    proto: &ModelProto,
    metadata: &[(String, String)],
) -> Result<ModelContract, gan_runtime::ContractError> {
    let map: HashMap<&str, &str> = metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let contract = ModelContract::from_metadata(|k| map.get(k).map(|v| v.to_string()))?;
    let graph = &proto.graph;
    // Inputs that are also initializers are weights, not graph inputs (old ONNX style).
    let inits: Vec<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<TensorSpec> = graph
        .input
        .iter()
        .filter(|v| !inits.contains(&v.name.as_str()))
        .map(spec)
        .collect();
    let outputs: Vec<TensorSpec> = graph.output.iter().map(spec).collect();
    contract.validate_io(&inputs, &outputs)?;
    Ok(contract)
}

/// A graph input or output as the contract sees it.
fn spec(v: &ValueInfoProto) -> TensorSpec {
    const FLOAT: i32 = 1; // onnx TensorProto.DataType
    const INT64: i32 = 7;
    let (elem, shape) = if v.type_.has_tensor_type() {
        let t = v.type_.tensor_type();
        let elem = match t.elem_type {
            FLOAT => ElemType::F32,
            INT64 => ElemType::I64,
            _ => ElemType::Other,
        };
        let shape = t
            .shape
            .dim
            .iter()
            .map(|d| (d.has_dim_value() && d.dim_value() >= 0).then(|| d.dim_value() as usize))
            .collect();
        (elem, shape)
    } else {
        (ElemType::Other, Vec::new())
    };
    TensorSpec {
        name: v.name.clone(),
        elem,
        shape,
    }
}

/// One quantized weight: its int8 values and scales, and the f32 values they stand for (as
/// little-endian bytes, to find the same tensor in burn-onnx's burnpack).
struct Quantized {
    q: Vec<i8>,
    scales: Vec<f32>,
    f32_bytes: Vec<u8>,
}

/// Replaces every [`int8::quantizable`] f32 initializer with the values its int8 form stands
/// for; returns the int8 forms.
fn quantize_initializers(proto: &mut ModelProto) -> Result<Vec<Quantized>, String> {
    const FLOAT: i32 = 1;
    let mut out = Vec::new();
    for t in proto.graph.mut_or_insert_default().initializer.iter_mut() {
        let shape: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
        if t.data_type != FLOAT || !int8::quantizable(&shape) {
            continue;
        }
        let values = floats(t)?;
        if values.len() != shape.iter().product::<usize>() {
            return Err(format!(
                "initializer {:?} has {} values for shape {shape:?}",
                t.name,
                values.len()
            ));
        }
        let scales = int8::scales(&values, &shape);
        let q = int8::quantize(&values, &shape, &scales);
        let deq = int8::dequantize(&q, &shape, &scales);
        let f32_bytes: Vec<u8> = deq.iter().flat_map(|v| v.to_le_bytes()).collect();
        t.float_data.clear();
        t.raw_data = f32_bytes.clone().into();
        out.push(Quantized {
            q,
            scales,
            f32_bytes,
        });
    }
    Ok(out)
}

/// An f32 initializer's values (raw little-endian bytes or `float_data`).
fn floats(t: &TensorProto) -> Result<Vec<f32>, String> {
    if !t.raw_data.is_empty() {
        if !t.raw_data.len().is_multiple_of(4) {
            return Err(format!(
                "initializer {:?}: raw data of {} bytes is not f32",
                t.name,
                t.raw_data.len()
            ));
        }
        Ok(int8::f32s_from_le(&t.raw_data))
    } else {
        Ok(t.float_data.clone())
    }
}

/// Rewrites burn-onnx's f32 burnpack `src` at `dst` with each quantized weight stored as int8
/// plus its scales (`<name>/int8_scale`). A tensor is matched to its int8 form by its exact
/// bytes, so the page reads back bit-for-bit the weights of the reference model. Returns the
/// file's bytes and the number of int8 and f32 values written.
fn write_int8(src: &Path, dst: &Path, quantized: &[Quantized]) -> (Vec<u8>, usize, usize) {
    let cannot_read =
        |e: burn_pack::Error| -> ! { fail(&format!("cannot read {}: {e}", src.display())) };
    let reader = burn_pack::Reader::from_file(src).unwrap_or_else(|e| cannot_read(e));
    let mut used = vec![false; quantized.len()];
    let (mut n_int8, mut n_f32) = (0, 0);
    let mut tensors = Vec::new();
    for t in reader.into_tensors().unwrap_or_else(|e| cannot_read(e)) {
        let (name, dtype, shape, param_id, bytes) =
            t.into_parts().unwrap_or_else(|e| cannot_read(e));
        let found = (dtype == DType::F32)
            .then(|| quantized.iter().position(|q| q.f32_bytes[..] == bytes[..]))
            .flatten();
        let Some(i) = found else {
            if dtype == DType::F32 {
                n_f32 += bytes.len() / 4;
            }
            tensors.push(burn_pack::Tensor::new(name, dtype, shape, param_id, bytes));
            continue;
        };
        used[i] = true;
        let q = &quantized[i];
        n_int8 += q.q.len();
        let scales: Vec<u8> = q.scales.iter().flat_map(|s| s.to_le_bytes()).collect();
        tensors.push(burn_pack::Tensor::new(
            format!("{name}{SCALE_SUFFIX}"),
            DType::F32,
            vec![q.scales.len()],
            None,
            Bytes::from_bytes_vec(scales),
        ));
        let q_bytes: Vec<u8> = q.q.iter().map(|&v| v as u8).collect();
        tensors.push(burn_pack::Tensor::new(
            name,
            DType::I8,
            shape,
            param_id,
            Bytes::from_bytes_vec(q_bytes),
        ));
    }
    if let Some(i) = used.iter().position(|u| !u) {
        fail(&format!(
            "{}: a quantized weight ({} values) is not in burn-onnx's weights as it is in the \
             ONNX model (burn-onnx changed its layout?); the page could not read it back exactly",
            src.display(),
            quantized[i].q.len()
        ));
    }
    let bytes = burn_pack::Writer::new(tensors)
        .with_metadata(
            "producer",
            "gan-wasm build.rs: burn-onnx weights, int8 per channel of axis 1 (src/int8.rs)",
        )
        .into_bytes()
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", dst.display())));
    fs::write(dst, &bytes[..])
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", dst.display())));
    (bytes.to_vec(), n_int8, n_f32)
}

/// `models.rs`: the model modules, the `Net` enum and the `MODELS` table.
fn registry(built: &[Built], out_dir: &Path) -> String {
    let mut rs = String::from("// Generated by build.rs from the page's ONNX models.\n\n");
    let module = |b: &Built| b.id.replace('-', "_");
    let variant = |b: &Built| -> String {
        b.id.split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect::<String>()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "")
    };
    for b in built {
        writeln!(
            rs,
            "/// burn code generated by burn-onnx from `{}`.\n\
             #[allow(clippy::all, clippy::pedantic, unused, missing_docs)]\n\
             pub mod {} {{\n    include!({:?});\n}}\n",
            b.file_name,
            module(b),
            b.source.display().to_string()
        )
        .unwrap();
    }
    writeln!(
        rs,
        "/// Folder of the weights files (`<id>.bpk`), for native tests."
    )
    .unwrap();
    writeln!(
        rs,
        "pub const WEIGHTS_DIR: &str = {:?};\n",
        out_dir.join("weights").display().to_string()
    )
    .unwrap();
    writeln!(
        rs,
        "/// Folder of the reference models (`<id>.onnx`: the int8 weights as f32), for native tests."
    )
    .unwrap();
    writeln!(
        rs,
        "pub const REFERENCE_DIR: &str = {:?};\n",
        out_dir.join("reference").display().to_string()
    )
    .unwrap();
    writeln!(rs, "/// The page's models, in the picker's order.").unwrap();
    writeln!(rs, "pub const MODELS: &[ModelSpec] = &[").unwrap();
    for b in built {
        writeln!(rs, "    ModelSpec {{").unwrap();
        writeln!(rs, "        id: {:?},", b.id).unwrap();
        writeln!(rs, "        model_file: {:?},", b.file_name).unwrap();
        writeln!(rs, "        metadata: &[").unwrap();
        for (k, v) in &b.metadata {
            writeln!(rs, "            ({k:?}, {v:?}),").unwrap();
        }
        writeln!(rs, "        ],").unwrap();
        writeln!(rs, "        weights_bytes: {},", b.weights_len).unwrap();
        writeln!(rs, "        weights_sha256: {:?},", b.weights_sha256).unwrap();
        writeln!(rs, "        int8_values: {},", b.int8_values).unwrap();
        writeln!(rs, "        f32_values: {},", b.f32_values).unwrap();
        writeln!(rs, "        int8_gemms: &{:?},", b.int8_gemms).unwrap();
        writeln!(rs, "    }},").unwrap();
    }
    writeln!(rs, "];\n").unwrap();

    writeln!(
        rs,
        "/// One of the generated models (boxed: they differ in size)."
    )
    .unwrap();
    writeln!(rs, "pub enum Net {{").unwrap();
    for b in built {
        writeln!(rs, "    {}(Box<{}::Model>),", variant(b), module(b)).unwrap();
    }
    writeln!(rs, "}}\n").unwrap();
    writeln!(rs, "impl Net {{").unwrap();
    writeln!(
        rs,
        "    /// The model at `index` of [`MODELS`], with zero weights.\n    \
         pub fn new(index: usize, device: &Device) -> Option<Net> {{\n        \
         Some(match index {{"
    )
    .unwrap();
    for (i, b) in built.iter().enumerate() {
        writeln!(
            rs,
            "            {i} => Net::{}(Box::new({}::Model::new(device))),",
            variant(b),
            module(b)
        )
        .unwrap();
    }
    writeln!(rs, "            _ => return None,\n        }})\n    }}\n").unwrap();
    writeln!(
        rs,
        "    /// Loads the weights of `store` into the model.\n    \
         pub fn load_from(&mut self, store: &mut burn_store::BurnpackStore) \
         -> Result<burn_store::ApplyResult, String> {{\n        \
         use burn_store::ModuleSnapshot;\n        match self {{"
    )
    .unwrap();
    for b in built {
        writeln!(
            rs,
            "            Net::{}(m) => m.load_from(store).map_err(|e| e.to_string()),",
            variant(b)
        )
        .unwrap();
    }
    writeln!(rs, "        }}\n    }}\n").unwrap();
    writeln!(
        rs,
        "    /// Runs the model; `None` when `labels` is given to an unconditional model or \
         missing for a conditional one.\n    \
         pub fn forward(&self, z: Tensor<2>, labels: Option<Tensor<1, Int>>) \
         -> Option<Tensor<4>> {{\n        match (self, labels) {{"
    )
    .unwrap();
    for b in built {
        if b.conditional {
            writeln!(
                rs,
                "            (Net::{}(m), Some(l)) => Some(m.forward(z, l)),",
                variant(b)
            )
            .unwrap();
        } else {
            writeln!(
                rs,
                "            (Net::{}(m), None) => Some(m.forward(z)),",
                variant(b)
            )
            .unwrap();
        }
    }
    writeln!(rs, "            _ => None,\n        }}\n    }}\n}}").unwrap();
    rs
}

/// Replaces burn-onnx's code for each ONNX Gemm with constant weights,
/// `x.matmul(constantN_out1) + constantM_out1.unsqueeze()`, with a call into the crate's kernel,
/// `crate::kernels::linear_q("<id>/constantN", x, constantN_out1, constantM_out1)` (see
/// `src/kernels.rs` for why; the key names the weights' int8 form for its integer products).
/// Fails unless exactly `gemms` (the graph's Gemm nodes) were replaced and no `.matmul(` is left.
/// Likewise each ConvTranspose layer, `self.convtranspose2dN.forward(x)`, becomes
/// `crate::kernels::conv_transpose2d(&self.convtranspose2dN, x)`: all `conv_transposes` of them.
/// And each Tanh, `x.tanh()`, becomes `crate::kernels::tanh(x)`: all `tanhs` of them.
fn rewrite_generated(
    id: &str,
    code: &str,
    gemms: usize,
    conv_transposes: usize,
    tanhs: usize,
) -> Result<(String, Vec<String>), String> {
    let gemm = regex::Regex::new(
        r"(\w+)\.matmul\((constant\d+)_out1\)\s*\+\s*(constant\d+_out1)\.unsqueeze\(\)",
    )
    .expect("valid regex");
    let found = gemm.find_iter(code).count();
    // The weights' key for the int8 integer products: `<id>/<tensor name>`.
    let keys: Vec<String> = gemm
        .captures_iter(code)
        .map(|c| format!("{id}/{}", &c[2]))
        .collect();
    let out = gemm
        .replace_all(
            code,
            format!("crate::kernels::linear_q(\"{id}/$2\", $1, ${{2}}_out1, $3)").as_str(),
        )
        .into_owned();
    if found != gemms || out.contains(".matmul(") {
        return Err(format!(
            "the graph has {gemms} Gemm nodes but burn-onnx's code has {found} of the form \
             `x.matmul(constantN_out1) + constantM_out1.unsqueeze()`{}: build.rs \
             (rewrite_generated) must learn the code this burn-onnx writes",
            if out.contains(".matmul(") {
                " and other matmuls"
            } else {
                ""
            }
        ));
    }
    let conv = regex::Regex::new(r"self\s*\.\s*(convtranspose2d\d+)\s*\.\s*forward\(")
        .expect("valid regex");
    let found = conv.find_iter(&out).count();
    if found != conv_transposes {
        return Err(format!(
            "the graph has {conv_transposes} ConvTranspose nodes but burn-onnx's code has \
             {found} of the form `self.convtranspose2dN.forward(x)`: build.rs \
             (rewrite_generated) must learn the code this burn-onnx writes"
        ));
    }
    let mut keys = keys;
    keys.extend(
        conv.captures_iter(&out)
            .map(|c| format!("{id}/{}.weight", &c[1])),
    );
    let out = conv
        .replace_all(
            &out,
            format!("crate::kernels::conv_transpose2d_q(\"{id}/$1.weight\", &self.$1, ").as_str(),
        )
        .into_owned();
    let tanh = regex::Regex::new(r"(\w+)\.tanh\(\)").expect("valid regex");
    let found = tanh.find_iter(&out).count();
    if found != tanhs {
        return Err(format!(
            "the graph has {tanhs} Tanh nodes but burn-onnx's code has {found} of the form \
             `x.tanh()`: build.rs (rewrite_generated) must learn the code this burn-onnx writes"
        ));
    }
    let out = tanh
        .replace_all(&out, "crate::kernels::tanh($1)")
        .into_owned();
    Ok((out, keys))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Stops the build with `msg` (cargo shows a build script's panic message).
fn fail(msg: &str) -> ! {
    panic!("gan-wasm build: {msg}")
}
