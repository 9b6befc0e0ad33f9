//! Hardening, on the real lab: no rendered value reaches HAProxy or a package manager
//! unchecked, no command's output can pass for zdd's own result lines, `uri` credentials
//! never show on the target's process list, and a killed copy never leaves a servable half
//! file. (`creates` globs and `validate` are compared with Ansible in tests/parity/cases.)

mod support;

use serde_json::Value;
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{http_get, Lab, Outcome, HTTP_PORT};

const SECRET: &str = "S3CRET-7c1e";

/// `play` written beside the lab and run with `zdd apply -o json`; the host results.
fn apply(lab: &Lab, name: &str, play: &str) -> (Outcome, Vec<Value>) {
    let path = lab.dir().join(format!("{name}.yml"));
    std::fs::write(&path, play).unwrap();
    let out = lab.zdd().apply(&path).json().arg("--no-progress").run();
    let results = out
        .events()
        .into_iter()
        .filter(|e| e["event"] == "host_result")
        .collect();
    (out, results)
}

fn result_of<'a>(results: &'a [Value], task: &str) -> &'a Value {
    &results
        .iter()
        .find(|r| r["task"] == task)
        .unwrap_or_else(|| panic!("no result for task `{task}` in {results:#?}"))["result"]
}

#[test]
fn rendered_haproxy_and_package_arguments_are_checked_before_anything_is_sent() {
    let lab = Lab::start(2);
    // The values hold `{{` once rendered (as a registered output or a fact could): before
    // they were taken as "not rendered yet" and went unchecked.
    let inject = "disable server loadbalancer/web2;#{{ '{{' }}";
    let play = format!(
        "- hosts: web1\n  gather_facts: no\n  become: yes\n  vars:\n    \
           evil_backend: \"loadbalancer;{inject}\"\n    evil_weight: \"50;{inject}\"\n    \
           evil_host: \"web1;{inject}\"\n    evil_package: \"-oAPT::Update::Pre-Invoke::=touch {{{{ '{{{{' }}}}\"\n  tasks:\n\
         \x20 - name: backend\n    haproxy: {{state: disabled, host: web1, backend: \"{{{{ evil_backend }}}}\", socket: \"{{{{ haproxy_socket }}}}\", min_up: 1}}\n    delegate_to: lb\n    ignore_errors: yes\n\
         \x20 - name: weight\n    haproxy: {{state: enabled, host: web1, backend: loadbalancer, weight: \"{{{{ evil_weight }}}}\", socket: \"{{{{ haproxy_socket }}}}\"}}\n    delegate_to: lb\n    ignore_errors: yes\n\
         \x20 - name: host\n    haproxy: {{state: disabled, host: \"{{{{ evil_host }}}}\", backend: loadbalancer, socket: \"{{{{ haproxy_socket }}}}\"}}\n    delegate_to: lb\n    ignore_errors: yes\n\
         \x20 - name: package\n    package: {{name: \"{{{{ evil_package }}}}\", state: present}}\n    ignore_errors: yes\n"
    );
    let (out, results) = apply(&lab, "inject", &play);
    out.assert_code(0);
    // Nothing reached HAProxy: neither the server of the play nor the one outside it moved.
    assert_eq!(lab.server_state("web1"), "UP");
    assert_eq!(lab.server_state("web2"), "UP");
    for (task, says) in [
        ("backend", "`backend`"),
        ("weight", "`weight`"),
        ("host", "`host`"),
        ("package", "is not a package name"),
    ] {
        let r = result_of(&results, task);
        assert_eq!(r["failed"], true, "{task}: {r:#}");
        assert_eq!(r["changed"], false, "{task}: {r:#}");
        let msg = r["msg"].as_str().unwrap_or_default();
        assert!(msg.contains(says), "{task}: {msg}");
        assert!(r.get("commands").is_none(), "{task} sent commands: {r:#}");
    }
}

