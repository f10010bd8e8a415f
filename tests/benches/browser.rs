//! The browser benchmark (not a test): every model of the page in headless Chromium, next to
//! the same ONNX model in onnxruntime-web in the same browser.
//!
//! ```sh
//! bash scripts/build-wasm.sh                       # web/pkg, target/web-reference
//! npm install --prefix web/bench                   # onnxruntime-web (optional columns)
//! cargo bench -p gan-tests --bench browser
//! ```
//!
//! Prints one table, a row per model: the download (gzip -9: our shared module plus the model's
//! int8 weights; onnxruntime-web's wasm plus the shipped f32 model), first-image latency
//! (navigation start to the first image, fresh browser profile: fetch + compile the module,
//! fetch + load the weights, run), and ms per image at batch 1 and 64 (single thread in both;
//! the mean over at least `BENCH_MS` ms of runs after `BENCH_MS / 4` ms of warm-up; default
//! 2000), with the ratio
//! onnxruntime-web / ours (above 1: ours is faster). Then the agreement on seed 42 (64 images):
//! ours against onnxruntime-web running the page's int8 weights (the largest difference, of
//! 255), and against the shipped f32 model (the cost of int8).
//!
//! `GAN_BENCH_MODEL=id[,id]` benches only those models. Conditional models run every image as
//! class 0 on both sides.

#[path = "../browser/mod.rs"]
mod browser;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use browser::{require_wasm_package, Browser, StaticServer};
use gan_tests::repo_root;
use serde_json::{json, Value};

const BATCHES: [u32; 2] = [1, 64];

/// The class conditional models generate in the benchmark (both sides).
const LABEL: u64 = 0;

