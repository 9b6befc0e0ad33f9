//! The renderers on real runs against the lab: the NDJSON stream (`--output json`), the
//! JUnit report (`--junit`), verbosity (`-v`, `-vv`) and the live progress line, which
//! only a terminal gets.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::Lab;

const LAB_PLAYBOOK: &str = "examples/lab/zero-downtime.yml";

/// One task fails on web1 (rc 3), one is skipped everywhere, one runs after the failure.
const FAILING_PLAYBOOK: &str = r#"
- hosts: webappservers
  gather_facts: false
  tasks:
    - name: Check the release
      shell: echo checking; echo "bad <release> & co" >&2; exit {{ 3 if inventory_hostname == 'web1' else 0 }}
    - name: Only on Fridays
      command: echo friday
      when: ansible_weekday | default('') == 'Friday'
    - name: After the check
      command: echo after
"#;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write_playbook(lab: &Lab, name: &str, body: &str) -> PathBuf {
    let path = lab.dir().join(name);
    std::fs::write(&path, body).unwrap();
    path
}

fn apply(lab: &Lab, playbook: &Path, args: &[&str]) -> Output {
    lab.zdd_command()
        .arg("apply")
        .arg(playbook)
        .arg("-i")
        .arg(lab.inventory())
        .args(args)
        .output()
        .expect("run zdd")
}

/// Every line of stdout parsed as one JSON object; panics on any line that is not.
fn events(out: &Output) -> Vec<Value> {
    let stdout = text(&out.stdout);
    assert!(!stdout.is_empty(), "no events; stderr:\n{}", text(&out.stderr));
    stdout
        .lines()
        .map(|line| {
            let event: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
            assert!(event["event"].is_string(), "untagged event: {line}");
            assert!(event["time"].as_u64().is_some(), "no time: {line}");
            event
        })
        .collect()
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// The `PLAY RECAP` of the human output, as `host -> {ok: n, changed: n, ...}`.
fn human_recap(human: &str) -> BTreeMap<String, BTreeMap<String, u64>> {
    let recap = human.split("PLAY RECAP").nth(1).expect("a PLAY RECAP");
    recap
        .lines()
        .filter_map(|line| line.split_once(" : "))
        .map(|(host, counts)| {
            let counts = counts
                .split_whitespace()
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_owned(), v.parse().unwrap())
                })
                .collect();
            (host.trim().to_owned(), counts)
        })
        .collect()
}

fn json_recap(events: &[Value]) -> BTreeMap<String, BTreeMap<String, u64>> {
    let recaps = of_kind(events, "recap");
    assert_eq!(recaps.len(), 1, "one recap, at the end");
    assert_eq!(events.last().unwrap()["event"], "recap");
    serde_json::from_value(recaps[0]["hosts"].clone()).unwrap()
}

/// The results a recap counts: one per host per task (loop items are reported on their own
/// first, and the task's result after them).
fn task_results<'a>(events: &'a [Value], host: &str) -> Vec<&'a Value> {
    of_kind(events, "host_result")
        .into_iter()
        .filter(|r| r["host"] == host && r["item"].is_null())
        .collect()
}

#[test]
fn json_stream_of_a_successful_rollout_parses_line_by_line_and_matches_the_recap() {
    let lab = Lab::start(2);
    let out = apply(
        &lab,
        Path::new(LAB_PLAYBOOK),
        &["-e", "version=2", "--output", "json"],
    );
    let human = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "zdd failed:\n{human}");
    let events = events(&out);

    assert_eq!(events[0]["event"], "playbook_start");
    let batches = of_kind(&events, "batch_start");
    assert_eq!(batches.len(), 2, "serial: 1 over two hosts");
    assert_eq!(batches[1]["index"], 2);
    assert_eq!(batches[1]["total"], 2);
    assert_eq!(batches[1]["hosts"], serde_json::json!(["web2"]));
    let times: Vec<u64> = events.iter().map(|e| e["time"].as_u64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "times go forward");

    for r in of_kind(&events, "host_result") {
        for key in [
            "host",
            "delegate",
            "task",
            "status",
            "changed",
            "rc",
            "duration_ms",
        ] {
            assert!(r.get(key).is_some(), "no `{key}` in {r}");
        }
        assert!(["ok", "changed"].contains(&r["status"].as_str().unwrap()), "{r}");
    }
    let disable: Vec<&Value> = of_kind(&events, "host_result")
        .into_iter()
        .filter(|r| r["task"] == "Disable server in haproxy" && r["item"] == "lb")
        .collect();
    assert_eq!(disable.len(), 2);
    assert_eq!(disable[0]["delegate"], "lb");
    assert_eq!(disable[0]["rc"], 0);
    assert_eq!(disable[0]["status"], "changed");
    // Every host that starts a task finishes it.
    assert_eq!(
        of_kind(&events, "host_start").len(),
        task_results(&events, "web1").len() + task_results(&events, "web2").len()
    );

    let recap = json_recap(&events);
    assert_eq!(recap, human_recap(&human), "the JSON recap is the human one");
    for host in lab.hosts() {
        let results = task_results(&events, &host);
        let counts = &recap[&host];
        assert_eq!(counts["ok"], results.len() as u64, "{host}: {counts:?}");
        let changed = results.iter().filter(|r| r["changed"] == true).count();
        assert_eq!(counts["changed"], changed as u64, "{host}");
        assert_eq!(counts["failed"], 0);
    }
}

