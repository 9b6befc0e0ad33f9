//! The journal, `--resume`, `zdd status` and `--audit-log`, on the real lab.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{Lab, Outcome, Zdd};

/// zdd run from `cwd` (so that the default journal lands in `cwd/.zdd/journal`), which
/// its redacted output shows as `[CWD]`.
fn zdd_in(lab: &Lab, cwd: &Path) -> Zdd {
    lab.zdd().current_dir(cwd).redact(cwd.display(), "[CWD]")
}

fn apply(lab: &Lab, cwd: &Path, playbook: &Path, extra: &[&str]) -> Outcome {
    zdd_in(lab, cwd).apply(playbook).args(extra).run()
}

/// `zdd status PLAYBOOK -i INVENTORY`, which must succeed.
fn status(lab: &Lab, cwd: &Path, playbook: &Path) -> Outcome {
    let out = zdd_in(lab, cwd).status(playbook).run();
    out.assert_code(0);
    out
}

/// Panics unless `line` is a whole line of the redacted output.
#[track_caller]
fn assert_has_line(out: &Outcome, line: &str) {
    let text = out.redacted();
    assert!(text.lines().any(|l| l == line), "no line `{line}` in:\n{text}");
}

fn audit_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The inventory hosts that some task's command in the audit log was for (preflight's
/// checks left out).
fn audited_hosts(lines: &[Value]) -> Vec<String> {
    let mut hosts: Vec<String> = lines
        .iter()
        .filter(|l| !l["task"].as_str().unwrap().starts_with("preflight"))
        .map(|l| l["host"].as_str().unwrap().to_owned())
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// A small rolling playbook: take the host out of haproxy (delegated to lb), read its
/// page (fails when the doc root is broken), a `no_log` step with a secret, put it back.
const PLAYBOOK: &str = r#"---
- hosts: webappservers
  serial: 1
  gather_facts: false
  tasks:
    - name: Disable server in haproxy
      shell: echo "disable server {{ haproxy_backend }}/{{ inventory_hostname }}" | socat stdio {{ haproxy_socket }}
      delegate_to: "{{ groups.loadbalancers[0] }}"
      become: true
    - name: Read the page
      command: cat {{ doc_root }}/index.html
    - name: Use a secret
      shell: test -n "{{ api_token }}"
      no_log: true
    - name: Enable server in haproxy
      shell: echo "enable server {{ haproxy_backend }}/{{ inventory_hostname }}" | socat stdio {{ haproxy_socket }}
      delegate_to: "{{ groups.loadbalancers[0] }}"
      become: true
"#;

const TOKEN: &str = "api_token=s3cr3t-t0ken";

fn write_playbook(dir: &Path) -> PathBuf {
    let path = dir.join("rolling.yml");
    std::fs::write(&path, PLAYBOOK).unwrap();
    path
}

#[test]
fn resume_continues_from_the_failed_batch_and_never_touches_completed_hosts_again() {
    let lab = Lab::start(3);
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path();
    let playbook = support::lab_playbook();

    lab.break_doc_root("web2");
    let first_audit = cwd.join("first.jsonl");
    let out = apply(
        &lab,
        cwd,
        &playbook,
        &["-e", "version=2", "--audit-log", first_audit.to_str().unwrap()],
    );
    out.assert_code(2);
    let web1_pid = lab.web_pid("web1");

    // The default journal, next to where zdd ran.
    let journal_path = cwd.join(".zdd/journal/zero-downtime-inventory.json");
    let journal: Value = serde_json::from_str(&std::fs::read_to_string(&journal_path).unwrap()).unwrap();
    assert_eq!(journal["state"], "failed");
    assert_eq!(journal["exit_code"], 2);
    assert_eq!(journal["batches"].as_array().unwrap().len(), 2, "{journal:#}");
    assert_eq!(journal["batches"][0]["hosts"]["web1"]["outcome"], "completed");
    assert_eq!(journal["batches"][1]["hosts"]["web2"]["outcome"], "failed");
    assert_eq!(
        journal["batches"][1]["hosts"]["web2"]["task"],
        "Copy over webapp content"
    );
    assert_eq!(audited_hosts(&audit_lines(&first_audit)), ["web1", "web2"]);

    let shown = status(&lab, cwd, &playbook);
    insta::assert_snapshot!("status_failed", shown.redacted());

    lab.restore_doc_root("web2");
    let second_audit = cwd.join("second.jsonl");
    let out = apply(
        &lab,
        cwd,
        &playbook,
        &[
            "-e",
            "version=2",
            "--resume",
            "--audit-log",
            second_audit.to_str().unwrap(),
        ],
    );
    out.assert_code(0);
    let output = out.all_output();
    assert_has_line(
        &out,
        "[WARNING]: play `webappservers` batch 1/3 (web1) completed in the run being resumed: skipping it",
    );
    // Only web2 and web3 ran: no command for web1, not even a delegated one.
    let lines = audit_lines(&second_audit);
    assert_eq!(audited_hosts(&lines), ["web2", "web3"], "{lines:#?}");
    assert!(!std::fs::read_to_string(&second_audit).unwrap().contains("web1"));
    assert!(!output.contains("[web1"), "web1 ran again:\n{output}");
    assert_eq!(
        lab.web_pid("web1"),
        web1_pid,
        "web1's web server was restarted again"
    );
    for host in lab.hosts() {
        assert_eq!(lab.version(&host), "2", "{host}");
        lab.assert_up(&host);
    }

    let shown = status(&lab, cwd, &playbook);
    insta::assert_snapshot!("status_resumed_and_completed", shown.redacted());

    // A completed run is not resumed: --resume runs every batch again.
    let third_audit = cwd.join("third.jsonl");
    let out = apply(
        &lab,
        cwd,
        &playbook,
        &[
            "-e",
            "version=2",
            "--resume",
            "--audit-log",
            third_audit.to_str().unwrap(),
        ],
    );
    out.assert_code(0);
    assert_has_line(
        &out,
        "[WARNING]: --resume: the last run (started [TIME]) completed: starting a fresh run",
    );
    assert_eq!(
        audited_hosts(&audit_lines(&third_audit)),
        ["web1", "web2", "web3"]
    );
}

#[test]
fn a_changed_playbook_is_not_resumed_without_force() {
    let lab = Lab::start(3);
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path();
    let playbook = write_playbook(cwd);
    let journal = cwd.join("state/rollout.json");
    let journal_arg = ["--journal", journal.to_str().unwrap()];

    lab.break_doc_root("web2");
    let out = apply(&lab, cwd, &playbook, &[&["-e", TOKEN][..], &journal_arg].concat());
    out.assert_code(2);
    lab.restore_doc_root("web2");

    // The same -e is part of the run's identity; a different one is refused too.
    let out = apply(
        &lab,
        cwd,
        &playbook,
        &[&["-e", "api_token=other", "--resume"][..], &journal_arg].concat(),
    );
    out.assert_code(5);
    insta::assert_snapshot!("resume_refused_other_extra_vars", out.redacted());

    std::fs::write(&playbook, format!("{PLAYBOOK}# edited\n")).unwrap();
    let audit = cwd.join("audit.jsonl");
    let audit_arg = ["--audit-log", audit.to_str().unwrap()];
    let out = apply(
        &lab,
        cwd,
        &playbook,
        &[&["-e", TOKEN, "--resume"][..], &journal_arg, &audit_arg].concat(),
    );
    out.assert_code(5);
    insta::assert_snapshot!("resume_refused_changed_playbook", out.redacted());
    assert!(audit_lines(&audit).is_empty(), "a refused resume ran commands");

    // `status --journal` reads the same journal and sees the change.
    let shown = zdd_in(&lab, cwd).status_of_journal(&journal).run();
    shown.assert_code(0);
    insta::assert_snapshot!("status_of_a_changed_playbook", shown.redacted());

    let out = apply(
        &lab,
        cwd,
        &playbook,
        &[
            &["-e", TOKEN, "--resume", "--force"][..],
            &journal_arg,
            &audit_arg,
        ]
        .concat(),
    );
    out.assert_code(0);
    assert_eq!(audited_hosts(&audit_lines(&audit)), ["web2", "web3"]);
}

#[test]
fn the_audit_log_has_one_line_per_command_with_host_delegate_task_rc_and_no_secrets() {
    let lab = Lab::start(2);
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path();
    let playbook = write_playbook(cwd);
    let audit = cwd.join("audit.jsonl");
    lab.break_doc_root("web2");
    let out = apply(
        &lab,
        cwd,
        &playbook,
        &["-e", TOKEN, "--audit-log", audit.to_str().unwrap()],
    );
    out.assert_code(2);
    let lines = audit_lines(&audit);
    let of = |host: &str, task: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| l["host"] == host && l["task"] == task)
            .collect()
    };
    // Preflight: sudo and the HAProxy socket on lb, where the become tasks are delegated.
    let sudo = of("lb", "preflight: sudo");
    assert_eq!(sudo.len(), 1, "{lines:#?}");
    assert_eq!(sudo[0]["command"], "true");
    assert_eq!(sudo[0]["become"], "root");
    assert_eq!(of("lb", "preflight: HAProxy socket").len(), 1, "{lines:#?}");
    // web1: four tasks, one command each; web2: disable, then the failed read.
    // zdd asks HAProxy for the servers' state: before a server is first taken out, after
    // each task that talks to it, and once on the way out.
    let rotation = "rotation: HAProxy servers' state";
    assert_eq!(lines.len(), 2 + 6 + 6, "{lines:#?}");
    for (host, asked) in [("web1", 4), ("web2", 2)] {
        let asks = of(host, rotation);
        assert_eq!(asks.len(), asked, "{host}: {lines:#?}");
        for ask in asks {
            assert_eq!(
                (&ask["delegate"], &ask["become"], &ask["rc"]),
                (&Value::from("lb"), &Value::from("root"), &Value::from(0))
            );
        }
    }
    let disable = of("web1", "Disable server in haproxy");
    assert_eq!(disable.len(), 1);
    assert_eq!(disable[0]["delegate"], "lb");
    assert_eq!(disable[0]["become"], "root");
    assert_eq!(disable[0]["rc"], 0);
    // A command is logged as the script zdd sent, its trailing newline included.
    assert_eq!(
        disable[0]["command"],
        format!(
            "echo \"disable server loadbalancer/web1\" | socat stdio {}\n",
            lab.socket().display()
        )
    );
    let read = of("web1", "Read the page");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0]["delegate"], Value::Null);
    assert_eq!(
        read[0]["command"],
        format!("cat {}\n", lab.doc_root("web1").join("index.html").display())
    );
    assert!(read[0]["duration_ms"].is_u64());
    assert!(read[0]["time"].as_str().unwrap().ends_with('Z'));
    let secret = of("web1", "Use a secret");
    assert_eq!(secret.len(), 1);
    assert_eq!(secret[0]["command"], "<censored>");
    assert_eq!(secret[0]["rc"], 0);
    let failed = of("web2", "Read the page");
    assert_eq!(failed.len(), 1);
    assert_ne!(failed[0]["rc"], 0, "{:#}", failed[0]);
    assert!(of("web2", "Use a secret").is_empty());
    let raw = std::fs::read_to_string(&audit).unwrap();
    assert!(!raw.contains("s3cr3t"), "the no_log secret leaked:\n{raw}");
    assert!(!raw.contains("version: 1"), "command output leaked:\n{raw}");
}

