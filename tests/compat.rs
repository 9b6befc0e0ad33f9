//! The compatibility suite: small Ansible projects under tests/compat/, laid out as real
//! ones are (`ansible-galaxy role init` roles, `ansible.cfg` with `roles_path`, group_vars,
//! `site.yml` importing playbooks, include/import chains), each run by `ansible-playbook`
//! and by `zdd apply` from inside the project directory against the same lab hosts, and
//! compared as the parity cases are (exit code, `PLAY RECAP`, each host's ordered trace; the
//! runs: tests/support/differential.rs).
//!
//! A project is a directory with a `compat.run` file saying what to run:
//!
//! ```text
//! playbook: site.yml
//! args: -i inventory/hosts.ini --tags "deploy,config"
//! exit: 2
//! ```
//!
//! `args` (optional) are split on blanks, double quotes group; `args-zdd` adds arguments for
//! zdd only; `exit` (default 0) is the exit code ansible-playbook gives, checked on every run
//! so that a project broken for both tools does not pass as "same". Inventories use the
//! lab placeholders (`@NET@`, `@CONN@`, `@LAB_DIR@`...); tasks trace with
//! `echo "{{ inventory_hostname }} what" >> {{ trace }}` and write under `{{ workdir }}`.
//!
//! `COMPAT_CASE=a,b` runs only the projects whose names contain `a` or `b`; `COMPAT_KEEP=1`
//! keeps the run directories and prints both outputs.

mod support;

use std::path::Path;
use support::differential::{run_all, select, Case};
use support::repo_root;

/// `a "b c" d` -> `["a", "b c", "d"]`.
fn split_args(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            c if c.is_whitespace() && !quoted => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(!quoted, "unbalanced quote in `{text}`");
    words.extend(word);
    words
}

fn project(dir: &Path) -> Case {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let file = dir.join("compat.run");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut case = Case {
        name,
        src: dir.to_owned(),
        playbook: String::new(),
        args: Vec::new(),
        args_zdd: Vec::new(),
        ansible_exit: Some(0),
        differs: None,
        world_writable: false,
    };
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("{}: `key: value` expected, got `{line}`", file.display()));
        let value = value.trim();
        match key {
            "playbook" => case.playbook = value.to_owned(),
            "args" => case.args = split_args(value),
            "args-zdd" => case.args_zdd = split_args(value),
            "exit" => case.ansible_exit = Some(value.parse().expect("`exit: N`")),
            _ => panic!("{}: unknown key `{key}`", file.display()),
        }
    }
    assert!(
        dir.join(&case.playbook).is_file() && !case.playbook.is_empty(),
        "{}: `playbook:` names no file of the project",
        file.display()
    );
    case
}

#[test]
fn split_args_groups_quoted_words() {
    assert_eq!(
        split_args(r#"-i hosts.ini  --start-at-task "web : Write the page" -e x=1"#),
        [
            "-i",
            "hosts.ini",
            "--start-at-task",
            "web : Write the page",
            "-e",
            "x=1"
        ]
    );
    assert_eq!(split_args(r#"--tags """#), ["--tags", ""]);
}

#[test]
fn compat_projects_run_as_with_ansible_playbook() {
    let dirs = select(&repo_root().join("tests/compat"), "COMPAT_CASE", |p| {
        p.join("compat.run").exists()
    });
    let projects = dirs.iter().map(|d| project(d)).collect();
    run_all("compat", projects, 4, std::env::var_os("COMPAT_KEEP").is_some());
}
