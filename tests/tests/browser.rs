//! The web page in a real browser (headless Debian Chromium over WebDriver), against ONNX
//! Runtime on the same models. For every model the page offers (picked with the model picker):
//! - seed 42's grid on the canvas equals ONNX Runtime's images within 1/255 per value, run on
//!   the model with the page's int8 weights (`target/web-reference/<id>.onnx`); the difference
//!   from the shipped f32 model is printed (the cost of int8);
//! - conditional models: the class selector switches the class, and "one row per class" draws
//!   row `c` as ONNX Runtime's class `c`;
//! - the truncation slider at 0.7 draws the native runtime's truncated samples;
//! - the interpolation's ends are the two seeds' samples;
//! - a screenshot per model goes to `target/browser/<id>.png`.
//!
//! And: a bad seed shows an error and keeps the images; a damaged or missing weights file and
//! an unknown model show clear errors and keep the current model; once loaded, the page and
//! its models work with the server gone (service worker).
//!
//! Needs `web/pkg` and `target/web-reference` (`bash scripts/build-wasm.sh`), `chromium` +
//! `chromium-driver` (apt) and ONNX Runtime (`ORT_DYLIB_PATH`, set by `scripts/env.sh`); fails
//! saying which is missing.

#[path = "../browser/mod.rs"]
mod browser;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use browser::{reference_model, require_browser, require_wasm_package, Browser, StaticServer};
use gan_runtime::{Generator, ImageBatch, Truncation};
use gan_tests::{repo_root, require_ort};
use serde_json::{json, Value};

const SEED: u64 = 42;
const READY: Duration = Duration::from_secs(120);
/// The models the page must offer: every generator shipped in `models/` except the
/// quantized variants of `fashion-mlp` (`*.int8.onnx`, `*.qdq.onnx`), in the picker's order.
const SHIPPED: [&str; 4] = [
    "fashion-mlp",
    "mnist-cdcgan",
    "fashion-cdcgan",
    "emoji-cdcgan",
];

/// A canvas read back from the page: RGBA pixels and its data-* attributes.
struct Canvas {
    width: usize,
    rgba: Vec<u8>,
    dataset: Value,
}

impl Canvas {
    fn read(browser: &Browser, id: &str) -> Canvas {
        let v = browser.exec(
            r#"const c = document.getElementById(arguments[0]);
               const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
               let s = '';
               for (let i = 0; i < d.length; i += 8192) {
                 s += String.fromCharCode.apply(null, d.subarray(i, i + 8192));
               }
               return { width: c.width, height: c.height, data: btoa(s),
                        dataset: Object.assign({}, c.dataset) };"#,
            json!([id]),
        );
        let rgba = base64::engine::general_purpose::STANDARD
            .decode(v["data"].as_str().expect("canvas data"))
            .expect("canvas base64");
        let width = v["width"].as_u64().expect("width") as usize;
        let height = v["height"].as_u64().expect("height") as usize;
        assert_eq!(rgba.len(), width * height * 4, "canvas {id} size");
        Canvas {
            width,
            rgba,
            dataset: v["dataset"].clone(),
        }
    }

    fn attr(&self, key: &str) -> usize {
        self.dataset[key]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("canvas data-{key} missing: {}", self.dataset))
    }

    /// Image `i` of the grid (RGBA, row-major), cut out of the canvas.
    fn image(&self, i: usize) -> Vec<u8> {
        let (cols, pad) = (self.attr("cols"), self.attr("pad"));
        let (w, h) = (self.attr("width"), self.attr("height"));
        let x0 = pad + (i % cols) * (w + pad);
        let y0 = pad + (i / cols) * (h + pad);
        let mut out = Vec::with_capacity(w * h * 4);
        for y in y0..y0 + h {
            let row = (y * self.width + x0) * 4;
            out.extend_from_slice(&self.rgba[row..row + w * 4]);
        }
        out
    }
}

/// Largest and mean per-value difference (of 255, the mean over R, G and B) between the
/// page's images `first..` and `native`'s, and where the largest is (image, value).
fn difference(canvas: &Canvas, first: usize, native: &ImageBatch) -> (u8, f64, usize, usize) {
    let (mut worst, mut at, mut sum, mut n) = (0u8, (0, 0), 0u64, 0u64);
    for i in 0..native.len() {
        for (k, (a, b)) in canvas
            .image(first + i)
            .iter()
            .zip(&native.to_rgba(i))
            .enumerate()
        {
            let d = a.abs_diff(*b);
            if d > worst {
                (worst, at) = (d, (i, k));
            }
            // The mean is over colour values: alpha is always 255 on both sides.
            if k % 4 != 3 {
                sum += u64::from(d);
                n += 1;
            }
        }
    }
    (worst, sum as f64 / n.max(1) as f64, at.0, at.1)
}

