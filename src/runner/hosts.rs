//! `add_host` and `group_by` at run time: the change their result describes is applied
//! to the run's inventory, which later tasks (`groups`, `hostvars`, `group_names`) and
//! later plays (their `hosts:`) see. A host added this way connects when first used.

use super::Runner;
use crate::inventory::Inventory;
use crate::modules::{InventoryChange, ModuleResult};

impl Runner {
    /// Apply the inventory change a result carries; `changed` says whether the inventory
    /// changed, as Ansible reports it.
    pub(super) fn apply_inventory_change(&self, host: &str, mut result: ModuleResult) -> ModuleResult {
        match result.inventory.take() {
            Some(InventoryChange::AddHost { name, groups, vars }) => {
                result.changed = self.change_inventory(&name, |inv| inv.add_host(&name, &groups, vars));
            }
            Some(InventoryChange::GroupBy { group, parents }) => {
                result.changed = self.change_inventory(host, |inv| group_by(inv, host, &group, &parents));
            }
            None => {}
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
