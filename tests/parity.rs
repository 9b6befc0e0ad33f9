//! Differential tests: every case under tests/parity/cases/ runs with `ansible-playbook`
//! and with zdd against the same lab hosts; exit codes, `PLAY RECAP` lines and each host's
//! ordered trace of effects must agree (the runs: tests/support/differential.rs).
//!
//! A case is a directory with `playbook.yml` and optionally:
//! - `inventory.ini` (else the lab's own): `@NET@` becomes the lab's `127.0.X`, `@CONN@`
//!   the lab's connection variables (a `[all:vars]` body; `@CONN_YAML@` alone on a line:
//!   the same as YAML at that indentation; `@CONN_KEY@`: without `ansible_user` and
//!   `ansible_port`); `inventory.yml` works the same way;
//! - `args`: extra command-line arguments, one per line (`args-zdd`: for zdd only);
//! - any other files the playbook reads (`vars.yml`, `group_vars/`, ...);
//! - `zdd-differs`: zdd deliberately refuses this input before touching any host (the file
//!   says why); the case then asserts exit 5, a `playbook.yml:LINE` location on stderr, and
//!   an empty trace, and does not run Ansible. A line `expect: TEXT` in it must appear in
//!   zdd's stderr; a line `exit: N` expects another exit code (4: zdd connects to every
//!   host before the first task, and stops there if one is unreachable).
//!
//! Tasks trace their effects with `echo "{{ inventory_hostname }} what" >> {{ trace }}`;
//! `{{ workdir }}` is a writable directory of the run's own.
//!
//! `PARITY_CASE=a,b` runs only the cases whose names contain `a` or `b`; `PARITY_KEEP=1`
//! keeps the run directories and prints both outputs.

mod support;

use std::path::Path;
use support::differential::{arg_lines, run_all, select, Case};
use support::repo_root;

fn parity_case(dir: &Path) -> Case {
    let inventory = ["inventory.ini", "inventory.yml"]
        .into_iter()
        .find(|name| dir.join(name).exists())
        .unwrap_or("@LAB_INVENTORY@");
    let mut args = vec!["-i".to_owned(), inventory.to_owned()];
    args.extend(arg_lines(&dir.join("args")));
    Case {
        name: dir.file_name().unwrap().to_string_lossy().into_owned(),
        src: dir.to_owned(),
        playbook: "playbook.yml".to_owned(),
        args,
        args_zdd: arg_lines(&dir.join("args-zdd")),
        ansible_exit: None,
        differs: std::fs::read_to_string(dir.join("zdd-differs")).ok(),
        world_writable: true,
    }
}

#[test]
fn parity_with_ansible_playbook() {
    let dirs = select(&repo_root().join("tests/parity/cases"), "PARITY_CASE", |p| {
        p.join("playbook.yml").exists()
    });
    let cases = dirs.iter().map(|d| parity_case(d)).collect();
    run_all("parity", cases, 4, std::env::var_os("PARITY_KEEP").is_some());
}
