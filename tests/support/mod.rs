//! The local lab for integration tests: real sshd, haproxy and web server processes on a
//! loopback /24 of its own (examples/lab/lab.sh), stopped when the `Lab` is dropped.
//!
//! ```ignore
//! mod support;
//! let lab = support::Lab::start(3);
//! let probe = lab.probe(4);
//! let out = lab.zdd().apply("examples/lab/zero-downtime.yml").extra("version=2").run();
//! out.assert_code(0);
//! assert_eq!(probe.stop().failed, 0);
//! ```
//!
//! Every test runs zdd through `Zdd` (run.rs): `lab.zdd()` with a lab, `Zdd::new()` without.
//!
//! Needs root (the lab adds a `deploy` user, sudoers and init scripts), as on CI.
#![allow(dead_code, unused_imports)]

pub mod browser;
pub mod differential;
mod outcome;
mod redact;
mod run;

pub use outcome::{in_host_order, parse_recap, HostStats, Outcome};
pub use redact::Redactions;
pub use run::{Running, Zdd};

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const SSH_PORT: u16 = 2222;
pub const HTTP_PORT: u16 = 8081;
pub const LB_PORT: u16 = 8080;
/// lab.sh's exit code when the net is taken by another lab or another process.
const NET_IN_USE: i32 = 3;

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn lab_script() -> PathBuf {
    repo_root().join("examples/lab/lab.sh")
}

pub fn probe_script() -> PathBuf {
    repo_root().join("examples/lab/probe")
}

/// The lab's own zero-downtime playbook.
/// `DIR/hosts.ini` naming localhost with the local connection: an inventory of a test's
/// own (the rollout lock is per inventory, and tests run at once).
pub fn local_inventory(dir: &Path) -> PathBuf {
    let path = dir.join("hosts.ini");
    std::fs::write(&path, "localhost ansible_connection=local\n").unwrap();
    path
}

pub fn lab_playbook() -> PathBuf {
    repo_root().join("examples/lab/zero-downtime.yml")
}

static NEXT_NET: AtomicUsize = AtomicUsize::new(0);

/// 127.0.X with X in 100..=199, different for every call in this process and, through the
/// pid, most likely different from other test processes (lab.sh refuses a taken net and
/// `Lab::start` then tries the next one).
fn next_net() -> String {
    let n = NEXT_NET.fetch_add(1, Ordering::Relaxed);
    let x = 100 + (std::process::id() as usize * 7 + n) % 100;
    format!("127.0.{x}")
}

/// A running lab: `lb` and `web1..webN`, stopped on drop.
#[derive(Debug)]
pub struct Lab {
    dir: tempfile::TempDir,
    net: String,
    hosts: usize,
    strict: bool,
    stopped: bool,
}

impl Lab {
    /// A lab with `hosts` web servers. haproxy retries and redispatches refused connections.
    pub fn start(hosts: usize) -> Lab {
        Lab::start_with(hosts, false)
    }

    /// A lab whose haproxy never retries (`lab.sh --strict`): a web server restarted while
    /// still in the pool shows up as failed requests.
    pub fn start_strict(hosts: usize) -> Lab {
        Lab::start_with(hosts, true)
    }

    /// A lab with the blue/green scenario (`lab.sh --blue-green`): nginx on
    /// 127.0.X.10:8090 (`nginx_url`), blue live on :8082, green stopped on :8083, etcd
    /// holding the live color (`live_color_in_etcd`).
    pub fn start_blue_green(hosts: usize) -> Lab {
        Lab::start_with_flags(hosts, false, &["--blue-green"])
    }

    /// A lab whose haproxy also serves its runtime API on TCP, `haproxy_api` in the
    /// inventory, and whose web servers have a 3 s page, /cgi-bin/slow (`lab.sh --haproxy-tcp`).
    pub fn start_haproxy_tcp(hosts: usize) -> Lab {
        Lab::start_with_flags(hosts, false, &["--haproxy-tcp"])
    }

    /// A lab whose web hosts carry a `cluster` local fact (`lab.sh --clusters SPEC`, e.g.
    /// `alfa:4,bravo:2`: web1-4 in alfa, web5-6 in bravo).
    pub fn start_clusters(hosts: usize, spec: &str) -> Lab {
        Lab::start_with_flags(hosts, false, &["--clusters", spec])
    }

    fn start_with(hosts: usize, strict: bool) -> Lab {
        Lab::start_with_flags(hosts, strict, &[])
    }