#[test]
fn an_interrupted_run_is_journalled_and_resumed_from_the_next_batch() {
    let lab = Lab::start(3);
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path();
    let playbook = cwd.join("slow.yml");
    std::fs::write(
        &playbook,
        "- hosts: webappservers\n  serial: 1\n  gather_facts: false\n  tasks:\n    - name: Work\n      command: sleep 1\n",
    )
    .unwrap();
    let journal = cwd.join("j.json");
    let zdd = zdd_in(&lab, cwd)
        .apply(&playbook)
        .arg("--journal")
        .arg(&journal)
        .spawn();
    // Interrupt once the first batch is in flight: it finishes, nothing else starts.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        if text.contains("\"in_flight\": {") {
            break;
        }
        assert!(Instant::now() < deadline, "the first batch never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    zdd.interrupt();
    let out = zdd.wait();
    out.assert_code(130);
    assert_eq!(
        out.screen("INTERRUPTED").as_deref(),
        Some("completed: web1\nfailed: none\nnot started: web2, web3"),
        "{out}"
    );
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
    assert_eq!(j["state"], "interrupted", "{j:#}");
    assert_eq!(j["batches"].as_array().unwrap().len(), 1, "{j:#}");
    assert_eq!(j["batches"][0]["hosts"]["web1"]["outcome"], "completed");

    let shown = zdd_in(&lab, cwd).status_of_journal(&journal).run();
    shown.assert_code(0);
    insta::assert_snapshot!("status_interrupted", shown.redacted());
    let out = zdd_in(&lab, cwd).status_of_journal(&journal).json().run();
    out.assert_code(0);
    let state: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(state["resumable"], true);
    assert_eq!(state["next_batch"]["batch"], 2);
    assert_eq!(state["next_batch"]["hosts"], serde_json::json!(["web2"]));
    assert_eq!(state["never_reached"], serde_json::json!(["web2", "web3"]));
    assert_eq!(state["playbook_changed"], false);

    let audit = cwd.join("audit.jsonl");
    let out = apply(
        &lab,
        cwd,
        &playbook,
        &[
            "--resume",
            "--journal",
            journal.to_str().unwrap(),
            "--audit-log",
            audit.to_str().unwrap(),
        ],
    );
    out.assert_code(0);
    assert_eq!(audited_hosts(&audit_lines(&audit)), ["web2", "web3"]);
}