/// One side's figures for one model.
struct Side {
    download_gzip: u64,
    first_image_ms: f64,
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

/// The wasm page on model `info`: its figures and page timings.
fn wasm_side(server: &StaticServer, web: &Path, info: &Value, min_ms: u64) -> (Side, Value) {
    let id = info["id"].as_str().expect("model id");
    let b = Browser::start(1000, 800);
    b.script_timeout(Duration::from_secs(600));
    b.goto(&server.url(&format!("web/index.html?bench&model={id}")));
    wait_state(&b, "the wasm page");
    let timings = b.exec("return window.ganPage.timings;", json!([]));
    // `undefined` (JSON null) for unconditional models.
    let label = (number(info, "num_classes") > 0.0).then_some(LABEL);
    let mut ms = Vec::new();
    for batch in BATCHES {
        let v = b.exec_async(
            "const [batch, minMs, label, done] = arguments;
             const g = window.ganPage.generator;
             const l = label === null ? undefined : label;
             const w = performance.now();
             while (performance.now() - w < minMs / 4) g.generate(1, 0, batch, l);
             let n = 0;
             const t = performance.now();
             while (performance.now() - t < minMs || n < 3) { g.generate(1 + n, 0, batch, l); n++; }
             done((performance.now() - t) / (n * batch));",
            json!([batch, min_ms, label]),
        );
        ms.push(v.as_f64().expect("ms per image"));
    }
    let pkg = web.join("pkg");
    let weights = pkg.join(info["weights_file"].as_str().expect("weights_file"));
    let side = Side {
        download_gzip: gzip_size(&pkg.join("gan_wasm_bg.wasm")) + gzip_size(&weights),
        first_image_ms: number(&timings, "first_image_ms"),
        ms_per_image: ms,
    };
    (side, timings)
}

/// onnxruntime-web on the shipped model: its figures and the agreement check's result.
fn ort_side(
    server: &StaticServer,
    ort_dist: &Path,
    model_file: &Path,
    info: &Value,
    min_ms: u64,
) -> (Side, Value) {
    let id = info["id"].as_str().expect("model id");
    let dim = number(info, "latent_dim") as u64;
    let b = Browser::start(1000, 800);
    b.script_timeout(Duration::from_secs(600));
    b.goto(&server.url(&format!(
        "web/bench/ort.html?model={id}.onnx&dim={dim}&label={LABEL}"
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
    assert!(
        agree.is_object(),
        "onnxruntime-web agreement check failed: {agree}"
    );
    let wasm = ort_dist.join("ort-wasm-simd-threaded.wasm");
    let side = Side {
        download_gzip: gzip_size(&wasm) + gzip_size(model_file),
        first_image_ms: number(&timings, "first_image_ms"),
        ms_per_image: ms,
    };
    (side, agree)
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
    let only: Vec<String> = std::env::var("GAN_BENCH_MODEL")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    // The repository root: the ORT page fetches models/<id>.onnx and target/web-reference/.
    let server = StaticServer::start(&root);
    let ort_dist = web
        .join("bench")
        .join("node_modules")
        .join("onnxruntime-web")
        .join("dist");
    let have_ort = ort_dist.is_dir();
    if !have_ort {
        println!(
            "onnxruntime-web columns left out: {} missing (npm install --prefix web/bench)",
            ort_dist.display()
        );
    }

    // The page's models, from the module itself.
    let probe = Browser::start(800, 600);
    probe.goto(&server.url("web/index.html?bench"));
    wait_state(&probe, "the wasm page");
    let models = probe.exec("return window.ganPage.models;", json!([]));
    drop(probe);
    let models: Vec<Value> = models
        .as_array()
        .expect("ganPage.models")
        .iter()
        .filter(|m| only.is_empty() || only.iter().any(|o| m["id"] == **o))
        .cloned()
        .collect();
    assert!(
        !models.is_empty(),
        "GAN_BENCH_MODEL={only:?}: no such model on the page"
    );

    let mut rows = Vec::new();
    for info in &models {
        let id = info["id"].as_str().expect("model id").to_string();
        let (mine, timings) = wasm_side(&server, &web, info, min_ms);
        println!("{id}: gan-wasm page timings {timings}");
        let model_file = root.join("models").join(format!("{id}.onnx"));
        let theirs = have_ort.then(|| ort_side(&server, &ort_dist, &model_file, info, min_ms));
        rows.push((id, mine, theirs));
    }

    let kib = |b: u64| format!("{:.0}", b as f64 / 1024.0);
    println!();
    println!(
        "Headless Chromium, one thread each. Download: KiB gzip -9 (gan-wasm: the shared module \
         + the model's int8 weights; onnxruntime-web: its wasm + the f32 model). ms per image; \
         ratio = onnxruntime-web / gan-wasm (above 1: gan-wasm is faster)."
    );
    println!();
    println!(
        "| model | download, gan-wasm / ORT | first image, gan-wasm / ORT | batch 1, gan-wasm / ORT | ratio | batch 64, gan-wasm / ORT | ratio | max diff vs ORT int8 / f32 | mean diff vs f32 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (id, mine, theirs) in &rows {
        let Some((o, agree)) = theirs else {
            println!(
                "| {id} | {} / - | {:.0} ms / - | {:.3} / - | - | {:.3} / - | - | - | - |",
                kib(mine.download_gzip),
                mine.first_image_ms,
                mine.ms_per_image[0],
                mine.ms_per_image[1]
            );
            continue;
        };
        println!(
            "| {id} | {} / {} | {:.0} / {:.0} ms | {:.3} / {:.3} | {:.2}x | {:.3} / {:.3} | {:.2}x | {} / {} | {:.3} |",
            kib(mine.download_gzip),
            kib(o.download_gzip),
            mine.first_image_ms,
            o.first_image_ms,
            mine.ms_per_image[0],
            o.ms_per_image[0],
            o.ms_per_image[0] / mine.ms_per_image[0],
            mine.ms_per_image[1],
            o.ms_per_image[1],
            o.ms_per_image[1] / mine.ms_per_image[1],
            agree["reference"]["max"],
            agree["shipped"]["max"],
            agree["shipped"]["mean"].as_f64().unwrap_or(f64::NAN),
        );
    }
}
