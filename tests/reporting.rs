//! The renderers on real runs against the lab: the NDJSON stream (`--output json`), the
//! JUnit report (`--junit`), verbosity (`-v`, `-vv`) and the live progress line, which
//! only a terminal gets.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::{HostStats, Lab, Outcome};

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

fn write_playbook(lab: &Lab, name: &str, body: &str) -> PathBuf {
    let path = lab.dir().join(name);
    std::fs::write(&path, body).unwrap();
    path
}

fn apply(lab: &Lab, playbook: &Path, args: &[&str]) -> Outcome {
    lab.zdd().apply(playbook).args(args).run()
}

/// Every line of stdout parsed as one JSON event with a time; panics on any line that is not.
fn events(out: &Outcome) -> Vec<Value> {
    let events = out.events();
    for event in &events {
        assert!(event["time"].as_u64().is_some(), "no time: {event}");
    }
    events
}

fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// The `recap` event's hosts: every host with exactly Ansible's seven counters.
fn json_recap(events: &[Value]) -> BTreeMap<String, HostStats> {
    let recaps = of_kind(events, "recap");
    assert_eq!(recaps.len(), 1, "one recap, at the end");
    // After the recap, only the exit code (`run_end`).
    let after: Vec<&str> = events
        .iter()
        .rev()
        .take_while(|e| e["event"] != "recap")
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(after, ["run_end"], "the recap ends the run's events");
    serde_json::from_value(recaps[0]["hosts"].clone())
        .unwrap_or_else(|e| panic!("{e}: {}", recaps[0]["hosts"]))
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
    out.assert_code(0);
    let events = events(&out);

    assert_eq!(events[0]["event"], "run_info");
    assert_eq!(events[1]["event"], "playbook_start");
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
    assert_eq!(recap, out.recap(), "the JSON recap is the human one");
    for host in lab.hosts() {
        let results = task_results(&events, &host);
        let changed = results.iter().filter(|r| r["changed"] == true).count();
        let counts = HostStats {
            ok: results.len() as u64,
            changed: changed as u64,
            ..HostStats::default()
        };
        assert_eq!(recap[&host], counts, "{host}");
    }
}

#[test]
fn a_failed_task_is_reported_with_its_rc_and_counted_and_exits_2() {
    let lab = Lab::start(2);
    let playbook = write_playbook(&lab, "failing.yml", FAILING_PLAYBOOK);
    let out = apply(&lab, &playbook, &["--output", "json"]);
    out.assert_code(2);
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
    assert_eq!(recap, out.recap());
    let web1 = HostStats {
        failed: 1,
        ..HostStats::default()
    };
    let web2 = HostStats {
        ok: 2,
        changed: 2,
        skipped: 1,
        ..HostStats::default()
    };
    assert_eq!(
        recap,
        BTreeMap::from([("web1".to_owned(), web1), ("web2".to_owned(), web2)])
    );
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
    out.assert_code(4);
    let events = events(&out);
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["run_info", "playbook_start", "preflight_failed", "run_end"],
        "nothing ran"
    );
    assert_eq!(events[3]["exit_code"], 4);
    assert_eq!(events[2]["problems"], serde_json::json!([]));
    let hosts = events[2]["unreachable"].as_object().unwrap();
    assert_eq!(hosts.keys().collect::<Vec<_>>(), ["web2"]);
    let why = hosts["web2"].as_str().unwrap();
    let ssh_says = format!(
        "ssh: connect to host {} port 2222: Connection refused",
        lab.address("web2")
    );
    assert_eq!(why, ssh_says, "the reason is ssh's");
    assert_eq!(
        out.stderr,
        format!("error: 1 host(s) unreachable; nothing was changed:\n  web2: {ssh_says}\n")
    );

    let xml = std::fs::read_to_string(&report).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    assert_eq!(root.attribute("errors"), Some("1"));
    let case = doc.descendants().find(|n| n.has_tag_name("testcase")).unwrap();
    assert_eq!(case.attribute("name"), Some("preflight [web2]"));
    let error = case.children().find(|n| n.has_tag_name("error")).unwrap();
    assert_eq!(error.attribute("type"), Some("unreachable"));
    assert_eq!(error.attribute("message"), Some(ssh_says.as_str()));
}

