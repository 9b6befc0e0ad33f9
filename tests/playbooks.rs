//! The repository's own playbooks: each passes `zdd check`, and the workshop's task demo
//! really runs hosts in parallel without `serial` and one at a time with `serial: 1`.

mod support;

use support::{Lab, Zdd};

#[test]
fn every_shipped_playbook_passes_check() {
    let root = support::repo_root();
    let vagrant = root.join("examples/vagrant/inventory/vagrant.ini");
    let lab = root.join("tests/fixtures/lab-inventory.ini");
    let blue_green = root.join("tests/fixtures/lab-blue-green-inventory.ini");
    let cases = [
        ("playbooks/zero-downtime.yml", &vagrant),
        ("playbooks/rolling-haproxy.yml", &vagrant),
        ("playbooks/task-demo.yml", &vagrant),
        ("playbooks/task-demo-serial.yml", &vagrant),
        ("examples/lab/zero-downtime.yml", &lab),
        ("examples/lab/rolling-haproxy.yml", &lab),
        ("playbooks/cloud-lb-drain.yml", &lab),
        ("playbooks/blue-green.yml", &blue_green),
    ];
    for (playbook, inventory) in cases {
        let out = Zdd::new().check(playbook).inventory(inventory).run();
        out.assert_code(0);
        let summary = out
            .stdout
            .strip_prefix(&format!("{playbook}: ok ("))
            .unwrap_or_default();
        assert!(
            summary.ends_with("); nothing was contacted\n") && out.stderr.is_empty(),
            "{playbook}:\n{out}"
        );
    }
}

/// (start, end) in milliseconds of the day, of each host's `Sleep for a bit` command, from
/// the audit log (its `time` is when the command ended).
fn sleeps(audit: &std::path::Path) -> Vec<(String, f64, f64)> {
    std::fs::read_to_string(audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["task"] == "Sleep for a bit")
        .map(|v| {
            let time = v["time"].as_str().unwrap();
            let clock = &time[11..time.len() - 1];
            let parts: Vec<f64> = clock.split(':').map(|p| p.parse().unwrap()).collect();
            let end = ((parts[0] * 60.0 + parts[1]) * 60.0 + parts[2]) * 1000.0;
            let start = end - v["duration_ms"].as_f64().unwrap();
            (v["host"].as_str().unwrap().to_owned(), start, end)
        })
        .collect()
}

/// How many `PLAY [all] ***` banners (one per batch).
fn play_banners(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with("PLAY [all] **")).count()
}

fn run_demo(lab: &Lab, playbook: &str) -> (String, Vec<(String, f64, f64)>) {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let out = lab
        .zdd()
        .apply(playbook)
        .extra("sleep_seconds=1")
        .arg("--audit-log")
        .arg(&audit)
        .run();
    out.assert_code(0);
    let recap = out.recap();
    assert_eq!(recap.len(), lab.all_hosts().len(), "{out}");
    for (host, stats) in &recap {
        assert_eq!((stats.failed, stats.unreachable), (0, 0), "{host}: {out}");
    }
    (out.stdout, sleeps(&audit))
}

#[test]
fn task_demo_runs_every_host_at_once_and_the_serial_one_host_by_host() {
    let lab = Lab::start(2);
    let hosts = lab.all_hosts().len();
    let (text, parallel) = run_demo(&lab, "playbooks/task-demo.yml");
    assert_eq!(parallel.len(), hosts, "{text}");
    assert_eq!(play_banners(&text), 1, "{text}");
    // Every sleep overlaps every other: they ran at the same time.
    let latest_start = parallel.iter().map(|s| s.1).fold(f64::MIN, f64::max);
    let earliest_end = parallel.iter().map(|s| s.2).fold(f64::MAX, f64::min);
    assert!(latest_start < earliest_end, "not concurrent: {parallel:?}");

    let (text, serial) = run_demo(&lab, "playbooks/task-demo-serial.yml");
    assert_eq!(serial.len(), hosts, "{text}");
    assert_eq!(play_banners(&text), hosts, "one batch per host:\n{text}");
    let mut ordered = serial.clone();
    ordered.sort_by(|a, b| a.1.total_cmp(&b.1));
    for pair in ordered.windows(2) {
        assert!(
            pair[0].2 <= pair[1].1,
            "overlapping sleeps with serial: 1: {pair:?}"
        );
    }
}
