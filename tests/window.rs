//! `--max-connections`: above it, zdd keeps SSH masters open only for the batch in flight,
//! the next batch and the load balancer's host; under it (the default), every master stays
//! open for the whole run, as before.

mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::{Lab, Outcome, Zdd};

/// The lab's rolling upgrade with `serial: 2` (two web hosts per batch).
fn two_per_batch(dir: &Path) -> PathBuf {
    let playbook = std::fs::read_to_string(support::lab_playbook()).unwrap();
    assert!(playbook.contains("\n  serial: 1\n"));
    let templates = support::lab_playbook().with_file_name("templates");
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    for name in ["httpd.conf.j2", "index.html.j2"] {
        std::fs::copy(templates.join(name), dir.join("templates").join(name)).unwrap();
    }
    let path = dir.join("two-per-batch.yml");
    std::fs::write(&path, playbook.replace("\n  serial: 1\n", "\n  serial: 2\n")).unwrap();
    path
}

/// Run `zdd` and read its `ssh -M` children from /proc every ~20 ms: the outcome, the
/// most masters seen at once, and every master pid seen.
fn run_counting_masters(zdd: Zdd) -> (Outcome, usize, HashSet<u32>) {
    let mut running = zdd.spawn();
    let pid = running.pid();
    let (mut peak, mut seen) = (0, HashSet::new());
    while running.is_running() {
        let masters = support::ssh_masters_of(pid);
        peak = peak.max(masters.len());
        seen.extend(masters);
        std::thread::sleep(Duration::from_millis(20));
    }
    (running.wait(), peak, seen)
}

#[test]
fn a_small_connection_window_closes_finished_batches_and_the_rollout_succeeds() {
    let lab = Lab::start(6);
    let dir = tempfile::tempdir().unwrap();
    let playbook = two_per_batch(dir.path());

    // The default window (256) holds all 7 masters: none is closed or opened twice.
    let (out, peak, seen) = run_counting_masters(lab.zdd().apply(&playbook).extra("version=2").json());
    out.assert_code(0);
    assert_eq!(seen.len(), 7, "one master per web host and the lb:\n{out}");
    assert!(peak >= 6, "all masters stay open together (peak {peak})");
    assert!(
        !out.stdout.contains("\"peak_masters\""),
        "the recap says nothing under the limit:\n{}",
        out.stdout
    );

    // Three at most: batches of 2, the one in flight and the next, and the lb: 2x2+1.
    let (out, peak, seen) = run_counting_masters(
        lab.zdd()
            .apply(&playbook)
            .extra("version=3")
            .args(["--max-connections", "3"])
            .json(),
    );
    out.assert_code(0);
    for host in lab.hosts() {
        assert_eq!(lab.version(&host), "3", "{host} upgraded:\n{out}");
        lab.assert_up(&host);
    }
    assert!(
        peak <= 5,
        "at most 2 batches of 2 and the lb open at once, saw {peak}:\n{out}"
    );
    assert!(
        seen.len() > 7,
        "hosts checked in preflight are reconnected for their batch ({} masters):\n{out}",
        seen.len()
    );
    let events = out.events();
    let recap = events
        .iter()
        .find(|e| e["event"] == "recap")
        .unwrap_or_else(|| panic!("no recap event:\n{out}"));
    let reported = recap["peak_masters"]
        .as_u64()
        .unwrap_or_else(|| panic!("{recap}"));
    assert!((1..=5).contains(&reported), "{recap}");
}

#[test]
fn an_unreachable_host_stops_a_windowed_run_in_preflight_before_any_change() {
    let lab = Lab::start(6);
    let hosts = lab.hosts();
    let dir = tempfile::tempdir().unwrap();
    let playbook = two_per_batch(dir.path());
    lab.stop_sshd(&hosts[4]);
    let before: Vec<String> = hosts.iter().map(|h| lab.page(h)).collect();
    let out = lab
        .zdd()
        .apply(&playbook)
        .extra("version=4")
        .args(["--max-connections", "3", "--forks", "2"])
        .run();
    out.assert_code(4);
    assert!(
        out.redacted().contains(&format!(
            "error: 1 host(s) unreachable; nothing was changed:\n  {}: ssh: connect to host",
            hosts[4]
        )),
        "{out}"
    );
    let after: Vec<String> = hosts.iter().map(|h| lab.page(h)).collect();
    assert_eq!(after, before, "no host may be touched");
    for host in hosts.iter().filter(|h| **h != hosts[4]) {
        lab.assert_up(host);
    }
}

#[test]
fn a_host_that_cannot_be_reconnected_for_its_batch_is_unreachable() {
    let lab = Lab::start(6);
    let hosts = lab.hosts();
    let dir = tempfile::tempdir().unwrap();
    let playbook = two_per_batch(dir.path());
    let mut zdd = lab
        .zdd()
        .apply(&playbook)
        .extra("version=5")
        .args(["--max-connections", "3", "--no-progress"])
        .spawn();
    // Preflight is over (web6, of the last batch, was checked and disconnected): its sshd
    // goes away before its batch connects again.
    zdd.wait_for_line("TASK [", Duration::from_secs(60));
    lab.stop_sshd(&hosts[5]);
    let out = zdd.wait();
    out.assert_code(4);
    assert_eq!(out.recap_of(&hosts[5]).unreachable, 1, "{out}");
    for host in &hosts[..5] {
        assert_eq!(lab.version(host), "5", "{host} upgraded:\n{out}");
        assert_eq!(out.recap_of(host).unreachable, 0, "{out}");
    }
}

/// A run raises its open-files soft limit to the hard one (at most 65536) before it opens
/// connections: one master and its shells cost several descriptors, and 256 hosts open at
/// once need more than the usual 1024. Seen by a task on the controller, under `ulimit -Sn 1024`.
#[test]
fn a_run_raises_its_open_files_limit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.yml"),
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n    - command: grep \"open files\" /proc/self/limits\n      register: l\n    - debug: var=l.stdout\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("i.ini"), "localhost ansible_connection=local\n").unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -Sn 1024 && ulimit -Hn && exec {} apply p.yml -i i.ini",
            env!("CARGO_BIN_EXE_zdd")
        ))
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let hard: u64 = match stdout.lines().next().unwrap().trim() {
        "unlimited" => u64::MAX,
        n => n.parse().unwrap(),
    };
    let want = hard.min(65536);
    let line = stdout
        .lines()
        .find(|l| l.contains("Max open files"))
        .expect("the task's output");
    let soft: u64 = line
        .split_whitespace()
        .nth(4)
        .unwrap()
        .trim_matches('"')
        .parse()
        .unwrap();
    assert_eq!(soft, want, "{line}");
}
