//! Static quantization of a convolutional generator (the fastgan layout: Gemm, Reshape,
//! BatchNormalization + GLU, up-blocks of Resize, Conv, BatchNormalization, GLU with
//! skip-layer excitations, Conv, Tanh), built here with `gan_onnx::graph`, run in the real
//! ONNX Runtime: BatchNormalization folding keeps the outputs, every Conv gets the QDQ
//! pattern and becomes a QLinearConv in ONNX Runtime's optimized graph, and the int8 images
//! stay close to the float ones.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gan_onnx::graph::{
    attr_float, attr_int, attr_ints, f32_tensor, i64_tensor, metadata, named_node, value_info, Dim,
};
use gan_quantize::{calibrate, fold_batch_norms, load, quantize, save, Mode, QUANTIZATION_KEY};
use gan_runtime::{Generator, ModelContract};
use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
};
use protobuf::{EnumOrUnknown, MessageField};

const LATENT: usize = 8;
const CLASSES: usize = 3;
const SIDE: usize = 16;
const SAMPLES: usize = 96;

fn require_ort() {
    assert!(
        std::env::var_os("ORT_DYLIB_PATH").is_some_and(|p| !p.is_empty()),
        "ORT_DYLIB_PATH is not set: run the tests with `bash scripts/test.sh`"
    );
}

/// Deterministic weights in `[-scale, scale]` (xorshift), and other constants.
struct Builder {
    state: u64,
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
}

impl Builder {
    fn uniform(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                self.state ^= self.state << 13;
                self.state ^= self.state >> 7;
                self.state ^= self.state << 17;
                lo + (hi - lo) * ((self.state >> 40) as f32 / (1u64 << 24) as f32)
            })
            .collect()
    }

    fn weight(&mut self, name: &str, dims: &[usize], fan_in: usize) -> String {
        let n = dims.iter().product();
        let s = 1.5 / (fan_in as f32).sqrt();
        let values = self.uniform(n, -s, s);
        let dims: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
        self.inits.push(f32_tensor(name, &dims, &values));
        name.to_string()
    }

    fn ints(&mut self, name: &str, values: &[i64]) -> String {
        self.inits
            .push(i64_tensor(name, &[values.len() as i64], values));
        name.to_string()
    }

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

    fn gemm(&mut self, x: &str, k: usize, n: usize, name: &str) -> String {
        let w = self.weight(&format!("{name}.weight"), &[k, n], k);
        let b = self.weight(&format!("{name}.bias"), &[n], k);
        self.node("Gemm", &[x, &w, &b], name, vec![])
    }

    /// Inference BatchNormalization with statistics far from the identity, so folding it
    /// changes the Conv's weights a lot.
    fn batch_norm(&mut self, x: &str, c: usize, name: &str) -> String {
        let param = |b: &mut Self, what: &str, lo: f32, hi: f32| {
            let v = b.uniform(c, lo, hi);
            let n = format!("{name}.{what}");
            b.inits.push(f32_tensor(&n, &[c as i64], &v));
            n
        };
        let scale = param(self, "scale", 0.5, 2.0);
        let bias = param(self, "bias", -0.3, 0.3);
        let mean = param(self, "running_mean", -0.5, 0.5);
        let var = param(self, "running_var", 0.3, 3.0);
        self.node(
            "BatchNormalization",
            &[x, &scale, &bias, &mean, &var],
            name,
            vec![attr_float("epsilon", 1e-5)],
        )
    }

    fn glu(&mut self, x: &str, half: usize, name: &str) -> String {
        let split = self.ints(&format!("{name}.split"), &[half as i64, half as i64]);
        let (a, b) = (format!("{name}.a"), format!("{name}.b"));
        self.nodes.push(named_node(
            &format!("{name}.split"),
            "Split",
            &[x, &split],
            &[&a, &b],
            vec![attr_int("axis", 1)],
        ));
        let gate = self.node("Sigmoid", &[&b], &format!("{name}.sigmoid"), vec![]);
        self.node("Mul", &[&a, &gate], name, vec![])
    }

    fn conv3(&mut self, x: &str, cin: usize, cout: usize, bias: bool, name: &str) -> String {
        let w = self.weight(&format!("{name}.weight"), &[cout, cin, 3, 3], cin * 9);
        let mut ins = vec![x.to_string(), w];
        if bias {
            ins.push(self.weight(&format!("{name}.bias"), &[cout], cin * 9));
        }
        let ins: Vec<&str> = ins.iter().map(String::as_str).collect();
        self.node(
            "Conv",
            &ins,
            name,
            vec![
                attr_ints("kernel_shape", &[3, 3]),
                attr_ints("strides", &[1, 1]),
                attr_ints("pads", &[1, 1, 1, 1]),
            ],
        )
    }

    /// Resize nearest 2x, Conv 3x3 (no bias), BatchNormalization, GLU.
    fn up_block(&mut self, x: &str, cin: usize, cout: usize, name: &str) -> String {
        let resize = self.node(
            "Resize",
            &[x, "", "upsample_scales"],
            &format!("{name}.resize"),
            vec![
                attr_string("mode", "nearest"),
                attr_string("coordinate_transformation_mode", "asymmetric"),
                attr_string("nearest_mode", "floor"),
            ],
        );
        let h = self.conv3(&resize, cin, 2 * cout, false, &format!("{name}.conv"));
        let h = self.batch_norm(&h, 2 * cout, &format!("{name}.norm"));
        self.glu(&h, cout, &format!("{name}.glu"))
    }

    /// Skip-layer excitation: `target * Sigmoid(Gemm(LeakyRelu(Gemm(Flatten(pool(source))))))`.
    fn excitation(
        &mut self,
        source: &str,
        target: &str,
        pool: i64,
        cin: usize,
        cout: usize,
        name: &str,
    ) -> String {
        let pooled = if pool > 1 {
            self.node(
                "AveragePool",
                &[source],
                &format!("{name}.pool"),
                vec![
                    attr_ints("kernel_shape", &[pool, pool]),
                    attr_ints("strides", &[pool, pool]),
                ],
            )
        } else {
            source.to_string()
        };
        let flat = self.node(
            "Flatten",
            &[&pooled],
            &format!("{name}.flatten"),
            vec![attr_int("axis", 1)],
        );
        let s = self.gemm(&flat, cin * 16, 4, &format!("{name}.squeeze"));
        let s = self.node(
            "LeakyRelu",
            &[&s],
            &format!("{name}.act"),
            vec![attr_float("alpha", 0.2)],
        );
        let s = self.gemm(&s, 4, cout, &format!("{name}.excite"));
        let s = self.node("Sigmoid", &[&s], &format!("{name}.sigmoid"), vec![]);
        let shape = self.ints(&format!("{name}.gate_shape"), &[-1, cout as i64, 1, 1]);
        let gates = self.node("Reshape", &[&s, &shape], &format!("{name}.gates"), vec![]);
        self.node("Mul", &[target, &gates], &format!("{name}.mul"), vec![])
    }
}

