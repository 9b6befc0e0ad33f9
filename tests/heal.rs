//! `zdd heal`, the handler of a Consul `checks` watch: the payload on stdin is mapped to
//! hosts and redeployed through the healer. On the lab: a critical web host whose web
//! server was stopped is redeployed and serves again under the probe with 0 failed
//! requests; the redeploy history makes a second heal over `--max-redeploys` give up; a
//! redeploy that cannot heal is retried after `--backoff`, then given up and left out; a
//! check through the load balancer redeploys the whole service (`--config`). Without a
//! lab: passing checks contact no host (the audit log stays empty), a bad payload or
//! config is exit 5 with its position, a service the config does not name is skipped, and
//! while another run holds the rollout lock nothing is done (exit 0). Interrupted while it
//! waits to retry, it exits 130 and names what is left out of rotation.

mod support;

use std::path::Path;
use std::time::Duration;
use support::{notify_sink, repo_root, Lab, Zdd};

const PLAYBOOK: &str = "examples/lab/self-healing.yml";

/// A Consul check as a `checks` watch passes it (with fields zdd ignores).
fn check(node: &str, service: &str, status: &str, output: &str) -> String {
    serde_json::json!({
        "Node": node,
        "CheckID": format!("service:{service}"),
        "Name": format!("Service '{service}' check"),
        "Status": status,
        "Notes": "",
        "Output": output,
        "ServiceID": service,
        "ServiceName": service,
        "ServiceTags": [],
        "Type": "http",
        "CreateIndex": 12,
        "ModifyIndex": 40
    })
    .to_string()
}

fn payload(checks: &[String]) -> String {
    format!("[{}]\n", checks.join(",\n"))
}

/// `zdd heal --playbook self-healing.yml` with its state (journal, history) in `state`.
fn heal(lab: &Lab, state: &Path) -> Zdd {
    lab.zdd()
        .arg("heal")
        .args(["--playbook", PLAYBOOK])
        .arg("--state-dir")
        .arg(state)
}