/// Asserts the page's images `first..` equal ONNX Runtime's within 1/255.
fn assert_matches_from(canvas: &Canvas, first: usize, native: &ImageBatch, what: &str) {
    let (d, mean, i, k) = difference(canvas, first, native);
    println!(
        "{what}: {} images, max difference {d}/255 (image {i}, value {k}), mean {mean:.4}/255",
        native.len()
    );
    assert!(
        d <= 1,
        "{what}: the page's image {i} differs from ONNX Runtime's by {d}/255 at value {k} \
         (more than 1/255). Is web/pkg stale? Rebuild it with `bash scripts/build-wasm.sh`."
    );
}

/// Asserts the whole grid equals ONNX Runtime's images within 1/255.
fn assert_matches(canvas: &Canvas, native: &ImageBatch, what: &str) {
    assert_eq!(canvas.attr("count"), native.len(), "{what}: image count");
    assert_matches_from(canvas, 0, native, what);
}

/// Waits until the page is not loading, then asserts it is ready showing `model`.
fn wait_ready(browser: &Browser, model: &str) {
    browser.wait_for(
        "document.body.dataset.state !== 'loading'",
        READY,
        "the page to load the generator",
    );
    let state = browser.exec("return document.body.dataset.state;", json!([]));
    let error = error_text(browser).unwrap_or_default();
    assert_eq!(state, "ready", "the page did not start: {error}");
    let shown = browser.exec("return document.body.dataset.model;", json!([]));
    assert_eq!(shown, model, "the page shows another model ({error})");
}

fn error_text(browser: &Browser) -> Option<String> {
    let v = browser.exec(
        "const e = document.getElementById('error'); return e.hidden ? null : e.textContent;",
        json!([]),
    );
    v.as_str().map(str::to_string)
}

/// Picks `id` in the model picker, as a person would.
fn pick(browser: &Browser, id: &str) {
    browser.exec(
        "const s = document.getElementById('model-select'); s.value = arguments[0];
         s.dispatchEvent(new Event('change'));",
        json!([id]),
    );
}

/// Sets an input's value and fires its `input` or `change` event.
fn set(browser: &Browser, id: &str, value: Value, event: &str) {
    browser.exec(
        "const [id, value, event] = arguments; const e = document.getElementById(id);
         if (typeof value === 'boolean') e.checked = value; else e.value = value;
         e.dispatchEvent(new Event(event));",
        json!([id, value, event]),
    );
}

/// ONNX Runtime's samples `0..count` of `seed`, of class `label` for conditional models.
fn native_samples(g: &Generator, seed: u64, count: usize, label: Option<usize>) -> ImageBatch {
    match label {
        Some(l) => g.generate_labeled(seed, 0, &vec![l as i64; count]),
        None => g.generate(seed, 0, count),
    }
    .expect("ONNX Runtime generates")
}

/// The int8 weights' cost on seed 42's grid, per model: (id, max, mean difference from the
/// shipped f32 model in ONNX Runtime).
type Int8Cost = (String, u8, f64);

