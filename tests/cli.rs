//! The command line itself: usage errors are invalid input (exit 5), help is not an error.

use std::process::Command;

fn zdd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_zdd"))
        .args(args)
        .output()
        .expect("run zdd")
}

#[test]
fn usage_errors_exit_5_the_code_of_invalid_input() {
    for args in [
        &["apply", "site.yml", "--no-such-flag"][..],
        &["no-such-command"],
        &["apply"],
        &["apply", "site.yml", "--forks", "many"],
    ] {
        let out = zdd(args);
        assert_eq!(
            out.status.code(),
            Some(5),
            "zdd {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("error: "),
            "zdd {args:?}"
        );
    }
}

#[test]
fn help_and_version_exit_0() {
    for args in [&["--help"][..], &["apply", "--help"], &["--version"]] {
        let out = zdd(args);
        assert_eq!(out.status.code(), Some(0), "zdd {args:?}");
        assert!(!out.stdout.is_empty(), "zdd {args:?} prints on stdout");
    }
}

/// An inventory whose addresses nothing listens on: these commands must fail before
/// connecting anywhere.
fn fixture_inventory() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lab-inventory.ini")
}

fn playbook(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("site.yml");
    std::fs::write(&path, text).unwrap();
    path
}

/// ansible-playbook: "Specified inventory, host pattern and/or --limit leaves us with no
/// hosts to target" (rc 1); zdd: invalid input, exit 5, before any connection.
#[test]
fn a_limit_that_matches_no_host_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let site = playbook(
        dir.path(),
        "- hosts: webappservers\n  tasks:\n    - command: 'true'\n",
    );
    for command in ["apply", "plan"] {
        let out = Command::new(env!("CARGO_BIN_EXE_zdd"))
            .current_dir(dir.path())
            .arg(command)
            .arg(&site)
            .arg("-i")
            .arg(fixture_inventory())
            .args(["-l", "web9"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "zdd {command}: {stderr}");
        assert!(
            stderr.starts_with("error: --limit `web9` matches no host of the inventory\n"),
            "zdd {command}: {stderr}"
        );
    }
}

/// `hosts: "{{ target }}"` is rendered with -e (the parity case
/// `hosts_templated_from_vars` runs it); a variable only the hosts could define is an
/// error at the play's line.
#[test]
fn hosts_are_templated_from_extra_vars_and_an_undefined_one_names_the_play() {
    let dir = tempfile::tempdir().unwrap();
    let site = playbook(
        dir.path(),
        "- hosts: \"{{ target }}\"\n  gather_facts: false\n  tasks:\n    - command: 'true'\n",
    );
    let plan = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_zdd"))
            .arg("plan")
            .arg(&site)
            .arg("-i")
            .arg(fixture_inventory())
            .args(extra)
            .output()
            .unwrap()
    };
    let out = plan(&["-e", "target=webappservers"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("\nPLAY 1 [webappservers]\n  hosts: webappservers (2 hosts)"),
        "{stdout}"
    );
    let out = plan(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("cannot work out the play's `hosts: {{ target }}`"),
        "{stderr}"
    );
    assert!(stderr.contains("site.yml:1:"), "{stderr}");
}