#[test]
fn a_critical_host_is_redeployed_and_serves_again_with_no_failed_request() {
    let lab = Lab::start(3);
    let state = tempfile::tempdir().unwrap();
    let probe = lab.probe(4);
    let stopped = lab.service("web2", "stop");
    assert!(stopped.status.success(), "stop web2: {stopped:?}");
    let refused = format!(
        "Get \"http://{}:8081/\": dial tcp {}:8081: connect: connection refused",
        lab.address("web2"),
        lab.address("web2")
    );
    let web2_critical = payload(&[
        check("web2", "web", "critical", &refused),
        check("web1", "web", "passing", "HTTP GET: 200 OK"),
        check("web3", "web", "passing", "HTTP GET: 200 OK"),
    ]);
    let (hook, posted) = notify_sink();
    let started = std::time::Instant::now();
    let out = heal(&lab, state.path())
        .args(["--notify", &hook])
        .run_with_stdin(&web2_critical);
    let took = started.elapsed();
    let counts = probe.stop();
    out.assert_code(0);
    let human = out.human();
    assert!(
        human.starts_with(
            "HEAL [1 of 3 checks critical]\n  critical: web2: Service 'web' check is critical: Get "
        ),
        "{out}"
    );
    assert!(
        human.contains("\n  redeploy: web2 with examples/lab/self-healing.yml -i "),
        "{out}"
    );
    assert!(
        human.contains("web2: healing, redeploy 1 of at most 3 this hour"),
        "{out}"
    );
    assert!(
        human.contains("web2: out of rotation (HAProxy loadbalancer/web2 at "),
        "{out}"
    );
    assert!(human.contains("web2: healed in "), "{out}");
    // Only web2 was redeployed.
    assert_eq!(
        out.recap().keys().cloned().collect::<Vec<_>>(),
        vec!["web2"],
        "{out}"
    );
    assert!(lab.page("web2").contains("version: 1<"), "{}", lab.page("web2"));
    lab.assert_up("web2");
    eprintln!(
        "zdd heal of web2: {:.1}s; probe {} requests, {} failed",
        took.as_secs_f64(),
        counts.requests,
        counts.failed
    );
    assert_eq!(
        counts.failed, 0,
        "failed requests through haproxy: {}",
        counts.stderr
    );
    assert!(counts.requests > 0);
    // --notify: one POST when the heal starts, one when it ends.
    let bodies: Vec<serde_json::Value> = posted
        .try_iter()
        .map(|b| serde_json::from_str(&b).unwrap())
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert_eq!(bodies[0]["event"], "healing");
    assert_eq!(bodies[0]["target"], "web2");
    assert_eq!(bodies[0]["hosts"], serde_json::json!(["web2"]));
    assert!(bodies[0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("web2: Service 'web' check is critical: "));
    assert_eq!(bodies[1]["event"], "healed");
    assert!(bodies[1]["took_ms"].as_u64().unwrap() > 0);

    // The history under --state-dir counts that redeploy: a second Consul call within the
    // hour, over --max-redeploys 1, gives up without redeploying.
    let history = std::fs::read_to_string(state.path().join("self-healing-inventory.heal.json")).unwrap();
    assert!(history.contains("\"web2\""), "{history}");
    lab.service("web2", "stop");
    // Over its limit while a deploy holds the rollout lock: the heal is busy and takes
    // nothing out (that deploy decides what is in rotation).
    {
        let locks = tempfile::tempdir().unwrap();
        let key = zdd::lock::lock_key(&[lab.inventory().display().to_string()]);
        let _held = zdd::lock::RolloutLock::acquire(locks.path(), &key, "started by the test").unwrap();
        let out = heal(&lab, state.path())
            .env("ZDD_LOCK_DIR", locks.path())
            .args(["--max-redeploys", "1"])
            .run_with_stdin(&web2_critical);
        out.assert_code(0);
        assert!(
            out.human().contains("web2: a deploy is running (zdd pid "),
            "{out}"
        );
        assert_ne!(lab.server_state("web2"), "MAINT");
    }
    let out = heal(&lab, state.path())
        .args(["--max-redeploys", "1"])
        .run_with_stdin(&web2_critical);
    out.assert_code(2);
    assert!(
        out.human()
            .contains("web2: given up: 1 redeploys within the hour already"),
        "{out}"
    );
    assert!(!out.human().contains("PLAY RECAP"), "{out}");
    // This process took nothing out before, yet the host given up takes no traffic.
    assert!(
        out.human()
            .contains("left out of rotation: echo \"enable server loadbalancer/web2\""),
        "{out}"
    );
    assert_eq!(lab.server_state("web2"), "MAINT");
    lab.service("web2", "start");
}

#[test]
fn a_check_through_the_load_balancer_redeploys_the_whole_service_from_the_config() {
    let lab = Lab::start(2);
    let state = tempfile::tempdir().unwrap();
    let config_dir = tempfile::tempdir().unwrap();
    let config = config_dir.path().join("heal.yml");
    std::fs::write(
        &config,
        format!(
            "services:\n  web:\n    playbook: {}\n    inventory: {}\n    extra_vars: {{version: \"2\"}}\n",
            repo_root().join(PLAYBOOK).display(),
            lab.inventory().display()
        ),
    )
    .unwrap();
    for host in ["web1", "web2"] {
        lab.service(host, "stop");
    }
    // As the seed's check through nginx: on a node the inventory does not know.
    let body = "HTTP GET http://lb:8080/: 503 Service Unavailable Output: <html><body><h1>503 Service Unavailable</h1>\r\nNo server is available to handle this request.\r\n</body></html>\r\n";
    let out = Zdd::new()
        .arg("heal")
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(state.path())
        .json()
        .run_with_stdin(&payload(&[
            check("consul-server", "web", "critical", body),
            check("consul-server", "mail", "critical", "timeout"),
        ]));
    out.assert_code(0);
    let human = out.human();
    assert!(human.contains("\n  redeploy: every host of web with "), "{out}");
    assert!(
        human.contains("[WARNING]: not healed: consul-server: Service 'mail' check is critical: timeout (service `mail` is not in the config)"),
        "{out}"
    );
    assert!(human.contains("service: healed in "), "{out}");
    let events = out.events();
    let plan = events
        .iter()
        .find(|e| e["event"] == "heal_plan")
        .expect("a heal_plan event");
    assert_eq!(plan["checks"], 2);
    assert_eq!(plan["redeploys"][0]["service"], "web");
    assert_eq!(plan["redeploys"][0]["hosts"], serde_json::json!([]));
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "heal_end" && e["outcome"] == "healed"),
        "{out}"
    );
    for host in ["web1", "web2"] {
        assert!(
            lab.page(host).contains("version: 2<"),
            "{host}: {}",
            lab.page(host)
        );
        lab.assert_up(host);
    }
}

/// An inventory whose web hosts listen nowhere: any contact would fail.
fn unreachable_inventory(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("inventory.ini");
    std::fs::write(
        &path,
        "[loadbalancers]\nlb ansible_host=127.0.0.1 ansible_port=1\n\n[webappservers]\nweb1 ansible_host=127.0.0.1 ansible_port=1 doc_root=/nonexistent web_conf=/nonexistent web_service=none http_port=1\n\n[all:vars]\nhaproxy_socket=/nonexistent\nhaproxy_backend=loadbalancer\n",
    )
    .unwrap();
    path
}

