//! playbooks/cluster-upgrade.yml on the lab (`lab.sh --clusters alfa:4,bravo:2`), under
//! the probe with no failed request allowed: cluster alfa is upgraded while bravo serves;
//! a node whose new release breaks its page stays disabled and `--notify` says failed=1;
//! bad or missing `-e` values stop at the assert's message with nothing touched.

mod support;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use support::{repo_root, Lab};

fn playbook() -> PathBuf {
    repo_root().join("playbooks/cluster-upgrade.yml")
}

const ALFA: [&str; 4] = ["web1", "web2", "web3", "web4"];
const BRAVO: [&str; 2] = ["web5", "web6"];

/// A local HTTP endpoint that takes one POST and hands back its JSON body.
struct Listener {
    url: String,
    thread: std::thread::JoinHandle<Value>,
}

impl Listener {
    fn start() -> Listener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/deploy", listener.local_addr().unwrap());
        let thread = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert_eq!(line, "POST /hooks/deploy HTTP/1.1\r\n");
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            serde_json::from_slice(&body).unwrap()
        });
        Listener { url, thread }
    }

    /// The body it received (the listener is closed by then).
    fn body(self) -> Value {
        self.thread.join().unwrap()
    }
}

fn upgrade(lab: &Lab, revision: &str, notify: &str) -> support::Outcome {
    lab.zdd()
        .apply(playbook())
        .extra("cluster=alfa")
        .extra(format!("revision={revision}"))
        .extra("health_retries=3")
        .extra("health_delay=1")
        .args(["--probe", &lab.haproxy_url(), "--max-failed-requests", "0"])
        .args(["--notify", notify])
        .run()
}

#[test]
fn alfa_is_upgraded_two_at_a_time_while_bravo_serves() {
    let lab = Lab::start_clusters(6, "alfa:4,bravo:2");
    let listener = Listener::start();
    let out = upgrade(&lab, "10", &listener.url);
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("\"msg\": \"updated 4 node cluster alfa to revision 10\""),
        "{out}"
    );
    // One disable call for the whole cluster, then two batches of two.
    assert_eq!(
        out.task_results("Disable the whole cluster in one call").len(),
        1,
        "{out}"
    );
    assert_eq!(
        out.stdout
            .matches("PLAY [Upgrade the cluster two nodes at a time]")
            .count(),
        2
    );
    for host in ALFA {
        assert_eq!(lab.version(host), "10", "{host}");
        lab.assert_up(host);
    }
    for host in BRAVO {
        assert_eq!(lab.version(host), "1", "{host} is not in alfa");
        lab.assert_up(host);
    }
    assert_eq!(out.screen("OUT OF ROTATION"), None, "{out}");
    let probe = out.screen("PROBE RECAP").expect("a probe recap");
    assert!(probe.contains(" failed=0 "), "{probe}");

    let body = listener.body();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["exit_code"], 0);
    assert_eq!(body["playbook"], playbook().display().to_string());
    assert_eq!(body["hosts"]["upgraded"].as_array().unwrap().len(), 4, "{body}");
    assert_eq!(body["hosts"]["failed"], serde_json::json!([]));
    assert_eq!(body["probe"]["failed"], 0);
    assert!(body["probe"]["requests"].as_u64().unwrap() > 0, "{body}");
}

