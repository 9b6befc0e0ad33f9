//! `zdd apply --list-hosts` / `--list-tasks` print exactly what ansible-playbook prints
//! for the same playbook and inventory (tests/list/); `--syntax-check` is `zdd check`.
//! None of them connects to a host: the inventory's addresses do not exist.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};
use support::repo_root;

fn ansible_playbook() -> PathBuf {
    std::env::var_os("ANSIBLE_PLAYBOOK")
        .map(PathBuf::from)
        .or_else(|| {
            [
                repo_root().join(".venv-ansible/bin/ansible-playbook"),
                PathBuf::from("/work/venv-ansible/bin/ansible-playbook"),
            ]
            .into_iter()
            .find(|p| p.exists())
        })
        .unwrap_or_else(|| PathBuf::from("ansible-playbook"))
}

fn run(mut cmd: Command, args: &[&str]) -> Output {
    cmd.current_dir(repo_root().join("tests/list"))
        .args(["playbook.yml", "-i", "inventory.ini"])
        .args(args)
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .env_remove("ANSIBLE_CONFIG");
    cmd.output().expect("run the tool")
}

fn zdd(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zdd"));
    cmd.arg("apply");
    run(cmd, args)
}

/// Lines without trailing blanks; the hosts of a play sorted (ansible-playbook lists
/// them from a Python set, in no fixed order).
fn normalize(stdout: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(stdout);
    let mut out: Vec<String> = Vec::new();
    let mut hosts: Vec<String> = Vec::new();
    let mut in_hosts = false;
    for line in text.lines().map(str::trim_end) {
        if in_hosts && line.starts_with("      ") {
            hosts.push(line.to_owned());
            continue;
        }
        hosts.sort();
        out.append(&mut hosts);
        in_hosts = line.starts_with("    hosts (");
        out.push(line.to_owned());
    }
    hosts.sort();
    out.append(&mut hosts);
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out
}

fn same_as_ansible(args: &[&str]) {
    let ansible = run(Command::new(ansible_playbook()), args);
    assert!(ansible.status.success(), "ansible-playbook {args:?}: {ansible:?}");
    let ours = zdd(args);
    assert_eq!(ours.status.code(), Some(0), "zdd {args:?}: {ours:?}");
    let (want, got) = (normalize(&ansible.stdout), normalize(&ours.stdout));
    assert!(want.len() > 5, "ansible printed too little: {want:?}");
    assert_eq!(got, want, "zdd apply {args:?} differs from ansible-playbook");
}

#[test]
fn list_hosts_matches_ansible() {
    same_as_ansible(&["--list-hosts"]);
    same_as_ansible(&["--list-hosts", "--limit", "web1:lb1"]);
}

#[test]
fn list_tasks_matches_ansible() {
    same_as_ansible(&["--list-tasks"]);
    same_as_ansible(&["--list-tasks", "--tags", "a,inner"]);
    same_as_ansible(&["--list-tasks", "--skip-tags", "blk", "--tags", "never,deploy"]);
    same_as_ansible(&["--list-tasks", "--list-hosts", "-l", "web2"]);
}

#[test]
fn syntax_check_is_zdd_check() {
    let ok = zdd(&["--syntax-check"]);
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).contains("nothing was contacted"));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "- hosts: web\n  tasks:\n    - shel: echo hi\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_zdd"))
        .args(["apply", "--syntax-check", "-i"])
        .arg(repo_root().join("tests/list/inventory.ini"))
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bad.yml:3"),
        "{out:?}"
    );
}
