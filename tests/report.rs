//! The HTML report with the real binary: `--report` on a lab rollout under the probe (and
//! on `zdd watch`), `zdd report` of the saved `--output json` stream and of the journal
//! drawing the same host rows, secrets kept out of every file, and bad input refused with
//! exit 5 before anything is touched.

mod support;

use serde_json::Value;
use std::path::Path;
use support::{repo_root, Lab, Zdd};

/// The `data-host` of each `<g class="host-row" ...>` of the page, in order.
fn host_rows(html: &str) -> Vec<String> {
    let tag = regex::Regex::new(r"<g\b[^>]*>").unwrap();
    let host = regex::Regex::new(r#"\bdata-host="([^"]*)""#).unwrap();
    let class = regex::Regex::new(r#"\bclass="([^"]*)""#).unwrap();
    tag.find_iter(html)
        .map(|m| m.as_str())
        .filter(|t| {
            class
                .captures(t)
                .is_some_and(|c| c[1].split(' ').any(|c| c == "host-row"))
        })
        .filter_map(|t| host.captures(t).map(|c| c[1].to_owned()))
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["event"].as_str().unwrap()).collect()
}

/// The ProbeSamples of a stream: one per second from 0, and their requests add up to the
/// Probe report's, which follows them.
fn assert_samples_add_up(events: &[Value]) {
    let samples: Vec<&Value> = events.iter().filter(|e| e["event"] == "probe_sample").collect();
    assert!(!samples.is_empty(), "no probe_sample in {:?}", kinds(events));
    let seconds: Vec<u64> = samples.iter().map(|s| s["second"].as_u64().unwrap()).collect();
    assert_eq!(seconds, (0..samples.len() as u64).collect::<Vec<_>>());
    let probe = events
        .iter()
        .position(|e| e["event"] == "probe")
        .expect("a probe event");
    let last_sample = events.iter().rposition(|e| e["event"] == "probe_sample").unwrap();
    assert!(last_sample < probe, "the samples come before the probe's report");
    let sum: u64 = samples.iter().map(|s| s["requests"].as_u64().unwrap()).sum();
    assert_eq!(sum, events[probe]["requests"].as_u64().unwrap());
    let failed: u64 = samples.iter().map(|s| s["failed"].as_u64().unwrap()).sum();
    assert_eq!(failed, events[probe]["failed"].as_u64().unwrap());
}

#[test]
fn a_rollout_under_the_probe_draws_every_host_from_the_run_the_stream_and_the_journal() {
    let lab = Lab::start(3);
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let playbook = repo_root().join("examples/lab/zero-downtime.yml");
    let url = lab.haproxy_url();
    let journal = work.join("deploy.json");
    let page = work.join("R.html");
    let out = lab
        .zdd()
        .current_dir(work)
        .apply(&playbook)
        .extra("version=2")
        .extra("db_password=hunter2")
        .args(["--no-progress", "--probe", &url, "--report"])
        .arg(&page)
        .arg("--journal")
        .arg(&journal)
        .json()
        .run();
    out.assert_code(0);
    let hosts = lab.hosts();

    // The stream: RunInfo first, with the secret censored, then a sample per second.
    let events = out.events();
    assert_eq!(events[0]["event"], "run_info", "{:?}", kinds(&events));
    assert_eq!(events[0]["command"], "apply");
    let argv: Vec<&str> = events[0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(argv.contains(&"db_password=********"), "{argv:?}");
    assert!(argv.contains(&"version=2"), "{argv:?}");
    assert_samples_add_up(&events);
    assert_eq!(events.last().unwrap()["event"], "run_end");

    // The page written by the run names every host, as rows.
    assert_eq!(host_rows(&read(&page)), hosts);

    // The same page from the saved stream, and from the journal (its events file).
    let stream = work.join("stream.ndjson");
    std::fs::write(&stream, &out.stdout).unwrap();
    let from_stream = work.join("S.html");
    let drawn = Zdd::new()
        .no_inventory()
        .arg("report")
        .arg(&stream)
        .arg("-o")
        .arg(&from_stream)
        .run();
    drawn.assert_code(0);
    assert!(drawn.stdout.contains("S.html"), "{drawn}");
    assert_eq!(host_rows(&read(&from_stream)), hosts);

    let events_file = work.join("deploy.events.ndjson");
    let recorded: Vec<Value> = read(&events_file)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recorded[0]["event"], "run_info");
    assert_eq!(recorded.last().unwrap()["event"], "run_end");
    assert_samples_add_up(&recorded);
    let drawn = Zdd::new().no_inventory().arg("report").arg(&journal).run();
    drawn.assert_code(0);
    assert!(drawn.stdout.contains("deploy.html"), "{drawn}");
    assert_eq!(host_rows(&read(&work.join("deploy.html"))), hosts);

    // The secret is in none of them.
    for (what, text) in [
        ("the report", read(&page)),
        ("stdout", out.stdout.clone()),
        ("stderr", out.stderr.clone()),
        ("the events file", read(&events_file)),
        ("the stream's page", read(&from_stream)),
        ("the journal's page", read(&work.join("deploy.html"))),
    ] {
        assert!(!text.contains("hunter2"), "the secret is in {what}");
    }

    // `zdd watch --report`: RunInfo first, the probe's samples, and a page at its end.
    let watch_page = work.join("W.html");
    let watched = lab
        .zdd()
        .current_dir(work)
        .arg("watch")
        .arg(&playbook)
        .args(["--health-url", "http://{{ ansible_host }}:{{ http_port }}/"])
        .args(["--interval", "500ms", "--for", "2s", "--probe", &url, "--report"])
        .arg(&watch_page)
        .arg("--journal")
        .arg(&journal)
        .json()
        .run();
    watched.assert_code(0);
    let events = watched.events();
    assert_eq!(events[0]["event"], "run_info");
    assert_eq!(events[0]["command"], "watch");
    assert_samples_add_up(&events);
    assert_eq!(host_rows(&read(&watch_page)), hosts, "a row per watched host");
}

/// A project on localhost whose playbook writes `deployed.txt`: what a run touched shows.
fn local_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("deploy.yml"),
        format!(
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - name: Deploy\n      copy:\n        \
             content: \"2\\n\"\n        dest: {}/deployed.txt\n",
            dir.path().display()
        ),
    )
    .unwrap();
    support::local_inventory(dir.path());
    dir
}