#[test]
fn a_node_failing_its_health_check_stays_out_of_rotation_and_the_notification_says_so() {
    let lab = Lab::start_clusters(6, "alfa:4,bravo:2");
    // web2's new release breaks its page: its web server answers 403 to everything once
    // restarted (busybox httpd's `D:*`).
    let conf = lab.dir().join("conf/web2.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("D:*\n");
    std::fs::write(&conf, text).unwrap();

    let listener = Listener::start();
    let out = upgrade(&lab, "11", &listener.url);
    out.assert_code(2);
    assert!(
        out.stdout
            .contains("updated 3 node cluster alfa to revision 11; left out of rotation: web2"),
        "{out}"
    );
    lab.assert_maint("web2");
    for host in ["web1", "web3", "web4"] {
        assert_eq!(lab.version(host), "11", "{host}");
        lab.assert_up(host);
    }
    for host in BRAVO {
        lab.assert_up(host);
    }
    let out_of_rotation = out.screen("OUT OF ROTATION").expect("OUT OF ROTATION");
    assert!(
        out_of_rotation.contains("web2: loadbalancer/web2 is disabled on lb"),
        "{out_of_rotation}"
    );
    let probe = out.screen("PROBE RECAP").expect("a probe recap");
    assert!(probe.contains(" failed=0 "), "{probe}");

    let body = listener.body();
    assert_eq!(body["status"], "failed");
    assert_eq!(body["exit_code"], 2);
    assert_eq!(body["counts"]["failed"], 1, "{body}");
    assert_eq!(body["hosts"]["failed"], serde_json::json!(["web2"]));
    assert_eq!(body["counts"]["upgraded"], 3, "{body}");
    assert_eq!(
        body["out_of_rotation"],
        serde_json::json!([{"server": "loadbalancer/web2", "host": "web2", "load_balancer": "lb"}])
    );
    assert_eq!(body["probe"]["failed"], 0);
    let text = body.to_string();
    assert!(
        !text.contains("socat") && !text.contains(&lab.dir().display().to_string()),
        "{text}"
    );
}

#[test]
fn bad_or_missing_inputs_stop_at_the_asserts_message_and_touch_nothing() {
    let lab = Lab::start_clusters(6, "alfa:4,bravo:2");
    let cases: [(&[&str], &str); 4] = [
        (&[], "Please specify the cluster to upgrade with -e cluster=NAME"),
        (
            &["cluster=alfa"],
            "Please specify the revision to install with -e revision=REV",
        ),
        (
            &["cluster=al-fa", "revision=3"],
            "Please specify the cluster to upgrade",
        ),
        (
            &["cluster=zulu", "revision=3"],
            "no web host has the fact cluster=zulu",
        ),
    ];
    for (vars, message) in cases {
        let mut zdd = lab.zdd().apply(playbook());
        for v in vars {
            zdd = zdd.extra(v);
        }
        // Nobody listens there: the failed POST is a warning, the exit code stays the assert's.
        let out = zdd.args(["--notify", "http://127.0.0.1:9/"]).run();
        out.assert_code(2);
        assert!(out.stdout.contains(message), "{vars:?}: {out}");
        assert!(
            out.stderr
                .contains("[WARNING]: --notify: could not POST the summary to http://127.0.0.1:9/"),
            "{out}"
        );
        assert_eq!(out.task_results("Disable the whole cluster in one call").len(), 0);
    }
    // In the events too: the `notify` event says why, after `run_end` with the exit code.
    let out = lab
        .zdd()
        .apply(playbook())
        .json()
        .args(["--notify", "http://bot:s3cret@127.0.0.1:9/hook?token=abc"])
        .run();
    out.assert_code(2);
    let events = out.events();
    let kinds: Vec<&str> = events
        .iter()
        .rev()
        .take(2)
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["notify", "run_end"]);
    let notify = events.last().unwrap();
    assert_eq!(
        notify["url"], "http://127.0.0.1:9/hook",
        "no credentials, no query"
    );
    assert!(
        notify["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("refused"),
        "{notify}"
    );
    assert!(
        !out.all_output().contains("s3cret") && !out.all_output().contains("token=abc"),
        "{out}"
    );
    for host in ALFA.iter().chain(&BRAVO) {
        assert_eq!(lab.version(host), "1", "{host}");
        lab.assert_up(host);
    }
}

#[test]
fn check_passes_and_plan_draws_the_playbook() {
    // Neither connects to anything: an inventory of the lab's shape is enough.
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.ini");
    std::fs::write(
        &inventory,
        "[loadbalancers]\nlb\n[webappservers]\nweb[1:6]\n[all:vars]\nhaproxy_backend=loadbalancer\nhaproxy_socket=/run/haproxy.sock\n",
    )
    .unwrap();
    let zdd = || support::Zdd::new().inventory(&inventory);
    let check = zdd().check(playbook()).run();
    check.assert_code(0);
    assert!(
        check.stdout.contains(": ok (5 plays, 14 tasks and handlers"),
        "{check}"
    );
    let plan = zdd()
        .plan(playbook())
        .extra("cluster=alfa")
        .extra("revision=10")
        .run();
    plan.assert_code(0);
    for line in [
        "PLAY 1 [Check the input]",
        "PLAY 2 [Discover the cluster's nodes by their fact]",
        "PLAY 3 [Take the cluster out of rotation]",
        "PLAY 4 [Upgrade the cluster two nodes at a time]",
        "hosts: cluster_alfa (0 hosts), serial: 2\n  hosts added at run time by: Group the nodes by cluster (group_by, play 2)\n  batches: cut when the play starts",
        "PLAY 5 [Notify]",
        "- Disable the whole cluster in one call (haproxy)  run_once\n        delegate_to: {{ item }}",
        "- Put the node back into rotation (haproxy)",
    ] {
        assert!(plan.stdout.contains(line), "{line}: {plan}");
    }
}

/// Ctrl-C during the first batch: the batch finishes, the second never starts, and the
/// notification says so; the nodes of the second batch stay out of rotation (the whole
/// cluster was taken out, and only an upgraded, healthy node goes back).
#[test]
fn an_interrupted_upgrade_notifies_too() {
    let lab = Lab::start_clusters(6, "alfa:4,bravo:2");
    let listener = Listener::start();
    let mut running = lab
        .zdd()
        .apply(playbook())
        .extra("cluster=alfa")
        .extra("revision=12")
        .args(["--notify", &listener.url])
        .spawn();
    running.wait_for_line("TASK [Install the revision]", std::time::Duration::from_secs(30));
    running.interrupt();
    let out = running.wait();
    out.assert_code(130);
    let body = listener.body();
    assert_eq!(body["status"], "interrupted", "{body}");
    assert_eq!(body["exit_code"], 130);
    assert_eq!(
        body["hosts"]["upgraded"],
        serde_json::json!(["web1", "web2"]),
        "{body}"
    );
    let untouched = body["hosts"]["untouched"].to_string();
    assert!(untouched.contains("web3") && untouched.contains("web4"), "{body}");
    let out_of_rotation: Vec<&str> = body["out_of_rotation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["host"].as_str().unwrap())
        .collect();
    assert_eq!(out_of_rotation, ["web3", "web4"], "{body}");
    lab.assert_maint("web3");
    lab.assert_up("web1");
}
