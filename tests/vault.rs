//! Ansible Vault, with files made by `ansible-vault` (tests/fixtures/vault, passwords
//! beside them): vaulted vars files and inline `!vault` values are decrypted with the
//! passwords given; the errors for no password, a wrong one and a damaged payload; and on
//! the real lab, values from Vault appear in no output, trace, log or process list.

mod support;

use std::path::{Path, PathBuf};
use support::{Lab, Zdd};

fn fixtures() -> PathBuf {
    support::repo_root().join("tests/fixtures/vault")
}

/// A project directory holding `files` (`(name, text)`), the fixtures' password files and
/// scripts, and `group_vars/all.yml`, the fixture `secrets-1.1.yml` (a 1.1 file).
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        let to = dir.path().join(path.file_name().unwrap());
        std::fs::copy(&path, &to).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("group_vars")).unwrap();
    std::fs::copy(
        fixtures().join("secrets-1.1.yml"),
        dir.path().join("group_vars/all.yml"),
    )
    .unwrap();
    // An inventory naming localhost: zdd's implicit localhost does not read group_vars/all.
    support::local_inventory(dir.path());
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// Plays on the implicit localhost; the assertions check every decrypted value.
const LOCAL_PLAY: &str =
    "- hosts: localhost\n  gather_facts: false\n  vars_files: [inline.yml]\n  tasks:\n    \
    - name: Values from every vault\n      assert:\n        that:\n          \
    - db_password == 'correct-horse-battery'\n          - inline_secret == 'inline-secret-9x'\n          \
    - plain == 'visible'\n";

fn run_local(dir: &Path, playbook: &str, args: &[&str]) -> support::Outcome {
    Zdd::new()
        .apply(playbook)
        .inventory("hosts.ini")
        .current_dir(dir)
        .args(["--no-progress"])
        .args(args)
        .run()
}

#[test]
fn a_password_file_decrypts_vaulted_group_vars_and_inline_values() {
    let dir = project(&[("site.yml", LOCAL_PLAY)]);
    let out = run_local(
        dir.path(),
        "site.yml",
        &["--vault-password-file", "pass-default.txt"],
    );
    out.assert_code(0);
    // The assertion compared each decrypted value.
    assert_eq!(out.recap_of("localhost").ok, 1, "{}", out.all_output());
}

#[test]
fn a_password_script_and_the_environment_variable_give_the_password() {
    let dir = project(&[("site.yml", LOCAL_PLAY)]);
    run_local(dir.path(), "site.yml", &["--vault-id", "pass-script.sh"]).assert_code(0);
    let out = Zdd::new()
        .apply("site.yml")
        .inventory("hosts.ini")
        .current_dir(dir.path())
        .env("ANSIBLE_VAULT_PASSWORD_FILE", "pass-default.txt")
        .run();
    out.assert_code(0);
}

#[test]
fn ansible_cfg_gives_the_vault_ids_and_password_file() {
    let play = "- hosts: localhost\n  gather_facts: false\n  vars_files: [inline.yml, secrets-prod.yml]\n  tasks:\n    \
        - assert:\n        that: [prod_secret == 'prod-value-77', inline_secret == 'inline-secret-9x']\n";
    let cfg =
        "[defaults]\nvault_identity_list = prod@pass-prod.txt\nvault_password_file = pass-default.txt\n";
    let dir = project(&[("site.yml", play), ("ansible.cfg", cfg)]);
    run_local(dir.path(), "site.yml", &[]).assert_code(0);
}

#[test]
fn two_vault_ids_from_a_client_script_decrypt_their_own_files() {
    let play = "- hosts: localhost\n  gather_facts: false\n  vars_files: [secrets-prod.yml, secrets-dev.yml]\n  tasks:\n    \
        - assert:\n        that: [prod_secret == 'prod-value-77', dev_secret == 'dev-value-55']\n    \
        - include_vars: secrets-prod.yml\n";
    let dir = project(&[
        ("site.yml", play),
        (
            "ansible.cfg",
            "[defaults]\nvault_password_file = pass-default.txt\n",
        ),
    ]);
    let out = run_local(
        dir.path(),
        "site.yml",
        &[
            "--vault-id",
            "dev@vault-pass-client.sh",
            "--vault-id",
            "prod@vault-pass-client.sh",
        ],
    );
    out.assert_code(0);
}

#[test]
fn a_vaulted_playbook_task_files_and_extra_vars_file_run() {
    let dir = project(&[]);
    let out = run_local(
        dir.path(),
        "playbook-vaulted.yml",
        &[
            "-e",
            "@extra-vars.yml",
            "--vault-password-file",
            "pass-default.txt",
        ],
    );
    out.assert_code(0);
    assert_eq!(out.recap_of("localhost").ok, 4, "{}", out.all_output());
}

#[test]
fn a_vaulted_ini_inventory_is_read() {
    let dir = project(&[("site.yml", LOCAL_PLAY)]);
    let out = Zdd::new()
        .apply("site.yml")
        .inventory("inventory-vaulted.ini")
        .current_dir(dir.path())
        .args(["--no-progress", "--vault-password-file", "pass-default.txt"])
        .run();
    out.assert_code(0);
    assert_eq!(out.recap_of("localhost").ok, 1, "{}", out.all_output());
}

#[test]
fn ask_vault_pass_prompts_on_the_terminal_without_echo() {
    let dir = project(&[("site.yml", LOCAL_PLAY)]);
    let out = Zdd::new()
        .apply("site.yml")
        .inventory("hosts.ini")
        .current_dir(dir.path())
        .args(["--no-progress", "-J"])
        .run_on_terminal_typing(1.0, &["fixture-pass"]);
    out.assert_code(0);
    let screen = out.stdout.replace('\r', "");
    assert!(screen.contains("Vault password: \n"), "{screen}");
    assert!(
        !screen.contains("fixture-pass"),
        "the password was echoed: {screen}"
    );
    assert!(screen.contains("localhost                  : ok=1 "), "{screen}");
}

