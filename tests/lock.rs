//! One rollout at a time per inventory, on the real lab: a second `zdd apply` (or
//! `--resume`) of the same inventory while one runs is refused before it touches a host or
//! the first run's journal.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};
use support::Lab;

#[test]
fn a_second_rollout_of_the_same_inventory_is_refused_while_the_first_runs() {
    let lab = Lab::start(1);
    let work = tempfile::tempdir().unwrap();
    let playbook = work.path().join("slow.yml");
    std::fs::write(
        &playbook,
        "- hosts: webappservers\n  gather_facts: false\n  tasks:\n    - command: sleep 4\n",
    )
    .unwrap();
    let locks = work.path().join("locks");
    let apply = |extra: &[&str]| {
        let mut cmd = lab.zdd();
        cmd.current_dir(work.path())
            .env("ZDD_LOCK_DIR", &locks)
            .arg("apply")
            .arg(&playbook)
            .arg("-i")
            .arg(lab.inventory())
            .args(extra);
        cmd
    };
    let first = apply(&[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let journal = work.path().join(".zdd/journal");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&journal).map_or(true, |mut d| d.next().is_none()) {
        assert!(Instant::now() < deadline, "the first run never wrote its journal");
        std::thread::sleep(Duration::from_millis(50));
    }
    let journal_before = std::fs::read_dir(&journal)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<Vec<_>>();

    for extra in [&[][..], &["--resume"]] {
        let second = apply(extra).output().unwrap();
        let stderr = String::from_utf8_lossy(&second.stderr);
        assert_eq!(second.status.code(), Some(5), "zdd apply {extra:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!(
                "error: another rollout of the inventory {} is running: zdd pid {}, started ",
                std::fs::canonicalize(lab.inventory()).unwrap().display(),
                first.id()
            )),
            "{stderr}"
        );
    }
    let journal_after = std::fs::read_dir(&journal)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(journal_after.len(), 1);
    assert!(
        journal_after[0].contains(&format!("\"pid\": {}", first.id())),
        "the refused runs left the first run's journal alone"
    );
    assert_eq!(journal_before.len(), 1);

    let out = first.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = apply(&[]).output().unwrap();
    assert_eq!(
        again.status.code(),
        Some(0),
        "the lock is free once the first run ended: {}",
        String::from_utf8_lossy(&again.stderr)
    );
}