/// Checks model `id` on the page (already picked and ready) against ONNX Runtime.
fn check_model(browser: &Browser, id: &str, shots: &Path) -> Int8Cost {
    let shipped = repo_root().join("models").join(format!("{id}.onnx"));
    let reference = reference_model(id);
    let native = Generator::load(&reference).expect("load the page's model in ONNX Runtime");
    let f32_native = Generator::load(&shipped).expect("load the shipped model in ONNX Runtime");
    let contract = native.contract().clone();

    let info: Value = browser.exec("return window.ganPage.info;", json!([]));
    let file_name = shipped.file_name().unwrap_or_default().to_string_lossy();
    assert_eq!(info["model_file"], *file_name, "{info}");
    for (key, want) in [
        ("latent_dim", contract.latent_dim as u64),
        ("height", contract.height as u64),
        ("width", contract.width as u64),
        ("channels", contract.channels as u64),
        ("num_classes", contract.num_classes as u64),
        ("steps", contract.train_steps),
    ] {
        assert_eq!(
            info[key].as_u64(),
            Some(want),
            "{id}: info.{key} differs from {}: web/pkg is stale? ({info})",
            shipped.display()
        );
    }
    assert_eq!(info["weights"], "int8", "{info}");

    // Seed 42's grid equals ONNX Runtime's images (of the selected class).
    let grid = Canvas::read(browser, "grid");
    assert_eq!(grid.dataset["model"], id, "{}", grid.dataset);
    assert_eq!(grid.dataset["seed"], SEED.to_string(), "{}", grid.dataset);
    let count = grid.attr("count");
    let label = contract.is_conditional().then(|| grid.attr("label"));
    assert_matches(
        &grid,
        &native_samples(&native, SEED, count, label),
        &format!("{id}: seed 42 grid"),
    );
    let (max_f32, mean_f32, _, _) =
        difference(&grid, 0, &native_samples(&f32_native, SEED, count, label));
    println!(
        "{id}: int8 weights vs the shipped f32 model: max {max_f32}/255, mean {mean_f32:.3}/255"
    );
    let timing = browser.exec(
        "return document.getElementById('timing').textContent;",
        json!([]),
    );
    assert!(
        timing.as_str().unwrap_or("").contains("ms per image"),
        "{timing}"
    );

    // Interpolation: t = 0 is seed A's sample, t = 1 seed B's (page defaults: 42 -> 7, sample 0).
    for (t, seed) in [(0, 42u64), (1000, 7)] {
        set(browser, "t", json!(t.to_string()), "input");
        let frame = Canvas::read(browser, "interp");
        let want = native_samples(&native, seed, 1, label);
        let d = frame
            .rgba
            .iter()
            .zip(want.to_rgba(0))
            .map(|(a, b)| a.abs_diff(b))
            .max()
            .unwrap_or(0);
        assert!(
            d <= 1,
            "{id}: interpolation at t = {t}/1000 is not seed {seed}'s sample ({d}/255)"
        );
    }
    set(browser, "t", json!("0"), "input");

    // Class controls: only for conditional models.
    let hidden = browser.exec(
        "return [document.getElementById('class-field').hidden,
                 document.getElementById('per-class-field').hidden];",
        json!([]),
    );
    let conditional = contract.is_conditional();
    assert_eq!(
        hidden,
        json!([!conditional, !conditional]),
        "{id}: class controls"
    );
    if conditional {
        let n = contract.num_classes;
        let options = browser.exec(
            "return Array.from(document.getElementById('class').options, (o) => o.text);",
            json!([]),
        );
        assert_eq!(
            options.as_array().map(Vec::len),
            Some(n),
            "{id}: class options {options}"
        );
        if !contract.class_names.is_empty() {
            assert_eq!(options, json!(contract.class_names), "{id}: class names");
        }
        set(browser, "class", json!("1"), "change");
        let class1 = Canvas::read(browser, "grid");
        assert_eq!(class1.attr("label"), 1);
        assert_ne!(
            class1.rgba, grid.rgba,
            "{id}: class 1 drew class 0's images"
        );
        assert_matches(
            &class1,
            &native_samples(&native, SEED, count, Some(1)),
            &format!("{id}: seed 42, class 1"),
        );
        set(browser, "class", json!("0"), "change");

        // One row per class: row c is samples 0.. of the seed, class c.
        set(browser, "per-class", json!(true), "change");
        let rows = Canvas::read(browser, "grid");
        assert_eq!(rows.dataset["layout"], "per-class", "{}", rows.dataset);
        let cols = rows.attr("cols");
        assert_eq!(rows.attr("count"), n * cols, "{}", rows.dataset);
        for c in 0..n {
            assert_matches_from(
                &rows,
                c * cols,
                &native_samples(&native, SEED, cols, Some(c)),
                &format!("{id}: one row per class, row {c}"),
            );
        }
        let legend = browser.exec(
            "const l = document.getElementById('rows-legend'); return l.hidden ? null : l.textContent;",
            json!([]),
        );
        let legend = legend.as_str().unwrap_or_default();
        assert!(
            contract
                .class_names
                .iter()
                .all(|c| legend.contains(c.as_str())),
            "{id}: the rows' legend {legend:?} misses class names"
        );
        let shot = browser.save_screenshot(&shots.join(format!("{id}-per-class.png")));
        println!("{id}: screenshot {}", shot.display());
        set(browser, "per-class", json!(false), "change");
    } else {
        let shot = browser.save_screenshot(&shots.join(format!("{id}.png")));
        println!("{id}: screenshot {}", shot.display());
    }

    // Truncation: the slider at 0.70 draws the native runtime's truncated samples; its right
    // end is "off".
    let truncated_native = Generator::builder(&reference)
        .truncation(Truncation::new(0.7).expect("valid psi"))
        .load()
        .expect("load the model with truncation");
    set(browser, "truncation", json!("70"), "input");
    let truncated = Canvas::read(browser, "grid");
    assert_eq!(
        truncated.dataset["truncation"], "0.7",
        "{}",
        truncated.dataset
    );
    assert_ne!(
        truncated.rgba, grid.rgba,
        "{id}: truncation 0.7 drew the same images"
    );
    assert_matches(
        &truncated,
        &native_samples(&truncated_native, SEED, count, label),
        &format!("{id}: seed 42, truncation 0.7"),
    );
    set(browser, "truncation", json!("205"), "input");
    let off = Canvas::read(browser, "grid");
    assert_eq!(off.dataset["truncation"], "", "{}", off.dataset);
    assert_eq!(
        off.rgba, grid.rgba,
        "{id}: truncation off did not restore the images"
    );
    (id.to_string(), max_f32, mean_f32)
}