#[test]
fn a_failed_task_is_reported_with_its_rc_and_counted_and_exits_2() {
    let lab = Lab::start(2);
    let playbook = write_playbook(&lab, "failing.yml", FAILING_PLAYBOOK);
    let out = apply(&lab, &playbook, &["--output", "json"]);
    let human = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "expected a failed host:\n{human}");
    let events = events(&out);

    let check: Vec<&Value> = of_kind(&events, "host_result")
        .into_iter()
        .filter(|r| r["task"] == "Check the release")
        .collect();
    let web1 = check.iter().find(|r| r["host"] == "web1").unwrap();
    assert_eq!(web1["status"], "failed");
    assert_eq!(web1["rc"], 3);
    assert_eq!(web1["result"]["stdout"], "checking");
    let web2 = check.iter().find(|r| r["host"] == "web2").unwrap();
    assert_eq!(web2["status"], "changed");
    assert_eq!(web2["rc"], 0);
    // web1 left the play: no result of its own after the failure.
    let web1_tasks: Vec<&str> = task_results(&events, "web1")
        .iter()
        .map(|r| r["task"].as_str().unwrap())
        .collect();
    assert_eq!(web1_tasks, ["Check the release"]);
    let skipped = task_results(&events, "web2")
        .into_iter()
        .find(|r| r["task"] == "Only on Fridays")
        .unwrap();
    assert_eq!(skipped["status"], "skipped");

    let batch_end = of_kind(&events, "batch_end");
    assert_eq!(batch_end[0]["failed"], serde_json::json!(["web1"]));
    assert_eq!(batch_end[0]["completed"], serde_json::json!(["web2"]));
    let recap = json_recap(&events);
    assert_eq!(recap, human_recap(&human));
    assert_eq!(recap["web1"]["failed"], 1);
    assert_eq!(recap["web1"]["ok"], 0);
    assert_eq!(recap["web2"]["failed"], 0);
    assert_eq!(recap["web2"]["skipped"], 1);
    assert_eq!(recap["web2"]["ok"], 2);
}

#[test]
fn unreachable_host_is_an_event_with_the_reason_and_exits_4() {
    let lab = Lab::start(2);
    lab.stop_sshd("web2");
    let report = lab.dir().join("unreachable.xml");
    let out = apply(
        &lab,
        Path::new(LAB_PLAYBOOK),
        &["--output", "json", "--junit", report.to_str().unwrap()],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "expected unreachable:\n{stderr}");
    let events = events(&out);
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["playbook_start", "preflight_failed"], "nothing ran");
    assert_eq!(events[1]["problems"], serde_json::json!([]));
    let hosts = events[1]["unreachable"].as_object().unwrap();
    assert_eq!(hosts.keys().collect::<Vec<_>>(), ["web2"]);
    let why = hosts["web2"].as_str().unwrap();
    assert!(why.contains("refused"), "the reason is ssh's: {why}");
    assert!(stderr.contains("web2"), "{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");

    let xml = std::fs::read_to_string(&report).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(root.attribute("errors"), Some("1"));
    let case = doc.descendants().find(|n| n.has_tag_name("testcase")).unwrap();
    assert_eq!(case.attribute("name"), Some("preflight [web2]"));
    let error = case.children().find(|n| n.has_tag_name("error")).unwrap();
    assert_eq!(error.attribute("type"), Some("unreachable"));
    assert!(error.attribute("message").unwrap().contains("refused"));
}

