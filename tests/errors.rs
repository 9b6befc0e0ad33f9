//! What users see for the bad input they meet: `zdd check` refuses it with exit 5, the
//! file, line and column, the line itself and what to do. Snapshots of the exact text.

mod support;

use support::Zdd;

/// Run `zdd check site.yml -i hosts.ini` in a directory holding `files`; returns the exit
/// code, stdout and stderr (paths are relative, so the text is the same on every machine).
fn check(files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    if !dir.path().join("hosts.ini").exists() {
        std::fs::write(dir.path().join("hosts.ini"), INVENTORY).unwrap();
    }
    Zdd::new()
        .check("site.yml")
        .inventory("hosts.ini")
        .current_dir(dir.path())
        .run()
        .redacted()
}

const INVENTORY: &str =
    "[loadbalancers]\nlb ansible_host=127.0.0.1\n\n[web]\nweb[1:2] ansible_host=127.0.0.1\n";

#[test]
fn misspelt_keyword() {
    insta::assert_snapshot!(check(&[(
        "site.yml",
        "- hosts: web\n  tasks:\n    - name: Disable\n      shell: echo disable\n      delegateto: lb\n"
    )]));
}

#[test]
fn unknown_module() {
    insta::assert_snapshot!(check(&[(
        "site.yml",
        "- hosts: web\n  tasks:\n    - name: Say hi\n      shel: echo hi\n"
    )]));
}

#[test]
fn unknown_module_argument() {
    insta::assert_snapshot!(check(&[
        (
            "site.yml",
            "- hosts: web\n  tasks:\n    - template:\n        src: a.j2\n        dset: /tmp/a\n"
        ),
        ("templates/a.j2", "hello\n"),
    ]));
}

#[test]
fn bad_choice() {
    insta::assert_snapshot!(check(&[(
        "site.yml",
        "- hosts: web\n  tasks:\n    - package:\n        name: nginx\n        state: instaled\n"
    )]));
}

#[test]
fn undefined_variable() {
    insta::assert_snapshot!(check(&[(
        "site.yml",
        "- hosts: web\n  vars:\n    version: 2\n  tasks:\n    - shell: deploy --version {{ verison }}\n"
    )]));
}

#[test]
fn undefined_variable_in_a_template_file() {
    insta::assert_snapshot!(check(&[
        (
            "site.yml",
            "- hosts: web\n  tasks:\n    - template: src=index.html.j2 dest=/tmp/index.html\n"
        ),
        (
            "templates/index.html.j2",
            "<h1>{{ inventory_hostname }}</h1>\n<p>{{ release }}</p>\n"
        ),
    ]));
}

#[test]
fn missing_template() {
    insta::assert_snapshot!(check(&[(
        "site.yml",
        "- hosts: web\n  tasks:\n    - template:\n        src: nginx.conf.j2\n        dest: /etc/nginx/nginx.conf\n"
    )]));
}

#[test]
fn notify_names_no_handler() {
    insta::assert_snapshot!(check(&[(
        "site.yml",
        "- hosts: web\n  tasks:\n    - shell: echo hi\n      notify: Restart ngnix\n  handlers:\n    - name: Restart nginx\n      service: name=nginx state=restarted\n"
    )]));
}

#[test]
fn yaml_syntax_error() {
    insta::assert_snapshot!(check(&[(
        "site.yml",
        "- hosts: web\n  tasks:\n    - shell: echo hi\n     when: x\n"
    )]));
}

#[test]
fn impossible_serial() {
    insta::assert_snapshot!(check(&[(
        "site.yml",
        "- hosts: web\n  serial: 0%\n  tasks:\n    - shell: echo hi\n"
    )]));
}

#[test]
fn bad_inventory() {
    insta::assert_snapshot!(check(&[
        ("site.yml", "- hosts: web\n  tasks:\n    - shell: echo hi\n"),
        (
            "hosts.ini",
            "[web]\nweb[1:x] ansible_host=127.0.0.1\n\n[all:children]\nwebb\n"
        ),
    ]));
}

#[test]
fn several_problems_are_reported_together() {
    insta::assert_snapshot!(check(&[(
        "site.yml",
        "- hosts: web\n  tasks:\n    - shel: echo hi\n    - shell: echo {{ nope }}\n      notify: nothing\n"
    )]));
}

/// `check` on hostile YAML: refused in well under a second, whatever it would expand to.
fn check_fast(files: &[(&str, &str)]) -> String {
    let started = std::time::Instant::now();
    let out = check(files);
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
    out
}

#[test]
fn billion_laughs_is_refused() {
    let mut vars = String::from("    l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let aliases = vec![format!("*l{}", i - 1); 10].join(", ");
        vars.push_str(&format!("    l{i}: &l{i} [{aliases}]\n"));
    }
    let site = format!("- hosts: web\n  vars:\n{vars}  tasks:\n    - shell: echo {{{{ l9 }}}}\n");
    insta::assert_snapshot!(check_fast(&[("site.yml", &site)]));
}

#[test]
fn nesting_too_deep_is_refused() {
    let site = format!("- hosts: web\n  vars:\n    deep:\n{}x\n", "- ".repeat(100_000));
    insta::assert_snapshot!(check_fast(&[("site.yml", &site)]));
}

#[test]
fn file_too_large_is_refused() {
    let mut site = String::from("- hosts: web\n  vars:\n    padding:\n");
    while site.len() <= 10 * 1024 * 1024 {
        site.push_str("      - 0123456789012345678901234567890123456789012345678901234567890123456789\n");
    }
    insta::assert_snapshot!(check_fast(&[("site.yml", &site)]));
}
