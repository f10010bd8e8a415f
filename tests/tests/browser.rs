//! The web page in a real browser (headless Debian Chromium over WebDriver), against the
//! native runtime (ONNX Runtime) on the same model:
//! - seed 42's grid on the page's canvas equals ONNX Runtime's images within 1/255 per value;
//! - the interpolation's ends are the two seeds' samples;
//! - a bad seed shows an error and keeps the page (no blank page);
//! - the class selector is hidden for unconditional models (and, for conditional ones,
//!   switches the class: the images equal ONNX Runtime's for that class);
//! - once loaded, the page works with the server gone (service worker);
//! - a screenshot goes to `target/browser/screenshot.png`.
//!
//! Needs `web/pkg` (`bash scripts/build-wasm.sh`), `chromium` + `chromium-driver` (apt) and
//! ONNX Runtime (`ORT_DYLIB_PATH`, set by `scripts/env.sh`); fails saying which is missing.
//! `GAN_BROWSER_WEB=DIR GAN_BROWSER_MODEL=FILE.onnx` check a page built from another model
//! (`GAN_WASM_MODEL=FILE.onnx`), e.g. a conditional one.

#[path = "../browser/mod.rs"]
mod browser;

use std::time::Duration;

use base64::Engine as _;
use browser::{require_browser, require_wasm_package, Browser, StaticServer};
use gan_runtime::{Generator, ImageBatch};
use gan_tests::{repo_root, require_ort};
use serde_json::{json, Value};

const SEED: u64 = 42;
const READY: Duration = Duration::from_secs(120);

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

/// Largest per-value difference between the page's images and ONNX Runtime's, with where it
/// is; asserts it is at most 1 (of 255).
fn assert_matches(canvas: &Canvas, native: &ImageBatch, what: &str) {
    assert_eq!(canvas.attr("count"), native.len(), "{what}: image count");
    let mut worst = (0u8, 0usize, 0usize);
    let mut differing = 0usize;
    for i in 0..native.len() {
        let page = canvas.image(i);
        let want = native.to_rgba(i);
        for (k, (a, b)) in page.iter().zip(&want).enumerate() {
            let d = a.abs_diff(*b);
            differing += usize::from(d > 0);
            if d > worst.0 {
                worst = (d, i, k);
            }
        }
    }
    let (d, i, k) = worst;
    println!(
        "{what}: {} images, max difference {d}/255 (image {i}, value {k}), {differing} values differ by 1",
        native.len()
    );
    assert!(
        d <= 1,
        "{what}: the page's image {i} differs from ONNX Runtime's by {d}/255 at value {k} \
         (more than 1/255). Is web/pkg stale? Rebuild it with `bash scripts/build-wasm.sh`."
    );
}

fn wait_ready(browser: &Browser) {
    browser.wait_for(
        "document.body.dataset.state !== 'loading'",
        READY,
        "the page to load the generator",
    );
    let state = browser.exec("return document.body.dataset.state;", json!([]));
    let error = browser.exec(
        "return document.getElementById('error').textContent;",
        json!([]),
    );
    assert_eq!(state, "ready", "the page did not start: {error}");
}

fn error_text(browser: &Browser) -> Option<String> {
    let v = browser.exec(
        "const e = document.getElementById('error'); return e.hidden ? null : e.textContent;",
        json!([]),
    );
    v.as_str().map(str::to_string)
}

