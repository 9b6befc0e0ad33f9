use super::*;
use crate::error::Diagnostic;
use serde_json::json;
use std::path::PathBuf;

fn ini(text: &str) -> Inventory {
    match Inventory::from_ini(Path::new("hosts.ini"), text) {
        Ok(inv) => inv,
        Err(Error::Invalid(d)) => panic!("{}", d.iter().map(|d| d.to_string()).collect::<String>()),
        Err(e) => panic!("{e}"),
    }
}

fn ini_errors(text: &str) -> Vec<Diagnostic> {
    match Inventory::from_ini(Path::new("hosts.ini"), text) {
        Err(Error::Invalid(d)) => d,
        other => panic!("expected errors, got {other:?}"),
    }
}

/// (line, col, snippet) of a diagnostic.
fn place(d: &Diagnostic) -> (usize, usize, &str) {
    let loc = d.location.as_ref().expect("a location");
    assert_eq!(*loc.file, PathBuf::from("hosts.ini"));
    (loc.line, loc.col, d.snippet.as_deref().expect("a snippet"))
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const LAB: &str = "\
[loadbalancers]
lb ansible_host=127.0.3.10

[webappservers]
web[1:3] ansible_user=deploy

[webappservers:vars]
http_port=8081

[all:vars]
ansible_port=2222
ansible_ssh_common_args='-o UserKnownHostsFile=/tmp/lab/known_hosts'
";

#[test]
fn lab_inventory_hosts_groups_and_vars() {
    let inv = ini(LAB);
    assert_eq!(
        inv.hosts.keys().collect::<Vec<_>>(),
        ["lb", "web1", "web2", "web3"]
    );
    let groups = inv.groups_map();
    assert_eq!(
        groups.keys().collect::<Vec<_>>(),
        ["all", "ungrouped", "loadbalancers", "webappservers"]
    );
    assert_eq!(groups["all"], names(&["lb", "web1", "web2", "web3"]));
    assert_eq!(groups["webappservers"], names(&["web1", "web2", "web3"]));
    assert!(groups["ungrouped"].is_empty());

    let web2 = inv.host_vars("web2");
    assert_eq!(web2["ansible_user"], json!("deploy"));
    assert_eq!(web2["http_port"], json!(8081));
    assert_eq!(web2["ansible_port"], json!(2222));
    assert_eq!(
        web2["ansible_ssh_common_args"],
        json!("-o UserKnownHostsFile=/tmp/lab/known_hosts")
    );
    let lb = inv.host_vars("lb");
    assert_eq!(lb["ansible_host"], json!("127.0.3.10"));
    assert_eq!(lb["ansible_port"], json!(2222));
    assert!(!lb.contains_key("http_port"));
    assert_eq!(inv.group_names("web1"), names(&["webappservers"]));
    assert_eq!(
        inv.hosts["web3"].loc.as_ref().map(|l| (l.line, l.col)),
        Some((5, 1))
    );
}

#[test]
fn inline_host_vars_are_typed_after_shell_quoting() {
    let inv = ini(
        "web1 ansible_host=127.0.0.2 ansible_port=2222 doc_root=\"/srv/a b\" on=True r=0.5 q='1' mode=0644 ;x=y\n",
    );
    let v = &inv.hosts["web1"].vars;
    assert_eq!(v["ansible_host"], json!("127.0.0.2"));
    assert_eq!(v["ansible_port"], json!(2222));
    assert_eq!(v["doc_root"], json!("/srv/a b"));
    assert_eq!(v["on"], json!(true));
    assert_eq!(v["r"], json!(0.5));
    // The shell-like split takes the quotes off before typing, as Ansible's does.
    assert_eq!(v["q"], json!(1));
    assert_eq!(v["mode"], json!("0644"));
    // `;` only starts a comment at the start of a line.
    assert_eq!(v[";x"], json!("y"));
}

#[test]
fn vars_sections_keep_quoted_strings_and_drop_comments() {
    let inv = ini("[g]\nh\n[g:vars]\na = '1'\nb=\"x y\"\nc=80 # port\nd=80,443\ne=[1, 'x']\nf=yes\ng=\n");
    let v = &inv.groups["g"].vars;
    assert_eq!(v["a"], json!("1"));
    assert_eq!(v["b"], json!("x y"));
    assert_eq!(v["c"], json!(80));
    assert_eq!(v["d"], json!([80, 443]));
    assert_eq!(v["e"], json!([1, "x"]));
    assert_eq!(v["f"], json!("yes"));
    assert_eq!(v["g"], json!(""));
}

#[test]
fn ungrouped_hosts_comments_ports_and_blank_lines() {
    let inv =
        ini("# the lab\n; another comment\nsolo\n\nboth:2200  # inline comment\n\n[g]\nboth\n  indented  \n");
    assert_eq!(inv.hosts.keys().collect::<Vec<_>>(), ["solo", "both", "indented"]);
    assert_eq!(inv.groups["ungrouped"].hosts, names(&["solo"]));
    assert_eq!(inv.group_names("solo"), names(&["ungrouped"]));
    assert_eq!(inv.group_names("both"), names(&["g"]));
    assert_eq!(inv.hosts["both"].vars["ansible_port"], json!(2200));
    assert_eq!(inv.host_vars("both")["ansible_port"], json!(2200));
}

#[test]
fn ranges_alphabetic_stepped_and_padded() {
    let inv = ini("[db]\ndb-[a:c]\n[n]\nn[1:10:4]\n[w]\nweb[08:10].example.com\n");
    assert_eq!(inv.group_hosts("db"), names(&["db-a", "db-b", "db-c"]));
    assert_eq!(inv.group_hosts("n"), names(&["n1", "n5", "n9"]));
    assert_eq!(
        inv.group_hosts("w"),
        names(&["web08.example.com", "web09.example.com", "web10.example.com"])
    );
}

const NESTED: &str = "\
[all:vars]
v=all
only_all=1

[prod:children]
web
db

[prod:vars]
v=prod
level=prod

[web]
w1 v=host
w2

[web:vars]
v=web

[db]
d1

[zeta]
w2
[zeta:vars]
x=zeta
[alpha]
w2
[alpha:vars]
x=alpha
";

#[test]
fn children_nest_and_vars_merge_parents_before_children_siblings_by_name() {
    let inv = ini(NESTED);
    assert_eq!(inv.group_hosts("prod"), names(&["w1", "w2", "d1"]));
    assert_eq!(inv.group_names("w2"), names(&["alpha", "prod", "web", "zeta"]));
    let w1 = inv.host_vars("w1");
    assert_eq!(w1["v"], json!("host"));
    assert_eq!(w1["level"], json!("prod"));
    assert_eq!(w1["only_all"], json!(1));
    let w2 = inv.host_vars("w2");
    // web (depth 2) is applied after prod, alpha and zeta (depth 1).
    assert_eq!(w2["v"], json!("web"));
    // Same depth: by name, so zeta last.
    assert_eq!(w2["x"], json!("zeta"));
    assert_eq!(inv.host_vars("d1")["v"], json!("prod"));
}

#[test]
fn group_priority_reorders_siblings() {
    let inv = ini(&format!("{NESTED}ansible_group_priority=10\n"));
    assert_eq!(inv.host_vars("w2")["x"], json!("alpha"));
}

#[test]
fn children_declared_later_and_groups_map_includes_descendants() {
    let inv = ini("[top:children]\nmid\n[mid:children]\nleaf\n[leaf]\nl1\n[mid]\nm1\n[top]\nt1\n");
    let groups = inv.groups_map();
    assert_eq!(groups["top"], names(&["l1", "m1", "t1"]));
    assert_eq!(groups["mid"], names(&["l1", "m1"]));
    assert_eq!(groups["all"], names(&["l1", "m1", "t1"]));
    assert_eq!(inv.group_names("l1"), names(&["leaf", "mid", "top"]));
}

#[test]
fn error_cycles_are_located() {
    let d = ini_errors("[a:children]\nb\n\n[b:children]\n  a\n");
    assert_eq!(d.len(), 1);
    assert_eq!(place(&d[0]), (5, 3, "  a"));
    assert!(d[0].message.contains("loop"), "{}", d[0].message);
    let d = ini_errors("[a:children]\na\n");
    assert_eq!(place(&d[0]), (2, 1, "a"));
}

#[test]
fn error_undefined_child_group_suggests_the_close_name() {
    let d = ini_errors("[web]\nw1\n[prod:children]\nwebb\n");
    assert_eq!(place(&d[0]), (4, 1, "webb"));
    assert_eq!(d[0].hint.as_deref(), Some("did you mean `web`?"));
    // A group declared only by its `:vars` section exists.
    ini("[prod:children]\nempty\n[empty:vars]\nx=1\n");
}

#[test]
fn error_bad_range_points_at_the_bracket() {
    let d = ini_errors("[web]\nw0\n  web[01:5].example.com x=1\n");
    assert_eq!(d.len(), 1);
    assert_eq!(place(&d[0]), (3, 6, "  web[01:5].example.com x=1"));
    assert!(d[0].message.contains("[01:5]"), "{}", d[0].message);
    assert_eq!(d[0].hint.as_deref(), Some("pad both ends alike: `web[01:20]`"));
}

#[test]
fn error_unknown_section_suffix() {
    let d = ini_errors("[web:var]\nx=1\n[db:stuff]\n");
    assert_eq!(d.len(), 2);
    assert_eq!(place(&d[0]), (1, 6, "[web:var]"));
    assert_eq!(d[0].message, "unknown section type `:var` in `[web:var]`");
    assert!(d[0].hint.as_deref().unwrap().starts_with("did you mean `vars`?"));
    assert_eq!(place(&d[1]), (3, 5, "[db:stuff]"));
    let d = ini_errors("[web servers]\n");
    assert_eq!(place(&d[0]), (1, 1, "[web servers]"));
}

#[test]
fn error_variable_with_no_host() {
    let d = ini_errors("[web]\nw1\n   http_port=80\n");
    assert_eq!(place(&d[0]), (3, 4, "   http_port=80"));
    assert_eq!(d[0].message, "variable `http_port=80` has no host");
    assert!(d[0].hint.as_deref().unwrap().contains("[web:vars]"));
}

#[test]
fn error_unterminated_quotes_and_bad_lines_all_reported() {
    let d = ini_errors(
        "[web]\nw1 doc_root=\"/srv/a b\nw2 stray\n[web:vars]\nmsg='hello\nnovalue\n[web:children]\nbad:name\n",
    );
    let places: Vec<_> = d.iter().map(place).map(|(l, c, _)| (l, c)).collect();
    assert_eq!(places, [(2, 13), (3, 4), (5, 5), (6, 1), (8, 1)]);
    assert_eq!(d[0].message, "unterminated quote: no closing `\"`");
    assert_eq!(
        d[1].message,
        "expected `name=value` after the host, found `stray`"
    );
    assert_eq!(d[2].message, "unterminated quote in the value of `msg`");
    assert!(d[3].message.contains("novalue"));
    assert!(d[4].message.contains("bad:name"));
}

#[test]
fn diagnostic_draws_the_line_with_a_caret() {
    let d = ini_errors("[web]\nweb[1:x]\n");
    assert_eq!(
        d[0].to_string(),
        "error: host range `[1:x]` must be numbers or single letters\n --> hosts.ini:2:4\n  |\n2 | web[1:x]\n  |    ^\n  = help: for example `web[1:3]` or `db-[a:f]`\n"
    );
}

#[test]
fn load_reads_a_file_and_reports_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.ini");
    std::fs::write(&path, LAB).unwrap();
    let inv = Inventory::load(&path).unwrap();
    assert_eq!(inv.group_hosts("webappservers").len(), 3);
    match Inventory::load(&dir.path().join("nope.ini")) {
        Err(Error::Invalid(d)) => assert!(d[0].message.contains("nope.ini")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn implicit_localhost_is_local_and_not_in_all() {
    let inv = Inventory::implicit_localhost();
    assert_eq!(inv.select("localhost").unwrap(), names(&["localhost"]));
    assert!(inv.select("all").unwrap().is_empty());
    assert_eq!(inv.host_vars("localhost")["ansible_connection"], json!("local"));
    assert!(inv.group_names("localhost").is_empty());
    // A real inventory's localhost is an ordinary host; all vars reach the implicit one.
    let inv = ini("localhost ansible_port=22\n[all:vars]\nx=1\n");
    assert!(!inv.host_vars("localhost").contains_key("ansible_connection"));
    let inv = ini("[all:vars]\nx=1\n");
    assert_eq!(inv.host_vars("127.0.0.1")["x"], json!(1));
    assert_eq!(inv.select("127.0.0.1").unwrap(), names(&["127.0.0.1"]));
}

#[test]
fn add_host_creates_groups_and_leaves_ungrouped() {
    let mut inv = ini("h0\n[web]\nw1\n");
    inv.add_host("new", ["web", "fresh"], VarMap::from([("a".into(), json!(1))]));
    inv.add_host("h0", ["fresh"], VarMap::new());
    assert_eq!(inv.group_hosts("web"), names(&["w1", "new"]));
    assert_eq!(inv.group_hosts("fresh"), names(&["h0", "new"]));
    assert!(inv.group_hosts("ungrouped").is_empty());
    assert_eq!(inv.host_vars("new")["a"], json!(1));
    assert_eq!(inv.select("all").unwrap(), names(&["h0", "w1", "new"]));
    assert_eq!(inv.group_names("new"), names(&["fresh", "web"]));
}

const PATTERNS: &str = "\
[lb]
lb1

[web]
web1.example.com
web2.example.com
web3.example.com

[db]
db1
web2.example.com

[prod:children]
web
db
";

#[test]
fn select_groups_hosts_unions_and_order() {
    let inv = ini(PATTERNS);
    let all = names(&[
        "lb1",
        "web1.example.com",
        "web2.example.com",
        "web3.example.com",
        "db1",
    ]);
    assert_eq!(inv.select("all").unwrap(), all);
    assert_eq!(inv.select("*").unwrap(), all);
    assert_eq!(inv.select("db1").unwrap(), names(&["db1"]));
    // Unions in the order written, each host once.
    assert_eq!(
        inv.select("db:lb").unwrap(),
        names(&["web2.example.com", "db1", "lb1"])
    );
    assert_eq!(inv.select("lb, db1 ,lb1").unwrap(), names(&["lb1", "db1"]));
    assert!(inv.select("nosuch").unwrap().is_empty());
    assert_eq!(inv.select("nosuch:lb").unwrap(), names(&["lb1"]));
}

#[test]
fn select_intersections_and_exclusions_apply_after_unions() {
    let inv = ini(PATTERNS);
    assert_eq!(inv.select("web:&db").unwrap(), names(&["web2.example.com"]));
    assert_eq!(
        inv.select("!db:prod").unwrap(),
        names(&["web1.example.com", "web3.example.com"])
    );
    assert_eq!(inv.select("&db:lb:web").unwrap(), names(&["web2.example.com"]));
    assert_eq!(
        inv.select("!web").unwrap(),
        names(&["lb1", "db1"]),
        "only exclusions start from all"
    );
}

#[test]
fn select_wildcards_regexes_and_subscripts() {
    let inv = ini(PATTERNS);
    assert_eq!(
        inv.select("web*").unwrap(),
        names(&["web1.example.com", "web2.example.com", "web3.example.com"])
    );
    assert_eq!(inv.select("*.example.com:!web2*").unwrap().len(), 2);
    assert_eq!(
        inv.select("web[13].*").unwrap(),
        names(&["web1.example.com", "web3.example.com"])
    );
    assert_eq!(inv.select("web[!1].*").unwrap().len(), 2);
    assert_eq!(
        inv.select("?b*").unwrap(),
        names(&["lb1", "web2.example.com", "db1"])
    );
    assert_eq!(inv.select("~(lb|db)\\d").unwrap(), names(&["lb1", "db1"]));
    assert_eq!(inv.select("web[0]").unwrap(), names(&["web1.example.com"]));
    assert_eq!(inv.select("web[-1]").unwrap(), names(&["web3.example.com"]));
    assert_eq!(
        inv.select("web[1:2]").unwrap(),
        names(&["web2.example.com", "web3.example.com"])
    );
    assert_eq!(
        inv.select("web[1:]").unwrap(),
        names(&["web2.example.com", "web3.example.com"])
    );
    assert_eq!(inv.select("prod[0:1]:lb").unwrap().len(), 3);
    assert!(inv.select("web[7]").unwrap_err().contains("web[7]"));
    assert!(inv.select("~web(").is_err());
}

#[test]
fn select_reads_a_retry_file() {
    let inv = ini(PATTERNS);
    let dir = tempfile::tempdir().unwrap();
    let retry = dir.path().join("site.retry");
    std::fs::write(&retry, "db1\n\nlb1\n").unwrap();
    let pattern = format!("@{}", retry.display());
    assert_eq!(inv.select(&pattern).unwrap(), names(&["db1", "lb1"]));
    assert_eq!(inv.select(&format!("{pattern}:!lb")).unwrap(), names(&["db1"]));
    assert!(inv.select("@/nonexistent/zdd.retry").is_err());
}

#[test]
fn select_host_with_port_like_names_and_ipv6() {
    let inv = ini("[v6]\n::1\n[ip]\n127.0.0.2\n");
    assert_eq!(inv.select("::1").unwrap(), names(&["::1"]));
    assert_eq!(inv.select("127.0.0.2:v6").unwrap(), names(&["127.0.0.2", "::1"]));
}

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn group_vars_and_host_vars_dirs_take_ansible_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let inv_path = write(
        dir.path(),
        "inventory.ini",
        "[web]\nw1 d=ini_host e=ini_host\n[all:vars]\na=ini_all\nb=ini_all\n\
         [web:vars]\na=ini_web\nc=ini_web\nd=ini_web\n",
    );
    write(
        dir.path(),
        "group_vars/all.yml",
        "a: gv_all\nb: gv_all\nports: [80, 443]\n",
    );
    write(dir.path(), "group_vars/web/10-base.yml", "c: gv_web\nf: gv_web\n");
    write(
        dir.path(),
        "group_vars/web/20-over.json",
        "{\"c\": \"gv_web_json\"}\n",
    );
    write(dir.path(), "group_vars/web/.hidden.yml", "c: hidden\n");
    write(dir.path(), "group_vars/web/notes.txt", "c: not vars\n");
    write(dir.path(), "host_vars/w1.yaml", "e: hv\n");
    write(dir.path(), "host_vars/localhost.yml", "x: local\n");
    let inv = Inventory::load(&inv_path).unwrap();
    let v = inv.host_vars("w1");
    // group_vars/all beats every group's vars written in the inventory file.
    assert_eq!(v["a"], json!("gv_all"));
    assert_eq!(v["b"], json!("gv_all"));
    assert_eq!(v["ports"], json!([80, 443]));
    // A directory's files in name order, hidden and foreign files skipped.
    assert_eq!(v["c"], json!("gv_web_json"));
    assert_eq!(v["f"], json!("gv_web"));
    // Inline host vars beat group_vars/, host_vars/ beats both.
    assert_eq!(v["d"], json!("ini_host"));
    assert_eq!(v["e"], json!("hv"));
    let local = inv.host_vars("localhost");
    assert_eq!(local["x"], json!("local"));
    assert_eq!(local["a"], json!("gv_all"));
    assert_eq!(local["ansible_connection"], json!("local"));
}

#[test]
fn a_broken_vars_file_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let inv_path = write(dir.path(), "hosts", "[web]\nw1\n");
    write(dir.path(), "group_vars/web.yml", "a: [1, 2\n");
    match Inventory::load(&inv_path) {
        Err(Error::Invalid(d)) => {
            let loc = d[0].location.as_ref().expect("located");
            assert!(loc.file.ends_with("group_vars/web.yml"), "{loc}");
        }
        other => panic!("{other:?}"),
    }
}

const YAML_LAB: &str = "\
all:
  vars:
    ansible_port: 2222
  hosts:
    lb:
      ansible_host: 127.0.3.10
  children:
    webappservers:
      hosts:
        web[1:3]:
          ansible_user: deploy
      vars:
        http_port: 8081
    prod:
      children:
        webappservers:
";

#[test]
fn yaml_inventory_hosts_groups_and_vars() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "inventory.yml", YAML_LAB);
    let inv = Inventory::load(&path).unwrap();
    assert_eq!(
        inv.hosts.keys().collect::<Vec<_>>(),
        ["lb", "web1", "web2", "web3"]
    );
    assert_eq!(inv.group_hosts("prod"), names(&["web1", "web2", "web3"]));
    assert_eq!(inv.group_names("web1"), names(&["prod", "webappservers"]));
    assert_eq!(inv.group_names("lb"), names(&["ungrouped"]));
    let v = inv.host_vars("web2");
    assert_eq!(v["ansible_port"], json!(2222));
    assert_eq!(v["http_port"], json!(8081));
    assert_eq!(v["ansible_user"], json!("deploy"));
    assert_eq!(inv.select("prod:!web2").unwrap(), names(&["web1", "web3"]));
    assert_eq!(
        inv.hosts["web2"].loc.as_ref().map(|l| (l.line, l.col)),
        Some((10, 9))
    );
}