/// Every model the page offers makes ONNX Runtime's images; bad seeds are refused; the page
/// and the models it loaded work offline.
#[test]
fn every_model_on_the_page_makes_the_native_images() {
    let root = repo_root();
    let web = root.join("web");
    require_wasm_package(&web);
    require_browser();
    require_ort();
    let shots = root.join("target").join("browser");

    let mut server = StaticServer::start(&web);
    let browser = Browser::start(1200, 1300);
    browser.script_timeout(Duration::from_secs(60));
    browser.goto(&server.url(&format!("index.html#seed={SEED}")));
    wait_ready(&browser, SHIPPED[0]);

    // The picker offers every shipped generator, each built from its file in models/.
    let ids = browser.exec(
        "return Array.from(document.getElementById('model-select').options, (o) => o.value);",
        json!([]),
    );
    assert_eq!(ids, json!(SHIPPED), "the model picker");
    let shipped_files: Vec<String> = std::fs::read_dir(root.join("models"))
        .expect("models/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".onnx") && !n.ends_with(".int8.onnx") && !n.ends_with(".qdq.onnx"))
        .collect();
    for f in &shipped_files {
        let id = f.trim_end_matches(".onnx");
        assert!(SHIPPED.contains(&id), "models/{f} is not on the page");
    }

    let mut costs = Vec::new();
    for (i, id) in SHIPPED.iter().enumerate() {
        if i > 0 {
            pick(&browser, id);
            wait_ready(&browser, id);
        }
        let hash = browser.exec("return location.hash;", json!([]));
        assert_eq!(
            hash,
            format!("#model={id}&seed={SEED}"),
            "the URL names the model"
        );
        costs.push(check_model(&browser, id, &shots));
    }
    println!("\nint8 weights vs the shipped f32 models (ONNX Runtime), seed 42's grid:");
    for (id, max, mean) in &costs {
        println!("  {id:<16} max {max:>3}/255  mean {mean:.3}/255");
        // int8 per channel moves pixels a little, not the picture: a mean of a few levels.
        assert!(
            *mean < 4.0,
            "{id}: int8 weights move pixels by {mean:.2}/255 on average"
        );
    }

    // Switching back to a model already loaded is immediate and draws its images again.
    pick(&browser, SHIPPED[0]);
    wait_ready(&browser, SHIPPED[0]);
    let mlp_native = Generator::load(reference_model(SHIPPED[0])).expect("ONNX Runtime");
    let grid = Canvas::read(&browser, "grid");
    assert_matches(
        &grid,
        &native_samples(&mlp_native, SEED, grid.attr("count"), None),
        "back to the first model",
    );

    // A bad seed shows an error and leaves the page and its images in place.
    for bad in ["abc", "-3", "1.5", "9007199254740992"] {
        browser.exec(
            "document.getElementById('seed').value = arguments[0];
             document.getElementById('generate').click();",
            json!([bad]),
        );
        let err = error_text(&browser)
            .unwrap_or_else(|| panic!("seed {bad:?}: no error shown on the page"));
        assert!(
            err.contains("seed must be an integer 0..2^53"),
            "seed {bad:?}: error says {err:?}"
        );
        let after = Canvas::read(&browser, "grid");
        assert_eq!(after.rgba, grid.rgba, "seed {bad:?}: the images changed");
    }
    println!("bad seed: {:?}", error_text(&browser).unwrap_or_default());
    browser.save_screenshot(&shots.join("bad-seed.png"));
    browser.exec(
        "document.getElementById('seed').value = arguments[0];",
        json!([SEED.to_string()]),
    );

    // Offline: once the service worker has cached the page and the models shown, they load
    // without the server.
    let wanted: Vec<String> = SHIPPED
        .iter()
        .map(|id| format!("pkg/models/{id}.bpk"))
        .collect();
    let mut urls = wanted.clone();
    urls.push("pkg/gan_wasm_bg.wasm".into());
    let cached = browser.exec_async(
        "const [urls, done] = arguments;
         const check = () => navigator.serviceWorker.ready
           .then(() => caches.open('gan-web-v2'))
           .then((c) => Promise.all(urls.map((u) => c.match(u))))
           .then((hits) => hits.every((h) => !!h) ? done(true) : setTimeout(check, 100),
                 (e) => done(String(e)));
         check();
         setTimeout(() => done('not all cached after 50 s'), 50000);",
        json!([urls]),
    );
    assert_eq!(
        cached, true,
        "the service worker did not cache the module and the models shown: {cached}"
    );
    let last = SHIPPED[SHIPPED.len() - 1];
    let url = server.url(&format!("index.html#model={last}&seed={SEED}"));
    server.stop();
    browser.goto("about:blank");
    browser.goto(&url);
    wait_ready(&browser, last);
    let offline = Canvas::read(&browser, "grid");
    let native = Generator::load(reference_model(last)).expect("ONNX Runtime");
    assert_matches(
        &offline,
        &native_samples(&native, SEED, offline.attr("count"), Some(0)),
        "offline reload",
    );
}

/// A copy of `web/` in a temporary folder, to damage.
fn web_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let web = dir.path().join("web");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(repo_root().join("web"))
        .arg(&web)
        .status()
        .expect("run cp");
    assert!(status.success(), "copy web/");
    // The service worker's cache would hide the damage; the copy has none registered, and
    // each test browser starts with a fresh profile.
    (dir, web)
}

