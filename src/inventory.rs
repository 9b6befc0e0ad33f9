//! Ansible inventories: INI as people write it (groups, ranges, `:vars`, `:children`).

use crate::error::{Error, Location};
use crate::vars::VarMap;
use indexmap::IndexMap;
use std::path::Path;

#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Every host, in order of first appearance.
    pub hosts: IndexMap<String, InventoryHost>,
    /// Every group, `all` and `ungrouped` included.
    pub groups: IndexMap<String, Group>,
}

#[derive(Debug, Clone)]
pub struct InventoryHost {
    pub name: String,
    /// Inline host vars (`web1 ansible_host=... root=/srv/web1`).
    pub vars: VarMap,
    pub loc: Option<Location>,
}

#[derive(Debug, Clone, Default)]
pub struct Group {
    pub name: String,
    /// Hosts listed directly in the group.
    pub hosts: Vec<String>,
    pub children: Vec<String>,
    pub vars: VarMap,
}

impl Inventory {
    /// Read an inventory file.
    pub fn load(path: &Path) -> Result<Inventory, Error> {
        let _ = path;
        todo!("inventory")
    }

    /// Ansible's implicit inventory when none is given: only `localhost`, local connection.
    pub fn implicit_localhost() -> Inventory {
        todo!("inventory")
    }

    /// A host's variables merged as Ansible does: `all`, then its groups from the outermost
    /// parent inwards (siblings by name), then the host's own.
    pub fn host_vars(&self, host: &str) -> VarMap {
        let _ = host;
        todo!("inventory")
    }

    /// `group_names`: the groups a host is in (directly or through children), sorted,
    /// without `all` and `ungrouped`.
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let _ = host;
        todo!("inventory")
    }

    /// `groups`: every group with all its hosts (children included), in inventory order.
    pub fn groups_map(&self) -> IndexMap<String, Vec<String>> {
        todo!("inventory")
    }

    /// The hosts a pattern selects, in inventory order: `all`, `web`, `a:b`, `a,b`,
    /// `a:&b`, `a:!b`, `web*`, `~regex`, host names.
    pub fn select(&self, pattern: &str) -> Result<Vec<String>, String> {
        let _ = pattern;
        todo!("inventory")
    }
}
