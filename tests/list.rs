//! `zdd apply --list-hosts` / `--list-tasks` print exactly what ansible-playbook prints
//! for the same playbook and inventory (tests/list/); `--syntax-check` is `zdd check`.
//! None of them connects to a host: the inventory's addresses do not exist.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};
use support::{repo_root, Outcome, Zdd};

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

fn ansible(args: &[&str]) -> Output {
    Command::new(ansible_playbook())
        .current_dir(repo_root().join("tests/list"))
        .args(["playbook.yml", "-i", "inventory.ini"])
        .args(args)
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .env_remove("ANSIBLE_CONFIG")
        .output()
        .expect("run ansible-playbook")
}

/// `zdd apply playbook.yml -i inventory.ini ARGS` in tests/list.
fn zdd(args: &[&str]) -> Outcome {
    Zdd::new()
        .apply("playbook.yml")
        .inventory("inventory.ini")
        .args(args)
        .current_dir(repo_root().join("tests/list"))
        .run()
}

/// Lines without trailing blanks; the hosts of a play sorted (ansible-playbook lists
/// them from a Python set, in no fixed order).
fn normalize(stdout: &str) -> Vec<String> {
    let text = stdout;
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
    let ansible = ansible(args);
    assert!(ansible.status.success(), "ansible-playbook {args:?}: {ansible:?}");
    let ours = zdd(args);
    ours.assert_code(0);
    let want = normalize(&String::from_utf8_lossy(&ansible.stdout));
    let got = normalize(&ours.stdout);
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
    ok.assert_code(0);
    assert_eq!(
        ok.stdout,
        "playbook.yml: ok (3 plays, 13 tasks and handlers, 5 inventory hosts); nothing was contacted\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "- hosts: web\n  tasks:\n    - shel: echo hi\n").unwrap();
    let out = Zdd::new()
        .apply(&bad)
        .arg("--syntax-check")
        .inventory(repo_root().join("tests/list/inventory.ini"))
        .run();
    out.assert_code(5);
    let location = format!(" --> {}:3:7", bad.display());
    assert!(
        out.stderr.lines().any(|l| l == location),
        "no line `{location}` in stderr:\n{out}"
    );
}

/// `same_as_ansible` in `tests/list-roles`: roles (dependencies, repeats, tags),
/// `import_tasks`, `import_role` and `import_playbook` are listed as Ansible lists them.
fn same_as_ansible_with_roles(args: &[&str]) {
    let dir = repo_root().join("tests/list-roles");
    let ansible = Command::new(ansible_playbook())
        .current_dir(&dir)
        .args(["playbook.yml", "-i", "inventory.ini"])
        .args(args)
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .env_remove("ANSIBLE_CONFIG")
        .env_remove("ANSIBLE_ROLES_PATH")
        .output()
        .expect("run ansible-playbook");
    assert!(ansible.status.success(), "ansible-playbook {args:?}: {ansible:?}");
    let ours = Zdd::new()
        .apply("playbook.yml")
        .inventory("inventory.ini")
        .args(args)
        .current_dir(&dir)
        .env_remove("ANSIBLE_CONFIG")
        .env_remove("ANSIBLE_ROLES_PATH")
        .run();
    ours.assert_code(0);
    let want = normalize(&String::from_utf8_lossy(&ansible.stdout));
    assert!(want.iter().any(|l| l.contains("web : Extra step")), "{want:?}");
    assert_eq!(
        normalize(&ours.stdout),
        want,
        "zdd apply {args:?} differs from ansible-playbook"
    );
}

#[test]
fn list_tasks_with_roles_and_imports_matches_ansible() {
    same_as_ansible_with_roles(&["--list-tasks"]);
    same_as_ansible_with_roles(&["--list-tasks", "--tags", "deploy,check"]);
    same_as_ansible_with_roles(&["--list-tasks", "--skip-tags", "again", "--tags", "inner,more"]);
}