#[test]
fn junit_report_has_a_testcase_per_host_and_task_with_failures_and_skips() {
    let lab = Lab::start(2);
    let playbook = write_playbook(&lab, "failing.yml", FAILING_PLAYBOOK);
    let report = lab.dir().join("report.xml");
    let out = apply(&lab, &playbook, &["--junit", report.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let xml = std::fs::read_to_string(&report).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}:\n{xml}"));

    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let count = |attr: &str| root.attribute(attr).unwrap().to_owned();
    // web1: the check (failed). web2: the check, the skip, the task after.
    assert_eq!(
        [
            count("tests"),
            count("failures"),
            count("errors"),
            count("skipped")
        ],
        ["4", "1", "0", "1"]
    );
    let cases: Vec<(String, String)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| {
            assert_eq!(n.attribute("classname"), Some("webappservers"));
            assert!(n.attribute("time").unwrap().parse::<f64>().is_ok());
            let outcome = n
                .children()
                .find(|c| c.is_element())
                .map(|c| c.tag_name().name().to_owned())
                .unwrap_or_else(|| "passed".into());
            (n.attribute("name").unwrap().to_owned(), outcome)
        })
        .collect();
    let expected = [
        ("Check the release [web1]", "failure"),
        ("Check the release [web2]", "passed"),
        ("Only on Fridays [web2]", "skipped"),
        ("After the check [web2]", "passed"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(cases, expected);

    let failure = doc.descendants().find(|n| n.has_tag_name("failure")).unwrap();
    // The markup in the command's stderr came through escaped and back intact.
    assert_eq!(
        failure.attribute("message"),
        Some("non-zero return code: bad <release> & co (rc=3)")
    );
    assert!(failure.text().unwrap().contains("\"rc\": 3"));
    let skipped = doc.descendants().find(|n| n.has_tag_name("skipped")).unwrap();
    assert!(skipped.attribute("message").unwrap().contains("ansible_weekday"));
}

#[test]
fn verbosity_shows_results_then_the_commands_run_on_hosts() {
    let lab = Lab::start(1);
    let playbook = write_playbook(
        &lab,
        "echo.yml",
        "- hosts: web1\n  gather_facts: false\n  tasks:\n    - name: Say\n      shell: echo zdd-marker-$((40 + 2))\n",
    );
    let quiet = apply(&lab, &playbook, &[]);
    assert_eq!(quiet.status.code(), Some(0));
    assert!(text(&quiet.stdout).contains("changed: [web1]\n"));
    assert!(!text(&quiet.stderr).contains("zdd-marker"));

    let v = apply(&lab, &playbook, &["-v"]);
    let stdout = text(&v.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("changed: [web1] => {"))
        .unwrap_or_else(|| panic!("no result body at -v:\n{stdout}"));
    assert!(line.contains("\"stdout\": \"zdd-marker-42\""), "{line}");
    assert!(!text(&v.stderr).contains("EXEC"));

    let vv = apply(&lab, &playbook, &["-vv"]);
    assert_eq!(vv.status.code(), Some(0));
    let stderr = text(&vv.stderr);
    let exec = stderr
        .lines()
        .find(|l| l.contains("<web1> EXEC"))
        .unwrap_or_else(|| panic!("no command at -vv:\n{stderr}"));
    assert!(exec.contains("echo zdd-marker-$((40 + 2))"), "{exec}");
    assert!(stderr.contains("<web1> rc=0 in "), "{stderr}");
    assert!(!stderr.contains("SSH MASTER"), "ssh details wait for -vvv");
    assert!(!text(&vv.stdout).contains("EXEC"), "logs stay on stderr");

    let vvv = apply(&lab, &playbook, &["-vvv"]);
    let stderr = text(&vvv.stderr);
    let master = stderr
        .lines()
        .find(|l| l.contains("<web1> SSH MASTER"))
        .unwrap_or_else(|| panic!("no ssh command line at -vvv:\n{stderr}"));
    assert!(master.contains(&lab.address("web1")), "{master}");
    assert!(stderr.contains("<web1> connected to "), "{stderr}");
}

/// Run `command` with stdout on a pseudo-terminal (util-linux `script`); its output.
fn on_terminal(command: &str) -> String {
    let out = Command::new("script")
        .args(["-q", "-e", "-c", command, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script(1)");
    text(&out.stdout)
}

#[test]
fn progress_line_is_drawn_on_a_terminal_only() {
    let lab = Lab::start(2);
    let zdd = env!("CARGO_BIN_EXE_zdd");
    let inventory = lab.inventory();
    let playbook = support::repo_root().join(LAB_PLAYBOOK);
    let base = format!(
        "{zdd} apply {} -i {} -e version=2",
        playbook.display(),
        inventory.display()
    );

    let piped = apply(&lab, Path::new(LAB_PLAYBOOK), &["-e", "version=2"]);
    assert_eq!(piped.status.code(), Some(0));
    let stdout = text(&piped.stdout);
    assert!(!stdout.contains('\u{1b}'), "escape codes in piped output");
    assert!(!stdout.contains("batch 1/2"), "a progress line in piped output");
    assert!(stdout.contains("PLAY RECAP"));

    let live = on_terminal(&base);
    assert!(live.contains("batch 1/2 [webappservers]"), "{live}");
    assert!(live.contains("batch 2/2 [webappservers]"), "{live}");
    assert!(live.contains('\u{1b}'), "the line is redrawn in place");
    // The human output is whole underneath: every result line and the recap.
    assert!(live.contains("PLAY RECAP"), "{live}");
    assert_eq!(live.matches("RUNNING HANDLER [Restart web server]").count(), 2);

    let off = on_terminal(&format!("{base} --no-progress"));
    assert!(off.contains("PLAY RECAP"), "{off}");
    assert!(!off.contains("batch 1/2"), "--no-progress draws no line:\n{off}");
    assert!(!off.contains('\u{1b}'), "{off}");
}
