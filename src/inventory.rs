//! Ansible inventories: INI as people write it (groups, ranges, `:vars`, `:children`),
//! the YAML format, executable inventory scripts, directories of these, host lists
//! (`web1,web2,`), and `group_vars/` and `host_vars/` beside them.
//!
//! Which source is what, and merging several, lives in `sources`; reading each in `ini`,
//! `yaml`, `script` and `host_list`; host patterns in `pattern`; and here the model and
//! how a host's variables are merged.

mod host_list;
mod hostdef;
mod ini;
mod literal;
mod pattern;
mod script;
mod sources;

pub use host_list::is_host_list;
pub use pattern::fnmatch;
mod vars_dirs;
mod yaml;

use crate::error::{Error, Location};
use crate::vars::VarMap;
use indexmap::{IndexMap, IndexSet};
use serde_json::Value;
use std::path::Path;

pub use literal::parse_value;

/// The names Ansible answers with an implicit local host when the inventory lacks them.
pub const LOCALHOST_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

#[derive(Debug, Clone)]
pub struct Inventory {
    /// Every host, in order of first appearance.
    pub hosts: IndexMap<String, InventoryHost>,
    /// Every group, `all` and `ungrouped` included.
    pub groups: IndexMap<String, Group>,
    /// `group_vars/NAME.yml` (or `.yaml`, `.json`, `NAME/*`) next to the inventory, by group.
    pub group_vars_files: IndexMap<String, VarMap>,
    /// `host_vars/NAME.yml` and the like, by host.
    pub host_vars_files: IndexMap<String, VarMap>,
    /// `group_vars/` beside the playbook: each level ranks above the inventory's.
    pub playbook_group_vars_files: IndexMap<String, VarMap>,
    /// `host_vars/` beside the playbook.
    pub playbook_host_vars_files: IndexMap<String, VarMap>,
}

#[derive(Debug, Clone)]
pub struct InventoryHost {
    pub name: String,
    /// Inline host vars (`web1 ansible_host=... root=/srv/web1`).
    pub vars: VarMap,
    pub loc: Option<Location>,
    /// The source the host was first read from (`inventory_file`): a file's absolute path,
    /// a script's path, or the host list itself.
    pub source: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Group {
    pub name: String,
    /// Hosts listed directly in the group.
    pub hosts: Vec<String>,
    pub children: Vec<String>,
    pub vars: VarMap,
    /// Where the group was first declared.
    pub loc: Option<Location>,
}

impl Default for Inventory {
    /// An inventory with nothing but the implicit groups `all` and `ungrouped`.
    fn default() -> Self {
        let mut inv = Inventory {
            hosts: IndexMap::new(),
            groups: IndexMap::new(),
            group_vars_files: IndexMap::new(),
            host_vars_files: IndexMap::new(),
            playbook_group_vars_files: IndexMap::new(),
            playbook_host_vars_files: IndexMap::new(),
        };
        inv.ensure_group("all", None);
        inv.ensure_group("ungrouped", None);
        inv
    }
}

impl Inventory {
    /// Read one inventory source (see `load_sources`).
    pub fn load(path: &Path) -> Result<Inventory, Error> {
        Inventory::load_sources(&[path.display().to_string()])
    }

    /// Read the inventory sources `-i` names, in order, and merge them: INI or YAML files,
    /// executable scripts (`--list` JSON), directories (every entry, sorted) and host lists
    /// (`web1,web2:2222,`); then each source's `group_vars/` and `host_vars/`. No source
    /// gives the implicit localhost only.
    pub fn load_sources(sources: &[String]) -> Result<Inventory, Error> {
        if sources.is_empty() {
            return Ok(Inventory::implicit_localhost());
        }
        sources::load(sources)
    }

    /// Load the `group_vars/` and `host_vars/` beside the playbook (`playbook_dir`), as
    /// Ansible's `host_group_vars` plugin does for the play: each ranks above the
    /// inventory's of its level (`group_vars/all`, the groups, `host_vars/`).
    pub fn load_playbook_vars_dirs(&mut self, playbook_dir: &Path) -> Result<(), Error> {
        let dir = if playbook_dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            playbook_dir
        };
        vars_dirs::load(self, dir, vars_dirs::Beside::Playbook)
    }

    /// Parse INI inventory text (no `group_vars/` lookup); `path` names it in errors.
    pub fn from_ini(path: &Path, text: &str) -> Result<Inventory, Error> {
        let mut inv = ini::parse(path, text, &[])?;
        inv.reconcile();
        Ok(inv)
    }

    /// Ansible's inventory when none is given: empty, so only the implicit `localhost`
    /// (local connection) answers, and, as in Ansible, `all` does not match it.
    pub fn implicit_localhost() -> Inventory {
        Inventory::default()
    }

    /// Whether `name` is the implicit local host: a localhost name the inventory lacks.
    pub fn is_implicit_localhost(&self, name: &str) -> bool {
        LOCALHOST_NAMES.contains(&name) && !self.hosts.contains_key(name)
    }