/// `zdd heal --playbook self-healing.yml` on `inventory`, without a lab.
fn heal_unreachable(inventory: &Path) -> Zdd {
    Zdd::new()
        .arg("heal")
        .args(["--playbook", PLAYBOOK])
        .inventory(inventory)
}

/// `zdd heal --config DIR/heal.yml`, that file written with `config`.
fn heal_with_config(dir: &Path, config: &str) -> Zdd {
    let path = dir.join("heal.yml");
    std::fs::write(&path, config).unwrap();
    Zdd::new().arg("heal").arg("--config").arg(path)
}

/// The payload of one check of `service` on `node`, critical: connection refused.
fn refused(node: &str, service: &str) -> String {
    payload(&[check(node, service, "critical", "connection refused")])
}

/// The audit log says no host was contacted.
fn assert_no_host_contacted(audit: &Path) {
    assert!(
        std::fs::read_to_string(audit).unwrap_or_default().is_empty(),
        "a host was contacted"
    );
}

#[test]
fn passing_checks_do_nothing_and_contact_no_host() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = unreachable_inventory(dir.path());
    let audit = dir.path().join("audit.jsonl");
    let passing = payload(&[
        check("web1", "web", "passing", "HTTP GET: 200 OK"),
        check("web1", "web", "warning", "slow"),
    ]);
    let out = heal_unreachable(&inventory)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--audit-log")
        .arg(&audit)
        .run_with_stdin(&passing);
    out.assert_code(0);
    assert_eq!(out.stdout, "HEAL [2 checks, none critical]: nothing to heal\n");
    assert_eq!(out.stderr, "");
    assert_no_host_contacted(&audit);
    // Consul's `null` (no check in that state) and an empty list are nothing to heal too.
    for empty in ["null", "[]"] {
        let out = heal_unreachable(&inventory)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .json()
            .run_with_stdin(empty);
        out.assert_code(0);
        let events = out.events();
        assert_eq!(events[0]["event"], "heal_plan", "{out}");
        assert_eq!(events[0]["checks"], 0);
        assert_eq!(events.last().unwrap()["event"], "run_end");
        assert_eq!(events.last().unwrap()["exit_code"], 0);
    }
    assert!(!dir.path().join("state").exists(), "nothing was journaled");
}

#[test]
fn a_bad_payload_is_exit_5_with_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = unreachable_inventory(dir.path());
    let out =
        heal_unreachable(&inventory).run_with_stdin("[\n  {\"Node\": \"web1\", \"Status\": critical}\n]\n");
    out.assert_code(5);
    assert_eq!(
        out.stderr,
        "error: the Consul watch payload is not valid JSON: expected value\n --> <stdin>:2:30\n  |\n2 |   {\"Node\": \"web1\", \"Status\": critical}\n  |                              ^\n  = help: zdd heal reads what a Consul `checks` watch passes its handler on stdin: a JSON array of checks with `Node`, `Status`, `CheckID`, `ServiceName`, `Output`\nzdd: 1 problem found before touching any host; nothing was changed\n"
    );
    assert_eq!(out.stdout, "");
    // A file given with --payload is named in the error.
    let file = dir.path().join("payload.json");
    std::fs::write(&file, "[{\"Node\": \"web1\"}]").unwrap();
    let out = heal_unreachable(&inventory).arg("--payload").arg(&file).run();
    out.assert_code(5);
    assert!(
        out.stderr.starts_with(
            "error: the Consul watch payload is not a list of checks: missing field `Status`\n --> "
        ),
        "{out}"
    );
    assert!(out.stderr.contains("payload.json:1:17\n"), "{out}");
}

#[test]
fn a_bad_config_is_exit_5_at_its_line_before_the_payload_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = heal_with_config(
        dir.path(),
        "services:\n  web:\n    playbok: site.yml\n    inventory: hosts\n",
    )
    .run_with_stdin("not even JSON");
    out.assert_code(5);
    let stderr = out.stderr.replace(&dir.path().display().to_string(), "[DIR]");
    assert_eq!(
        stderr,
        "error: unknown key `playbok` in service `web`\n --> [DIR]/heal.yml:3:5\n  |\n3 |     playbok: site.yml\n  |     ^\n  = help: did you mean `playbook`?\nerror: service `web` has no `playbook`\n --> [DIR]/heal.yml:2:3\n  |\n2 |   web:\n  |   ^\n  = help: the playbook that redeploys it, relative to this file\nzdd: 2 problems found before touching any host; nothing was changed\n"
    );
}

