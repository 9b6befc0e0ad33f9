//! `zdd watch` on the real lab: a crashed web server is taken out, redeployed and put back
//! under the probe without a failed request; a host the redeploy cannot fix is given up
//! and left out; a watch stopped or killed during a redeploy leaves no server out without
//! a report.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{notify_sink, repo_root, Lab};

fn self_healing() -> PathBuf {
    repo_root().join("examples/lab/self-healing.yml")
}

/// `zdd watch` of the lab's self-healing playbook every second, critical after 2 failures,
/// its journal (and state file) in `work`.
fn watch(lab: &Lab, work: &Path) -> support::Zdd {
    lab.zdd()
        .arg("watch")
        .arg(self_healing())
        .args(["--interval", "1s", "--failures", "2"])
        .arg("--journal")
        .arg(work.join("journal.json"))
}

const LINE_WAIT: Duration = Duration::from_secs(30);

/// web1 stopped, a `watch` running on the lab, once it has taken web1 out of rotation.
fn watch_web1_taken_out(lab: &Lab, work: &Path) -> support::Running {
    assert!(lab.service("web1", "stop").status.success());
    let mut running = watch(lab, work).spawn();
    running.wait_for_line("web1: out of rotation", LINE_WAIT);
    running
}

/// `zdd status` of the watch's journal in `work`, which exits 0.
fn watch_status(lab: &Lab, work: &Path) -> support::Outcome {
    let status = lab.zdd().status_of_journal(work.join("journal.json")).run();
    status.assert_code(0);
    status
}

