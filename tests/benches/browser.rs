//! The browser benchmark (not a test): the wasm generator in headless Chromium, next to the same
//! ONNX model in onnxruntime-web in the same browser.
//!
//! ```sh
//! bash scripts/build-wasm.sh                       # web/pkg
//! npm install --prefix web/bench                   # onnxruntime-web (optional column)
//! cargo bench -p gan-tests --bench browser
//! ```
//!
//! Prints a table: module size (raw and gzip -9), first-image latency (navigation start to the
//! first image, cold profile: fetch + compile the module, load the weights, run), and ms per
//! image at batch 1 and 64 (single thread in both; each figure is the mean over at least
//! `BENCH_MS` ms of runs after a warm-up). `BENCH_MS=N` changes that (default 2000).
//! Also checks that onnxruntime-web's images equal the wasm generator's (max difference in
//! 1/255) on seed 42.
//!
//! `GAN_BENCH_MODEL=NAME` benches `models/NAME.onnx` (default `fashion-mlp`); web/pkg must be
//! built from the same model (`GAN_WASM_MODEL=models/NAME.onnx bash scripts/build-wasm.sh`).
//! Conditional models run every image as class 0 on both sides.

#[path = "../browser/mod.rs"]
mod browser;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use browser::{require_wasm_package, Browser, StaticServer};
use gan_tests::repo_root;
use serde_json::{json, Value};

const BATCHES: [u32; 2] = [1, 64];

/// One column of the table.
struct Column {
    name: String,
    size: Option<(u64, u64)>,
    first_image_ms: f64,
    first_generate_ms: f64,
    ms_per_image: Vec<f64>,
}

fn gzip_size(path: &Path) -> u64 {
    let out = Command::new("gzip")
        .arg("-9c")
        .arg(path)
        .output()
        .expect("run gzip");
    out.stdout.len() as u64
}

