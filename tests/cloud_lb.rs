//! playbooks/cloud-lb-drain.yml on the lab started with `--haproxy-tcp`: a load balancer
//! driven over the network from the controller (HAProxy's runtime API on TCP, every call
//! delegated to localhost), nodes discovered from it, two at a time, under the probe.

mod support;

use std::time::{Duration, Instant};
use support::{Lab, LB_PORT};

const PLAYBOOK: &str = "playbooks/cloud-lb-drain.yml";

/// How long the slow request takes: long enough to still be in flight when zdd drains its
/// node on a loaded machine (the run reaches the first drain 2-5 s after it starts there).
const SLOW_SECONDS: u64 = 10;

/// `GET /cgi-bin/slow?SECONDS` through the load balancer; (status, body).
fn slow_get(addr: &str) -> std::io::Result<(u16, String)> {
    support::http_get_within(
        addr,
        &format!("/cgi-bin/slow?{SLOW_SECONDS}"),
        Duration::from_secs(30),
    )
}

type SlowRequest = std::thread::JoinHandle<std::io::Result<(u16, String)>>;

/// Slow requests through the load balancer until one is in flight on a node of the first
/// batch (web1 or web2): round robin, with the probe's requests in between, decides where.
fn slow_request_on_first_batch(lab: &Lab) -> (Vec<SlowRequest>, String) {
    let lb = format!("{}:{LB_PORT}", lab.lb_address());
    let mut requests = Vec::new();
    for _ in 0..8 {
        let addr = lb.clone();
        requests.push(std::thread::spawn(move || slow_get(&addr)));
        std::thread::sleep(Duration::from_millis(100));
        let held = lab.servers_holding_a_long_request();
        if let Some(node) = held.into_iter().find(|s| s == "web1" || s == "web2") {
            return (requests, node);
        }
    }
    panic!("no slow request reached web1 or web2 in 8 tries");
}

#[test]
fn the_drain_waits_for_a_request_in_flight_and_every_node_is_upgraded() {
    let lab = Lab::start_haproxy_tcp(4);
    lab.zdd().check(PLAYBOOK).run().assert_code(0);
    let probe = lab.probe(4);
    let (slow, node) = slow_request_on_first_batch(&lab);
    let started = Instant::now();
    let out = lab.zdd().apply(PLAYBOOK).extra("version=2").run();
    let took = started.elapsed();
    let api = format!("HAProxy answers on localhost:TCP:{}:9999", lab.lb_address());
    assert!(out.stdout.contains(&api), "{out}");
    let counts = probe.stop();
    out.assert_code(0);
    // The drain of the node holding it waited for it to finish, then went on.
    assert!(
        out.stdout.contains(&format!(
            "FAILED - RETRYING: [{node}]: Wait for the node's connections to close"
        )),
        "{out}"
    );
    for request in slow {
        let (status, body) = request.join().unwrap().expect("the slow request got an answer");
        assert_eq!(status, 200, "{body}");
        assert!(body.starts_with("slow request served by web"), "{body}");
    }
    assert_eq!(counts.failed, 0, "{counts:?}");
    for host in lab.hosts() {
        assert_eq!(lab.version(&host), "2", "{host}");
        lab.assert_up(&host);
    }
    // Discovered from the load balancer: the four nodes, in two batches of two.
    let recap = out.recap();
    for host in lab.hosts() {
        assert_eq!(recap[&host].failed, 0, "{out}");
        assert_eq!(recap[&host].changed, 4, "{out}");
    }
    assert_eq!(
        out.stdout
            .matches("PLAY [Deploy the code, two nodes at a time]")
            .count(),
        2,
        "{out}"
    );
    eprintln!(
        "cloud-lb-drain: 4 nodes in {:.1}s, the slow request on {node}; probe: requests={} failed={} p99={:.1}ms",
        took.as_secs_f64(),
        counts.requests,
        counts.failed,
        counts.p99_ms
    );
}