fn check(dir: &Path, args: &[&str]) -> String {
    Zdd::new()
        .check("site.yml")
        .inventory("hosts.ini")
        .current_dir(dir)
        .args(args)
        .run()
        .redacted()
}

#[test]
fn no_vault_password() {
    let dir = project(&[("site.yml", LOCAL_PLAY)]);
    insta::assert_snapshot!(check(dir.path(), &[]));
}

#[test]
fn wrong_vault_passwords() {
    let dir = project(&[("site.yml", LOCAL_PLAY)]);
    insta::assert_snapshot!(check(
        dir.path(),
        &[
            "--vault-id",
            "prod@pass-prod.txt",
            "--vault-id",
            "dev@pass-dev.txt"
        ]
    ));
}

#[test]
fn damaged_vault_payload() {
    let dir = project(&[
        (
            "site.yml",
            "- hosts: localhost\n  gather_facts: false\n  vars_files: [bad.yml]\n  tasks: []\n",
        ),
        ("bad.yml", "$ANSIBLE_VAULT;1.1;AES256\n6162636465zz\n"),
    ]);
    insta::assert_snapshot!(check(dir.path(), &["--vault-password-file", "pass-default.txt"]));
}

#[test]
fn missing_vault_password_file() {
    let dir = project(&[("site.yml", LOCAL_PLAY)]);
    insta::assert_snapshot!(check(dir.path(), &["--vault-password-file", "nope.txt"]));
}

const SECRETS: [&str; 4] = ["correct-horse-battery", "inline-secret-9x", "tok-4f9a2c", "Q7z"];

/// Beyond Ansible: a vault value is censored everywhere, `debug` included, as `no_log`
/// data is; the script that holds it never reaches the target's process list.
#[test]
fn values_from_vault_appear_in_no_output_log_or_process_list() {
    let lab = Lab::start(1);
    let play = "- hosts: webappservers\n  gather_facts: false\n  vars_files: [inline.yml, short-pin.yml]\n  vars:\n    \
        dsn: \"postgres://app:{{ db_password }}@db\"\n  tasks:\n    \
        - name: Print a vaulted variable\n      debug:\n        var: db_password\n    \
        - name: Print a short one (too short to match by value)\n      debug:\n        var: vault_pin\n    \
        - name: A command with the short one\n      shell: \"test {{ vault_pin }} = Q7z\"\n    \
        - name: A message built from one\n      debug:\n        msg: \"token is {{ api_token }}\"\n    \
        - name: A slow script that holds one, as root\n      shell: \"sleep 1; test {{ inline_secret }} = inline-secret-9x\"\n      become: true\n    \
        - name: A loop over one\n      shell: \"test -n '{{ item }}'\"\n      loop: [\"{{ dsn }}\"]\n    \
        - name: A template holding one\n      copy:\n        content: \"{{ dsn }}\\n\"\n        dest: /tmp/zdd-vault-test-{{ inventory_hostname }}\n    \
        - name: Nothing secret here\n      debug:\n        msg: plain text stays visible\n";
    let dir = project(&[("site.yml", play)]);
    let junit = dir.path().join("junit.xml");
    let audit = dir.path().join("audit.jsonl");
    let report = dir.path().join("report.html");
    // The slow script holds `inline-secret-9x` for a second, as root: watch for it.
    let (out, seen) = support::process_lines_showing(SECRETS[1], || {
        lab.zdd()
            .apply("site.yml")
            .current_dir(dir.path())
            .args([
                "-vv",
                "--output",
                "json",
                "--no-progress",
                "--vault-password-file",
                "pass-default.txt",
            ])
            .arg("--junit")
            .arg(&junit)
            .arg("--audit-log")
            .arg(&audit)
            .arg("--report")
            .arg(&report)
            .run()
    });
    out.assert_code(0);
    assert_eq!(seen, Vec::<String>::new(), "a secret was on the process list");
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    assert!(stderr.contains("EXEC <censored>"), "{stderr}");
    assert!(
        stderr.contains("ok: [web1] => {\"censored\": "),
        "debug shows the censor: {stderr}"
    );
    assert!(stderr.contains("(item=(censored due to no_log))"), "{stderr}");
    assert!(stderr.contains("plain text stays visible"), "{stderr}");
    let journal: String = std::fs::read_dir(dir.path().join(".zdd/journal"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let junit = std::fs::read_to_string(&junit).unwrap();
    let audit = std::fs::read_to_string(&audit).unwrap();
    let report = std::fs::read_to_string(&report).unwrap();
    assert!(report.contains("A message built from one"), "{report}");
    for secret in SECRETS {
        for (what, text) in [
            ("stderr", stderr.as_str()),
            ("JSON output", stdout.as_str()),
            ("journal", journal.as_str()),
            ("JUnit", junit.as_str()),
            ("audit log", audit.as_str()),
            ("HTML report", report.as_str()),
        ] {
            assert!(!text.contains(secret), "the {what} holds `{secret}`:\n{text}");
        }
    }
    // The value still did its work on the host.
    let written = lab.ssh(
        "web1",
        "cat /tmp/zdd-vault-test-web1; rm -f /tmp/zdd-vault-test-web1",
    );
    assert_eq!(
        String::from_utf8_lossy(&written.stdout).trim_end(),
        "postgres://app:correct-horse-battery@db"
    );
}