#[test]
fn yaml_inventory_errors_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "hosts.yaml",
        "all:\n  children:\n    web:\n      host:\n        w1:\n    db:\n      hosts: [d1]\n",
    );
    match Inventory::load(&path) {
        Err(Error::Invalid(d)) => {
            let at: Vec<_> = d
                .iter()
                .map(|d| d.location.as_ref().map(|l| (l.line, l.col)).unwrap())
                .collect();
            assert_eq!(at, [(4, 7), (7, 7)]);
            assert_eq!(d[0].message, "unknown key `host` in group `web`");
            assert_eq!(d[0].hint.as_deref(), Some("did you mean `hosts`?"));
            assert_eq!(d[0].snippet.as_deref(), Some("      host:"));
            assert!(d[1].message.contains("must be a mapping"), "{}", d[1].message);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn explicit_all_children_and_ungrouped_sections() {
    let inv = ini("[ungrouped]\nu1\n[all]\na1\n[all:children]\ng\n[g]\ng1\n[g:vars]\nv=g\n");
    assert_eq!(inv.group_hosts("ungrouped"), names(&["u1", "a1"]));
    assert_eq!(inv.group_hosts("all"), names(&["u1", "a1", "g1"]));
    assert_eq!(inv.group_names("g1"), names(&["g"]));
    assert_eq!(inv.host_vars("g1")["v"], json!("g"));
    let d = ini_errors("[g:children]\nall\n");
    assert_eq!(place(&d[0]), (2, 1, "all"));
}

#[test]
fn yaml_inventory_with_anchors_and_merge_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "hosts.yml",
        "all:\n  children:\n    web:\n      hosts:\n        w1: &web {ansible_port: 2222, http_port: 8080}\n\
         \x20       w2:\n          <<: *web\n          http_port: 8081\n    db:\n      hosts:\n        d1: *web\n",
    );
    let inv = Inventory::load(&path).unwrap();
    assert_eq!(inv.host_vars("w2")["ansible_port"], json!(2222));
    assert_eq!(inv.host_vars("w2")["http_port"], json!(8081));
    assert_eq!(inv.host_vars("d1")["http_port"], json!(8080));
    // A host is located at its own key, even when its value came from an alias.
    assert_eq!(inv.hosts["d1"].loc.as_ref().map(|l| l.line), Some(11));
}