#[test]
fn a_node_not_up_stops_the_run_before_any_node_changes() {
    let lab = Lab::start_haproxy_tcp(4);
    let probe = lab.probe(4);
    // zdd's own preflight first: the API must answer from the controller.
    let closed = format!("haproxy_api={}:9998", lab.lb_address());
    let out = lab.zdd().apply(PLAYBOOK).extra("version=2").extra(&closed).run();
    out.assert_code(2);
    assert!(
        out.stderr.contains(&format!(
            "localhost: HAProxy's API at TCP:{}:9998: ",
            lab.lb_address()
        )) && out.stderr.contains("Connection refused"),
        "{out}"
    );
    assert!(!out.stdout.contains("TASK ["), "{out}");
    let stop = lab.service("web3", "stop");
    assert!(stop.status.success(), "{stop:?}");
    assert!(
        lab.wait_server_state("web3", "DOWN", Duration::from_secs(10)),
        "web3 is {}",
        lab.server_state("web3")
    );
    let out = lab.zdd().apply(PLAYBOOK).extra("version=2").run();
    let counts = probe.stop();
    out.assert_code(2);
    assert!(
        out.stdout
            .contains("Node web3 is DOWN, not UP: aborting the deployment"),
        "{out}"
    );
    assert!(!out.stdout.contains("Drain the node"), "{out}");
    assert!(!out.stdout.contains("OUT OF ROTATION"), "{out}");
    for host in ["web1", "web2", "web4"] {
        assert_eq!(lab.server_state(host), "UP", "{host}");
        assert_eq!(lab.version(host), "1", "{host}");
    }
    assert_eq!(counts.failed, 0, "{counts:?}");
}

/// The oracle: ansible-playbook runs the same playbook on the same lab, with the same recap
/// (and no failed request either). Three nodes: Ansible takes ~15 s a batch here.
#[test]
fn ansible_playbook_runs_it_with_the_same_recap() {
    use support::differential::{ansible_playbook, assert_ansible_runs};
    assert_ansible_runs();
    let lab = Lab::start_haproxy_tcp(3);
    let probe = lab.probe(4);
    let ansible = std::process::Command::new(ansible_playbook())
        .arg(support::repo_root().join(PLAYBOOK))
        .arg("-i")
        .arg(lab.inventory())
        .args(["-e", "version=2"])
        .env("ANSIBLE_PYTHON_INTERPRETER", "auto_silent")
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .expect("run ansible-playbook");
    let ansible_out = String::from_utf8_lossy(&ansible.stdout).into_owned();
    assert!(
        ansible.status.success(),
        "{ansible_out}{}",
        String::from_utf8_lossy(&ansible.stderr)
    );
    for host in lab.hosts() {
        assert_eq!(lab.version(&host), "2", "{host}");
    }
    let out = lab.zdd().apply(PLAYBOOK).extra("version=3").run();
    let counts = probe.stop();
    out.assert_code(0);
    assert_eq!(
        support::parse_recap(&ansible_out).unwrap(),
        out.recap(),
        "ansible-playbook:\n{ansible_out}\nzdd:\n{out}"
    );
    for host in lab.hosts() {
        assert_eq!(lab.version(&host), "3", "{host}");
    }
    assert_eq!(counts.failed, 0, "{counts:?}");
}

/// A deploy that fails leaves its batch out of the load balancer: OUT OF ROTATION names
/// each node with the command (over the TCP API) that puts it back; once fixed and put
/// back, `--resume` rebuilds the nodes from the load balancer and finishes the rollout.
#[test]
fn a_failed_deploy_says_how_to_put_its_nodes_back_and_resume_finishes() {
    let lab = Lab::start_haproxy_tcp(4);
    let probe = lab.probe(4);
    lab.break_doc_root("web4");
    let out = lab.zdd().apply(PLAYBOOK).extra("version=2").run();
    out.assert_code(2);
    let screen = out.screen("OUT OF ROTATION").unwrap_or_else(|| panic!("{out}"));
    let api = format!("TCP:{}:9999", lab.lb_address());
    let mut restore: Vec<String> = screen
        .lines()
        .filter(|l| l.trim_start().starts_with("echo \"enable server"))
        .map(|l| l.trim().to_owned())
        .collect();
    restore.sort();
    assert_eq!(
        restore,
        ["web3", "web4"].map(|h| format!("echo \"enable server loadbalancer/{h}\" | socat stdio {api}")),
        "{out}"
    );
    assert_eq!(lab.server_state("web3"), "MAINT");
    assert_eq!(lab.server_state("web4"), "MAINT");
    lab.restore_doc_root("web4");
    for command in &restore {
        let put_back = std::process::Command::new("sh")
            .args(["-c", command])
            .output()
            .unwrap();
        assert!(put_back.status.success(), "{command}: {put_back:?}");
    }
    lab.assert_up("web3");
    lab.assert_up("web4");
    let resumed = lab.zdd().apply(PLAYBOOK).extra("version=2").arg("--resume").run();
    let counts = probe.stop();
    resumed.assert_code(0);
    assert!(
        resumed
            .all_output()
            .contains("builds the inventory (add_host, group_by): running it again"),
        "{resumed}"
    );
    assert!(
        !resumed.stdout.contains("[web1 -> localhost]"),
        "batch 1 completed before: {resumed}"
    );
    for host in lab.hosts() {
        assert_eq!(lab.version(&host), "2", "{host}");
        lab.assert_up(&host);
    }
    assert_eq!(counts.failed, 0, "{counts:?}");
}