/// A damaged or missing weights file, and an unknown model in the URL, show clear errors and
/// leave the current model working.
#[test]
fn bad_weights_files_and_unknown_models_show_clear_errors() {
    let root = repo_root();
    require_wasm_package(&root.join("web"));
    require_browser();
    let (_dir, web) = web_copy();
    let models = web.join("pkg").join("models");
    // One flipped byte in the middle of mnist-cdcgan's weights; emoji-cdcgan's file is gone.
    let damaged = models.join("mnist-cdcgan.bpk");
    let mut bytes = std::fs::read(&damaged).expect("read weights");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&damaged, bytes).expect("write damaged weights");
    std::fs::remove_file(models.join("emoji-cdcgan.bpk")).expect("remove weights");

    let server = StaticServer::start(&web);
    let browser = Browser::start(1200, 1100);
    browser.script_timeout(Duration::from_secs(60));
    browser.goto(&server.url("index.html#model=no-such-model&seed=3"));
    wait_ready(&browser, SHIPPED[0]);
    let err = error_text(&browser).expect("an error for the unknown model");
    assert!(
        err.contains("no model \"no-such-model\"") && err.contains(SHIPPED[0]),
        "unknown model: {err:?}"
    );
    let before = Canvas::read(&browser, "grid");

    for (id, says) in [
        (
            "mnist-cdcgan",
            "mnist-cdcgan.bpk is not the weights file of this build",
        ),
        (
            "emoji-cdcgan",
            "could not download pkg/models/emoji-cdcgan.bpk (HTTP 404",
        ),
    ] {
        pick(&browser, id);
        browser.wait_for(
            "document.body.dataset.state !== 'loading'",
            READY,
            "the page to try the model",
        );
        let err = error_text(&browser).unwrap_or_else(|| panic!("{id}: no error shown"));
        println!("{id}: {err}");
        assert!(
            err.contains(&format!("The model {id} could not be loaded")) && err.contains(says),
            "{id}: error says {err:?}"
        );
        // The page keeps the model it had, and its images.
        let state = browser.exec(
            "return [document.body.dataset.state, document.body.dataset.model,
                     document.getElementById('model-select').value];",
            json!([]),
        );
        assert_eq!(state, json!(["ready", SHIPPED[0], SHIPPED[0]]), "{id}");
        let after = Canvas::read(&browser, "grid");
        assert_eq!(after.rgba, before.rgba, "{id}: the images changed");
        browser.save_screenshot(
            &root
                .join("target")
                .join("browser")
                .join(format!("bad-{id}.png")),
        );
    }
}

