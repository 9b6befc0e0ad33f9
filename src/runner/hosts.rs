//! `add_host` and `group_by` at run time: the change their result describes is applied
//! to the run's inventory, which later tasks (`groups`, `hostvars`, `group_names`) and
//! later plays (their `hosts:`) see. A host added this way connects when first used.

use super::Runner;
use crate::inventory::Inventory;
use crate::modules::add_host::group_list;
use crate::modules::ModuleResult;
use crate::vars::VarMap;
use serde_json::Value;

impl Runner {
    /// Apply an `add_host` or `add_group` result; `changed` says whether the inventory
    /// changed, as Ansible reports it.
    pub(super) fn apply_inventory_change(&self, host: &str, mut result: ModuleResult) -> ModuleResult {
        if let Some(add) = result.extra.get("add_host").cloned() {
            let name = add.get("host_name").and_then(Value::as_str).unwrap_or_default();
            let groups = add.get("groups").map(group_list).unwrap_or_default();
            let vars: VarMap = match add.get("host_vars") {
                Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                _ => VarMap::new(),
            };
            if !name.is_empty() {
                result.changed = self.change_inventory(name, |inv| inv.add_host(name, &groups, vars));
            }
        }
        if let Some(Value::String(group)) = result.extra.get("add_group").cloned() {
            let parents = result
                .extra
                .get("parent_groups")
                .map(group_list)
                .unwrap_or_default();
            result.changed = self.change_inventory(host, |inv| group_by(inv, host, &group, &parents));
        }
        result
    }
}

/// `host` into `group`, which becomes a child of each of `parents` (all created when new).
fn group_by(inv: &mut Inventory, host: &str, group: &str, parents: &[String]) {
    inv.add_host_to_group(host, group, None);
    for parent in parents.iter().filter(|p| p.as_str() != "all") {
        inv.ensure_group(parent, None);
        // A cycle is refused by the inventory; the group then stays where it is.
        let _ = inv.add_child(parent, group);
    }
    inv.reconcile();
}