    fn start_with_flags(hosts: usize, strict: bool, flags: &[&str]) -> Lab {
        let dir = tempfile::Builder::new()
            .prefix("zdd-lab-")
            .tempdir()
            .expect("create the lab's temporary directory");
        for _ in 0..100 {
            let net = next_net();
            let mut cmd = Command::new("bash");
            cmd.arg(lab_script())
                .args(["start", "--hosts", &hosts.to_string(), "--net", &net])
                .arg("--dir")
                .arg(dir.path());
            if strict {
                cmd.arg("--strict");
            }
            cmd.args(flags);
            let out = cmd.output().expect("run examples/lab/lab.sh");
            if out.status.success() {
                return Lab {
                    dir,
                    net,
                    hosts,
                    strict,
                    stopped: false,
                };
            }
            if out.status.code() != Some(NET_IN_USE) {
                panic!(
                    "lab.sh start --hosts {hosts} --net {net} failed ({}):\n{}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        panic!("no free net in 127.0.100.0-127.0.199.0 for a lab");
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn inventory(&self) -> PathBuf {
        self.dir().join("inventory.ini")
    }

    /// `127.0.X`.
    pub fn net(&self) -> &str {
        &self.net
    }

    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// `web1..webN`, the inventory names (and haproxy's server names).
    pub fn hosts(&self) -> Vec<String> {
        (1..=self.hosts).map(|i| format!("web{i}")).collect()
    }

    /// `lb` and the web hosts.
    pub fn all_hosts(&self) -> Vec<String> {
        std::iter::once("lb".to_string()).chain(self.hosts()).collect()
    }

    /// The address of an inventory host: `lb` is 127.0.X.10, `webI` 127.0.X.(10+I); above
    /// 200 web hosts the lab goes on in the next nets, 200 each (lab.sh's header):
    /// `webI` is 127.0.(X + (I-1)/200).(11 + (I-1)%200).
    pub fn address(&self, host: &str) -> String {
        if host == "lb" {
            return format!("{}.10", self.net);
        }
        let index = host
            .strip_prefix("web")
            .and_then(|i| i.parse::<usize>().ok())
            .filter(|i| (1..=self.hosts).contains(i))
            .unwrap_or_else(|| panic!("no host `{host}` in this lab"));
        let (prefix, x) = self.net.rsplit_once('.').expect("a net is 127.A.B");
        let x: usize = x.parse().expect("a net is 127.A.B");
        format!("{prefix}.{}.{}", x + (index - 1) / 200, 11 + (index - 1) % 200)
    }

    pub fn lb_address(&self) -> String {
        self.address("lb")
    }

    /// `http://127.0.X.10:8080/`, the load balancer's frontend.
    pub fn haproxy_url(&self) -> String {
        format!("http://{}:{LB_PORT}/", self.lb_address())
    }

    /// `http://127.0.X.10:8090/`: nginx in front of the blue/green instances.
    pub fn nginx_url(&self) -> String {
        format!("http://{}:8090/", self.lb_address())
    }

    /// The upstream file nginx includes (`nginx_upstream_file`).
    pub fn nginx_upstream_file(&self) -> PathBuf {
        self.dir().join("nginx/upstream.conf")
    }

    /// The live color as etcd holds it (its v3 JSON gateway), `None` without the key.
    pub fn live_color_in_etcd(&self) -> Option<String> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let key = b64.encode("/zdd-lab/app/color");
        let out = Command::new("curl")
            .args(["-fsS", "--max-time", "5", "-X", "POST"])
            .arg(format!("http://{}:2379/v3/kv/range", self.lb_address()))
            .args(["-d", &format!("{{\"key\": \"{key}\"}}")])
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "etcd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("etcd answers JSON");
        let value = v["kvs"][0]["value"].as_str()?;
        let bytes = b64.decode(value).expect("etcd's value is base64");
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A probe sending requests through nginx until stopped.
    pub fn probe_nginx(&self, concurrency: usize) -> Probe {
        Probe::start(&self.nginx_url(), concurrency)
    }

    /// haproxy's runtime API (`stats socket ... level admin`).
    pub fn socket(&self) -> PathBuf {
        self.dir().join("haproxy.sock")
    }

    pub fn private_key(&self) -> PathBuf {
        self.dir().join("id_ed25519")
    }

    pub fn known_hosts(&self) -> PathBuf {
        self.dir().join("known_hosts")
    }

    /// The sysv init script name of a web host (`web_service` in the inventory).
    pub fn web_service(&self, host: &str) -> String {
        let last = self.net.rsplit('.').next().unwrap_or_default();
        self.address(host); // panics on unknown hosts
        format!("zdd-lab-{last}-{host}")
    }

    /// Every pid lab.sh and the init scripts recorded (sshd, httpd, haproxy).
    pub fn pids(&self) -> Vec<u32> {
        let text = std::fs::read_to_string(self.dir().join("pids")).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    }

    /// Send one command to haproxy's runtime API; its reply.
    pub fn haproxy_command(&self, command: &str) -> String {
        let mut child = Command::new("socat")
            .arg("stdio")
            .arg(format!("UNIX-CONNECT:{}", self.socket().display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run socat");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{command}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "socat to {}: {}",
            self.socket().display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The web servers haproxy counts a session on now.
    pub fn busy_servers(&self) -> Vec<String> {
        self.haproxy_command("show stat")
            .lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f.len() > 17 && f[0] == "loadbalancer" && f[1].starts_with("web") && f[4] != "0")
            .map(|f| f[1].to_owned())
            .collect()
    }

    /// The web servers that held a session in each of five looks 50 ms apart: the probe's
    /// requests take a millisecond, so what stays is a slow request.
    pub fn servers_holding_a_long_request(&self) -> Vec<String> {
        let mut held = self.busy_servers();
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(50));
            let now = self.busy_servers();
            held.retain(|s| now.contains(s));
        }
        held
    }

    /// haproxy's status of a server of backend `loadbalancer`, from `show stat`: `UP`,
    /// `DOWN`, `MAINT`, or a transition such as `UP 1/2`.
    pub fn server_state(&self, name: &str) -> String {
        let stat = self.haproxy_command("show stat");
        stat.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f.len() > 17 && f[0] == "loadbalancer" && f[1] == name)
            .map(|f| f[17].to_string())
            .unwrap_or_else(|| panic!("haproxy has no server loadbalancer/{name}:\n{stat}"))
    }

    /// Poll `server_state` until it is `want`; false after `timeout`.
    pub fn wait_server_state(&self, name: &str, want: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.server_state(name) == want {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Panics unless haproxy shows `name` exactly `UP` within five seconds: a server just
    /// put back goes through `UP 1/2` while its checks settle, and that is not enough.
    #[track_caller]
    pub fn assert_up(&self, name: &str) {
        assert!(
            self.wait_server_state(name, "UP", Duration::from_secs(5)),
            "{name} is `{}` in haproxy, not `UP`",
            self.server_state(name)
        );
    }

    /// Panics unless haproxy shows `name` exactly `MAINT` (taken out by an operator).
    #[track_caller]
    pub fn assert_maint(&self, name: &str) {
        assert_eq!(self.server_state(name), "MAINT", "{name} in haproxy");
    }

    /// A web host's index.html, fetched from its own web server (not through haproxy).
    pub fn page(&self, host: &str) -> String {
        let (status, body) = http_get(&format!("{}:{HTTP_PORT}", self.address(host)), "/")
            .unwrap_or_else(|e| panic!("GET http://{}:{HTTP_PORT}/: {e}", self.address(host)));
        assert_eq!(status, 200, "GET {host}'s index.html: {body}");
        body
    }

    /// `ssh deploy@HOST COMMAND` with the lab's key and known_hosts (strict host keys).
    pub fn ssh(&self, host: &str, command: &str) -> Output {
        Command::new("ssh")
            .arg("-i")
            .arg(self.private_key())
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts().display()))
            .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
            .args(["-o", "ConnectTimeout=5", "-p", &SSH_PORT.to_string()])
            .arg(format!("deploy@{}", self.address(host)))
            .arg(command)
            .stdin(Stdio::null())
            .output()
            .expect("run ssh")
    }

    /// The `version` a web host's page shows (`<p>version: 2</p>` -> `2`).
    #[track_caller]
    pub fn version(&self, host: &str) -> String {
        let page = self.page(host);
        let mut found = page
            .split("<p>version: ")
            .skip(1)
            .map(|rest| rest.split_once("</p>"));
        match (found.next(), found.next()) {
            (Some(Some((version, _))), None) => version.to_owned(),
            _ => panic!("not one <p>version: ...</p> on {host}'s page:\n{page}"),
        }
    }

    /// Run a web host's init script (`start`, `stop`, `restart`, `status`) locally.
    pub fn service(&self, host: &str, action: &str) -> Output {
        Command::new(format!("/etc/init.d/{}", self.web_service(host)))
            .arg(action)
            .stdin(Stdio::null())
            .output()
            .expect("run the init script")
    }

    /// zdd with `-i` this lab's inventory, run from the repository root; its outcome shows
    /// the lab's directory as `[LAB]` and its net as `127.0.[NET]` when redacted.
    pub fn zdd(&self) -> Zdd {
        let last = self.net.rsplit('.').next().unwrap_or_default();
        Zdd::new()
            .inventory(self.inventory())
            .redact(self.dir().display(), "[LAB]")
            .redact(&self.net, "127.0.[NET]")
            .redact(format!("zdd-lab-{last}-"), "zdd-lab-[NET]-")
    }

    /// A host's document root.
    pub fn doc_root(&self, host: &str) -> PathBuf {
        self.dir().join("www").join(host)
    }

    /// The pid of a host's web server, as its init script recorded it.
    pub fn web_pid(&self, host: &str) -> String {
        let path = self.dir().join("run").join(format!("{host}.pid"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .trim()
            .to_owned()
    }

    /// Make a host's upgrade fail: its document root becomes a plain file (the web server
    /// keeps serving the moved directory it already has open).
    pub fn break_doc_root(&self, host: &str) {
        let root = self.doc_root(host);
        std::fs::rename(&root, root.with_extension("moved")).unwrap();
        std::fs::write(&root, "not a directory\n").unwrap();
    }

    pub fn restore_doc_root(&self, host: &str) {
        let root = self.doc_root(host);
        std::fs::remove_file(&root).unwrap();
        std::fs::rename(root.with_extension("moved"), &root).unwrap();
    }

    /// Stop a host's sshd (its listener and its sessions): the host becomes unreachable.
    pub fn stop_sshd(&self, host: &str) {
        let config = self.dir().join(format!("sshd_config.{host}"));
        let config = config.to_string_lossy().into_owned();
        for pid in pids_matching(|cmdline| cmdline.contains("sshd") && cmdline.contains(&config)) {
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline
            && TcpStream::connect(format!("{}:{SSH_PORT}", self.address(host))).is_ok()
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A probe sending requests through haproxy until stopped.
    pub fn probe(&self, concurrency: usize) -> Probe {
        Probe::start(&self.haproxy_url(), concurrency)
    }

    /// Stop now rather than on drop; panics if lab.sh fails.
    pub fn stop(&mut self) {
        let out = self.run_stop();
        assert!(
            out.status.success(),
            "lab.sh stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn run_stop(&mut self) -> Output {
        self.stopped = true;
        Command::new("bash")
            .arg(lab_script())
            .arg("stop")
            .arg("--dir")
            .arg(self.dir.path())
            .output()
            .expect("run examples/lab/lab.sh stop")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.stopped {
            let out = self.run_stop();
            if !out.status.success() {
                eprintln!("lab.sh stop: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
    }
}

/// A one-shot HTTP/1.0 GET on a loopback address: (status, body).
pub fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    http_get_within(addr, path, Duration::from_secs(5))
}

/// `http_get` that waits up to `wait` for the answer (a slow page).
pub fn http_get_within(addr: &str, path: &str, wait: Duration) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(wait))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {head:?}")))?;
    Ok((status, body.to_string()))
}

/// One HTTP request as a test server read it.
pub struct Request {
    /// All that was read: the head and what came of the body.
    pub text: String,
    /// The body, once as many bytes as Content-Length says have come.
    pub body: Option<String>,
}

/// Reads one HTTP request from `stream` (5 s per read at most): its head, then as many body
/// bytes as Content-Length says, or what came before the peer closed or went quiet.
pub fn read_request(stream: &mut TcpStream) -> Request {
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let len = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().to_owned())
            })
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        if body.len() >= len {
            return Request {
                body: Some(body.to_owned()),
                text: text.into_owned(),
            };
        }
    }
    Request {
        text: String::from_utf8_lossy(&got).into_owned(),
        body: None,
    }
}

/// A one-thread HTTP server on loopback, for `--notify URL`: it answers 200 to every request
/// and passes on each whole body. (its URL, the bodies)
pub fn notify_sink() -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break };
            if let Some(body) = read_request(&mut conn).body {
                let _ = tx.send(body);
            }
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, rx)
}

/// What the probe saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProbeCounts {
    pub requests: u64,
    pub failed: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Which web host answered how often.
    pub hosts: BTreeMap<String, u64>,
    /// The probe's description of failures.
    pub stderr: String,
}