/// Hands `path` to the page's "Open your own" file input, as a person picking it would, and
/// waits for the page to try it.
fn open_file(browser: &Browser, path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    browser.exec(
        "const [name, data] = arguments;
         const raw = atob(data);
         const bytes = new Uint8Array(raw.length);
         for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
         const dt = new DataTransfer();
         dt.items.add(new File([bytes], name));
         const input = document.getElementById('open-model');
         input.files = dt.files;
         input.dispatchEvent(new Event('change'));",
        json!([
            name,
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ]),
    );
    browser.wait_for(
        "document.body.dataset.state !== 'loading' && document.getElementById('open-model').value === ''",
        READY,
        "the page to open the file",
    );
}

/// "Open your own": generators exported by the trainer (MLP and DCGAN, conditional or not) run
/// in the page from the file and make ONNX Runtime's images; other files get a clear error and
/// the page keeps its model.
#[test]
fn opened_trainer_exports_run_in_the_page() {
    let root = repo_root();
    require_wasm_package(&root.join("web"));
    require_browser();
    require_ort();
    let dir = tempfile::tempdir().expect("temporary folder");
    let dcgan = dir.path().join("my-dcgan.onnx");
    gan_tests::untrained_generator(&dcgan, gan_trainer::model::Arch::Dcgan, 0);
    let files: Vec<PathBuf> = vec![
        dcgan,
        root.join("models").join("fashion-cdcgan.onnx"),
        root.join("models").join("fashion-mlp.onnx"),
    ];

    let server = StaticServer::start(&root.join("web"));
    let browser = Browser::start(1200, 1100);
    browser.script_timeout(Duration::from_secs(120));
    browser.goto(&server.url(&format!("index.html#seed={SEED}")));
    wait_ready(&browser, SHIPPED[0]);

    for file in &files {
        open_file(&browser, file);
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        assert_eq!(error_text(&browser), None, "{name}");
        wait_ready(&browser, "file");
        let option = browser.exec(
            "const s = document.getElementById('model-select');
             return s.options[s.selectedIndex].text;",
            json!([]),
        );
        assert_eq!(option, format!("{name} (opened file)"));
        let native = Generator::load(file).expect("ONNX Runtime loads the file");
        let grid = Canvas::read(&browser, "grid");
        assert_eq!(grid.dataset["model"], "file", "{}", grid.dataset);
        let label = native
            .contract()
            .is_conditional()
            .then(|| grid.attr("label"));
        assert_matches(
            &grid,
            &native_samples(&native, SEED, grid.attr("count"), label),
            &format!("opened {name}: seed 42 grid"),
        );
        let hash = browser.exec("return location.hash;", json!([]));
        assert_eq!(
            hash,
            format!("#seed={SEED}"),
            "an opened file is not in the URL"
        );
    }
    browser.save_screenshot(&root.join("target").join("browser").join("opened-file.png"));

    // Not trainer exports: the page says what is wrong and keeps the opened MLP.
    let before = Canvas::read(&browser, "grid");
    let text = dir.path().join("notes.onnx");
    std::fs::write(&text, "a text file with the wrong extension\n").expect("write");
    for (file, says) in [
        (text, "not an ONNX model"),
        (
            root.join("models").join("fashion-mlp.int8.onnx"),
            "a quantized or converted model",
        ),
    ] {
        open_file(&browser, &file);
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        let err = error_text(&browser).unwrap_or_else(|| panic!("{name}: no error shown"));
        println!("{name}: {err}");
        assert!(
            err.starts_with(&format!("The file could not be opened: {name}: "))
                && err.contains(says),
            "{name}: error says {err:?}"
        );
        wait_ready(&browser, "file");
        let after = Canvas::read(&browser, "grid");
        assert_eq!(after.rgba, before.rgba, "{name}: the images changed");
    }
    browser.save_screenshot(&root.join("target").join("browser").join("bad-file.png"));
}