fn number(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn wait_state(b: &Browser, what: &str) {
    b.wait_for(
        "document.body.dataset.state !== 'loading'",
        Duration::from_secs(120),
        what,
    );
    let state = b.exec("return document.body.dataset.state;", json!([]));
    let text = b.exec("return document.body.innerText;", json!([]));
    assert_eq!(
        state,
        "ready",
        "{what} failed: {}",
        text.as_str().unwrap_or("")
    );
}

/// The class conditional models generate in the benchmark (both columns).
const LABEL: u64 = 0;

/// The wasm page's column, its page timings and its `model_info()`.
fn wasm_column(
    server: &StaticServer,
    wasm: &Path,
    model: &str,
    min_ms: u64,
) -> (Column, Value, Value) {
    let b = Browser::start(1000, 800);
    b.script_timeout(Duration::from_secs(600));
    b.goto(&server.url("web/index.html?bench"));
    wait_state(&b, "the wasm page");
    let timings = b.exec("return window.ganPage.timings;", json!([]));
    let info = b.exec("return window.ganPage.info;", json!([]));
    let built = info["model_file"].as_str().unwrap_or("?");
    assert_eq!(
        built,
        format!("{model}.onnx"),
        "web/pkg was built from {built}, the benchmark asks for {model}.onnx: build it with \
         `GAN_WASM_MODEL=models/{model}.onnx bash scripts/build-wasm.sh`, or set \
         GAN_BENCH_MODEL to the model web/pkg holds"
    );
    // `undefined` (JSON null) for unconditional models.
    let label = (number(&info, "num_classes") > 0.0).then_some(LABEL);
    let mut ms = Vec::new();
    for batch in BATCHES {
        let v = b.exec_async(
            "const [batch, minMs, label, done] = arguments;
             const gan = window.ganPage.gan;
             const l = label === null ? undefined : label;
             gan.generate(1, 0, batch, l);
             let n = 0;
             const t = performance.now();
             while (performance.now() - t < minMs || n < 3) { gan.generate(1 + n, 0, batch, l); n++; }
             done((performance.now() - t) / (n * batch));",
            json!([batch, min_ms, label]),
        );
        ms.push(v.as_f64().expect("ms per image"));
    }
    let raw = std::fs::metadata(wasm).expect("wasm size").len();
    let col = Column {
        name: format!(
            "gan-wasm (burn, {} weights)",
            info["weights"].as_str().unwrap_or("?")
        ),
        size: Some((raw, gzip_size(wasm))),
        first_image_ms: number(&timings, "first_image_ms"),
        first_generate_ms: number(&timings, "first_generate_ms"),
        ms_per_image: ms,
    };
    (col, timings, info)
}

fn ort_column(
    server: &StaticServer,
    ort_dist: &Path,
    model: &str,
    dim: u64,
    min_ms: u64,
) -> (Column, f64) {
    let b = Browser::start(1000, 800);
    b.script_timeout(Duration::from_secs(600));
    b.goto(&server.url(&format!(
        "web/bench/ort.html?model={model}.onnx&dim={dim}&label={LABEL}"
    )));
    wait_state(&b, "the onnxruntime-web page");
    let timings = b.exec("return window.ortBench.timings;", json!([]));
    let mut ms = Vec::new();
    for batch in BATCHES {
        let v = b.exec_async(
            "const [batch, minMs, done] = arguments;
             window.ortBench.run(batch, minMs).then(done, (e) => done(String(e)));",
            json!([batch, min_ms]),
        );
        ms.push(
            v.as_f64()
                .unwrap_or_else(|| panic!("onnxruntime-web run: {v}")),
        );
    }
    let agree = b.exec_async(
        "const done = arguments[arguments.length - 1];
         window.ortBench.agree(42, 64).then(done, (e) => done(String(e)));",
        json!([]),
    );
    let wasm = ort_dist.join("ort-wasm-simd-threaded.wasm");
    let size = std::fs::metadata(&wasm)
        .ok()
        .map(|m| (m.len(), gzip_size(&wasm)));
    let col = Column {
        name: "onnxruntime-web 1.30 (wasm, 1 thread)".into(),
        size,
        first_image_ms: number(&timings, "first_image_ms"),
        first_generate_ms: number(&timings, "first_generate_ms"),
        ms_per_image: ms,
    };
    (
        col,
        agree
            .as_f64()
            .unwrap_or_else(|| panic!("onnxruntime-web agreement: {agree}")),
    )
}

fn main() {
    // `cargo bench` passes --bench; nothing to parse.
    let root = repo_root();
    let web = root.join("web");
    require_wasm_package(&web);
    let min_ms: u64 = std::env::var("BENCH_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let model = std::env::var("GAN_BENCH_MODEL")
        .ok()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "fashion-mlp".into());
    let model_file = root.join("models").join(format!("{model}.onnx"));
    assert!(
        model_file.is_file(),
        "GAN_BENCH_MODEL={model}: {} not found",
        model_file.display()
    );
    let wasm = web.join("pkg").join("gan_wasm_bg.wasm");
    // The repository root, so the ORT page can fetch models/<model>.onnx.
    let server = StaticServer::start(&root);

    let (mine, timings, info) = wasm_column(&server, &wasm, &model, min_ms);
    println!("model: {model}");
    println!("gan-wasm page timings: {timings}");
    let mut cols = vec![mine];
    let ort_dist = web
        .join("bench")
        .join("node_modules")
        .join("onnxruntime-web")
        .join("dist");
    let model_size = std::fs::metadata(&model_file).map(|m| m.len()).unwrap_or(0);
    if ort_dist.is_dir() {
        let dim = number(&info, "latent_dim") as u64;
        let (col, agree) = ort_column(&server, &ort_dist, &model, dim, min_ms);
        println!("onnxruntime-web vs gan-wasm on seed 42 (64 images): max difference {agree}/255");
        cols.push(col);
    } else {
        println!(
            "onnxruntime-web column left out: {} missing (npm install --prefix web/bench)",
            ort_dist.display()
        );
    }

    let kib = |b: u64| format!("{:.0} KiB", b as f64 / 1024.0);
    println!();
    print!("| {:<38} |", "headless Chromium");
    for c in &cols {
        print!(" {:<38} |", c.name);
    }
    println!();
    print!("|{:-<40}|", "");
    for _ in &cols {
        print!("{:-<40}|", "");
    }
    println!();
    let row = |label: &str, f: &dyn Fn(&Column) -> String| {
        print!("| {label:<38} |");
        for c in &cols {
            print!(" {:<38} |", f(c));
        }
        println!();
    };
    row("module .wasm, raw / gzip -9", &|c| {
        c.size
            .map(|(r, g)| format!("{} / {}", kib(r), kib(g)))
            .unwrap_or_else(|| "?".into())
    });
    row("+ model file fetched", &|c| {
        if c.name.starts_with("onnx") {
            kib(model_size)
        } else {
            "0 (weights inside the module)".into()
        }
    });
    row("first image from navigation start", &|c| {
        format!("{:.0} ms", c.first_image_ms)
    });
    row("  of which the first run (1 image)", &|c| {
        format!("{:.1} ms", c.first_generate_ms)
    });
    for (i, batch) in BATCHES.iter().enumerate() {
        row(&format!("ms per image, batch {batch}"), &|c| {
            format!("{:.3} ms", c.ms_per_image[i])
        });
    }
}