#[test]
fn playbook_dir_vars_rank_above_the_inventory_dirs_level_by_level() {
    let dir = tempfile::tempdir().unwrap();
    let inv_path = dir.path().join("inventory/hosts.ini");
    write(dir.path(), "inventory/hosts.ini", "[web]\nw1 inline=host\n");
    write(
        dir.path(),
        "inventory/group_vars/all.yml",
        "a: inv_all\nb: inv_all\n",
    );
    write(
        dir.path(),
        "inventory/group_vars/web.yml",
        "b: inv_web\nc: inv_web\n",
    );
    write(
        dir.path(),
        "inventory/host_vars/w1.yml",
        "d: inv_host\ne: inv_host\n",
    );
    write(dir.path(), "group_vars/all.yml", "a: pb_all\nc: pb_all\n");
    write(dir.path(), "group_vars/web.yml", "inline: pb_web\n");
    write(dir.path(), "host_vars/w1.yml", "e: pb_host\n");
    let mut inv = Inventory::load(&inv_path).unwrap();
    inv.load_playbook_vars_dirs(dir.path()).unwrap();
    let v = inv.host_vars("w1");
    // The playbook's group_vars/all beats the inventory's, not the inventory's groups.
    assert_eq!(v["a"], json!("pb_all"));
    assert_eq!(v["b"], json!("inv_web"));
    assert_eq!(v["c"], json!("inv_web"));
    // Group vars from either place rank below the host's own; host_vars beside the
    // playbook beat those beside the inventory.
    assert_eq!(v["inline"], json!("host"));
    assert_eq!(v["d"], json!("inv_host"));
    assert_eq!(v["e"], json!("pb_host"));
}