fn attr_string(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: name.to_string(),
        s: s.as_bytes().to_vec(),
        type_: EnumOrUnknown::new(AttributeType::STRING),
        ..Default::default()
    }
}

/// A conditional 3x16x16 generator in the fastgan layout (4x4 start, two up-blocks).
fn fastgan_like() -> ModelProto {
    let mut b = Builder {
        state: 0x9e37_79b9_7f4a_7c15,
        nodes: Vec::new(),
        inits: Vec::new(),
    };
    b.inits
        .push(f32_tensor("upsample_scales", &[4], &[1.0, 1.0, 2.0, 2.0]));
    let table = b.weight("label_embedding", &[CLASSES, 4], 1);
    let e = b.node(
        "Gather",
        &[&table, "label"],
        "label_embed",
        vec![attr_int("axis", 0)],
    );
    let x = b.node("Concat", &["z", &e], "concat", vec![attr_int("axis", 1)]);
    let h = b.gemm(&x, LATENT + 4, 16 * 16, "project");
    let shape = b.ints("map_shape", &[-1, 16, 4, 4]);
    let h = b.node("Reshape", &[&h, &shape], "to_map", vec![]);
    let h = b.batch_norm(&h, 16, "project_norm");
    let x0 = b.glu(&h, 8, "project_glu"); // 8 x 4 x 4
    let x1 = b.up_block(&x0, 8, 8, "up0"); // 8 x 8 x 8
    let x1 = b.excitation(&x0, &x1, 1, 8, 8, "sle0_1");
    let x2 = b.up_block(&x1, 8, 4, "up1"); // 4 x 16 x 16
    let x2 = b.excitation(&x1, &x2, 2, 8, 4, "sle1_2");
    let img = b.conv3(&x2, 4, 3, true, "to_image");
    b.nodes
        .push(named_node("image", "Tanh", &[&img], &["image"], vec![]));

    let mut contract = ModelContract::new(LATENT, 3, SIDE, SIDE);
    contract.num_classes = CLASSES;
    contract.arch = "fastgan".into();
    let graph = GraphProto {
        name: "fastgan_like".into(),
        node: b.nodes,
        initializer: b.inits,
        input: vec![
            value_info(
                "z",
                DataType::FLOAT,
                Some(&[Dim::Param("N"), Dim::Value(LATENT as i64)]),
            ),
            value_info("label", DataType::INT64, Some(&[Dim::Param("N")])),
        ],
        output: vec![value_info(
            "image",
            DataType::FLOAT,
            Some(&[
                Dim::Param("N"),
                Dim::Value(3),
                Dim::Value(SIDE as i64),
                Dim::Value(SIDE as i64),
            ]),
        )],
        ..Default::default()
    };
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 17,
            ..Default::default()
        }],
        graph: MessageField::some(graph),
        metadata_props: metadata(contract.to_metadata()),
        ..Default::default()
    }
}