#[test]
fn checks_of_services_the_config_does_not_name_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = unreachable_inventory(dir.path());
    let config = format!(
        "services:\n  web:\n    playbook: {}\n    inventory: {}\n",
        repo_root().join(PLAYBOOK).display(),
        inventory.display()
    );
    let audit = dir.path().join("audit.jsonl");
    let out = heal_with_config(dir.path(), &config)
        .arg("--audit-log")
        .arg(&audit)
        .run_with_stdin(&refused("db1", "postgres"));
    out.assert_code(0);
    assert_eq!(
        out.stdout,
        "HEAL [1 of 1 check critical]\n  critical: db1: Service 'postgres' check is critical: connection refused\n[WARNING]: not healed: db1: Service 'postgres' check is critical: connection refused (service `postgres` is not in the config)\n"
    );
    assert_no_host_contacted(&audit);
}

#[test]
fn while_another_run_holds_the_rollout_lock_nothing_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = unreachable_inventory(dir.path());
    let locks = dir.path().join("locks");
    let key = zdd::lock::lock_key(&[inventory.display().to_string()]);
    let _held =
        zdd::lock::RolloutLock::acquire(&locks, &key, "started by the test, playbook site.yml").unwrap();
    let audit = dir.path().join("audit.jsonl");
    let out = heal_unreachable(&inventory)
        .env("ZDD_LOCK_DIR", &locks)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--audit-log")
        .arg(&audit)
        .run_with_stdin(&refused("web1", "web"));
    out.assert_code(0);
    // web1 is the inventory's only web host: every host critical, the whole service.
    assert!(out.stdout.contains("\n  redeploy: every host with "), "{out}");
    let busy = out
        .stdout
        .lines()
        .find(|l| l.starts_with("service: a deploy is running (zdd pid "));
    assert!(
        busy.is_some_and(
            |l| l.ends_with(", started by the test, playbook site.yml): not healed now, checks go on")
        ),
        "{out}"
    );
    assert!(!out.stdout.contains("PLAY RECAP"), "{out}");
    assert_no_host_contacted(&audit);
}

/// A lab of two with web2 stopped and a state dir: the upgrade cannot write web2's page,
/// so no redeploy heals it.
fn web2_down_for_good() -> (Lab, tempfile::TempDir) {
    let lab = Lab::start(2);
    let state = tempfile::tempdir().unwrap();
    lab.service("web2", "stop");
    lab.break_doc_root("web2");
    (lab, state)
}

#[test]
fn a_redeploy_that_cannot_heal_is_retried_after_its_backoff_then_given_up_and_left_out() {
    let (lab, state) = web2_down_for_good();
    // Consul knows the node by its address here: it is web2's ansible_host.
    let node = lab.address("web2");
    let out = heal(&lab, state.path())
        .args(["--max-redeploys", "2", "--backoff", "1s"])
        .run_with_stdin(&refused(&node, "web"));
    out.assert_code(2);
    let human = out.human();
    let critical = format!(
        "  critical: {node}: Service 'web' check is critical: connection refused\n  redeploy: web2 with "
    );
    let order = [
        critical.as_str(),
        "web2: healing, redeploy 1 of at most 2 this hour",
        "web2: not healed (the redeploy exited 2); next try in 1s",
        "web2: healing, redeploy 2 of at most 2 this hour",
        "web2: given up after 2 redeploys this hour (the redeploy exited 2); left out of rotation: echo \"enable server loadbalancer/web2\" | socat stdio ",
    ];
    let mut from = 0;
    for line in order {
        let at = human[from..]
            .find(line)
            .unwrap_or_else(|| panic!("no `{line}` after byte {from}:\n{out}"));
        from += at + line.len();
    }
    lab.assert_maint("web2");
    lab.assert_up("web1");
    assert!(lab.page("web1").contains("<title>web1</title>"));
}

#[test]
fn interrupted_while_waiting_to_retry_it_exits_130_and_says_what_is_out_of_rotation() {
    let (lab, state) = web2_down_for_good();
    let file = state.path().join("payload.json");
    std::fs::write(&file, refused("web2", "web")).unwrap();
    let mut running = heal(&lab, state.path())
        .args(["--backoff", "30s"])
        .arg("--payload")
        .arg(&file)
        .spawn();
    running.wait_for_line(
        "web2: not healed (the redeploy exited 2); next try in 30s",
        Duration::from_secs(30),
    );
    let asked = std::time::Instant::now();
    running.interrupt();
    let out = running.wait();
    out.assert_code(130);
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "it waited out the backoff"
    );
    let screen = out
        .screen("OUT OF ROTATION")
        .unwrap_or_else(|| panic!("no OUT OF ROTATION:\n{out}"));
    assert!(
        screen.contains("web2: loadbalancer/web2 is disabled on lb; to put it back, run there:\n    echo \"enable server loadbalancer/web2\" | socat stdio "),
        "{screen}"
    );
    lab.assert_maint("web2");
    lab.assert_up("web1");
}
