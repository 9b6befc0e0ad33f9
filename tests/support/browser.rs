//! A real headless Chromium for the report's tests, driven over the Chrome DevTools Protocol.
//!
//! ```ignore
//! let mut browser = support::browser::Browser::start();
//! let page = browser.open(Path::new("report.html"));
//! assert_eq!(page.console_errors, Vec::<String>::new());
//! let rows = browser.eval("document.querySelectorAll('g.host-row').length");
//! browser.screenshot(Path::new("target/report.png"));
//! ```
//!
//! Chromium starts with `--remote-debugging-port=0` and says on stderr where it listens
//! (`DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID`); the harness asks
//! `/json/list` for a page target and talks to that page's websocket: one command at a
//! time, each answered by the message with its `id`, every other message an event that is
//! kept (console errors, exceptions, the load event). Chromium runs in a process group of
//! its own with a fresh profile directory; both go when the `Browser` is dropped.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

/// Debian's `chromium` package.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long Chromium may take to start, and a page to load.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const LOAD_TIMEOUT: Duration = Duration::from_secs(20);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// The browser window (and so the screenshot's width).
pub const WINDOW_WIDTH: u32 = 1280;
const WINDOW_HEIGHT: u32 = 900;

pub struct Browser {
    socket: WebSocket<TcpStream>,
    next_id: u64,
    /// Events received and not yet looked at, oldest first.
    events: Vec<Value>,
    /// Console errors, exceptions and error log entries since the last `open`.
    errors: Vec<String>,
    /// Chromium's stderr lines after the listening line (for a failure's message).
    stderr: mpsc::Receiver<String>,
    /// Last, so it is dropped after the socket is closed.
    process: Chromium,
}

/// The Chromium process and its profile directory; dropping it kills the process group
/// (even when the harness panics while starting) and removes the directory.
struct Chromium {
    child: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) with a negative pid signals a process group: the one Chromium was
        // started in (`process_group(0)`), which holds Chromium's processes only.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What loading a page gave.
#[derive(Debug)]
pub struct Loaded {
    /// `console.error`/`console.assert` calls, uncaught exceptions and error log entries
    /// (a resource that failed to load, a CSP violation ...), in the order they came.
    pub console_errors: Vec<String>,
    /// From navigation start to the end of the load event, in ms (Navigation Timing).
    pub load_ms: f64,
}

