//! A real browser for the tests and the benchmark of the web page: a localhost static file
//! server, headless Debian Chromium driven by chromedriver over the W3C WebDriver protocol.
//!
//! The protocol is a handful of JSON-over-HTTP calls, so this speaks it over a std
//! `TcpStream` rather than pulling an async HTTP stack into the test build. Everything listens
//! on 127.0.0.1 only and stops when dropped.
//!
//! Included with `#[path]` by `tests/tests/browser.rs` and `tests/benches/browser.rs`.

#![allow(dead_code)] // each includer uses a part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Where Debian's packages put the browser and its driver.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// See [`CHROMIUM`].
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Panics with what to install when Chromium or chromedriver is missing: the browser tests
/// fail rather than skip.
pub fn require_browser() {
    for (path, deb) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            Path::new(path).exists(),
            "{path} not found: the browser tests need Debian's `{deb}` (apt-get install chromium chromium-driver; scripts/setup.sh does it)"
        );
    }
}

/// Panics with how to build it when `web/pkg` (the wasm package) is missing.
pub fn require_wasm_package(web: &Path) {
    let wasm = web.join("pkg").join("gan_wasm_bg.wasm");
    assert!(
        wasm.is_file() && web.join("pkg").join("gan_wasm.js").is_file(),
        "{} not found: build the wasm package with `bash scripts/build-wasm.sh`",
        wasm.display()
    );
}

/// A static file server for one folder on 127.0.0.1 (a free port), serving until dropped.
pub struct StaticServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StaticServer {
    /// Serves `root` (GET only; `..` refused; `/` is `index.html`).
    pub fn start(root: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_path_buf();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = serve_one(stream, &root);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => break,
                }
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// Stops serving (the port then refuses connections).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve_one(stream: TcpStream, root: &Path) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() || rel.ends_with('/') {
        format!("{rel}index.html")
    } else {
        rel.to_string()
    };
    let file = (!rel.split('/').any(|c| c == ".."))
        .then(|| root.join(&rel))
        .filter(|p| p.is_file());
    let mut out = stream;
    match (method, file) {
        ("GET", Some(file)) => {
            let body = std::fs::read(&file)?;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n",
                content_type(&file),
                body.len()
            );
            out.write_all(head.as_bytes())?;
            out.write_all(&body)?;
        }
        _ => {
            let body = b"not found";
            let head = format!(
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            out.write_all(head.as_bytes())?;
            out.write_all(body)?;
        }
    }
    out.flush()
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

/// One HTTP/1.1 exchange with a localhost server: `(status, body)`.
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(300)))
        .expect("read timeout");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).expect("send request");
    // Read the head, then exactly Content-Length bytes (chromedriver may keep the
    // connection open whatever `Connection: close` says), or chunks, or up to EOF.
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("read response head");
        if n == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let mut payload = Vec::new();
    if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        payload.resize(len, 0);
        reader.read_exact(&mut payload).expect("read response body");
    } else if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).expect("read chunk size");
            let size = usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).expect("read chunk");
            if size == 0 {
                break;
            }
            payload.extend_from_slice(&chunk[..size]);
        }
    } else {
        reader
            .read_to_end(&mut payload)
            .expect("read response body");
    }
    (status, String::from_utf8_lossy(&payload).to_string())
}

/// A free localhost port (bound, then released for the child to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A headless Chromium session through chromedriver, in a fresh profile; quits when dropped.
pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a `width x height` window.
    pub fn start(width: u32, height: u32) -> Self {
        require_browser();
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let t0 = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "chromedriver did not listen on {addr} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-extensions".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            }}
        });
        let mut browser = Self {
            driver,
            addr,
            session: String::new(),
            _profile: profile,
        };
        let v = browser.call("POST", "/session", Some(&caps));
        browser.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {v}"))
            .to_string();
        browser
    }

    /// A WebDriver command; returns its `value`, panics with the driver's message on error.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, text) = http(self.addr, method, path, body);
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: bad JSON ({e}): {text}"));
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        assert!(
            status == 200,
            "WebDriver {method} {path} failed ({status}): {}",
            value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or(&text)
        );
        value
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}/{rest}", self.session)
    }

    /// Opens `url` (returns when the document has loaded).
    pub fn goto(&self, url: &str) {
        self.call(
            "POST",
            &self.session_path("url"),
            Some(&json!({ "url": url })),
        );
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub fn exec(&self, script: &str, args: Value) -> Value {
        let body = json!({ "script": script, "args": args });
        self.call("POST", &self.session_path("execute/sync"), Some(&body))
    }

    /// Runs `script` asynchronously: it must call `arguments[arguments.length - 1](result)`.
    pub fn exec_async(&self, script: &str, args: Value) -> Value {
        let body = json!({ "script": script, "args": args });
        self.call("POST", &self.session_path("execute/async"), Some(&body))
    }

    /// Sets the script timeout (for [`exec_async`](Self::exec_async)).
    pub fn script_timeout(&self, timeout: Duration) {
        let body = json!({ "script": timeout.as_millis() as u64 });
        self.call("POST", &self.session_path("timeouts"), Some(&body));
    }

    /// Polls `condition` (a JS expression) until true; panics after `timeout` with `what`.
    pub fn wait_for(&self, condition: &str, timeout: Duration, what: &str) {
        let t0 = Instant::now();
        loop {
            let v = self.exec(&format!("return !!({condition});"), json!([]));
            if v == Value::Bool(true) {
                return;
            }
            if t0.elapsed() > timeout {
                let body = self.exec("return document.body.innerText;", json!([]));
                panic!(
                    "timed out after {timeout:?} waiting for {what}; page text:\n{}",
                    body.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A PNG screenshot of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let v = self.call("GET", &self.session_path("screenshot"), None);
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("screenshot is base64"))
            .expect("screenshot base64")
    }

    /// Saves a screenshot to `path` (folders created).
    pub fn save_screenshot(&self, path: &Path) -> PathBuf {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot folder");
        }
        std::fs::write(path, self.screenshot()).expect("write screenshot");
        path.to_path_buf()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                http(
                    self.addr,
                    "DELETE",
                    &format!("/session/{}", self.session),
                    None,
                )
            }));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The model the page runs for `id` (its int8 weights as f32 values, ONNX), written by
/// `scripts/build-wasm.sh` to `target/web-reference/<id>.onnx`: what ONNX Runtime runs to check
/// the page's pixels. Panics saying how to make it when it is missing.
pub fn reference_model(id: &str) -> PathBuf {
    let path = gan_tests::repo_root()
        .join("target")
        .join("web-reference")
        .join(format!("{id}.onnx"));
    assert!(
        path.is_file(),
        "{} not found: `bash scripts/build-wasm.sh` writes it with web/pkg",
        path.display()
    );
    path
}