impl ProbeCounts {
    /// Parse the probe's output: `requests=N failed=M p50_ms=X p99_ms=Y` and
    /// `hosts web1=N ...`.
    pub fn parse(stdout: &str, stderr: &str) -> Option<ProbeCounts> {
        let mut lines = stdout.lines();
        let mut counts = ProbeCounts {
            stderr: stderr.to_string(),
            ..Default::default()
        };
        let mut seen = 0;
        for field in lines.next()?.split_whitespace() {
            let (key, value) = field.split_once('=')?;
            match key {
                "requests" => counts.requests = value.parse().ok()?,
                "failed" => counts.failed = value.parse().ok()?,
                "p50_ms" => counts.p50_ms = value.parse().ok()?,
                "p99_ms" => counts.p99_ms = value.parse().ok()?,
                _ => continue,
            }
            seen += 1;
        }
        if seen != 4 {
            return None;
        }
        for field in lines.next()?.strip_prefix("hosts")?.split_whitespace() {
            let (host, n) = field.split_once('=')?;
            counts.hosts.insert(host.to_string(), n.parse().ok()?);
        }
        Some(counts)
    }
}

/// examples/lab/probe running in the background; `stop` returns its counts, drop kills it.
#[derive(Debug)]
pub struct Probe {
    child: Option<Child>,
    stop_dir: tempfile::TempDir,
}