impl Browser {
    /// Starts headless Chromium with a page to drive. Fails the test when Chromium is not
    /// installed: the report's tests need it (`scripts/install-deps` installs it).
    pub fn start() -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: the report's browser tests need Debian's chromium; \
             run scripts/install-deps (as root) to install it"
        );
        let profile = tempfile::Builder::new()
            .prefix("zdd-chromium-")
            .tempdir()
            .expect("create Chromium's profile directory");
        let child = Command::new(CHROMIUM)
            .args([
                "--headless",
                // Root (as on CI) cannot use Chromium's sandbox.
                "--no-sandbox",
                "--disable-gpu",
                // Containers often give /dev/shm 64 MB, which Chromium can outgrow.
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                // Without these Chromium reaches out to the network (which the tests
                // never have) for updates, sync and field trials.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                "--mute-audio",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                &format!("--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT}"),
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // A group of its own: its zygote and renderers go with it on drop.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {CHROMIUM}: {e}"));
        let mut process = Chromium {
            child,
            _profile: profile,
        };
        let stderr = process.child.stderr.take().expect("Chromium's stderr");
        let (tx, lines) = mpsc::channel();
        // Keeps reading stderr for Chromium's whole life, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let deadline = Instant::now() + START_TIMEOUT;
        let browser_ws = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("DevTools listening on ") {
                        break url.trim().to_string();
                    }
                    seen.push(line);
                }
                Err(_) => {
                    panic!(
                        "Chromium did not say where DevTools listens within {START_TIMEOUT:?}; \
                         its stderr:\n{}",
                        seen.join("\n")
                    );
                }
            }
        };
        let port = browser_ws
            .strip_prefix("ws://127.0.0.1:")
            .and_then(|rest| rest.split('/').next())
            .and_then(|port| port.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("unexpected DevTools address `{browser_ws}`"));
        let page_ws = page_target(port);
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to DevTools");
        stream.set_nodelay(true).ok();
        let (socket, _) = tungstenite::client(page_ws.as_str(), stream)
            .unwrap_or_else(|e| panic!("websocket handshake with {page_ws}: {e}"));
        let mut browser = Browser {
            socket,
            next_id: 0,
            events: Vec::new(),
            errors: Vec::new(),
            stderr: lines,
            process,
        };
        for domain in ["Runtime", "Log", "Page"] {
            browser.call(&format!("{domain}.enable"), json!({}));
        }
        browser
    }

    /// Loads `file` (a local path) and waits for its load event; what the page said on the
    /// console meanwhile and how long it took to load.
    pub fn open(&mut self, file: &Path) -> Loaded {
        let path = std::fs::canonicalize(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let url = format!("file://{}", path.display());
        self.events.clear();
        self.errors.clear();
        let answer = self.call("Page.navigate", json!({ "url": url }));
        if let Some(error) = answer.get("errorText").and_then(Value::as_str) {
            panic!("Chromium could not open {url}: {error}");
        }
        self.wait_event("Page.loadEventFired", LOAD_TIMEOUT);
        // `loadEventEnd` is 0 until the load event's handlers have all run.
        let deadline = Instant::now() + LOAD_TIMEOUT;
        let load_ms = loop {
            let end = self
                .eval("performance.getEntriesByType('navigation')[0].loadEventEnd")
                .as_f64()
                .unwrap_or(0.0);
            if end > 0.0 {
                break end;
            }
            assert!(Instant::now() < deadline, "{url}: loadEventEnd stayed 0");
            std::thread::sleep(Duration::from_millis(10));
        };
        // Messages the page sent up to here, already read or still in flight.
        self.call("Runtime.evaluate", json!({ "expression": "0" }));
        Loaded {
            console_errors: self.errors.clone(),
            load_ms,
        }
    }

    /// The value of a JavaScript expression in the page (JSON: numbers, strings, arrays
    /// and plain objects). An exception fails the test.
    pub fn eval(&mut self, expression: &str) -> Value {
        let answer = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        );
        if let Some(details) = answer.get("exceptionDetails") {
            panic!("`{expression}` threw: {}", describe_exception(details));
        }
        answer["result"].get("value").cloned().unwrap_or(Value::Null)
    }

    /// A PNG of the whole page (not just the window), written to `out`.
    pub fn screenshot(&mut self, out: &Path) {
        let size = self.eval(
            "({ width: Math.max(document.documentElement.scrollWidth, innerWidth), \
                height: Math.max(document.documentElement.scrollHeight, innerHeight) })",
        );
        let (width, height) = (
            size["width"].as_f64().unwrap_or(WINDOW_WIDTH as f64),
            size["height"].as_f64().unwrap_or(WINDOW_HEIGHT as f64),
        );
        let answer = self.call(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 },
            }),
        );
        let data = answer["data"].as_str().expect("captureScreenshot's data");
        let png = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data)
            .expect("captureScreenshot's base64");
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        std::fs::write(out, png).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    }

    /// Sends one command and returns its `result`; the events read meanwhile are kept.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({ "id": id, "method": method, "params": params }).to_string();
        self.socket
            .send(Message::text(message))
            .unwrap_or_else(|e| panic!("DevTools {method}: {e}"));
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let message = self.receive(deadline, method);
            if message.get("id").and_then(Value::as_u64) == Some(id) {
                if let Some(error) = message.get("error") {
                    panic!("DevTools {method} failed: {error}");
                }
                return message["result"].clone();
            }
            self.keep(message);
        }
    }

    /// Waits for an event named `method` (perhaps already received) and returns its params.
    fn wait_event(&mut self, method: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(at) = self.events.iter().position(|e| e["method"] == method) {
                return self.events.remove(at)["params"].clone();
            }
            let message = self.receive(deadline, method);
            self.keep(message);
        }
    }

    fn keep(&mut self, event: Value) {
        if let Some(error) = console_error(&event) {
            self.errors.push(error);
        }
        if event.get("method").is_some() {
            self.events.push(event);
        }
    }

    /// The next text message, waiting until `deadline` at the most.
    fn receive(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let stderr: Vec<String> = self.stderr.try_iter().collect();
                panic!(
                    "Chromium did not answer {waiting_for} in time; its stderr:\n{}",
                    stderr.join("\n")
                );
            }
            self.socket
                .get_mut()
                .set_read_timeout(Some(left))
                .expect("set the websocket's read timeout");
            match self.socket.read() {
                Ok(Message::Text(text)) => {
                    return serde_json::from_str(text.as_str())
                        .unwrap_or_else(|e| panic!("DevTools sent bad JSON ({e}): {text}"))
                }
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(e) => panic!("DevTools connection lost waiting for {waiting_for}: {e}"),
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.socket.close(None);
    }
}

