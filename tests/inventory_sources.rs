//! Inventory sources beyond one file: what zdd says when a script, a directory entry or a
//! plugin configuration is bad (exit 5, the source named, nothing contacted; snapshots of
//! the exact text), and how several `-i` name the journal that `status` and `--resume`
//! read. The lab runs of directories, scripts and host lists are compat projects
//! (tests/compat/inventory_directory, tests/compat/inventory_host_list).

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use support::Zdd;

const SITE: &str = "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: echo hi\n";

/// A directory holding `files` (a `#!` file is made executable) and `site.yml`.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("site.yml"), SITE).unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        if text.starts_with("#!") {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    dir
}

/// `zdd apply site.yml -i SOURCE...` in `dir`: refused before any host, so no lab needed.
fn apply(dir: &Path, sources: &[&str]) -> String {
    let out = Zdd::new()
        .no_inventory()
        .apply("site.yml")
        .args(sources.iter().flat_map(|s| ["-i", s]))
        .arg("--no-progress")
        .current_dir(dir)
        .run();
    assert_eq!(out.code, Some(5), "{out}");
    assert!(!out.stdout.contains("PLAY ["), "a play started: {out}");
    out.redacted()
}

#[test]
fn a_script_that_fails_is_named_with_its_status_and_stderr() {
    let dir = project(&[(
        "inventory/cmdb.sh",
        "#!/bin/sh\necho 'cmdb.example.com: connection refused' >&2\nexit 3\n",
    )]);
    insta::assert_snapshot!(apply(dir.path(), &["inventory/cmdb.sh"]));
}

#[test]
fn a_script_that_prints_bad_json_is_named_with_the_position() {
    let dir = project(&[(
        "cmdb.sh",
        "#!/bin/sh\nprintf '{\"web\": {\"hosts\": [\"web1\"]}\\n \"db\": {\"hosts\": [\"db1\"]}}\\n'\n",
    )]);
    insta::assert_snapshot!(apply(dir.path(), &["./cmdb.sh"]));
}

#[test]
fn a_bad_line_in_a_directory_names_that_file_and_line() {
    let dir = project(&[
        ("inventory/10-web.ini", "[web]\nweb1 ansible_host=10.0.0.1\n"),
        (
            "inventory/20-db.ini",
            "[db]\ndb1 ansible_host=10.0.0.2\ndb2 ansible_host\n",
        ),
        ("inventory/20-db.ini~", "not read: an editor's backup\n[[[\n"),
    ]);
    insta::assert_snapshot!(apply(dir.path(), &["inventory"]));
}

#[test]
fn an_inventory_plugin_configuration_is_refused() {
    let dir = project(&[(
        "inventory/aws_ec2.yml",
        "plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n",
    )]);
    insta::assert_snapshot!(apply(dir.path(), &["inventory/"]));
}

#[test]
fn a_source_that_is_nothing_is_refused() {
    let dir = project(&[]);
    insta::assert_snapshot!(apply(dir.path(), &["hosts.ini", "web1"]));
}

#[test]
fn several_sources_name_one_journal_that_status_and_resume_read() {
    let dir = project(&[
        ("a.ini", "[web]\na ansible_connection=local\n"),
        ("b.ini", "[web]\nb ansible_connection=local\n"),
        (
            "site.yml",
            "- hosts: web\n  serial: 1\n  gather_facts: false\n  tasks:\n    - shell: test ! -e {{ playbook_dir }}/fail-{{ inventory_hostname }}\n",
        ),
        ("fail-b", ""),
    ]);
    let zdd = |args: &[&str]| {
        Zdd::new()
            .no_inventory()
            .args(args)
            .current_dir(dir.path())
            .redact(dir.path().display(), "[DIR]")
            .run()
    };
    let first = zdd(&["apply", "site.yml", "-i", "a.ini", "-i", "b.ini", "--no-progress"]);
    assert_eq!(first.code, Some(2), "{first}");
    assert!(dir.path().join(".zdd/journal/site-a+b.json").is_file());

    let status = zdd(&["status", "site.yml", "-i", "a.ini", "-i", "b.ini"]);
    let text = status.redacted();
    assert!(text.contains("journal   .zdd/journal/site-a+b.json"), "{text}");
    assert!(text.contains("inventory [DIR]/a.ini, [DIR]/b.ini"), "{text}");
    assert!(text.contains("would skip 1 completed batch"), "{text}");

    // The sources in another order are another inventory for --resume.
    let swapped = zdd(&[
        "apply",
        "site.yml",
        "-i",
        "b.ini",
        "-i",
        "a.ini",
        "--journal",
        ".zdd/journal/site-a+b.json",
        "--resume",
    ]);
    assert_eq!(swapped.code, Some(5), "{swapped}");
    assert!(
        swapped.redacted().contains(
            "the inventory is [DIR]/b.ini, [DIR]/a.ini, the journal's run used [DIR]/a.ini, [DIR]/b.ini"
        ),
        "{swapped}"
    );

    std::fs::remove_file(dir.path().join("fail-b")).unwrap();
    let resumed = zdd(&[
        "apply",
        "site.yml",
        "-i",
        "a.ini",
        "-i",
        "b.ini",
        "--resume",
        "--no-progress",
    ]);
    assert_eq!(resumed.code, Some(0), "{resumed}");
    let recap = resumed.stdout.split("PLAY RECAP").nth(1).unwrap_or_default();
    assert!(
        recap.contains("b ") && !recap.contains("a "),
        "only b runs again: {resumed}"
    );
}
