//! Static argument checks, as the validator calls them before anything runs.

use super::{registry, ArgError, StaticCtx};
use serde_json::{json, Value};

fn check_in(dir: &std::path::Path, module: &str, args: Value) -> Result<(), ArgError> {
    registry()
        .get(module)
        .unwrap_or_else(|| panic!("no module {module}"))
        .check_args(
            &args,
            &StaticCtx {
                playbook_dir: dir,
                role_path: None,
            },
        )
}

fn check(module: &str, args: Value) -> Result<(), ArgError> {
    check_in(std::path::Path::new("/nonexistent"), module, args)
}

#[test]
fn unknown_keys_name_the_key_and_suggest_the_right_one() {
    let cases = [
        (
            "file",
            json!({"path": "/x", "stat": "absent"}),
            "stat",
            Some("did you mean `state`?"),
        ),
        (
            "service",
            json!({"name": "nginx", "state": "started", "enable": true}),
            "enable",
            Some("did you mean `enabled`?"),
        ),
        (
            "copy",
            json!({"content": "x", "dest": "/x", "mdoe": "0644"}),
            "mdoe",
            Some("did you mean `mode`?"),
        ),
        (
            "shell",
            json!({"_raw_params": "ls", "chdri": "/tmp"}),
            "chdri",
            Some("did you mean `chdir`?"),
        ),
        (
            "wait_for",
            json!({"port": 80, "timout": 5}),
            "timout",
            Some("did you mean `timeout`?"),
        ),
        (
            "reboot",
            json!({"reboot_timout": 60}),
            "reboot_timout",
            Some("did you mean `reboot_timeout`?"),
        ),
        (
            "wait_for_connection",
            json!({"conect_timeout": 5}),
            "conect_timeout",
            Some("did you mean `connect_timeout`?"),
        ),
        (
            "raw",
            json!({"_raw_params": "ls", "executabel": "/bin/bash"}),
            "executabel",
            Some("did you mean `executable`?"),
        ),
        (
            "yum",
            json!({"name": "nginx", "stat": "present"}),
            "stat",
            Some("did you mean `state`?"),
        ),
        ("debug", json!({"mgs": "hi"}), "mgs", Some("did you mean `msg`?")),
    ];
    for (module, args, key, hint) in cases {
        let err = check(module, args).expect_err(module);
        assert_eq!(err.key.as_deref(), Some(key), "{module}: {err:?}");
        assert_eq!(err.hint.as_deref(), hint, "{module}: {err:?}");
    }
    // Nothing close: the hint lists what the module takes.
    let err = check("debug", json!({"text": "hi"})).unwrap_err();
    assert_eq!(err.hint.as_deref(), Some("`debug` takes: msg, var, verbosity"));
}

#[test]
fn bad_choices_suggest_the_close_one() {
    let err = check("yum", json!({"name": "nginx", "state": "instaled"})).unwrap_err();
    assert_eq!(
        (err.key.as_deref(), err.hint.as_deref()),
        (Some("state"), Some("did you mean `installed`?"))
    );
    let err = check("service", json!({"name": "nginx", "state": "restart"})).unwrap_err();
    assert_eq!(err.hint.as_deref(), Some("did you mean `restarted`?"));
    let err = check("file", json!({"path": "/x", "state": "directroy"})).unwrap_err();
    assert_eq!(err.hint.as_deref(), Some("did you mean `directory`?"));
    let err = check("wait_for", json!({"port": 80, "state": "strated"})).unwrap_err();
    assert_eq!(err.hint.as_deref(), Some("did you mean `started`?"));
    let err = check(
        "cron",
        json!({"name": "x", "job": "true", "special_time": "dayly"}),
    )
    .unwrap_err();
    assert_eq!(err.hint.as_deref(), Some("did you mean `daily`?"));
    let err = check(
        "cron",
        json!({"name": "PATH", "env": true, "job": "/bin", "insertafter": "A", "insertbefore": "B"}),
    )
    .unwrap_err();
    assert_eq!(err.key.as_deref(), Some("insertbefore"));
    assert!(check(
        "cron",
        json!({"name": "x", "dow": "1-5", "dom": "1", "value": "true"})
    )
    .is_ok());
}

#[test]
fn values_that_could_still_become_valid_are_accepted() {
    assert!(check(
        "service",
        json!({"name": "{{ svc }}", "state": "{{ st }}", "enabled": "{{ on }}"})
    )
    .is_ok());
    assert!(check("service", json!({"name": "nginx", "enabled": "yes"})).is_ok());
    assert!(check(
        "wait_for",
        json!({"port": "{{ http_port }}", "delay": "2", "timeout": "30"})
    )
    .is_ok());
    assert!(check("wait_for", json!({"port": "8080"})).is_ok());
    assert!(check(
        "file",
        json!({"path": "/x", "mode": "{{ m }}", "recurse": "no", "state": "directory"})
    )
    .is_ok());
    assert!(check("file", json!({"path": "/x", "mode": 493, "owner": 0})).is_ok());
    assert!(check("copy", json!({"src": "{{ item }}.conf", "dest": "/etc/"})).is_ok());
    assert!(check("template", json!({"src": "{{ tpl }}", "dest": "/etc/x"})).is_ok());
    let err = check("service", json!({"name": "nginx", "enabled": "sometimes"})).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("enabled"));
    let err = check("wait_for", json!({"port": "http"})).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("port"));
}

