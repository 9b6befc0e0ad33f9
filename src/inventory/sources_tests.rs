use super::*;
use crate::error::Diagnostic;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = write(dir, name, &format!("#!/bin/sh\n{body}"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn load_ok(sources: &[String]) -> Inventory {
    match load(sources) {
        Ok(inv) => inv,
        Err(Error::Invalid(d)) => panic!("{}", d.iter().map(|d| d.to_string()).collect::<String>()),
        Err(e) => panic!("{e}"),
    }
}

fn errors(sources: &[String]) -> Vec<Diagnostic> {
    match load(sources) {
        Err(Error::Invalid(d)) => d,
        other => panic!("expected errors, got {other:?}"),
    }
}

fn hosts(inv: &Inventory) -> Vec<&str> {
    inv.hosts.keys().map(String::as_str).collect()
}

#[test]
fn a_directory_reads_every_entry_sorted_and_skips_what_ansible_skips() {
    let dir = tempfile::tempdir().unwrap();
    let inv_dir = dir.path().join("inventory");
    write(&inv_dir, "10-web.ini", "[web]\nweb1\nweb2 color=blue\n");
    write(
        &inv_dir,
        "20-db.yml",
        "all:\n  children:\n    db:\n      hosts:\n        db1:\n",
    );
    write(&inv_dir, "30-extra", "[web]\nweb3\n");
    write(&inv_dir, "sub/40-more.ini", "[cache]\ncache1\n");
    // Skipped: backups, docs, config, hidden files, and the vars directories.
    for skipped in [
        "10-web.ini~",
        "old.ini.orig",
        "README.md",
        "notes.txt",
        "ec2.cfg",
        "site.retry",
        ".hidden",
    ] {
        write(&inv_dir, skipped, "[web]\nnope ansible_host=\n[broken\n");
    }
    write(&inv_dir, "group_vars/web.yml", "color: red\nhttp_port: 8080\n");
    write(&inv_dir, "host_vars/web1.yml", "color: green\n");
    let inv = load_ok(&[s(&inv_dir)]);
    assert_eq!(hosts(&inv), ["web1", "web2", "db1", "web3", "cache1"]);
    assert_eq!(inv.group_hosts("web"), ["web1", "web2", "web3"]);
    assert_eq!(inv.host_vars("web1")["color"], "green");
    assert_eq!(inv.host_vars("web2")["color"], "blue");
    assert_eq!(inv.host_vars("web3")["http_port"], 8080);
    let source = std::path::absolute(inv_dir.join("10-web.ini")).unwrap();
    assert_eq!(
        inv.hosts["web1"].source.as_deref(),
        Some(source.to_str().unwrap())
    );
}

#[test]
fn a_script_gives_groups_children_vars_and_meta_hostvars() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "inv.sh",
        r#"[ "$1" = --list ] || exit 3
cat <<'J'
{"web": {"hosts": ["web1", "web2"], "vars": {"http_port": 8080}},
 "app": {"children": ["web"], "vars": {"tier": "app"}},
 "db": ["db1"],
 "all": {"vars": {"env": "prod"}},
 "_meta": {"hostvars": {"web1": {"ansible_host": "10.0.0.1", "n": 1}, "ghost": {"x": 1}}}}
J
"#,
    );
    let inv = load_ok(&[s(&path)]);
    assert_eq!(hosts(&inv), ["web1", "web2", "db1"]);
    assert_eq!(inv.group_hosts("app"), ["web1", "web2"]);
    let web1 = inv.host_vars("web1");
    assert_eq!(web1["ansible_host"], "10.0.0.1");
    assert_eq!(web1["n"], 1);
    assert_eq!(web1["http_port"], 8080);
    assert_eq!(web1["tier"], "app");
    assert_eq!(web1["env"], "prod");
    assert_eq!(inv.group_names("db1"), ["db"]);
    assert_eq!(inv.hosts["web1"].source.as_deref(), Some(s(&path).as_str()));
}

#[test]
fn a_script_without_meta_is_asked_for_each_host() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "legacy.sh",
        r#"case "$1" in
--list) echo '{"web": {"hosts": ["web1", "web2"]}, "solo": {"color": "red"}}' ;;
--host) [ "$2" = web1 ] && echo '{"ansible_port": 2201}' ;;
esac
exit 0
"#,
    );
    let inv = load_ok(&[s(&path)]);
    assert_eq!(hosts(&inv), ["web1", "web2", "solo"]);
    assert_eq!(inv.host_vars("web1")["ansible_port"], 2201);
    assert!(!inv.host_vars("web2").contains_key("ansible_port"));
    // A group with none of hosts/vars/children is a lone host of that name, as in Ansible.
    assert_eq!(inv.host_vars("solo")["color"], "red");
    assert_eq!(inv.group_names("solo"), ["solo"]);
}

#[test]
fn a_failing_script_is_named_with_its_status_and_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), "bad.sh", "echo 'cannot reach the CMDB' >&2\nexit 7\n");
    let d = errors(&[s(&path)]);
    assert_eq!(d.len(), 1);
    assert_eq!(
        d[0].message,
        format!(
            "inventory script {} --list exited with status 7; its standard error:\n  cannot reach the CMDB",
            s(&path)
        )
    );
}