impl Probe {
    /// Start `concurrency` clients requesting `url` (loopback only) for at most ten
    /// minutes; returns once the first request has completed.
    pub fn start(url: &str, concurrency: usize) -> Probe {
        let stop_dir = tempfile::Builder::new()
            .prefix("zdd-probe-")
            .tempdir()
            .expect("create the probe's directory");
        let child = Command::new("python3")
            .arg(probe_script())
            .args(["--url", url, "--concurrency", &concurrency.to_string()])
            .args(["--duration", "600", "--stop-file"])
            .arg(stop_dir.path().join("stop"))
            .arg("--ready-file")
            .arg(stop_dir.path().join("ready"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run examples/lab/probe");
        let mut probe = Probe {
            child: Some(child),
            stop_dir,
        };
        let ready = probe.stop_dir.path().join("ready");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready.exists() {
            let child = probe.child.as_mut().unwrap();
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the probe exited before its first request ({status})");
            }
            assert!(Instant::now() < deadline, "the probe sent no request in 10s");
            std::thread::sleep(Duration::from_millis(20));
        }
        probe
    }

    /// Stop the clients (they finish their request in flight) and count.
    pub fn stop(mut self) -> ProbeCounts {
        std::fs::write(self.stop_dir.path().join("stop"), b"").expect("write the stop file");
        let child = self.child.take().expect("probe already stopped");
        let out = child.wait_with_output().expect("wait for the probe");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        ProbeCounts::parse(&stdout, &stderr)
            .unwrap_or_else(|| panic!("unexpected probe output ({}):\n{stdout}{stderr}", out.status))
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Pids of the processes whose command line (NULs as spaces) satisfies `matches`.
pub fn pids_matching(matches: impl Fn(&str) -> bool) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|raw| matches(&String::from_utf8_lossy(&raw).replace('\0', " ")))
                .unwrap_or(false)
        })
        .collect()
}