fn images(path: &Path) -> Vec<f32> {
    let g = Generator::builder(path).threads(1).load().unwrap();
    let labels: Vec<i64> = (0..SAMPLES as u64)
        .map(|i| gan_runtime::balanced_label(i, CLASSES))
        .collect();
    g.generate_labeled(7, 0, &labels).unwrap().data().to_vec()
}

fn saved(dir: &Path, name: &str, model: &ModelProto) -> PathBuf {
    let path = dir.join(name);
    save(model, &path).unwrap();
    path
}

fn ops<'a>(model: &'a ModelProto, op: &str) -> Vec<&'a NodeProto> {
    model
        .graph
        .node
        .iter()
        .filter(|n| n.op_type == op)
        .collect()
}

#[test]
fn folding_batch_norms_keeps_the_images() {
    require_ort();
    let dir = tempfile::tempdir().unwrap();
    let model = fastgan_like();
    let folded = fold_batch_norms(&model).unwrap();
    // The two after a Conv are gone; the one after the Reshape stays.
    assert_eq!(ops(&model, "BatchNormalization").len(), 3);
    let left = ops(&folded, "BatchNormalization");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].name, "project_norm");
    assert!(ops(&folded, "Conv").iter().all(|c| c.input.len() == 3));
    assert_eq!(folded.metadata_props, model.metadata_props);

    let a = images(&saved(dir.path(), "float.onnx", &model));
    let b = images(&saved(dir.path(), "folded.onnx", &folded));
    let max = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    eprintln!("folding: max abs difference {max}");
    assert!(max < 1e-4, "folding changed the images by up to {max}");
    // Folding is not a no-op on these statistics: the images are not constant.
    let spread = a.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(spread > 0.1, "degenerate test model (max |image| {spread})");
}

/// Every Conv reads DQ(Q(x)), DQ(int8 weight, per output channel, axis 0, zero points 0) and
/// DQ(int32 bias) when it has one, and its output goes through Q then DQ.
fn assert_qdq_around_every_conv(q: &ModelProto) {
    let graph = &q.graph;
    let producer: HashMap<&str, &NodeProto> = graph
        .node
        .iter()
        .flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n)))
        .collect();
    let init: HashMap<&str, &TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    let convs = ops(q, "Conv");
    assert_eq!(convs.len(), 3);
    for c in convs {
        let dq = |i: usize| {
            let p = producer[c.input[i].as_str()];
            assert_eq!(p.op_type, "DequantizeLinear", "Conv {} input {i}", c.name);
            p
        };
        let x = dq(0);
        assert_eq!(
            producer[x.input[0].as_str()].op_type,
            "QuantizeLinear",
            "{}",
            c.name
        );
        assert_eq!(
            init[x.input[1].as_str()].dims.len(),
            0,
            "per-tensor input scale"
        );
        assert_eq!(init[x.input[2].as_str()].data_type, DataType::UINT8 as i32);

        let w = dq(1);
        let wq = init[w.input[0].as_str()];
        assert_eq!(wq.data_type, DataType::INT8 as i32, "{}", c.name);
        assert_eq!(wq.dims.len(), 4);
        let axis = w
            .attribute
            .iter()
            .find(|a| a.name == "axis")
            .map_or(1, |a| a.i);
        assert_eq!(axis, 0, "{}: weight scales per output channel", c.name);
        assert_eq!(init[w.input[1].as_str()].dims, vec![wq.dims[0]]);
        let wz = init[w.input[2].as_str()];
        assert_eq!(wz.data_type, DataType::INT8 as i32);
        assert!(wz.raw_data.iter().all(|&b| b == 0), "symmetric weights");

        // After folding, every Conv has a bias.
        let b = dq(2);
        assert_eq!(init[b.input[0].as_str()].data_type, DataType::INT32 as i32);

        let readers: Vec<&NodeProto> = graph
            .node
            .iter()
            .filter(|n| n.input.contains(&c.output[0]))
            .collect();
        assert_eq!(
            readers.len(),
            1,
            "{}: only the output Q reads the Conv",
            c.name
        );
        assert_eq!(readers[0].op_type, "QuantizeLinear");
    }
}