/// The `webSocketDebuggerUrl` of a page target: the one Chromium opened, else a new one.
fn page_target(port: u16) -> String {
    let list = devtools_http(port, "GET", "/json/list");
    let page = list
        .as_array()
        .and_then(|targets| targets.iter().find(|t| t["type"] == "page").cloned())
        .unwrap_or_else(|| devtools_http(port, "PUT", "/json/new?about:blank"));
    page["webSocketDebuggerUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("no page target's websocket in {page}"))
        .to_string()
}

/// One request to DevTools' HTTP endpoint, its JSON body. HTTP/1.1: Chromium answers
/// HTTP/1.0 with nothing, and keeps the connection open whatever it is asked, so the body is
/// read by its Content-Length.
fn devtools_http(port: u16, method: &str, path: &str) -> Value {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to DevTools");
    stream.set_read_timeout(Some(COMMAND_TIMEOUT)).ok();
    write!(
        &stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n"
    )
    .expect("write to DevTools");
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("DevTools {method} {path}: {e}"));
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    reader
        .read_exact(&mut body)
        .unwrap_or_else(|e| panic!("DevTools {method} {path}: {e}"));
    serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "DevTools {method} {path} gave no JSON ({e}):\n{head}{}",
            String::from_utf8_lossy(&body)
        )
    })
}

/// The text of a console error, an uncaught exception or an error log entry; None for any
/// other message.
fn console_error(event: &Value) -> Option<String> {
    let params = &event["params"];
    match event["method"].as_str()? {
        "Runtime.consoleAPICalled" => {
            let kind = params["type"].as_str()?;
            if kind != "error" && kind != "assert" {
                return None;
            }
            let args: Vec<String> = params["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|arg| match (&arg["value"], arg["description"].as_str()) {
                    (Value::String(s), _) => s.clone(),
                    (Value::Null, Some(description)) => description.to_string(),
                    (value, _) => value.to_string(),
                })
                .collect();
            Some(format!("console.{kind}: {}", args.join(" ")))
        }
        "Runtime.exceptionThrown" => Some(format!(
            "uncaught: {}",
            describe_exception(&params["exceptionDetails"])
        )),
        "Log.entryAdded" => {
            let entry = &params["entry"];
            if entry["level"] != "error" {
                return None;
            }
            let url = entry["url"].as_str().unwrap_or_default();
            Some(format!(
                "log ({}): {} {url}",
                entry["source"].as_str().unwrap_or("?"),
                entry["text"].as_str().unwrap_or_default()
            ))
        }
        _ => None,
    }
}

fn describe_exception(details: &Value) -> String {
    details["exception"]["description"]
        .as_str()
        .or_else(|| details["text"].as_str())
        .unwrap_or("(no description)")
        .to_string()
}

/// Where a test's screenshot goes: `ZDD_REPORT_SCREENSHOT` when set (scripts/report-screenshot),
/// else `target/NAME`.
pub fn screenshot_path(name: &str) -> PathBuf {
    std::env::var_os("ZDD_REPORT_SCREENSHOT")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| super::repo_root().join("target").join(name))
}
