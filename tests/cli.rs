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

/// zdd in tests/fixtures/ansible-cfg, whose ansible.cfg sets most settings zdd uses, with
/// nothing of the environment's Ansible settings and a fixed home.
fn in_ansible_cfg_fixture() -> Zdd {
    let mut zdd = Zdd::new()
        .current_dir(support::repo_root().join("tests/fixtures/ansible-cfg"))
        .env("HOME", "/home/zdd-test");
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("ANSIBLE_")) {
        zdd = zdd.env_remove(key);
    }
    zdd
}

/// `zdd config`: the file in force, each setting with its value and origin (a line of the
/// file, an environment variable, the default), and warnings for keys Ansible does not
/// know; Ansible settings zdd does not use (pipelining, stdout_callback) say nothing.
#[test]
fn zdd_config_shows_each_setting_with_its_origin() {
    let out = in_ansible_cfg_fixture()
        .env("ANSIBLE_BECOME_USER", "root")
        .arg("config")
        .run();
    out.assert_code(0);
    insta::assert_snapshot!(out.stdout);
    let json = in_ansible_cfg_fixture().args(["config", "-o", "json"]).run();
    json.assert_code(0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["file"], "ansible.cfg");
    let remote_user = value["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "defaults.remote_user")
        .unwrap();
    assert_eq!(remote_user["value"], "deploy");
    assert_eq!(remote_user["origin"], "ansible.cfg:4");
    assert_eq!(value["warnings"].as_array().unwrap().len(), 2);
}

/// Without any configuration file, every setting is its default.
#[test]
fn zdd_config_without_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = Zdd::new()
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env_remove("ANSIBLE_CONFIG")
        .args(["config", "-o", "json"])
        .run();
    out.assert_code(0);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(value["file"], serde_json::Value::Null);
    assert!(value["settings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["origin"] == "default" || s["name"] == "defaults.remote_user"));
}

/// A bad boolean in ansible.cfg, or in an ANSIBLE_* variable, is invalid input naming its
/// line or variable (Ansible would silently read it as false); a line configparser refuses
/// is one too. Unknown keys are only warnings: `zdd check` goes on.
#[test]
fn ansible_cfg_errors_name_their_line_and_unknown_keys_warn() {
    let bad = in_ansible_cfg_fixture()
        .env("ANSIBLE_CONFIG", "bad-boolean.cfg")
        .check("site.yml")
        .run();
    bad.assert_code(5);
    insta::assert_snapshot!("ansible_cfg_bad_boolean", bad.stderr);
    let env = in_ansible_cfg_fixture()
        .env("ANSIBLE_HOST_KEY_CHECKING", "maybe")
        .check("site.yml")
        .run();
    env.assert_code(5);
    insta::assert_snapshot!("ansible_cfg_bad_boolean_env", env.stderr);
    let line = in_ansible_cfg_fixture()
        .env("ANSIBLE_CONFIG", "bad-line.cfg")
        .check("site.yml")
        .run();
    line.assert_code(5);
    insta::assert_snapshot!("ansible_cfg_bad_line", line.stderr);
    let warned = in_ansible_cfg_fixture().check("site.yml").run();
    warned.assert_code(0);
    insta::assert_snapshot!("ansible_cfg_unknown_keys_warn", warned.stderr);
}

/// `-c` takes ssh or local; anything else is refused before any host.
#[test]
fn an_unsupported_connection_is_refused() {
    let out = in_ansible_cfg_fixture()
        .check("site.yml")
        .args(["-c", "winrm"])
        .run();
    out.assert_code(5);
    assert!(
        out.stderr
            .contains("error: -c winrm: zdd connects with ssh or local only"),
        "{}",
        out.stderr
    );
}