/// The op types of ONNX Runtime's optimized graph (level all, one thread).
fn optimized_ops(path: &Path, dir: &Path) -> Vec<String> {
    use ort::session::builder::GraphOptimizationLevel;
    let out = dir.join("optimized.onnx");
    let env = gan_runtime::generator::ort_environment().unwrap();
    let _session = ort::session::Session::builder(env)
        .unwrap()
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .unwrap()
        .with_intra_threads(1)
        .unwrap()
        .with_optimized_model_path(&out)
        .unwrap()
        .commit_from_file(path)
        .unwrap();
    let optimized = load(&out).unwrap();
    optimized
        .graph
        .node
        .iter()
        .map(|n| n.op_type.clone())
        .collect()
}

#[test]
fn static_mode_runs_every_conv_in_int8() {
    require_ort();
    gan_runtime::generator::use_project_library_if_unset();
    let dir = tempfile::tempdir().unwrap();
    let model = fastgan_like();
    let float_path = saved(dir.path(), "float.onnx", &model);

    let ranges = calibrate(&model, 256, 12345).unwrap();
    // Conv inputs (Resize outputs share their input's range) and outputs (named after the
    // folded BatchNormalization).
    for t in [
        "up0.norm:0",
        "up1.norm:0",
        "to_image:0",
        "up0.glu:0",
        "sle1_2.mul:0",
    ] {
        let (lo, hi) = ranges
            .get(t)
            .unwrap_or_else(|| panic!("no range for {t}: {ranges:?}"));
        assert!(lo < hi, "{t}: {lo}..{hi}");
    }

    let q = quantize(&model, Mode::Static, Some(&ranges)).unwrap();
    assert_qdq_around_every_conv(&q);
    let meta = |m: &ModelProto, k: &str| {
        m.metadata_props
            .iter()
            .find(|e| e.key == k)
            .map(|e| e.value.clone())
    };
    assert_eq!(meta(&q, QUANTIZATION_KEY).as_deref(), Some("qdq-int8"));
    for e in &model.metadata_props {
        assert_eq!(meta(&q, &e.key), Some(e.value.clone()), "{}", e.key);
    }
    let q_path = saved(dir.path(), "qdq.onnx", &q);

    let optimized = optimized_ops(&q_path, dir.path());
    let count = |op: &str| optimized.iter().filter(|o| *o == op).count();
    assert_eq!(count("QLinearConv"), 3, "{optimized:?}");
    assert_eq!(count("Conv"), 0, "a float Conv is left: {optimized:?}");
    assert_eq!(count("QGemm"), 5, "{optimized:?}");

    let int8 = Generator::load(&q_path).unwrap();
    assert_eq!(
        int8.contract(),
        Generator::load(&float_path).unwrap().contract()
    );
    let (a, b) = (images(&float_path), images(&q_path));
    let mae = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32;
    eprintln!("int8 vs fp32: mean abs difference {mae}");
    assert!(mae < 0.03, "int8 images differ by {mae} on average");
    assert!(mae > 0.0, "identical images: was anything quantized?");

    let again = quantize(&q, Mode::Static, Some(&ranges)).unwrap_err();
    assert!(again.to_string().contains("already quantized"), "{again}");
}