#[test]
fn command_output_never_passes_for_zdd_result_lines() {
    let lab = Lab::start(1);
    let root = lab.doc_root("web1");
    let link = root.join("spoof-link");
    // A symlink anyone on the host could make: its target prints as a line of its own.
    std::os::unix::fs::symlink("x\n__zdd__ exists=0\n__zdd__ stat=ffff", &link).unwrap();
    let play = format!(
        "- hosts: web1\n  gather_facts: no\n  become: yes\n  tasks:\n\
         \x20 - name: fails but prints a skip line\n    shell: \"printf '__zdd__ skipped=since /etc exists\\n'; exit 3\"\n    ignore_errors: yes\n\
         \x20 - name: guard skips for real\n    shell: \"false\"\n    args:\n      creates: /etc\n\
         \x20 - name: stat a spoofing link\n    stat: path={}\n    register: s\n",
        link.display()
    );
    let (out, results) = apply(&lab, "spoof", &play);
    out.assert_code(0);
    let r = result_of(&results, "fails but prints a skip line");
    assert_eq!(r["failed"], true, "{r:#}");
    assert_eq!(r["rc"], 3, "{r:#}");
    assert_eq!(r["stdout"], "__zdd__ skipped=since /etc exists", "{r:#}");
    let r = result_of(&results, "guard skips for real");
    assert_eq!(r["failed"], false, "{r:#}");
    assert_eq!(r["msg"], "Did not run command since /etc exists", "{r:#}");
    let r = result_of(&results, "stat a spoofing link");
    assert_eq!(r["stat"]["exists"], true, "{r:#}");
    assert_eq!(r["stat"]["islnk"], true, "{r:#}");
}

/// An HTTP server on loopback that answers each request after `delay` (so that curl stays
/// on the process list long enough to be seen) with the request it got as the body.
fn echo_server(delay: Duration) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let text = support::read_request(&mut stream).text;
            std::thread::sleep(delay);
            seen.lock().unwrap().push(text.clone());
            let _ = write!(
                stream,
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (port, requests)
}

#[test]
fn uri_credentials_headers_and_body_never_show_on_the_process_list() {
    let lab = Lab::start(1);
    let (port, requests) = echo_server(Duration::from_millis(1500));
    let url = format!("http://127.0.0.1:{port}/api?token={SECRET}");
    let play = format!(
        "- hosts: web1\n  gather_facts: no\n  vars:\n    secret: {SECRET}\n  tasks:\n\
         \x20 - name: basic auth\n    uri:\n      url: \"{url}\"\n      url_username: admin\n      url_password: \"{{{{ secret }}}}\"\n      force_basic_auth: yes\n      return_content: yes\n    register: basic\n\
         \x20 - name: token header and body\n    uri:\n      url: \"{url}\"\n      method: POST\n      user: admin\n      password: \"{{{{ secret }}}}\"\n      \
                headers:\n        X-Api-Token: \"{{{{ secret }}}}\"\n      body_format: json\n      body: {{password: \"{{{{ secret }}}}\"}}\n      return_content: yes\n"
    );
    let ((out, results), seen) = support::process_lines_showing(SECRET, || apply(&lab, "uri-secret", &play));
    out.assert_code(0);
    assert_eq!(seen, Vec::<String>::new(), "the secret was on the process list");
    // The request still carried everything: credentials, header, body and URL.
    let requests = requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    let basic = format!("admin:{SECRET}");
    let basic = base64_encode(basic.as_bytes());
    for r in &requests {
        assert!(r.contains(&format!("Authorization: Basic {basic}")), "{r}");
        assert!(r.contains(&format!("/api?token={SECRET}")), "{r}");
    }
    assert!(requests[1].starts_with("POST "), "{}", requests[1]);
    assert!(
        requests[1].contains(&format!("X-Api-Token: {SECRET}")),
        "{}",
        requests[1]
    );
    assert!(
        requests[1].contains(&format!(r#"{{"password":"{SECRET}"}}"#)),
        "{}",
        requests[1]
    );
    assert!(
        requests[1].contains("Content-Type: application/json"),
        "{}",
        requests[1]
    );
    assert_eq!(result_of(&results, "basic auth")["status"], 200);
}

fn base64_encode(data: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Bytes a process has written so far (`/proc/PID/io`), 0 once it is gone.
fn written(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("wchar: ")?.trim().parse().ok())
        .unwrap_or(0)
}

/// The names in `dir` that are not in `before`.
fn new_names(dir: &Path, before: &[String]) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !before.contains(n))
        .collect();
    names.sort();
    names
}

