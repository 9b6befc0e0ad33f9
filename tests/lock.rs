//! One rollout at a time per inventory, on the real lab: a second `zdd apply` (or
//! `--resume`) of the same inventory while one runs is refused before it touches a host or
//! the first run's journal.

mod support;

use std::time::{Duration, Instant};
use support::{Lab, Zdd};

/// The journals in `dir` (not their events files).
fn journals(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .map(|p| std::fs::read_to_string(p).unwrap())
                .collect()
        })
        .unwrap_or_default()
}

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
    let apply = |extra: &[&str]| -> Zdd {
        lab.zdd()
            .current_dir(work.path())
            .env("ZDD_LOCK_DIR", &locks)
            .apply(&playbook)
            .args(extra)
    };
    let first = apply(&[]).spawn();
    let journal = work.path().join(".zdd/journal");
    let deadline = Instant::now() + Duration::from_secs(10);
    while journals(&journal).is_empty() {
        assert!(Instant::now() < deadline, "the first run never wrote its journal");
        std::thread::sleep(Duration::from_millis(50));
    }
    let inventory = std::fs::canonicalize(lab.inventory()).unwrap();
    for extra in [&[][..], &["--resume"]] {
        let second = apply(extra).run();
        second.assert_code(5);
        let want = format!(
            "error: another rollout of the inventory {} is running: zdd pid {}, started ",
            inventory.display(),
            first.pid()
        );
        assert!(
            second.stderr.starts_with(&want),
            "zdd apply {extra:?}: {}",
            second.stderr
        );
    }
    let after = journals(&journal);
    assert_eq!(after.len(), 1);
    assert!(
        after[0].contains(&format!("\"pid\": {}", first.pid())),
        "the refused runs left the first run's journal alone"
    );
    first.wait().assert_code(0);
    // The lock is free once the first run ended.
    apply(&[]).run().assert_code(0);
}

/// Two inventories (two teams, or two controllers) naming the same load balancer: the
/// controller lock cannot see that, the lock preflight takes on the load balancer's host
/// does. It is released when the holder dies, even by SIGKILL.
#[test]
fn a_second_rollout_through_the_same_load_balancer_is_refused_at_preflight() {
    let lab = Lab::start(1);
    let work = tempfile::tempdir().unwrap();
    let playbook = work.path().join("through-lb.yml");
    std::fs::write(
        &playbook,
        format!(
            "- hosts: webappservers\n  gather_facts: false\n  tasks:\n    \
             - name: Disable server in haproxy\n      \
               shell: echo \"disable server loadbalancer/{{{{ inventory_hostname }}}}\" | socat stdio {socket}\n      \
               delegate_to: lb\n      become: true\n    \
             - name: Slow upgrade step\n      command: sleep 30\n    \
             - name: Enable server in haproxy\n      \
               shell: echo \"enable server loadbalancer/{{{{ inventory_hostname }}}}\" | socat stdio {socket}\n      \
               delegate_to: lb\n      become: true\n",
            socket = lab.socket().display()
        ),
    )
    .unwrap();
    // Another team's inventory: the same hosts, another file.
    let other = work.path().join("other-inventory.ini");
    std::fs::copy(lab.inventory(), &other).unwrap();
    let mut first = lab.zdd().current_dir(work.path()).apply(&playbook).spawn();
    first.wait_for_line("TASK [Slow upgrade step]", Duration::from_secs(30));

    let second = lab
        .zdd()
        .current_dir(work.path())
        .inventory(&other)
        .apply(&playbook)
        .run();
    second.assert_code(5);
    let want = format!(
        "error: another rollout is changing HAProxy at lb:{}: zdd pid {} on ",
        lab.socket().display(),
        first.pid()
    );
    assert!(second.stderr.starts_with(&want), "{}", second.stderr);
    assert!(
        second.stdout.is_empty() || !second.stdout.contains("TASK ["),
        "nothing ran: {second}"
    );

    let pid = i32::try_from(first.pid()).unwrap();
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    assert_eq!(first.wait().code, None);
    // The lock goes with its holder: once the load balancer's sshd sees the channel close.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // --check: preflight (and its lock) as always, and no 30 s step.
        let third = lab
            .zdd()
            .current_dir(work.path())
            .inventory(&other)
            .apply(&playbook)
            .arg("--check")
            .run();
        if third.code == Some(0) {
            break;
        }
        assert!(
            Instant::now() < deadline && third.stderr.contains("another rollout is changing"),
            "{third}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