#[test]
fn a_script_printing_bad_json_is_named_with_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "bad.sh",
        "printf '{\"web\": {\"hosts\": [\"w1\"]}\\n \"db\" []}'\n",
    );
    let d = errors(&[s(&path)]);
    assert_eq!(
        d[0].message,
        format!(
            "inventory script {} --list printed invalid JSON: expected `,` or `}}` at line 2 column 2 of its output",
            s(&path)
        )
    );
    let path = script(dir.path(), "shape.sh", r#"echo '{"web": {"hosts": {"w1": {}}}}'"#);
    let d = errors(&[s(&path)]);
    assert_eq!(
        d[0].message,
        format!(
            "inventory script {} --list: `web.hosts` must be a list, found an object",
            s(&path)
        )
    );
}

#[test]
fn host_lists_and_several_sources_merge_later_wins() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "a/hosts.ini",
        "[web]\nweb1 color=red size=1\n[web:vars]\nport=80\n",
    );
    write(dir.path(), "a/group_vars/web.yml", "from_a: 1\nshared: a\n");
    let b = write(
        dir.path(),
        "b/hosts.yml",
        "web:\n  hosts:\n    web1:\n      color: blue\n    web2:\n  vars:\n    port: 81\n",
    );
    write(dir.path(), "b/group_vars/web.yml", "shared: b\n");
    let inv = load_ok(&[s(&a), s(&b), "web9:2222,web1,".into()]);
    assert_eq!(hosts(&inv), ["web1", "web2", "web9"]);
    let web1 = inv.host_vars("web1");
    assert_eq!(web1["color"], "blue");
    assert_eq!(web1["size"], 1);
    assert_eq!(web1["port"], 81);
    assert_eq!(web1["from_a"], 1);
    assert_eq!(web1["shared"], "b");
    assert_eq!(inv.groups["ungrouped"].hosts, ["web9"]);
    assert_eq!(inv.host_vars("web9")["ansible_port"], 2222);
    assert_eq!(inv.hosts["web9"].source.as_deref(), Some("web9:2222,web1,"));
}

#[test]
fn a_file_without_extension_is_yaml_when_it_is_a_mapping_of_groups() {
    let dir = tempfile::tempdir().unwrap();
    let y = write(
        dir.path(),
        "prod",
        "all:\n  hosts:\n    web1:\n      ansible_port: 2201\n",
    );
    let i = write(dir.path(), "staging", "web2:2202\nweb3\n");
    let inv = load_ok(&[s(&y), s(&i)]);
    assert_eq!(hosts(&inv), ["web1", "web2", "web3"]);
    assert_eq!(inv.host_vars("web1")["ansible_port"], 2201);
    assert_eq!(inv.host_vars("web2")["ansible_port"], 2202);
    let j = write(
        dir.path(),
        "hosts.json",
        r#"{"web": {"hosts": {"web4": {"n": 4}}}}"#,
    );
    assert_eq!(load_ok(&[s(&j)]).host_vars("web4")["n"], json!(4));
}

#[test]
fn an_executable_data_file_is_read_as_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "hosts", "[web]\nweb1\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(hosts(&load_ok(&[s(&path)])), ["web1"]);
}

#[test]
fn errors_name_the_file_inside_a_directory_and_plugin_configs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let inv_dir = dir.path().join("inventory");
    write(&inv_dir, "a.ini", "[web]\nweb1\n");
    write(&inv_dir, "b.ini", "[web]\nweb2 color\n");
    write(&inv_dir, "c.yml", "plugin: constructed\nstrict: true\n");
    let d = errors(&[s(&inv_dir)]);
    assert_eq!(d.len(), 2);
    let at = |d: &Diagnostic| {
        let loc = d.location.as_ref().unwrap();
        (
            loc.file.file_name().unwrap().to_str().unwrap().to_owned(),
            loc.line,
        )
    };
    assert_eq!(at(&d[0]), ("b.ini".into(), 2));
    assert_eq!(at(&d[1]), ("c.yml".into(), 1));
    assert!(
        d[1].message.contains("inventory plugin `constructed`"),
        "{}",
        d[1].message
    );
    let not_executable = write(dir.path(), "cmdb.py", "#!/usr/bin/env python3\nprint('{}')\n");
    let d = errors(&[s(&not_executable)]);
    assert!(
        d[0].message
            .ends_with("looks like an inventory script, but it is not executable"),
        "{}",
        d[0].message
    );
    let missing = errors(&["nowhere.ini".into()]);
    assert!(missing[0]
        .message
        .starts_with("cannot read inventory nowhere.ini"));
}

#[test]
fn ini_children_may_name_groups_of_earlier_sources() {
    let dir = tempfile::tempdir().unwrap();
    let inv_dir = dir.path().join("inventory");
    write(&inv_dir, "01-hosts.ini", "[web]\nweb1\n[db]\ndb1\n");
    write(&inv_dir, "02-tree.ini", "[prod:children]\nweb\ndb\n");
    let inv = load_ok(&[s(&inv_dir)]);
    assert_eq!(inv.group_hosts("prod"), ["web1", "db1"]);
    let later = write(dir.path(), "later.ini", "[stage:children]\nweb\n");
    let inv = load_ok(&[s(&inv_dir.join("01-hosts.ini")), s(&later)]);
    assert_eq!(inv.group_hosts("stage"), ["web1"]);
    // Named before any source declares it: refused, as Ansible refuses that file.
    let d = errors(&[s(&later), s(&inv_dir.join("01-hosts.ini"))]);
    assert!(
        d[0].message
            .contains("names group `web`, which is never declared"),
        "{}",
        d[0].message
    );
}
