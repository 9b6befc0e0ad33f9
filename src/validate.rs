//! Everything that can be checked before any host is touched: modules and their
//! arguments, handlers named by `notify`, templates that exist and parse, variables that
//! something could define.

use crate::error::Error;
use crate::inventory::Inventory;
use crate::playbook::Playbook;
use crate::template::Templater;
use crate::vars::VarMap;

/// Check the playbook against the inventory; every problem found, not just the first.
pub fn validate(
    playbook: &Playbook,
    inventory: &Inventory,
    extra_vars: &VarMap,
    templater: &Templater,
) -> Result<(), Error> {
    let _ = (playbook, inventory, extra_vars, templater);
    todo!("validator")
}