    /// A host's variables merged as Ansible does, lowest precedence first: the inventory's
    /// `all` vars, its groups' vars (parents before children, then by
    /// `ansible_group_priority`, then by name), `group_vars/all`, `group_vars/` of those
    /// groups in the same order, the host's inline vars, then `host_vars/`. Each
    /// `group_vars/`/`host_vars/` level beside the inventory is followed by the same one
    /// beside the playbook (all the groups of the inventory's, then all of the playbook's).
    pub fn host_vars(&self, host: &str) -> VarMap {
        let mut merged = VarMap::new();
        let mut layer = |vars: Option<&VarMap>| {
            for (k, v) in vars.into_iter().flatten() {
                merged.insert(k.clone(), v.clone());
            }
        };
        layer(self.groups.get("all").map(|g| &g.vars));
        if self.is_implicit_localhost(host) {
            layer(self.group_vars_files.get("all"));
            layer(self.playbook_group_vars_files.get("all"));
            let local = VarMap::from([("ansible_connection".to_owned(), Value::from("local"))]);
            layer(Some(&local));
            layer(self.host_vars_files.get(host));
            layer(self.playbook_host_vars_files.get(host));
            return merged;
        }
        let groups = self.sorted_groups_of(host);
        for g in &groups {
            layer(self.groups.get(g.as_str()).map(|g| &g.vars));
        }
        layer(self.group_vars_files.get("all"));
        layer(self.playbook_group_vars_files.get("all"));
        for g in &groups {
            layer(self.group_vars_files.get(g.as_str()));
        }
        for g in &groups {
            layer(self.playbook_group_vars_files.get(g.as_str()));
        }
        layer(self.hosts.get(host).map(|h| &h.vars));
        layer(self.host_vars_files.get(host));
        layer(self.playbook_host_vars_files.get(host));
        merged
    }