#[test]
fn an_unwritable_report_is_exit_5_before_any_host_is_touched() {
    let dir = local_project();
    for command in ["apply", "watch"] {
        let mut zdd = Zdd::new()
            .current_dir(dir.path())
            .inventory("hosts.ini")
            .arg(command)
            .arg("deploy.yml")
            .args(["--report", "/nonexistent/dir/r.html"]);
        if command == "watch" {
            zdd = zdd.args(["--health-port", "1", "--for", "1s"]);
        }
        let out = zdd.run();
        out.assert_code(5);
        assert!(
            out.stderr
                .contains("cannot write the report /nonexistent/dir/r.html"),
            "{out}"
        );
        assert!(
            !dir.path().join("deployed.txt").exists(),
            "{command} touched the host"
        );
        assert!(
            !dir.path().join(".zdd/journal").exists(),
            "{command} wrote a journal"
        );
    }
}

#[test]
fn zdd_report_of_bad_input_names_the_file_and_line_and_exits_5() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"{"event":"run_end","exit_code":0,"time":1}"#;
    for (name, text, line, message) in [
        (
            "garbled.ndjson",
            format!("{good}\n{{not json\n"),
            ":2:",
            "not JSON",
        ),
        (
            "unknown.ndjson",
            format!("{good}\n\n{{\"event\":\"teleport\",\"time\":1}}\n"),
            ":3:1",
            "unknown event `teleport`",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = Zdd::new().no_inventory().arg("report").arg(&path).run();
        out.assert_code(5);
        let at = format!("{}{line}", path.display());
        assert!(out.stderr.contains(&at), "no {at}:\n{out}");
        assert!(out.stderr.contains(message), "{out}");
        assert!(!path.with_extension("html").exists());
    }
    let out = Zdd::new()
        .no_inventory()
        .arg("report")
        .arg(dir.path().join("missing.ndjson"))
        .run();
    out.assert_code(5);
    assert!(
        out.stderr.contains("cannot read") && out.stderr.contains("missing.ndjson"),
        "{out}"
    );
}