#[test]
fn page_makes_the_native_images_in_chromium() {
    let root = repo_root();
    // Overrides, to check a package built from another model (GAN_WASM_MODEL): the page's
    // folder and the model it was built from.
    let env_path = |key: &str, default: std::path::PathBuf| {
        std::env::var_os(key)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
            .unwrap_or(default)
    };
    let web = env_path("GAN_BROWSER_WEB", root.join("web"));
    let model = env_path(
        "GAN_BROWSER_MODEL",
        root.join("models").join("fashion-mlp.onnx"),
    );
    require_wasm_package(&web);
    require_browser();
    require_ort();

    let native = Generator::load(&model).expect("load the shipped model with ONNX Runtime");
    let contract = native.contract().clone();

    let mut server = StaticServer::start(&web);
    let browser = Browser::start(1200, 1100);
    browser.script_timeout(Duration::from_secs(60));
    browser.goto(&server.url(&format!("index.html#seed={SEED}")));
    wait_ready(&browser);

    // The page's model is the shipped one.
    let info: Value = serde_json::from_str(
        browser
            .exec("return JSON.stringify(window.ganPage.info);", json!([]))
            .as_str()
            .expect("model info"),
    )
    .expect("model_info() is JSON");
    println!("model_info() = {info}");
    let file_name = model.file_name().unwrap_or_default().to_string_lossy();
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
            "model_info().{key} differs from {}: web/pkg is stale? ({info})",
            model.display()
        );
    }

    // Seed 42's grid equals ONNX Runtime's images.
    let grid = Canvas::read(&browser, "grid");
    assert_eq!(grid.dataset["seed"], SEED.to_string(), "{}", grid.dataset);
    let count = grid.attr("count");
    // ONNX Runtime's images of the grid's seed, count and (conditional models) class.
    let native_grid = |g: &Generator, grid: &Canvas| {
        if g.contract().is_conditional() {
            let label = grid.attr("label") as i64;
            g.generate_labeled(SEED, 0, &vec![label; count])
        } else {
            g.generate(SEED, 0, count)
        }
        .expect("ONNX Runtime generates")
    };
    assert_matches(&grid, &native_grid(&native, &grid), "seed 42 grid");
    let timing = browser.exec(
        "return document.getElementById('timing').textContent;",
        json!([]),
    );
    println!("page timing: {}", timing.as_str().unwrap_or(""));
    assert!(
        timing.as_str().unwrap_or("").contains("ms per image"),
        "{timing}"
    );

    let shot = browser.save_screenshot(&root.join("target").join("browser").join("screenshot.png"));
    println!("screenshot: {}", shot.display());

    // Interpolation: t = 0 is seed A's sample, t = 1 seed B's (page defaults: 42 -> 7, sample 0).
    for (t, seed) in [(0, 42u64), (1000, 7)] {
        browser.exec(
            "const s = document.getElementById('t'); s.value = arguments[0];
             s.dispatchEvent(new Event('input'));",
            json!([t.to_string()]),
        );
        let frame = Canvas::read(&browser, "interp");
        let img = frame.rgba.clone();
        let want = if contract.is_conditional() {
            native.generate_labeled(seed, 0, &[grid.attr("label") as i64])
        } else {
            native.generate(seed, 0, 1)
        }
        .expect("ONNX Runtime generates");
        let d = img
            .iter()
            .zip(want.to_rgba(0))
            .map(|(a, b)| a.abs_diff(b))
            .max()
            .unwrap_or(0);
        println!(
            "interpolation t = {}: max difference {d}/255 from seed {seed}",
            t / 1000
        );
        assert!(
            d <= 1,
            "interpolation at t = {t}/1000 is not seed {seed}'s sample ({d}/255)"
        );
    }

    // Class selector: only for conditional models; it switches the class.
    let hidden = browser.exec(
        "return document.getElementById('class-field').hidden;",
        json!([]),
    );
    if contract.is_conditional() {
        assert_eq!(
            hidden, false,
            "class selector hidden for a conditional model"
        );
        browser.exec(
            "const s = document.getElementById('class'); s.value = '1';
             s.dispatchEvent(new Event('change'));",
            json!([]),
        );
        let class1 = Canvas::read(&browser, "grid");
        assert_eq!(class1.attr("label"), 1);
        assert_ne!(
            class1.rgba, grid.rgba,
            "class 1 drew the same images as class 0"
        );
        let want = native
            .generate_labeled(SEED, 0, &vec![1; count])
            .expect("ONNX Runtime generates class 1");
        assert_matches(&class1, &want, "seed 42, class 1");
        // Back to the first class, the grid the checks below compare with.
        browser.exec(
            "const s = document.getElementById('class'); s.value = '0';
             s.dispatchEvent(new Event('change'));",
            json!([]),
        );
    } else {
        assert_eq!(
            hidden, true,
            "class selector shown for an unconditional model"
        );
        println!("class selector: hidden (the model is unconditional)");
    }

    // Truncation: the slider at 0.70 draws the native runtime's truncated samples (the same
    // rule on the same latent stream), grid and interpolation alike; its right end is "off".
    let psi = 0.7;
    let truncated_native = Generator::builder(&model)
        .truncation(gan_runtime::Truncation::new(psi).expect("valid psi"))
        .load()
        .expect("load the model with truncation");
    let set_truncation = |value: &str| {
        browser.exec(
            "const s = document.getElementById('truncation'); s.value = arguments[0];
             s.dispatchEvent(new Event('input'));",
            json!([value]),
        );
    };
    set_truncation("70");
    let truncated = Canvas::read(&browser, "grid");
    assert_eq!(
        truncated.dataset["truncation"], "0.7",
        "{}",
        truncated.dataset
    );
    assert_ne!(
        truncated.rgba, grid.rgba,
        "truncation 0.7 drew the same images"
    );
    let want = native_grid(&truncated_native, &grid);
    assert_matches(&truncated, &want, "seed 42, truncation 0.7");
    set_truncation("205");
    let off = Canvas::read(&browser, "grid");
    assert_eq!(off.dataset["truncation"], "", "{}", off.dataset);
    assert_eq!(
        off.rgba, grid.rgba,
        "truncation off did not restore the images"
    );
    println!("truncation 0.7: the native runtime's truncated samples");

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
    browser.save_screenshot(&root.join("target").join("browser").join("bad-seed.png"));

    // Offline: once the service worker has cached the page, it loads without the server.
    let cached = browser.exec_async(
        "const done = arguments[arguments.length - 1];
         navigator.serviceWorker.ready
           .then(() => caches.open('gan-web-v1'))
           .then((c) => c.match('pkg/gan_wasm_bg.wasm'))
           .then((r) => done(!!r), (e) => done(String(e)));",
        json!([]),
    );
    assert_eq!(
        cached, true,
        "the service worker did not cache the module: {cached}"
    );
    let url = server.url(&format!("index.html#seed={SEED}"));
    server.stop();
    browser.goto("about:blank");
    browser.goto(&url);
    wait_ready(&browser);
    let offline = Canvas::read(&browser, "grid");
    assert_eq!(offline.rgba, grid.rgba, "offline page made other images");
    println!("offline reload: same images");
}