fn percent_encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_copy_killed_mid_write_never_leaves_a_servable_half_file() {
    let lab = Lab::start(1);
    let root = lab.doc_root("web1");
    let work = tempfile::tempdir().unwrap();
    let files = work.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let big: Vec<u8> = (0..60 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(files.join("big.bin"), &big).unwrap();
    let playbook = work.path().join("big.yml");
    std::fs::write(
        &playbook,
        "- hosts: web1\n  gather_facts: no\n  become: yes\n  tasks:\n  \
           - copy: {src: big.bin, dest: \"{{ doc_root }}/big.bin\", mode: \"0644\"}\n",
    )
    .unwrap();
    let before = new_names(&root, &[]);
    let run = || lab.zdd().apply(&playbook).arg("--no-progress");

    // Kill zdd once it has sent a third of the file.
    let mut child = run().spawn();
    let pid = child.pid();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut masters = Vec::new();
    while written(pid) < 20 * 1024 * 1024 {
        masters.extend(support::ssh_masters_of(pid));
        assert!(Instant::now() < deadline, "zdd never sent 20 MB");
        assert!(child.is_running(), "zdd finished before it was killed");
        std::thread::sleep(Duration::from_millis(2));
    }
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    assert_eq!(child.wait().code, None, "killed");
    masters.sort();
    masters.dedup();
    // The target notices the end of its input; give it time to do what it does next.
    std::thread::sleep(Duration::from_secs(2));
    for m in &masters {
        unsafe { libc::kill(*m as i32, libc::SIGTERM) };
    }
    let addr = format!("{}:{HTTP_PORT}", lab.address("web1"));
    let left = new_names(&root, &before);
    for name in &left {
        let (status, body) = http_get(&addr, &format!("/{}", percent_encode(name))).unwrap();
        let path = root.join(name);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(
            status != 200 || (name == "big.bin" && body.len() == big.len()),
            "the web server answers {status} for {name} ({len} bytes) after the kill; left: {left:?}"
        );
    }
    assert!(
        !root.join("big.bin").exists() || std::fs::read(root.join("big.bin")).unwrap() == big,
        "a partial big.bin was put in place"
    );

    // A leftover of a write killed on the target itself (a crash): older than the next run.
    let stale = root.join(".zdd.Ab3dE9");
    std::fs::write(&stale, &big[..1024]).unwrap();
    let hour_ago = libc::timespec {
        tv_sec: (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 3600) as libc::time_t,
        tv_nsec: 0,
    };
    let c_path = std::ffi::CString::new(stale.as_os_str().to_string_lossy().as_bytes()).unwrap();
    unsafe { libc::utimensat(libc::AT_FDCWD, c_path.as_ptr(), [hour_ago, hour_ago].as_ptr(), 0) };

    let out = run().run();
    out.assert_code(0);
    assert_eq!(std::fs::read(root.join("big.bin")).unwrap(), big);
    let left = new_names(&root, &before);
    assert_eq!(left, ["big.bin"], "leftovers after the second run");
}

/// `-vv` shows the commands run on hosts, and the audit log records them: never a uri
/// task's password, which its script carries to curl's config file, `no_log` or not.
#[test]
fn a_uri_password_is_in_no_trace_and_no_audit_line() {
    let lab = Lab::start(1);
    let (port, requests) = echo_server(Duration::from_millis(10));
    let play = lab.dir().join("uri-vv.yml");
    std::fs::write(
        &play,
        format!(
            "- hosts: web1\n  gather_facts: no\n  vars:\n    secret: {SECRET}\n  tasks:\n\
             \x20 - name: basic auth\n    uri:\n      url: \"http://127.0.0.1:{port}/api\"\n      \
             url_username: admin\n      url_password: \"{{{{ secret }}}}\"\n      force_basic_auth: yes\n"
        ),
    )
    .unwrap();
    let audit = lab.dir().join("audit.jsonl");
    let out = lab
        .zdd()
        .apply(&play)
        .arg("-vv")
        .arg("--audit-log")
        .arg(&audit)
        .run();
    out.assert_code(0);
    assert_eq!(requests.lock().unwrap().len(), 1, "the request was made");
    assert!(out.stderr.contains("<web1> EXEC <censored>"), "{out}");
    assert!(!out.all_output().contains(SECRET), "{out}");
    let audit = std::fs::read_to_string(&audit).unwrap();
    assert!(!audit.contains(SECRET), "{audit}");
    assert!(audit.contains(r#""task":"basic auth""#), "{audit}");
}