#[test]
fn missing_required_arguments() {
    assert!(check("template", json!({"src": "x.j2"}))
        .unwrap_err()
        .message
        .contains("`dest`"));
    assert!(check("file", json!({"state": "absent"}))
        .unwrap_err()
        .message
        .contains("`path`"));
    assert!(check("service", json!({"name": "nginx"})).is_err());
    assert!(check("copy", json!({"dest": "/x"})).is_err());
    assert!(check("shell", json!({})).is_err());
    assert!(check("file", json!({"path": "/x", "state": "link"})).is_err());
}

#[test]
fn template_and_copy_sources_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let play = dir.path().join("playbooks");
    std::fs::create_dir_all(dir.path().join("templates")).unwrap();
    std::fs::create_dir_all(play.join("files")).unwrap();
    std::fs::write(dir.path().join("templates/nginx.conf.j2"), "x").unwrap();
    std::fs::write(play.join("files/index.html"), "x").unwrap();
    // One level up, as Ansible finds the top-level templates/ from playbooks/.
    assert!(check_in(
        &play,
        "template",
        json!({"src": "nginx.conf.j2", "dest": "/etc/nginx/nginx.conf"})
    )
    .is_ok());
    assert!(check_in(&play, "copy", json!({"src": "index.html", "dest": "/srv/"})).is_ok());
    let err = check_in(&play, "template", json!({"src": "ngnix.conf.j2", "dest": "/x"})).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("src"));
    assert!(err.message.contains("ngnix.conf.j2"));
    let err = check_in(&play, "copy", json!({"src": "missing.html", "dest": "/x"})).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("src"));
}

#[test]
fn registry_resolves_names_and_aliases() {
    for (name, module) in [
        ("ansible.builtin.shell", "shell"),
        ("dnf", "package"),
        ("apt", "package"),
        ("ansible.builtin.systemd", "systemd_service"),
        ("ansible.builtin.service", "service"),
        ("gather_facts", "setup"),
    ] {
        assert_eq!(registry().get(name).map(|m| m.name()), Some(module));
    }
    assert!(registry().get("haproxyy").is_none());
    assert!(registry().names().any(|n| n == "yum"));
    assert!(["debug", "fail", "set_fact"]
        .iter()
        .all(|m| registry().get(m).unwrap().controller_only()));
    assert!(registry().get("shell").unwrap().free_form() && !registry().get("copy").unwrap().free_form());
}

#[test]
fn meta_pause_and_assert_arguments_are_checked_before_running() {
    assert!(check("meta", json!({"_raw_params": "flush_handlers"})).is_ok());
    assert!(check("meta", json!({"_raw_params": "end_batch"})).is_ok());
    let e = check("meta", json!({"_raw_params": "flush_handler"})).unwrap_err();
    assert_eq!(e.hint.as_deref(), Some("did you mean `flush_handlers`?"));
    assert!(check("pause", json!({"seconds": 3})).is_ok());
    assert!(check("pause", json!({"minutes": "{{ wait }}"})).is_ok());
    assert!(check("pause", json!({})).is_err());
    assert!(check("pause", json!({"seconds": "soon"})).is_err());
    assert!(check("assert", json!({"that": ["a", "b"], "msg": "m"})).is_ok());
    assert!(check("assert", json!({"that": [{"a": 1}]})).is_err());
    assert_eq!(
        check("assert", json!({"that": "a", "fail_mgs": "x"}))
            .unwrap_err()
            .key
            .as_deref(),
        Some("fail_mgs")
    );
}

/// The README's module table is the list users read: every module in the registry is a
/// `native` row there (with its aliases), and no row calls a module native that is not.
#[test]
fn the_readme_module_table_matches_the_registry() {
    let readme = include_str!("../../README.md");
    let start = readme
        .find("| module (aliases) | how |")
        .expect("the module table");
    let rows: Vec<&str> = readme[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    let names =
        |cell: &str| -> Vec<String> { cell.split('`').skip(1).step_by(2).map(str::to_owned).collect() };
    let mut native = std::collections::BTreeSet::new();
    for row in &rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (modules, how) = (cells[1], cells[2]);
        for name in names(modules) {
            let known = registry().get(&name).is_some();
            if how.starts_with("native") {
                assert!(known, "README calls `{name}` native, but zdd has no such module");
                native.insert(name);
            } else {
                assert!(
                    !known,
                    "README sends `{name}` through Ansible, but zdd has it natively"
                );
            }
        }
    }
    for name in registry().names() {
        assert!(
            native.contains(name),
            "`{name}` is missing from the README's module table"
        );
    }
}

#[test]
fn apt_key_sources_are_mutually_exclusive_and_state_a_choice() {
    assert!(check("apt_key", json!({"id": "BABEC2C4", "state": "absent"})).is_ok());
    assert!(check("apt_key", json!({"data": "{{ key }}", "keyring": "/k.gpg"})).is_ok());
    assert!(check(
        "apt_key",
        json!({"id": "BABEC2C4", "keyserver": "keyserver.ubuntu.com"})
    )
    .is_ok());
    let err = check("apt_key", json!({"file": "/k.asc", "url": "https://x/k.asc"})).unwrap_err();
    assert_eq!(
        err.message,
        "parameters are mutually exclusive: data|file|keyserver|url"
    );
    assert_eq!(err.key.as_deref(), Some("url"));
    let err = check("apt_key", json!({"id": "BABEC2C4", "state": "absnet"})).unwrap_err();
    assert_eq!(
        (err.key.as_deref(), err.hint.as_deref()),
        (Some("state"), Some("did you mean `absent`?"))
    );
    let err = check("apt_key", json!({"id": "BABEC2C4", "key_ring": "/k.gpg"})).unwrap_err();
    assert_eq!(err.hint.as_deref(), Some("did you mean `keyring`?"));
}
