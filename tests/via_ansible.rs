//! Modules zdd does not have run through the user's Ansible (their parity with
//! ansible-playbook is the compat case `via_ansible_modules`). Here: a `no_log` task's
//! secret on no process list and in no output while the registered value stays usable;
//! `zdd check` validating arguments from `ansible-doc`; the refusal without Ansible; the
//! plan marking such tasks.

mod support;

use std::path::Path;
use support::differential::{ansible_collections, ansible_playbook};
use support::{Lab, Zdd};

const SECRET: &str = "N0TE-S3CRET-77c1";

/// A project directory with the compat case's library module and `site.yml`.
fn project(site: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join("library");
    std::fs::create_dir(&library).unwrap();
    let module = support::repo_root().join("tests/compat/via_ansible_modules/library/zdd_note.py");
    std::fs::copy(module, library.join("zdd_note.py")).unwrap();
    std::fs::write(dir.path().join("site.yml"), site).unwrap();
    std::fs::write(
        dir.path().join("hosts.ini"),
        "[web]\nweb1 ansible_host=127.0.0.1\nweb2 ansible_host=127.0.0.1\n",
    )
    .unwrap();
    dir
}

fn with_ansible(zdd: Zdd) -> Zdd {
    zdd.env("ZDD_ANSIBLE", ansible_playbook()).env(
        "ANSIBLE_COLLECTIONS_PATH",
        ansible_collections().unwrap_or_default(),
    )
}

fn check(dir: &Path, ansible: bool) -> support::Outcome {
    let zdd = Zdd::new()
        .check("site.yml")
        .inventory("hosts.ini")
        .current_dir(dir);
    let zdd = if ansible {
        with_ansible(zdd)
    } else {
        zdd.env("ZDD_ANSIBLE", dir.join("no-such-ansible-playbook"))
    };
    zdd.run()
}

#[test]
fn without_ansible_check_names_the_module_its_collection_and_the_install_command() {
    let dir = project(
        "- hosts: web\n  tasks:\n    - name: Downtime\n      community.general.nagios:\n        action: downtime\n        host: web1\n    - zdd_note: path=/tmp/x\n",
    );
    let out = check(dir.path(), false);
    out.assert_code(5);
    let stderr = &out.stderr;
    assert!(
        stderr.contains("module `community.general.nagios` is not one zdd runs natively, and no Ansible is installed to run it"),
        "{stderr}"
    );
    assert!(stderr.contains("site.yml:4:7"), "{stderr}");
    assert!(
        stderr.contains("pip install ansible-core && ansible-galaxy collection install community.general"),
        "{stderr}"
    );
    assert!(
        stderr.contains("module `zdd_note` is not one zdd runs natively"),
        "{stderr}"
    );
    assert!(stderr.contains("site.yml:7:7"), "{stderr}");
}

#[test]
fn check_validates_arguments_from_ansible_doc() {
    support::differential::assert_ansible_runs();
    let dir = project(
        "- hosts: web\n  tasks:\n    - zdd_note:\n        path: /tmp/x\n        contnet: hi\n    - zdd_note:\n        path: /tmp/x\n        state: gone\n    - community.general.ini_file:\n        path: /tmp/x.ini\n        option: a\n        valeu: b\n    - community.general.no_such_module:\n        a: b\n    - zdd_note:\n        path: \"{{ inventory_hostname }}\"\n        state: \"{{ 'absent' }}\"\n",
    );
    let out = check(dir.path(), true);
    out.assert_code(5);
    let stderr = &out.stderr;
    for want in [
        "`zdd_note` (via Ansible): `zdd_note` has no argument `contnet`",
        "site.yml:5:9",
        "did you mean `content`?",
        "`zdd_note` (via Ansible): `state` must be one of present, absent, got `gone`",
        "site.yml:8:9",
        "`community.general.ini_file` has no argument `valeu`",
        "did you mean `value`?",
        "unknown module `community.general.no_such_module`",
        "ansible-galaxy collection install community.general",
    ] {
        assert!(stderr.contains(want), "no `{want}` in:\n{stderr}");
    }
    // The last task is fine: templated values are not known yet.
    assert!(!stderr.contains("site.yml:16"), "{stderr}");
    assert!(stderr.contains("4 problems found"), "{stderr}");
}

#[test]
fn plan_marks_tasks_that_run_through_ansible() {
    let dir = project(
        "- hosts: web\n  gather_facts: false\n  tasks:\n    - name: Mine\n      zdd_note: path=/tmp/x\n    - name: Native\n      command: 'true'\n",
    );
    let out = with_ansible(
        Zdd::new()
            .plan("site.yml")
            .inventory("hosts.ini")
            .current_dir(dir.path()),
    )
    .run();
    out.assert_code(0);
    assert!(
        out.stdout.contains("- Mine (zdd_note)  via ansible"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("- Native (command)\n"), "{}", out.stdout);
}

#[test]
fn a_no_log_task_through_ansible_shows_its_secret_nowhere() {
    support::differential::assert_ansible_runs();
    let lab = Lab::start(2);
    let dir = project(&format!(
        "- hosts: webappservers\n  gather_facts: false\n  vars:\n    secret: {SECRET}\n  tasks:\n    \
         - name: Keep a secret note\n      zdd_note:\n        path: \"/tmp/zdd-via-ansible-{{{{ inventory_hostname }}}}-{net}\"\n        \
           content: \"{{{{ secret }}}}\"\n        token: other\n      no_log: true\n      register: kept\n    \
         - name: The registered value is the real one\n      assert:\n        that: kept.note == secret\n      no_log: true\n    \
         - name: Clean up\n      file:\n        path: \"/tmp/zdd-via-ansible-{{{{ inventory_hostname }}}}-{net}\"\n        state: absent\n",
        net = lab.net()
    ));
    let (out, seen) = support::process_lines_showing(SECRET, || {
        with_ansible(lab.zdd())
            .apply(dir.path().join("site.yml"))
            .args(["-vv", "--output", "json", "--no-progress"])
            .run()
    });
    out.assert_code(0);
    assert_eq!(seen, Vec::<String>::new(), "the secret was on the process list");
    assert!(
        !out.stdout.contains(SECRET),
        "JSON output leaks the secret:\n{}",
        out.stdout
    );
    assert!(
        !out.stderr.contains(SECRET),
        "human output leaks the secret:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("TASK [Keep a secret note] via ansible"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("changed: [web1]"), "{}", out.stderr);
}