    /// `group_names`: the groups a host is in (directly or through children), sorted,
    /// without `all`. As in Ansible, a host in no group has `["ungrouped"]`.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let mut names: Vec<String> = self.groups_of(host).into_iter().filter(|g| g != "all").collect();
        names.sort();
        names
    }

    /// `groups`: every group with all its hosts (children included), in inventory order.
    pub fn groups_map(&self) -> IndexMap<String, Vec<String>> {
        self.groups
            .keys()
            .map(|g| (g.clone(), self.group_hosts(g)))
            .collect()
    }

    /// The hosts a pattern selects: `all`, `web`, `a:b`, `a,b`, `a:&b`, `a:!b`, `web*`,
    /// `~regex`, `web[0]`, `web[1:3]`, `@retry_file`, host names. Unions come in the order
    /// written (each group's hosts in inventory order), each host once; an unknown name
    /// matches nothing. `Err` for a bad regex, a subscript past the end, a missing `@file`.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>, String> {
        pattern::select(self, pattern)
    }

    /// Add (or extend) a host at run time, as the `add_host` module does: into `groups`
    /// (created as top-level groups when new), its `vars` merged over any it had.
    pub fn add_host<S: AsRef<str>>(&mut self, name: &str, groups: impl IntoIterator<Item = S>, vars: VarMap) {
        self.ensure_host(name, None).vars.extend(vars);
        for g in groups {
            self.add_host_to_group(name, g.as_ref(), None);
        }
        self.reconcile();
    }

    /// Every host of a group, its children's included, in inventory order.
    pub fn group_hosts(&self, group: &str) -> Vec<String> {
        if group == "all" {
            return self.hosts.keys().cloned().collect();
        }
        let Some(start) = self.groups.get(group) else {
            return Vec::new();
        };
        let mut seen: IndexSet<&str> = IndexSet::from([start.name.as_str()]);
        let mut members: IndexSet<&str> = IndexSet::new();
        let mut i = 0;
        while let Some(name) = seen.get_index(i) {
            i += 1;
            if let Some(g) = self.groups.get(*name) {
                members.extend(g.hosts.iter().map(String::as_str));
                seen.extend(g.children.iter().map(String::as_str));
            }
        }
        self.hosts
            .keys()
            .filter(|h| members.contains(h.as_str()))
            .cloned()
            .collect()
    }

    // ---- building, for the loaders ----

    pub(crate) fn ensure_group(&mut self, name: &str, loc: Option<Location>) -> &mut Group {
        self.groups.entry(name.to_owned()).or_insert_with(|| Group {
            name: name.to_owned(),
            loc,
            ..Group::default()
        })
    }

    pub(crate) fn ensure_host(&mut self, name: &str, loc: Option<Location>) -> &mut InventoryHost {
        self.hosts
            .entry(name.to_owned())
            .or_insert_with(|| InventoryHost {
                name: name.to_owned(),
                vars: VarMap::new(),
                loc,
                source: None,
            })
    }

    pub(crate) fn add_host_to_group(&mut self, host: &str, group: &str, loc: Option<Location>) {
        self.ensure_host(host, loc.clone());
        let g = self.ensure_group(group, loc);
        if !g.hosts.iter().any(|h| h == host) {
            g.hosts.push(host.to_owned());
        }
    }

    /// Make `child` a child group of `parent`; `Err` names the loop it would close.
    pub(crate) fn add_child(&mut self, parent: &str, child: &str) -> Result<(), String> {
        if child == "all" || child == parent || self.is_descendant(parent, child) {
            return Err(format!(
                "adding group `{child}` as a child of `{parent}` makes a loop: `{parent}` is already inside `{child}`"
            ));
        }
        self.ensure_group(child, None);
        let p = self.ensure_group(parent, None);
        if !p.children.iter().any(|c| c == child) {
            p.children.push(child.to_owned());
        }
        Ok(())
    }

    /// Whether `group` is `ancestor` or below it.
    fn is_descendant(&self, group: &str, ancestor: &str) -> bool {
        if ancestor == "all" {
            return true;
        }
        let mut stack = vec![ancestor];
        let mut seen = IndexSet::new();
        while let Some(g) = stack.pop() {
            if g == group {
                return true;
            }
            if seen.insert(g) {
                if let Some(grp) = self.groups.get(g) {
                    stack.extend(grp.children.iter().map(String::as_str));
                }
            }
        }
        false
    }

    /// Ansible's rules after loading: a host in no group but `all` is in `ungrouped`,
    /// and one that is in another group is not.
    pub(crate) fn reconcile(&mut self) {
        self.ensure_group("all", None);
        self.ensure_group("ungrouped", None);
        let mut grouped: IndexSet<&str> = IndexSet::new();
        for g in self.groups.values() {
            if g.name != "all" && g.name != "ungrouped" {
                grouped.extend(g.hosts.iter().map(String::as_str));
            }
        }
        let ungrouped: Vec<String> = self
            .hosts
            .keys()
            .filter(|h| !grouped.contains(h.as_str()))
            .cloned()
            .collect();
        self.groups["ungrouped"].hosts = ungrouped;
    }

    /// The parents of each group; a group nobody lists is a child of `all`.
    fn parents(&self) -> IndexMap<&str, Vec<&str>> {
        let mut parents: IndexMap<&str, Vec<&str>> =
            self.groups.keys().map(|g| (g.as_str(), Vec::new())).collect();
        for g in self.groups.values() {
            for c in &g.children {
                if let Some(p) = parents.get_mut(c.as_str()) {
                    p.push(g.name.as_str());
                }
            }
        }
        for (g, p) in parents.iter_mut() {
            if *g != "all" && p.is_empty() {
                p.push("all");
            }
        }
        parents
    }

    /// Every group a host is in, directly or as a child's host, `all` included.
    fn groups_of(&self, host: &str) -> IndexSet<String> {
        let mut out = IndexSet::new();
        if !self.hosts.contains_key(host) {
            return out;
        }
        let parents = self.parents();
        let mut stack: Vec<&str> = self
            .groups
            .values()
            .filter(|g| g.hosts.iter().any(|h| h == host))
            .map(|g| g.name.as_str())
            .collect();
        stack.push("all");
        while let Some(g) = stack.pop() {
            if out.insert(g.to_owned()) {
                stack.extend(parents.get(g).into_iter().flatten().copied());
            }
        }
        out
    }

    /// The host's groups but `all`, in Ansible's precedence order: by depth, then
    /// `ansible_group_priority`, then name.
    fn sorted_groups_of(&self, host: &str) -> Vec<String> {
        let parents = self.parents();
        let mut depth: IndexMap<&str, usize> = IndexMap::new();
        fn depth_of<'a>(
            g: &'a str,
            parents: &IndexMap<&'a str, Vec<&'a str>>,
            memo: &mut IndexMap<&'a str, usize>,
        ) -> usize {
            if g == "all" {
                return 0;
            }
            if let Some(d) = memo.get(g) {
                return *d;
            }
            let d = parents
                .get(g)
                .into_iter()
                .flatten()
                .map(|p| depth_of(p, parents, memo) + 1)
                .max()
                .unwrap_or(1);
            memo.insert(g, d);
            d
        }
        let mut groups: Vec<(usize, i64, String)> = self
            .groups_of(host)
            .into_iter()
            .filter(|g| g != "all")
            .map(|g| {
                let d = self
                    .groups
                    .get_key_value(g.as_str())
                    .map(|(k, _)| depth_of(k.as_str(), &parents, &mut depth))
                    .unwrap_or(1);
                let priority = self
                    .groups
                    .get(g.as_str())
                    .and_then(|grp| grp.vars.get("ansible_group_priority"))
                    .and_then(|v| v.as_i64().or_else(|| v.as_str()?.trim().parse().ok()))
                    .unwrap_or(1);
                (d, priority, g)
            })
            .collect();
        groups.sort();
        groups.into_iter().map(|(_, _, g)| g).collect()
    }
}

#[cfg(test)]
mod tests;
