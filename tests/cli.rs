//! The command line itself: usage errors are invalid input (exit 5), help is not an error;
//! `--limit` and templated `hosts:` are worked out before any connection.

mod support;

use support::Zdd;

#[test]
fn usage_errors_exit_5_the_code_of_invalid_input() {
    for args in [
        &["apply", "site.yml", "--no-such-flag"][..],
        &["no-such-command"],
        &["apply"],
        &["apply", "site.yml", "--forks", "many"],
    ] {
        let out = Zdd::new().args(args).run();
        out.assert_code(5);
        assert!(out.stderr.starts_with("error: "), "zdd {args:?}: {}", out.stderr);
    }
}

#[test]
fn help_and_version_exit_0() {
    for args in [&["--help"][..], &["apply", "--help"], &["--version"]] {
        let out = Zdd::new().args(args).run();
        out.assert_code(0);
        assert!(!out.stdout.is_empty(), "zdd {args:?} prints on stdout");
    }
}

/// An inventory whose addresses nothing listens on: these commands must fail before
/// connecting anywhere.
fn fixture_inventory() -> std::path::PathBuf {
    support::repo_root().join("tests/fixtures/lab-inventory.ini")
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
        let out = Zdd::new()
            .current_dir(dir.path())
            .inventory(fixture_inventory())
            .arg(command)
            .arg(&site)
            .limit("web9")
            .run();
        out.assert_code(5);
        assert!(
            out.stderr
                .starts_with("error: --limit `web9` matches no host of the inventory\n"),
            "zdd {command}: {}",
            out.stderr
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
    let plan = || Zdd::new().inventory(fixture_inventory()).plan(&site);
    let out = plan().extra("target=webappservers").run();
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("\nPLAY 1 [webappservers]\n  hosts: webappservers (2 hosts)"),
        "{}",
        out.stdout
    );
    let out = plan().run();
    out.assert_code(5);
    assert!(
        out.stderr
            .contains("cannot work out the play's `hosts: {{ target }}`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("site.yml:1:"), "{}", out.stderr);
}
