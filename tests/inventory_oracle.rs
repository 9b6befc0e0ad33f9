//! zdd's reading of inventory sources against Ansible's: each directory under
//! tests/fixtures/inventory-sources/ has a `sources` file (one `-i` value a line, paths
//! relative to it) and the inventory they name; `ansible-inventory --list` and zdd's
//! loader must agree on the hosts, each group's hosts and children, and every host's
//! variables as the inventory gives them (group_vars and host_vars included).

mod support;

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use support::differential::{ansible_playbook, arg_lines};
use support::repo_root;

/// Hosts, then each group (but `all`) with its direct hosts and children, then each
/// host's variables.
#[derive(Debug, PartialEq)]
struct View {
    hosts: BTreeSet<String>,
    groups: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>,
    vars: BTreeMap<String, Value>,
}

fn names(v: Option<&Value>) -> BTreeSet<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn ansible_view(dir: &Path, sources: &[String]) -> View {
    let out = Command::new(ansible_playbook().with_file_name("ansible-inventory"))
        .current_dir(dir)
        .env("ANSIBLE_DEPRECATION_WARNINGS", "0")
        .env_remove("ANSIBLE_CONFIG")
        .env_remove("ANSIBLE_INVENTORY")
        .args(sources.iter().flat_map(|s| ["-i", s.as_str()]))
        .arg("--list")
        .output()
        .expect("run ansible-inventory");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list: Map<String, Value> = serde_json::from_slice(&out.stdout).unwrap();
    let hostvars = list["_meta"]["hostvars"].as_object().cloned().unwrap_or_default();
    let mut view = View {
        hosts: BTreeSet::new(),
        groups: BTreeMap::new(),
        vars: BTreeMap::new(),
    };
    for (group, data) in list.iter().filter(|(g, _)| *g != "_meta") {
        let hosts = names(data.get("hosts"));
        view.hosts.extend(hosts.iter().cloned());
        if group != "all" {
            view.groups
                .insert(group.clone(), (hosts, names(data.get("children"))));
        }
    }
    for h in &view.hosts {
        view.vars.insert(
            h.clone(),
            hostvars.get(h).cloned().unwrap_or(Value::Object(Map::new())),
        );
    }
    view
}

fn zdd_view(dir: &Path, sources: &[String]) -> View {
    let sources: Vec<String> = sources
        .iter()
        .map(|s| match dir.join(s) {
            p if p.exists() => p.display().to_string(),
            _ => s.clone(), // a host list
        })
        .collect();
    let inv = zdd::inventory::Inventory::load_sources(&sources).unwrap_or_else(|e| panic!("{}", e.render()));
    View {
        hosts: inv.hosts.keys().cloned().collect(),
        groups: inv
            .groups
            .values()
            .filter(|g| g.name != "all" && !(g.hosts.is_empty() && g.children.is_empty()))
            .map(|g| {
                (
                    g.name.clone(),
                    (
                        g.hosts.iter().cloned().collect(),
                        g.children.iter().cloned().collect(),
                    ),
                )
            })
            .collect(),
        vars: inv
            .hosts
            .keys()
            .map(|h| (h.clone(), Value::Object(inv.host_vars(h).into_iter().collect())))
            .collect(),
    }
}

#[test]
fn zdd_reads_inventory_sources_as_ansible_inventory_does() {
    support::differential::assert_ansible_runs();
    let root = repo_root().join("tests/fixtures/inventory-sources");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 3);
    for dir in cases {
        let sources = arg_lines(&dir.join("sources"));
        let (ansible, zdd) = (ansible_view(&dir, &sources), zdd_view(&dir, &sources));
        assert_eq!(
            ansible,
            zdd,
            "{}: ansible-inventory (left) and zdd (right) differ",
            dir.display()
        );
    }
}