#[test]
fn junit_report_has_a_testcase_per_host_and_task_with_failures_and_skips() {
    let lab = Lab::start(2);
    let playbook = write_playbook(&lab, "failing.yml", FAILING_PLAYBOOK);
    let report = lab.dir().join("report.xml");
    let out = apply(&lab, &playbook, &["--junit", report.to_str().unwrap()]);
    out.assert_code(2);
    // One batch of two hosts: they finish each task in any order.
    insta::assert_snapshot!("failed_task_in_a_batch_of_two", out.redacted_in_host_order());
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
    // The detail is the task's result, as JSON.
    let detail: Value = serde_json::from_str(failure.text().unwrap()).unwrap();
    assert_eq!(detail["rc"], 3, "{detail}");
    assert_eq!(detail["stdout"], "checking", "{detail}");
    let skipped = doc.descendants().find(|n| n.has_tag_name("skipped")).unwrap();
    assert_eq!(
        skipped.attribute("message"),
        Some("Conditional result was False: ansible_weekday | default('') == 'Friday'")
    );
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
    quiet.assert_code(0);
    assert_eq!(quiet.task_results("Say"), ["changed: [web1]"]);
    assert!(!quiet.stderr.contains("zdd-marker"));

    let v = apply(&lab, &playbook, &["-v"]);
    v.assert_code(0);
    let said = v.task_results("Say");
    let body = said
        .iter()
        .find_map(|l| l.strip_prefix("changed: [web1] => "))
        .unwrap_or_else(|| panic!("no result body at -v:\n{v}"));
    let body: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(body["stdout"], "zdd-marker-42", "{body}");
    assert!(!v.stderr.contains("EXEC"));

    let vv = apply(&lab, &playbook, &["-vv"]);
    vv.assert_code(0);
    let exec = vv
        .stderr
        .lines()
        .find(|l| l.contains("<web1> EXEC"))
        .unwrap_or_else(|| panic!("no command at -vv:\n{vv}"));
    assert!(exec.contains("echo zdd-marker-$((40 + 2))"), "{exec}");
    let rc = vv
        .stderr
        .lines()
        .find_map(|l| l.split_once("<web1> rc=").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no rc at -vv:\n{vv}"));
    assert!(rc.starts_with("0 in "), "{rc}");
    assert!(!vv.stderr.contains("SSH MASTER"), "ssh details wait for -vvv");
    assert!(!vv.stdout.contains("EXEC"), "logs stay on stderr");

    let vvv = apply(&lab, &playbook, &["-vvv"]);
    vvv.assert_code(0);
    let master = vvv
        .stderr
        .lines()
        .find(|l| l.contains("<web1> SSH MASTER"))
        .unwrap_or_else(|| panic!("no ssh command line at -vvv:\n{vvv}"));
    // The host's address is ssh's destination, its last argument.
    assert!(
        master.ends_with(&format!("\"--\" \"{}\"", lab.address("web1"))),
        "{master}"
    );
    assert!(vvv.stderr.contains("<web1> connected to "), "{vvv}");
}

#[test]
fn progress_line_is_drawn_on_a_terminal_only() {
    let lab = Lab::start(2);
    let two_hosts = |out: &Outcome, recap: &str| {
        let recap = support::parse_recap(recap).unwrap_or_else(|e| panic!("{e}:\n{out}"));
        assert_eq!(recap.keys().collect::<Vec<_>>(), ["web1", "web2"], "{out}");
    };

    let piped = apply(&lab, Path::new(LAB_PLAYBOOK), &["-e", "version=2"]);
    piped.assert_code(0);
    assert!(!piped.stdout.contains('\u{1b}'), "escape codes in piped output");
    assert!(
        !piped.stdout.contains("batch 1/2"),
        "a progress line in piped output"
    );
    two_hosts(&piped, &piped.stdout);

    let live = lab.zdd().apply(LAB_PLAYBOOK).extra("version=2").run_on_terminal();
    live.assert_code(0);
    let screen = &live.stdout;
    assert!(screen.contains("batch 1/2 [webappservers]"), "{live}");
    assert!(screen.contains("batch 2/2 [webappservers]"), "{live}");
    assert!(screen.contains('\u{1b}'), "the line is redrawn in place");
    // The human output is whole underneath: every result line and the recap.
    assert_eq!(screen.matches("RUNNING HANDLER [Restart web server] ").count(), 2);
    let recap = screen
        .rsplit_once("PLAY RECAP")
        .map(|(_, r)| r)
        .unwrap_or_default();
    two_hosts(&live, &format!("PLAY RECAP{}", recap.replace("\r\n", "\n")));

    let off = lab
        .zdd()
        .apply(LAB_PLAYBOOK)
        .extra("version=2")
        .arg("--no-progress")
        .run_on_terminal();
    off.assert_code(0);
    assert!(
        !off.stdout.contains("batch 1/2"),
        "--no-progress draws no line:\n{off}"
    );
    assert!(!off.stdout.contains('\u{1b}'), "{off}");
    two_hosts(&off, &off.stdout.replace("\r\n", "\n"));
}
