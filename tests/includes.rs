//! `zdd check` and dynamic includes: the files an `include_tasks` names are checked where
//! they can be known before the run (errors name the include chain), `include_vars` of a
//! known file defines its variables, and an include that cannot be known leaves undefined
//! variables to run time.

mod support;

use support::Zdd;

/// `zdd check site.yml` in a directory holding `files`: exit code and redacted output.
fn check(files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::write(
        dir.path().join("hosts.ini"),
        "[web]\nweb[1:2] ansible_host=127.0.0.1\n",
    )
    .unwrap();
    Zdd::new()
        .check("site.yml")
        .inventory("hosts.ini")
        .current_dir(dir.path())
        .run()
        .redacted()
}

const SITE: &str = "- hosts: web
  gather_facts: false
  vars:
    flavour: nginx
  tasks:
    - name: Set up
      include_tasks: tasks/setup.yml
";

#[test]
fn missing_include_file_names_the_chain() {
    insta::assert_snapshot!(check(&[
        ("site.yml", SITE),
        (
            "tasks/setup.yml",
            "- debug: {msg: setting up}\n- include_tasks: \"{{ flavour }}.yml\"\n- include_tasks: missing.yml\n",
        ),
        ("tasks/nginx.yml", "- copy: {src: a, dest: /tmp/x, bogus: 1}\n"),
    ]));
}

#[test]
fn a_skippable_include_of_a_missing_file_is_left_to_run_time() {
    let out = check(&[(
        "site.yml",
        "- hosts: web\n  tasks:\n    - include_tasks: later.yml\n      when: false\n",
    )]);
    assert!(out.starts_with("exit: 0"), "{out}");
}

#[test]
fn include_vars_of_a_known_file_defines_its_variables() {
    let ok = check(&[
        (
            "site.yml",
            "- hosts: web\n  tasks:\n    - include_vars: app.yml\n    - include_vars: {file: app.yml, name: app}\n    - include_tasks: tasks.yml\n    - debug: msg=\"{{ port }} {{ app.port }} {{ from_included }}\"\n",
        ),
        ("vars/app.yml", "port: 8080\n"),
        ("tasks.yml", "- set_fact: {from_included: 1}\n"),
    ]);
    assert!(ok.starts_with("exit: 0"), "{ok}");
    let undefined = check(&[
        (
            "site.yml",
            "- hosts: web\n  tasks:\n    - include_vars: app.yml\n    - debug: msg=\"{{ host }}\"\n",
        ),
        ("vars/app.yml", "port: 8080\n"),
    ]);
    assert!(undefined.contains("undefined variable `host`"), "{undefined}");
}

#[test]
fn an_include_that_cannot_be_known_may_define_anything() {
    for include in [
        "include_vars: {dir: vars}",
        "include_vars: \"{{ inventory_hostname }}.yml\"",
        "include_tasks: \"{{ inventory_hostname }}.yml\"",
    ] {
        let site =
            format!("- hosts: web\n  tasks:\n    - {include}\n    - debug: msg=\"{{{{ anything }}}}\"\n");
        let out = check(&[("site.yml", &site), ("vars/a.yml", "a: 1\n")]);
        assert!(out.starts_with("exit: 0"), "{include}: {out}");
    }
}

#[test]
fn nested_included_tasks_see_the_vars_every_include_passes() {
    let out = check(&[
        (
            "site.yml",
            "- hosts: web\n  tasks:\n    - include_tasks: outer.yml\n      vars: {level: 1}\n      loop: [a]\n",
        ),
        ("outer.yml", "- include_tasks: inner.yml\n  vars: {depth: 2}\n"),
        ("inner.yml", "- debug: msg=\"{{ level }} {{ depth }} {{ item }}\"\n- debug: msg=\"{{ nowhere }}\"\n"),
    ]);
    assert!(out.contains("undefined variable `nowhere`"), "{out}");
    assert!(
        !out.contains("`level`") && !out.contains("`depth`") && !out.contains("`item`"),
        "{out}"
    );
    assert!(out.contains("included from outer.yml:1:3"), "{out}");
}