/// The `ssh` master processes a zdd process started (its children running `ssh -M`).
pub fn ssh_masters_of(zdd_pid: u32) -> Vec<u32> {
    pids_matching(|cmdline| cmdline.starts_with("ssh ") && cmdline.contains(" -M "))
        .into_iter()
        .filter(|pid| parent_of(*pid) == Some(zdd_pid))
        .collect()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: read after the last ')'.
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

/// Is the process running (and not a zombie waiting to be reaped)?
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                != Some("Z")
        }
        Err(_) => false,
    }
}

/// Every command line on this machine (the lab's hosts are local processes), read every
/// 10 ms while `run` runs: its result, and the distinct lines that contain `needle`.
pub fn process_lines_showing<T>(needle: &str, run: impl FnOnce() -> T) -> (T, Vec<String>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let watcher = {
        let (stop, seen, needle) = (stop.clone(), seen.clone(), needle.to_owned());
        std::thread::spawn(move || {
            let mut polls = 0;
            while !stop.load(Ordering::Relaxed) {
                let out = Command::new("ps").args(["-eo", "args"]).output().unwrap();
                for line in String::from_utf8_lossy(&out.stdout).lines() {
                    let mut seen = seen.lock().unwrap();
                    if line.contains(&needle) && !seen.iter().any(|l| l == line) {
                        seen.push(line.to_owned());
                    }
                }
                polls += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            polls
        })
    };
    let result = run();
    stop.store(true, Ordering::Relaxed);
    let polls = watcher.join().unwrap();
    assert!(
        polls > 20,
        "the process list was read {polls} times: too few to tell"
    );
    let seen = seen.lock().unwrap().clone();
    (result, seen)
}