#[test]
fn a_crashed_web_server_is_taken_out_redeployed_and_put_back_without_a_failed_request() {
    let lab = Lab::start(3);
    let work = tempfile::tempdir().unwrap();
    let probe = lab.probe(4);
    let audit = work.path().join("audit.jsonl");
    let mut running = watch(&lab, work.path()).arg("--audit-log").arg(&audit).spawn();
    running.wait_for_line("WATCH [3 hosts, service http://", LINE_WAIT);
    std::thread::sleep(Duration::from_millis(1500));
    let crashed = Instant::now();
    assert!(lab.service("web2", "stop").status.success());
    running.wait_for_line(
        "web2: critical after 2 failed checks (connection refused)",
        LINE_WAIT,
    );
    let detected = crashed.elapsed();
    running.wait_for_line("web2: out of rotation (HAProxy loadbalancer/web2 at ", LINE_WAIT);
    let out = crashed.elapsed();
    let healed = running.wait_for_line("web2: healed in ", Duration::from_secs(60));
    let back = crashed.elapsed();
    lab.assert_up("web2");
    let counts = probe.stop();
    running.interrupt();
    let outcome = running.wait();
    eprintln!(
        "crash -> critical {:.1}s, -> out of rotation {:.1}s, -> back {:.1}s ({healed}); probe: {} requests, {} failed",
        detected.as_secs_f64(),
        out.as_secs_f64(),
        back.as_secs_f64(),
        counts.requests,
        counts.failed
    );
    outcome.assert_code(130);
    assert_eq!(counts.failed, 0, "{counts:?}\n{outcome}");
    assert!(counts.requests > 100, "{counts:?}");
    assert!(healed.contains("(crash detected "), "{healed}");
    assert!(
        outcome.stdout.contains("web2: suspect (1/2): connection refused"),
        "{outcome}"
    );
    // The redeploy ran as apply runs it, limited to web2.
    assert_eq!(outcome.recap().keys().collect::<Vec<_>>(), ["web2"], "{outcome}");
    assert!(lab.page("web2").contains("version: 1"));
    // The watch's own take-out is in the audit log, before the redeploy's commands.
    let audit = std::fs::read_to_string(&audit).unwrap();
    let tasks: Vec<String> = audit
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["task"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let take_out = tasks
        .iter()
        .position(|t| t == "rotation: disable server loadbalancer/web2");
    let drain = tasks.iter().position(|t| t == "Drain the server out of haproxy");
    assert!(take_out.is_some() && take_out < drain, "{tasks:?}");
    // Interval x failures (2 s) plus a round, and a redeploy of a few seconds.
    assert!(detected < Duration::from_secs(5), "detected after {detected:?}");
    assert!(back < Duration::from_secs(30), "back after {back:?}");
}

/// `chattr +i` on a doc root, undone however the test ends.
struct Immutable(PathBuf);

impl Immutable {
    fn set(path: PathBuf) -> Immutable {
        let ok = std::process::Command::new("chattr")
            .arg("+i")
            .arg(&path)
            .status()
            .unwrap();
        assert!(ok.success(), "chattr +i {}", path.display());
        Immutable(path)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_host_the_redeploy_cannot_fix_is_given_up_and_left_out_while_the_others_serve() {
    let lab = Lab::start(2);
    let work = tempfile::tempdir().unwrap();
    let _immutable = Immutable::set(lab.doc_root("web2"));
    let (hook, posted) = notify_sink();
    assert!(lab.service("web2", "stop").status.success());
    let outcome = watch(&lab, work.path())
        .args([
            "--max-redeploys",
            "2",
            "--backoff",
            "1s",
            "--for",
            "14s",
            "--notify",
            &hook,
        ])
        .json()
        .run();
    outcome.assert_code(2);
    let human = outcome.human();
    assert!(
        human.contains("web2: healing, redeploy 1 of at most 2 this hour"),
        "{outcome}"
    );
    assert!(
        human.contains("web2: healing, redeploy 2 of at most 2 this hour"),
        "{outcome}"
    );
    assert!(
        human.contains("web2: given up after 2 redeploys this hour (the redeploy exited 2); left out of rotation: echo \"enable server loadbalancer/web2\" | socat stdio "),
        "{outcome}"
    );
    assert!(!human.contains("redeploy 3 of"), "{outcome}");
    assert!(human.contains("OUT OF ROTATION"), "{outcome}");
    lab.assert_maint("web2");
    lab.assert_up("web1");
    let (status, body) = support::http_get(&format!("{}:8080", lab.lb_address()), "/").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("host: web1"), "{body}");
    // JSON: every check, and the state changes with their reasons.
    let events: Vec<serde_json::Value> = outcome
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let given_up = events
        .iter()
        .find(|e| e["event"] == "health_state" && e["to"] == "given_up")
        .unwrap_or_else(|| panic!("no given_up event:\n{}", outcome.stdout));
    assert_eq!(given_up["target"], "web2");
    assert!(events
        .iter()
        .any(|e| e["event"] == "health_check" && e["target"] == "web1" && e["ok"] == true));
    assert_eq!(events.last().unwrap()["event"], "run_end");
    assert_eq!(events.last().unwrap()["exit_code"], 2);
    // --notify: each healing's start and result, and the give-up.
    let bodies: Vec<serde_json::Value> = posted
        .try_iter()
        .map(|b| serde_json::from_str(&b).unwrap())
        .collect();
    let kinds: Vec<&str> = bodies.iter().map(|b| b["event"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["healing", "not_healed", "healing", "given_up"],
        "{bodies:?}"
    );
    assert_eq!(bodies[3]["out_of_rotation"][0]["server"], "loadbalancer/web2");
}

/// Ctrl-C while the redeploy's batch runs: the batch finishes (as `apply` finishes it), the
/// host passes its check and stays in rotation, the watch ends with 130 and status says so.
#[test]
fn a_watch_interrupted_during_a_redeploy_finishes_its_batch_and_ends_130() {
    let lab = Lab::start(2);
    let work = tempfile::tempdir().unwrap();
    let mut running = watch_web1_taken_out(&lab, work.path());
    running.wait_for_line("TASK [Write the web server configuration]", LINE_WAIT);
    running.interrupt();
    let outcome = running.wait();
    outcome.assert_code(130);
    // Its last batch done, the run exits 0 (healed) or 130 (interrupted, healthy anyway).
    let said = |text: &str| outcome.stdout.contains(text);
    assert!(
        said("web1: healed in ")
            || said("web1: interrupted (the redeploy exited 130); it passes its check and is in rotation"),
        "{outcome}"
    );
    assert!(!outcome.stdout.contains("OUT OF ROTATION"), "{outcome}");
    lab.assert_up("web1");
    let status = watch_status(&lab, work.path());
    assert!(status.stdout.contains("WATCH\nthe last watch (pid "), "{status}");
    assert!(status.stdout.contains("with exit code 130"), "{status}");
    assert!(
        status.stdout.contains("web1, exit 0 (healed)")
            || status.stdout.contains("web1, exit 130 (interrupted)"),
        "{status}"
    );
    assert!(
        !status.stdout.contains("left out of rotation by the watch"),
        "{status}"
    );
}

#[test]
fn a_watch_killed_during_a_redeploy_leaves_the_host_out_with_its_restore_command_in_status() {
    let lab = Lab::start(2);
    let work = tempfile::tempdir().unwrap();
    let running = watch_web1_taken_out(&lab, work.path());
    let pid = i32::try_from(running.pid()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let _ = running.wait();
    lab.assert_maint("web1");
    let status = watch_status(&lab, work.path());
    assert!(
        status.stdout.contains("was killed: it is gone without ending"),
        "{status}"
    );
    assert!(
        status.stdout.contains("web1: loadbalancer/web1 is disabled on lb; to put it back, run there:\n    echo \"enable server loadbalancer/web1\" | socat stdio "),
        "{status}"
    );
}

/// Without haproxy's retries, requests sent to the crashed server before the watch takes it
/// out fail (reported); from the take-out on, none does.
#[test]
fn with_a_strict_haproxy_no_request_fails_after_the_take_out() {
    let lab = Lab::start_strict(3);
    let work = tempfile::tempdir().unwrap();
    let whole = lab.probe(4);
    let mut running = watch(&lab, work.path()).spawn();
    running.wait_for_line("WATCH [3 hosts", LINE_WAIT);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(lab.service("web3", "stop").status.success());
    running.wait_for_line("web3: out of rotation", LINE_WAIT);
    let after_take_out = lab.probe(4);
    running.wait_for_line("web3: healed in ", Duration::from_secs(60));
    let after = after_take_out.stop();
    let whole = whole.stop();
    running.interrupt();
    let outcome = running.wait();
    eprintln!(
        "strict haproxy: {} of {} requests failed between the crash and the take-out; {} of {} after it",
        whole.failed, whole.requests, after.failed, after.requests
    );
    outcome.assert_code(130);
    assert_eq!(after.failed, 0, "{after:?}\n{outcome}");
    lab.assert_up("web3");
}

#[test]
fn a_host_without_a_health_check_or_a_bad_interval_is_exit_5_before_anything_is_contacted() {
    let dir = tempfile::tempdir().unwrap();
    let playbook = dir.path().join("site.yml");
    std::fs::write(&playbook, "- hosts: web\n  tasks:\n  - debug: msg=hi\n").unwrap();
    let inventory = dir.path().join("hosts.ini");
    // Addresses nobody listens on: a contact would fail, not hang.
    std::fs::write(&inventory, "[web]\nweb1 ansible_host=127.0.0.1 ansible_port=9\nweb2 ansible_host=127.0.0.1 ansible_port=9 zdd_health_port=9\n").unwrap();
    let zdd = || {
        support::Zdd::new()
            .inventory(&inventory)
            .current_dir(dir.path())
            .arg("watch")
            .arg(&playbook)
    };
    let out = zdd().run();
    out.assert_code(5);
    assert!(
        out.stderr
            .contains("no health check for web1: zdd watch cannot tell whether it is healthy"),
        "{out}"
    );
    assert!(out.stderr.contains("--health-url"), "{out}");
    let out = zdd().args(["--health-url", "https://{{ ansible_host }}/"]).run();
    out.assert_code(5);
    assert!(out.stderr.contains("https:// is not supported"), "{out}");
    let out = zdd().args(["--health-port", "80", "--interval", "2x"]).run();
    out.assert_code(5);
    assert!(out.stderr.contains("`x` is not a unit of time"), "{out}");
    assert!(!dir.path().join(".zdd").exists(), "nothing written");
}

#[test]
fn when_every_web_server_is_down_the_whole_service_is_redeployed_once() {
    let lab = Lab::start(2);
    let work = tempfile::tempdir().unwrap();
    for host in ["web1", "web2"] {
        assert!(lab.service(host, "stop").status.success());
    }
    let mut running = watch(&lab, work.path()).spawn();
    running.wait_for_line("service: critical after 2 failed checks (HTTP 503)", LINE_WAIT);
    running.wait_for_line("service: healing, redeploy 1 of at most 3 this hour", LINE_WAIT);
    running.wait_for_line("service: healed in ", Duration::from_secs(60));
    running.interrupt();
    let outcome = running.wait();
    outcome.assert_code(130);
    let recap = outcome.recap();
    assert_eq!(recap.keys().collect::<Vec<_>>(), ["web1", "web2"], "{outcome}");
    assert!(
        !outcome.stdout.contains("web1: healing"),
        "no host redeployed alone:\n{outcome}"
    );
    lab.assert_up("web1");
    lab.assert_up("web2");
}

/// A human's rollout holds the lock: the watch checks on, heals nothing, and says why.
#[test]
fn while_another_run_holds_the_rollout_lock_the_watch_checks_but_heals_nothing() {
    let lab = Lab::start(2);
    let work = tempfile::tempdir().unwrap();
    let locks = tempfile::tempdir().unwrap();
    let inventory = lab.inventory().display().to_string();
    let _held = zdd::lock::RolloutLock::acquire(
        locks.path(),
        &zdd::lock::lock_key(&[inventory]),
        "started by the test, playbook upgrade.yml",
    )
    .unwrap();
    assert!(lab.service("web2", "stop").status.success());
    let (hook, posted) = notify_sink();
    let outcome = watch(&lab, work.path())
        .env("ZDD_LOCK_DIR", locks.path())
        .args(["--for", "4s", "--notify", &hook])
        .run();
    outcome.assert_code(0);
    // No redeploy started, so nothing to notify: no `healing` POST each round.
    let bodies: Vec<String> = posted.try_iter().collect();
    assert!(bodies.is_empty(), "{bodies:?}");
    assert!(
        outcome.stdout.contains("web2: a deploy is running (zdd pid ")
            && outcome
                .stdout
                .contains("started by the test, playbook upgrade.yml): not healed now, checks go on"),
        "{outcome}"
    );
    assert!(!outcome.stdout.contains("healing"), "{outcome}");
    assert!(
        lab.service("web2", "status").status.code() != Some(0),
        "web2 was left alone"
    );
}

/// A crashed host that cannot be reached for its redeploy: out of rotation, not healed,
/// exit 4 when the watch ends, and it is reported out.
#[test]
fn a_host_unreachable_for_its_redeploy_stays_out_and_the_watch_ends_4() {
    let lab = Lab::start(2);
    let work = tempfile::tempdir().unwrap();
    lab.stop_sshd("web2");
    assert!(lab.service("web2", "stop").status.success());
    let outcome = watch(&lab, work.path()).args(["--for", "6s"]).run();
    outcome.assert_code(4);
    assert!(outcome.stdout.contains("web2: out of rotation"), "{outcome}");
    assert!(
        outcome
            .stdout
            .contains("web2: not healed (the redeploy exited 4); next try in 30s"),
        "{outcome}"
    );
    assert!(outcome.stdout.contains("OUT OF ROTATION"), "{outcome}");
    lab.assert_maint("web2");
    lab.assert_up("web1");
}
